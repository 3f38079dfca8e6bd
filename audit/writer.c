#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "common/json.h"

/* A record is laid out in two steps. The deciding thread writes its bytes whole, with
 * the values of "hash", "prevhash" (and a checkpoint's "head") and "sig" as placeholders
 * of their final length, into a batch of records. The sealer then takes each record in
 * chain order: it writes the previous record's hash over "prevhash" (and "head"), hashes
 * the bytes around "hash" and "sig", writes the hash, signs when the record is signed,
 * and hands the line to the sink. Inline, the sealer is the deciding thread, one record
 * at a time; asynchronously (aud_writer_async) it is a worker thread, a batch at a time,
 * and the deciding thread goes on laying out the next batch meanwhile. */
#define BATCHES 4                /* in all: the one being laid out, the rest queued or free */
#define BATCH_BYTES (128 * 1024) /* a batch is handed over once it holds about this much */
#define BATCH_RECS 256           /* or this many records */

struct rec {
    size_t at, len;            /* the line: bytes.p[at, at + len) */
    size_t hash_from, hash_to; /* the "hash" member, from at: not hashed */
    size_t sig_from, sig_to;   /* the "sig" member (empty when unsigned): not hashed */
    size_t prev_at, head_at;   /* the 64 digits of "prevhash" and of "head" (0: none) */
    size_t subject;            /* in subjects; SIZE_MAX: no subject */
    uint64_t seq;
    bool sign;
};

struct batch {
    cm_buf bytes;    /* the records, one after another */
    cm_buf subjects; /* their subjects, each with its NUL */
    struct rec recs[BATCH_RECS];
    size_t n;
};

struct worker {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    struct batch *ring[BATCHES]; /* handed over, in chain order: ring[head] is next */
    size_t head, n;
    struct batch *spare[BATCHES]; /* sealed, for the deciding thread to lay out again */
    size_t nspare;
    bool busy, stop;
    bool idle, waiting; /* the worker, the deciding thread: asleep on the queue */
    atomic_bool failed; /* set under mu; read without it on each record laid out */
    cm_err err;
};

struct aud_writer {
    char *chain;
    cry_signer *signer;
    unsigned checkpoint;
    enum aud_clock clock;
    aud_sink_fn sink;
    void *arg;
    size_t max; /* a record's bound */
    /* The deciding thread's: the records laid out so far, and the last one's time. */
    uint64_t seq, last_signed;
    char last_time[64];
    struct batch *cur; /* being laid out */
    struct batch *all[BATCHES];
    struct worker *q; /* NULL: sealed inline */
    /* The sealer's: the last record that reached the sink, its hash (the next record's
     * prevhash), the last signed one. */
    uint64_t sealed_seq, sealed_signed;
    char head[65];
    cry_hash *h;
};

static struct batch *batch_new(void)
{
    struct batch *b = cm_xcalloc(1, sizeof *b);
    cm_buf_init(&b->bytes, 0);
    cm_buf_init(&b->subjects, 0);
    return b;
}

/* Empties a sealed batch; one grown far past its size by a large record gives the
 * memory back. */
static void batch_reset(struct batch *b)
{
    b->n = 0;
    if (b->bytes.cap > 2 * BATCH_BYTES)
        cm_buf_free(&b->bytes);
    cm_buf_reset(&b->bytes);
    cm_buf_reset(&b->subjects);
}

static void batch_free(struct batch *b)
{
    if (!b)
        return;
    cm_buf_free(&b->bytes);
    cm_buf_free(&b->subjects);
    free(b);
}

