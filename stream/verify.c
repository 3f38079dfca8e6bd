/* `audit verify --kafka`: every record of the audit topic, read with the run config's
 * Kafka settings, put in chain order and checked as a file's records are. */
#include "stream/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/config.h"
#include "stream/kafka.h"

/* Records read from Kafka, to be put in chain order. */
typedef struct krec {
    char chain[300];
    unsigned long long seq;
    int32_t part;
    int64_t off;
    char *value;
    size_t len;
} krec;

typedef struct kread {
    krec *r;
    size_t n, cap;
} kread;

static int collect(void *arg, int32_t part, int64_t off, const char *v, size_t len)
{
    kread *k = arg;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->r = cm_xrealloc(k->r, k->cap * sizeof *k->r);
    }
    krec *r = &k->r[k->n++];
    memset(r, 0, sizeof *r);
    r->part = part;
    r->off = off;
    r->value = cm_strndup(v ? v : "", len);
    r->len = len;
    if (!aud_record_peek(r->value, len, r->chain, sizeof r->chain, &r->seq, NULL))
        r->chain[0] = '\0'; /* the verifier will say what is wrong with it */
    return 0;
}

static int by_chain_seq(const void *a, const void *b)
{
    const krec *x = a, *y = b;
    int c = strcmp(x->chain, y->chain);
    if (c)
        return c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

int stm_verify_audit_topic(aud_verifier *v, const char *config, cm_buf *summary, cm_err *err)
{
    stm_config *cfg = stm_config_load(config, err);
    if (!cfg)
        return CM_EINPUT;
    kread k = {0};
    int rc = 0;
    if (stm_kafka_read_topic(cfg, cfg->topic_audit, collect, &k, err) < 0)
        rc = err->code = CM_EENV;
    if (k.n)
        qsort(k.r, k.n, sizeof *k.r, by_chain_seq);
    char where[800];
    for (size_t i = 0; rc == 0 && i < k.n; i++) {
        snprintf(where, sizeof where, "%s/%d/%lld", cfg->topic_audit, (int)k.r[i].part,
                 (long long)k.r[i].off);
        if (aud_verifier_line(v, where, k.r[i].value, k.r[i].len, err) < 0)
            rc = CM_ECHECK;
    }
    if (rc == 0 && aud_verifier_end(v, summary, err) < 0)
        rc = CM_ECHECK;
    for (size_t i = 0; i < k.n; i++)
        free(k.r[i].value);
    free(k.r);
    stm_config_free(cfg);
    return rc;
}
