/* `audit verify --kafka`: every record of the audit topic, read with the run config's
 * Kafka settings, put in chain order and checked as a file's records are; with a state
 * topic in the config, each chain by its changelog (stream/kverify.h). */
#include "stream/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/config.h"
#include "stream/kafka.h"
#include "stream/kverify.h"
#include "vault/state.h"

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

/* The state topic as read: each partition's log, in offset order. */
typedef struct spart {
    int32_t part;
    stm_cl_msg *m;
    size_t n, cap;
} spart;

typedef struct sread {
    spart *p;
    size_t n;
} sread;

static int collect_state(void *arg, int32_t part, int64_t off, const char *v, size_t len)
{
    sread *s = arg;
    spart *p = NULL;
    for (size_t i = 0; i < s->n && !p; i++)
        if (s->p[i].part == part)
            p = &s->p[i];
    if (!p) {
        s->p = cm_xrealloc(s->p, (s->n + 1) * sizeof *s->p);
        p = &s->p[s->n++];
        memset(p, 0, sizeof *p);
        p->part = part;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 256;
        p->m = cm_xrealloc(p->m, p->cap * sizeof *p->m);
    }
    void *c = cm_xcalloc(len + 1, 1);
    if (len)
        memcpy(c, v, len);
    p->m[p->n++] = (stm_cl_msg){off, c, len};
    return 0;
}

static void sread_free(sread *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = 0; j < s->p[i].n; j++)
            free((void *)s->p[i].m[j].p);
        free(s->p[i].m);
    }
    free(s->p);
}

/* Every chain by its changelog where it has one: reads the state topic, then hands both
 * topics to stm_kverify. Codes as stm_verify_audit_topic. */
static int verify_by_state(const stm_config *cfg, aud_verifier *v, const kread *k, cm_buf *summary,
                           cm_err *err)
{
    cry_secret *master = vlt_master_load(cfg->master_key, false, err);
    if (!master)
        return CM_EINPUT;
    sread s = {0};
    stm_kv_msg *recs = cm_xcalloc(k->n + 1, sizeof *recs);
    for (size_t i = 0; i < k->n; i++)
        recs[i] = (stm_kv_msg){k->r[i].part, k->r[i].off, k->r[i].value, k->r[i].len};
    stm_kverify *kv =
        stm_kverify_new(master, cfg->topic_events, cfg->topic_state, cfg->topic_audit);
    int rc = 0;
    if (stm_kafka_read_topic(cfg, cfg->topic_state, collect_state, &s, err) < 0)
        rc = err->code = CM_EENV;
    for (size_t i = 0; rc == 0 && i < s.n; i++)
        rc = stm_kverify_state(kv, s.p[i].part, s.p[i].m, s.p[i].n, err);
    if (rc == 0)
        rc = stm_kverify_audit(kv, v, recs, k->n, summary, err);
    if (rc == CM_EINPUT)
        rc = CM_ECHECK; /* a malformed changelog record fails the check */
    stm_kverify_free(kv);
    free(recs);
    sread_free(&s);
    cry_secret_free(master);
    return rc;
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
    if (rc == 0 && cfg->topic_state) {
        rc = verify_by_state(cfg, v, &k, summary, err);
        goto out_free;
    }
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
out_free:
    for (size_t i = 0; i < k.n; i++)
        free(k.r[i].value);
    free(k.r);
    stm_config_free(cfg);
    return rc;
}