aud_writer *aud_writer_new(const char *chain, cry_signer *signer, unsigned checkpoint,
                           enum aud_clock clock, aud_sink_fn sink, void *arg)
{
    aud_writer *w = cm_xcalloc(1, sizeof *w);
    w->chain = cm_strdup(chain);
    w->signer = signer;
    w->checkpoint = checkpoint;
    w->clock = clock;
    w->sink = sink;
    w->arg = arg;
    w->max = CM_BUF_MAX_DEFAULT;
    memcpy(w->head, AUD_ZERO_HASH, 65);
    snprintf(w->last_time, sizeof w->last_time, "1970-01-01T00:00:00Z");
    w->h = cry_hash_new();
    w->cur = w->all[0] = batch_new();
    return w;
}

static void queue_stop(aud_writer *w);

void aud_writer_free(aud_writer *w)
{
    if (!w)
        return;
    queue_stop(w);
    free(w->chain);
    cry_hash_free(w->h);
    for (size_t i = 0; i < BATCHES; i++)
        batch_free(w->all[i]);
    free(w);
}

void aud_writer_bound(aud_writer *w, size_t max)
{
    w->max = max ? max : CM_BUF_MAX_DEFAULT;
}

void aud_writer_resume(aud_writer *w, uint64_t seq, const char hash[65])
{
    w->seq = w->sealed_seq = seq;
    w->last_signed = w->sealed_signed = seq;
    memcpy(w->head, hash, 65);
}

void aud_writer_restore(aud_writer *w, uint64_t last_signed, const char *time)
{
    w->last_signed = w->sealed_signed = last_signed;
    snprintf(w->last_time, sizeof w->last_time, "%s", time);
}

/* Asynchronously, what the sealer holds is read once it has sealed every record laid
 * out (an error stays for the next emit or drain to report). */
static void settle(aud_writer *w)
{
    cm_err err;
    if (w->q)
        (void)aud_writer_drain(w, &err);
}

uint64_t aud_writer_last_signed(aud_writer *w)
{
    settle(w);
    return w->sealed_signed;
}

const char *aud_writer_last_time(const aud_writer *w)
{
    return w->last_time;
}

uint64_t aud_writer_seq(aud_writer *w)
{
    settle(w);
    return w->sealed_seq;
}

const char *aud_writer_head(aud_writer *w)
{
    settle(w);
    return w->head;
}

