/* Bulk re-wraps on worker threads: what a rotation of a key many resources use needs when
 * the resources do not hold their DEKs (after a restart). Each worker unwraps a DEK under
 * the old key version (an RSA private operation) and wraps it at once under the new one
 * (a public operation). The new version's key is given once it exists (vlt_rewrap_to): a
 * rotation makes it while the workers unwrap, and a DEK unwrapped before it is there is
 * left for the caller to wrap. The caller takes the results in order as they come, so
 * settling the resources runs beside the workers instead of after them.
 *
 * The workers touch nothing of the state: the wrapped DEKs are copied in, each worker has
 * its own copy of the two keys, and the results wait in slots until they are taken. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vault/internal.h"

#define MAX_THREADS 8

struct slot {
    cry_secret *dek; /* NULL: did not come out */
    cm_buf out;      /* the DEK wrapped under the new version; empty when not */
    bool done;
};

struct worker {
    vlt_rewrap *j;
    cry_pkey *from, *to; /* this worker's own copies; to imported at its first wrap */
    bool to_tried;       /* the import of to was tried (once: a failure is not retried) */
};

struct vlt_rewrap {
    cm_buf *in; /* n wrapped DEKs, copied */
    bool *wrap; /* which to wrap under the new version too */
    struct slot *slot;
    size_t n;
    pthread_mutex_t mu; /* guards next, stop, want, to and every slot's done */
    pthread_cond_t cv;
    size_t next, want;
    bool stop;
    cry_secret *to; /* the new version's key, exported; NULL until given (or never) */
    const char *to_kty;
    struct worker w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    size_t nth;
};

size_t vlt_bulk_threads(void)
{
    static long cores; /* read once: sysconf reads /sys */
    const char *env = getenv("CMKGUARD_THREADS");
    char *end;
    long n = env ? strtol(env, &end, 10) : 0;
    if (!env || end == env || *end || n < 1) {
        if (!cores)
            cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores;
    }
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (size_t)n;
}

static void *rewrap_worker(void *arg)
{
    struct worker *w = arg;
    vlt_rewrap *j = w->j;
    char err[256];
    for (;;) {
        pthread_mutex_lock(&j->mu);
        size_t i = j->stop ? j->n : j->next;
        if (i < j->n)
            j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->n)
            break;
        cry_secret *dek = NULL;
        cm_buf out;
        cm_buf_init(&out, 0);
        int rc = cry_pkey_unwrap(w->from, (const uint8_t *)j->in[i].p, j->in[i].len, &dek, err,
                                 sizeof err);
        if (rc == 0 && j->wrap[i] && !w->to_tried) {
            pthread_mutex_lock(&j->mu); /* the key, once given, stays until the end */
            const cry_secret *to = j->to;
            pthread_mutex_unlock(&j->mu);
            if (to) { /* NULL when it does not import: the caller wraps */
                w->to = cry_pkey_import(j->to_kty, to->b, to->len);
                w->to_tried = true;
            }
        }
        if (rc == 0 && j->wrap[i] && w->to &&
            cry_pkey_wrap(w->to, dek->b, dek->len, &out, err, sizeof err) < 0)
            cm_buf_free(&out); /* the caller wraps it again, and says why it fails */
        pthread_mutex_lock(&j->mu);
        j->slot[i].dek = dek;
        j->slot[i].out = out;
        j->slot[i].done = true;
        if (j->want == i)
            pthread_cond_signal(&j->cv);
        pthread_mutex_unlock(&j->mu);
    }
    return NULL;
}

/* A key version's key, exported for the workers to import: a new secret, or NULL. */
static cry_secret *export_key(vlt_state *s, const vlt_key *k, const vlt_keyver *kv)
{
    char err[256];
    cry_pkey *pk;
    return vlt_keyver_pkey(s, k, kv, &pk, err, sizeof err) == 0 ? cry_pkey_export(pk) : NULL;
}

vlt_rewrap *vlt_rewrap_start(vlt_state *s, const vlt_key *fk, const vlt_keyver *fkv,
                             const cm_buf *const *in, const bool *wrap, size_t n, size_t threads)
{
    cry_secret *from = export_key(s, fk, fkv);
    if (!from)
        return NULL;
    vlt_rewrap *j = cm_xcalloc(1, sizeof *j);
    j->n = n;
    j->want = n;
    j->in = cm_xcalloc(n, sizeof *j->in);
    j->wrap = cm_xcalloc(n, sizeof *j->wrap);
    j->slot = cm_xcalloc(n, sizeof *j->slot);
    for (size_t i = 0; i < n; i++) {
        cm_buf_init(&j->in[i], 0);
        cm_buf_add(&j->in[i], in[i]->p, in[i]->len);
        j->wrap[i] = wrap[i];
        cm_buf_init(&j->slot[i].out, 0);
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    size_t want = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    for (size_t t = 0; t < want; t++) {
        struct worker *w = &j->w[j->nth];
        w->j = j;
        w->from = cry_pkey_import(vlt_key_material_kty(fk), from->b, from->len);
        if (!w->from || pthread_create(&j->th[j->nth], NULL, rewrap_worker, w) != 0) {
            cry_pkey_free(w->from);
            break;
        }
        j->nth++;
    }
    cry_secret_free(from);
    if (!j->nth) {
        vlt_rewrap_free(j);
        return NULL;
    }
    return j;
}

void vlt_rewrap_to(vlt_rewrap *j, vlt_state *s, const vlt_key *tk, const vlt_keyver *tkv)
{
    cry_secret *to = tk && tkv ? export_key(s, tk, tkv) : NULL;
    pthread_mutex_lock(&j->mu);
    if (!j->to && to) {
        j->to_kty = vlt_key_material_kty(tk); /* a string of the state's pool */
        j->to = to;
        to = NULL;
    }
    pthread_mutex_unlock(&j->mu);
    cry_secret_free(to); /* given twice: the first stays */
}

void vlt_rewrap_take(vlt_rewrap *j, size_t i, cry_secret **dek, cm_buf *out)
{
    pthread_mutex_lock(&j->mu);
    while (!j->slot[i].done) {
        /* Woken once a stretch of items is done, not per item: settling one is quick. */
        size_t w = i + 32 < j->n ? i + 32 : j->n - 1;
        j->want = j->slot[w].done ? i : w;
        pthread_cond_wait(&j->cv, &j->mu);
    }
    j->want = j->n;
    pthread_mutex_unlock(&j->mu);
    struct slot *sl = &j->slot[i];
    *dek = sl->dek;
    *out = sl->out;
    sl->dek = NULL;
    cm_buf_init(&sl->out, 0);
}

void vlt_rewrap_free(vlt_rewrap *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stop = true;
    pthread_mutex_unlock(&j->mu);
    for (size_t t = 0; t < j->nth; t++) {
        pthread_join(j->th[t], NULL);
        cry_pkey_free(j->w[t].from);
        cry_pkey_free(j->w[t].to);
    }
    for (size_t i = 0; i < j->n; i++) {
        cry_secret_free(j->slot[i].dek); /* one not taken is wiped here */
        cm_buf_free(&j->slot[i].out);
        cm_buf_free(&j->in[i]);
    }
    cry_secret_free(j->to);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->in);
    free(j->wrap);
    free(j->slot);
    free(j);
}