/* Writes `data` of a decision record, keys in RFC 8785 order. */
static void data_json(cm_jw *j, const aud_decision *d, const aud_rec *r, const char *rules_hash)
{
    cm_jw_obj_begin(j);
    cm_jw_key(j, "actions");
    cm_jw_arr_begin(j);
    for (size_t i = 0; i < r->na; i++) {
        const aud_action *a = &r->a[i];
        cm_jw_obj_begin(j);
        cm_jw_kstr(j, "error", a->error);
        cm_jw_kstr(j, "from", a->from);
        cm_jw_kstr(j, "op", a->op);
        cm_jw_kstr(j, "status", a->ok ? "ok" : "failed");
        cm_jw_kstr(j, "to", a->to);
        cm_jw_obj_end(j);
    }
    cm_jw_arr_end(j);
    cm_jw_kstr(j, "cause", d->cause);
    if (d->derived_id) {
        cm_jw_key(j, "derived_from");
        cm_jw_obj_begin(j);
        cm_jw_kstr(j, "id", d->derived_id);
        cm_jw_kstr(j, "type", d->derived_type);
        cm_jw_obj_end(j);
    }
    cm_jw_kstr(j, "engine", "cmkguard " CM_VERSION);
    cm_jw_kstr(j, "event_type", d->event_type);
    cm_jw_key(j, "findings");
    cm_jw_arr_begin(j);
    for (size_t i = 0; i < r->nf; i++) {
        const aud_finding *f = &r->f[i];
        cm_jw_obj_begin(j);
        cm_jw_kstr(j, "action", f->action);
        if (f->ncompliance) {
            cm_jw_key(j, "compliance");
            cm_jw_arr_begin(j);
            for (size_t k = 0; k < f->ncompliance; k++) {
                cm_jw_obj_begin(j);
                cm_jw_kstr(j, "control", f->controls[k]);
                cm_jw_kstr(j, "standard", f->standards[k]);
                cm_jw_obj_end(j);
            }
            cm_jw_arr_end(j);
        }
        if (f->exemption)
            cm_jw_kstr(j, "exemption", f->exemption);
        cm_jw_kstr(j, "message", f->message);
        if (f->resource)
            cm_jw_kstr(j, "resource", f->resource);
        cm_jw_kstr(j, "result", aud_finding_result(f));
        cm_jw_kstr(j, "rule", f->rule);
        cm_jw_kstr(j, "severity", f->severity);
        if (f->ntags) {
            cm_jw_key(j, "tags");
            cm_jw_arr_begin(j);
            for (size_t k = 0; k < f->ntags; k++)
                cm_jw_str(j, f->tags[k]);
            cm_jw_arr_end(j);
        }
        cm_jw_obj_end(j);
    }
    cm_jw_arr_end(j);
    cm_jw_kstr(j, "input", d->input);
    cm_jw_kstr(j, "outcome", aud_outcome_name(d->outcome));
    if (d->reason && r == &d->recs[0])
        cm_jw_kstr(j, "reason", d->reason);
    cm_jw_kstr(j, "rules_hash", rules_hash);
    if (r->st.present) {
        cm_jw_key(j, "state");
        if (!r->st.exists) {
            cm_jw_null(j);
        } else {
            cm_jw_obj_begin(j);
            cm_jw_kstr(j, "key_source", r->st.cmk ? "cmk" : "mmk");
            cm_jw_kstr(j, "key_uri", r->st.key_uri);
            cm_jw_key(j, "lock_reasons");
            cm_jw_arr_begin(j);
            for (size_t i = 0; i < r->st.nreasons; i++)
                cm_jw_str(j, r->st.reasons[i]);
            cm_jw_arr_end(j);
            cm_jw_kbool(j, "locked", r->st.locked);
            cm_jw_kbool(j, "lost", r->st.lost);
            cm_jw_obj_end(j);
        }
    }
    cm_jw_obj_end(j);
}

static const char *record_time(aud_writer *w, const char *event_time)
{
    if (w->clock == AUD_CLOCK_WALL) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->last_time, sizeof w->last_time, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else if (event_time) {
        size_t n = strlen(event_time);
        if (n < sizeof w->last_time)
            memcpy(w->last_time, event_time, n + 1);
    }
    return w->last_time;
}

/* A record over its bound is refused whole: nothing of it reaches the sink. */
static int too_large(cm_err *err, const char *id, size_t max)
{
    cm_err_set(err, "audit", 0, 0, "audit record %s is larger than %zu bytes; not written", id,
               max);
    return -1;
}

/* "CHAIN:SEQ" into id (cap bytes), cut as snprintf would cut it. */
static void record_id(char *id, size_t cap, const char *chain, uint64_t seq)
{
    char digits[21];
    size_t d = sizeof digits;
    do {
        digits[--d] = (char)('0' + seq % 10);
        seq /= 10;
    } while (seq);
    size_t n = strlen(chain), k = sizeof digits - d;
    if (n + 1 + k >= cap) {
        snprintf(id, cap, "%s:%.*s", chain, (int)k, digits + d);
        return;
    }
    memcpy(id, chain, n);
    id[n] = ':';
    memcpy(id + n + 1, digits + d, k);
    id[n + 1 + k] = '\0';
}

/* The signature over hash, written over the placeholder at at (CM_B64_LEN bytes). */
static int put_sig(cry_signer *s, const uint8_t hash[CRY_HASH_LEN], char *at)
{
    uint8_t sig[CRY_SIG_LEN];
    char text[CM_B64_LEN(CRY_SIG_LEN) + 1];
    if (cry_signer_sign(s, hash, CRY_HASH_LEN, sig) < 0)
        return -1;
    cm_b64_text(sig, sizeof sig, text);
    memcpy(at, text, CM_B64_LEN(CRY_SIG_LEN));
    return 0;
}

/* The sealer's step for one record of b, the next in the chain: prevhash (and head),
 * the hash over the bytes around "hash" and "sig", the signature, the sink. On failure
 * the error says why (for the sink, as it left errno) and the chain does not move. */
static int seal(aud_writer *w, struct batch *b, const struct rec *r, cm_err *err)
{
    char *line = b->bytes.p + r->at;
    uint8_t hash[CRY_HASH_LEN];
    char hex[65];
    memcpy(line + r->prev_at, w->head, 64);
    if (r->head_at)
        memcpy(line + r->head_at, w->head, 64);
    if (cry_hash_begin(w->h) < 0 || cry_hash_update(w->h, line, r->hash_from) < 0 ||
        cry_hash_update(w->h, line + r->hash_to, r->sig_from - r->hash_to) < 0 ||
        cry_hash_update(w->h, line + r->sig_to, r->len - r->sig_to) < 0 ||
        cry_hash_final(w->h, hash) < 0) {
        cm_err_set(err, "audit", 0, 0, "hashing failed");
        return -1;
    }
    cm_hex(hash, sizeof hash, hex);
    /* Each value ends one byte (its closing quote) before its member does. */
    memcpy(line + r->hash_to - 1 - 64, hex, 64);
    if (r->sign && put_sig(w->signer, hash, line + r->sig_to - 1 - CM_B64_LEN(CRY_SIG_LEN)) < 0) {
        cm_err_set(err, "audit", 0, 0, "signing failed");
        return -1;
    }
    errno = 0;
    if (w->sink(w->arg, r->subject == SIZE_MAX ? NULL : b->subjects.p + r->subject, line, r->len) !=
        0) {
        int e = errno;
        char id[300];
        record_id(id, sizeof id, w->chain, r->seq);
        cm_err_set(err, "audit", 0, 0, "cannot write audit record %s%s%s", id, e ? ": " : "",
                   e ? strerror(e) : "");
        return -1;
    }
    memcpy(w->head, hex, 65);
    w->sealed_seq = r->seq;
    if (r->sign)
        w->sealed_signed = r->seq;
    return 0;
}

static void *seal_worker(void *arg)
{
    aud_writer *w = arg;
    struct worker *q = w->q;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->n && !q->stop) {
            q->idle = true;
            pthread_cond_wait(&q->more, &q->mu);
            q->idle = false;
        }
        if (q->stop)
            break;
        struct batch *b = q->ring[q->head];
        bool ok = !atomic_load(&q->failed); /* after a failure, batches are only given back */
        q->busy = true;
        pthread_mutex_unlock(&q->mu);
        for (size_t i = 0; ok && i < b->n; i++)
            ok = seal(w, b, &b->recs[i], &q->err) == 0;
        batch_reset(b);
        pthread_mutex_lock(&q->mu);
        if (!ok)
            atomic_store(&q->failed, true);
        q->busy = false;
        q->head = (q->head + 1) % BATCHES;
        q->n--;
        q->spare[q->nspare++] = b;
        if (q->waiting)
            pthread_cond_broadcast(&q->room);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Hands the batch being laid out to the worker and takes a spare one, waiting for the
 * worker to give one back when none is. */
static void hand_over(aud_writer *w)
{
    struct worker *q = w->q;
    pthread_mutex_lock(&q->mu);
    q->ring[(q->head + q->n) % BATCHES] = w->cur;
    q->n++;
    if (q->idle)
        pthread_cond_signal(&q->more);
    while (!q->nspare) {
        q->waiting = true;
        pthread_cond_wait(&q->room, &q->mu);
        q->waiting = false;
    }
    w->cur = q->spare[--q->nspare];
    pthread_mutex_unlock(&q->mu);
}

/* The worker's error, once it failed: every later record is refused with it. */
static int worker_failed(aud_writer *w, cm_err *err)
{
    struct worker *q = w->q;
    if (!q || !atomic_load_explicit(&q->failed, memory_order_relaxed))
        return 0;
    pthread_mutex_lock(&q->mu);
    *err = q->err;
    pthread_mutex_unlock(&q->mu);
    return -1;
}

int aud_writer_async(aud_writer *w)
{
    if (w->q)
        return 0;
    struct worker *q = cm_xcalloc(1, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->more, NULL);
    pthread_cond_init(&q->room, NULL);
    atomic_init(&q->failed, false);
    for (size_t i = 1; i < BATCHES; i++)
        q->spare[q->nspare++] = w->all[i] = batch_new();
    w->q = q;
    if (pthread_create(&q->th, NULL, seal_worker, w) != 0) {
        w->q = NULL;
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->more);
        pthread_cond_destroy(&q->room);
        free(q);
        return -1;
    }
    return 0;
}

int aud_writer_drain(aud_writer *w, cm_err *err)
{
    struct worker *q = w->q;
    if (!q)
        return 0;
    if (w->cur->n)
        hand_over(w);
    pthread_mutex_lock(&q->mu);
    q->waiting = true;
    while (q->n || q->busy)
        pthread_cond_wait(&q->room, &q->mu);
    q->waiting = false;
    int rc = atomic_load(&q->failed) ? -1 : 0;
    if (rc < 0)
        *err = q->err;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* Seals what was laid out (the sink gets every record the deciding thread made, as it
 * would have inline), then stops the worker. */
static void queue_stop(aud_writer *w)
{
    struct worker *q = w->q;
    if (!q)
        return;
    settle(w);
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->more);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->more);
    pthread_cond_destroy(&q->room);
    free(q);
    w->q = NULL;
}

/* Opens a record at the end of the batch being laid out, up to its "data" key; the
 * caller writes the data. The record alone is bounded by w->max. */
static void start(aud_writer *w, cm_jw *j)
{
    struct batch *b = w->cur;
    b->recs[b->n].at = b->bytes.len;
    b->bytes.max = b->bytes.len + w->max;
    cm_jw_init(j, &b->bytes);
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "chain", w->chain);
    cm_jw_key(j, "data");
}

/* Finishes the record that start() opened and whose data j wrote (head_at: where, in
 * the record, its data holds a "head" to fill; 0: none): every member after "data" in
 * its RFC 8785 place, the values of "hash", "prevhash" and "sig" written at their final
 * length as placeholders for the sealer. Inline the record is sealed at once;
 * asynchronously it waits in the batch for the worker. A record over its bound is
 * refused here, before anything of it is queued. */
static int lay_out(aud_writer *w, cm_jw *j, const char *type, const char *subject, const char *when,
                   bool force_sign, size_t head_at, cm_err *err)
{
    static const uint8_t no_sig[CRY_SIG_LEN];
    struct batch *b = w->cur;
    cm_buf *out = &b->bytes;
    struct rec *r = &b->recs[b->n];
    const size_t at = r->at;
    r->seq = w->seq + 1;
    r->sign = w->signer && (force_sign || w->checkpoint == 0 || r->seq % w->checkpoint == 0);
    r->head_at = head_at;
    char id[300];
    record_id(id, sizeof id, w->chain, r->seq);
    cm_jw_kstr(j, "datacontenttype", "application/json");
    r->hash_from = out->len - at;
    cm_jw_kstr(j, "hash", AUD_ZERO_HASH);
    r->hash_to = out->len - at;
    cm_jw_kstr(j, "id", id);
    if (r->sign)
        cm_jw_kstr(j, "kid", cry_signer_kid(w->signer));
    cm_jw_kstr(j, "prevhash", AUD_ZERO_HASH);
    r->prev_at = out->len - at - 1 - 64;
    cm_jw_kuint(j, "seq", r->seq);
    r->sig_from = out->len - at;
    if (r->sign) {
        cm_jw_key(j, "sig");
        cm_jw_b64(j, no_sig, sizeof no_sig);
    }
    r->sig_to = out->len - at;
    cm_jw_kstr(j, "source", "cmkguard");
    cm_jw_kstr(j, "specversion", "1.0");
    if (subject)
        cm_jw_kstr(j, "subject", subject);
    cm_jw_kstr(j, "time", when);
    cm_jw_kstr(j, "type", type);
    cm_jw_obj_end(j);
    r->len = out->len - at;
    r->subject = SIZE_MAX;
    if (subject) {
        r->subject = b->subjects.len;
        cm_buf_add(&b->subjects, subject, strlen(subject) + 1);
    }
    /* The one check of the record, before any of it is sealed. */
    if (cm_jw_done(j) < 0 || cm_buf_failed(&b->subjects)) {
        size_t max = w->max;
        cm_buf_cut(out, at);
        cm_buf_cut(&b->subjects, r->subject == SIZE_MAX ? b->subjects.len : r->subject);
        return too_large(err, id, max);
    }
    if (!w->q) {
        int rc = seal(w, b, r, err);
        batch_reset(b);
        if (rc < 0)
            return -1;
    } else if (++b->n == BATCH_RECS || out->len >= BATCH_BYTES - BATCH_BYTES / 16) {
        hand_over(w);
    }
    w->seq = r->seq;
    if (r->sign)
        w->last_signed = r->seq;
    return 0;
}

int aud_writer_emit(aud_writer *w, const aud_decision *d, const char *rules_hash, cm_err *err)
{
    if (worker_failed(w, err) < 0)
        return -1;
    const char *when = record_time(w, d->time);
    for (size_t i = 0; i < d->nrecs; i++) {
        const aud_rec *r = &d->recs[i];
        cm_jw j;
        start(w, &j);
        data_json(&j, d, r, rules_hash);
        if (lay_out(w, &j, "cmkguard.audit.decision", r->subject, when, false, 0, err) < 0)
            return -1;
    }
    return 0;
}

bool aud_record_peek(const char *line, size_t n, char *chain, size_t chain_len,
                     unsigned long long *seq, char hash[65])
{
    static const char lead[] = "{\"chain\":\"";
    if (n < sizeof lead || memcmp(line, lead, sizeof lead - 1) != 0)
        return false;
    const char *c = line + sizeof lead - 1, *end = memchr(c, '"', n - (sizeof lead - 1));
    if (!end || (size_t)(end - c) >= chain_len)
        return false;
    memcpy(chain, c, (size_t)(end - c));
    chain[end - c] = '\0';
    char *copy = cm_strndup(line, n);
    const char *sp = strstr(copy, ",\"seq\":"), *hp = strstr(copy, ",\"hash\":\"");
    bool ok = sp && sscanf(sp, ",\"seq\":%llu", seq) == 1 &&
              (!hash || (hp && sscanf(hp, ",\"hash\":\"%64[0-9a-f]\"", hash) == 1));
    free(copy);
    return ok;
}

int aud_writer_finish(aud_writer *w, cm_err *err)
{
    if (!w->signer || w->checkpoint == 0)
        return 0;
    if (worker_failed(w, err) < 0)
        return -1;
    cm_jw j;
    start(w, &j);
    size_t at = w->cur->recs[w->cur->n].at;
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "engine", "cmkguard " CM_VERSION);
    cm_jw_kuint(&j, "first_seq", w->last_signed + 1);
    /* The head is the previous record's hash: the sealer writes it, as it does prevhash. */
    cm_jw_kstr(&j, "head", AUD_ZERO_HASH);
    size_t head_at = w->cur->bytes.len - at - 1 - 64;
    cm_jw_kuint(&j, "last_seq", w->seq);
    cm_jw_obj_end(&j);
    return lay_out(w, &j, "cmkguard.audit.checkpoint", NULL, w->last_time, true, head_at, err);
}
