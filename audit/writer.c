#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "common/json.h"

/* Asynchronous signing: records queue in chain order; one worker signs each hash and
 * hands the finished line to the sink, in the same order. The deciding thread goes on
 * with the next event meanwhile; aud_writer_drain waits for the queue to empty. */
#define QUEUE 1024

struct job {
    cm_buf line;    /* the record; when sign, its "sig" value is a placeholder */
    size_t sig_at;  /* where the signature's base64 goes in line */
    cm_buf subject; /* empty with no subject */
    bool has_subject;
    uint8_t hash[CRY_HASH_LEN];
    bool sign;
    char id[300];
};

struct signer_q {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    struct job jobs[QUEUE];
    size_t head, n; /* jobs[head] is next to sign; n queued */
    bool busy, stop, failed;
    bool idle, waiting; /* the worker, the deciding thread: asleep on the queue */
    cm_err err;
};

struct aud_writer {
    char *chain;
    cry_signer *signer;
    unsigned checkpoint;
    enum aud_clock clock;
    aud_sink_fn sink;
    void *arg;
    uint64_t seq, last_signed;
    char head[65];
    char last_time[64];
    cry_hash *h;
    cm_buf out;         /* the record being written, reused record after record */
    struct signer_q *q; /* NULL: signs inline */
};

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
    memcpy(w->head, AUD_ZERO_HASH, 65);
    snprintf(w->last_time, sizeof w->last_time, "1970-01-01T00:00:00Z");
    w->h = cry_hash_new();
    cm_buf_init(&w->out, 0);
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
    cm_buf_free(&w->out);
    free(w);
}

void aud_writer_bound(aud_writer *w, size_t max)
{
    w->out.max = max ? max : CM_BUF_MAX_DEFAULT;
}

void aud_writer_resume(aud_writer *w, uint64_t seq, const char hash[65])
{
    w->seq = seq;
    w->last_signed = seq;
    memcpy(w->head, hash, 65);
}

void aud_writer_restore(aud_writer *w, uint64_t last_signed, const char *time)
{
    w->last_signed = last_signed;
    snprintf(w->last_time, sizeof w->last_time, "%s", time);
}

uint64_t aud_writer_last_signed(const aud_writer *w)
{
    return w->last_signed;
}

const char *aud_writer_last_time(const aud_writer *w)
{
    return w->last_time;
}

uint64_t aud_writer_seq(const aud_writer *w)
{
    return w->seq;
}

const char *aud_writer_head(const aud_writer *w)
{
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

/* Hands a record to the sink; on failure the error says why, as the sink left errno. */
static bool sink_fails(aud_writer *w, const char *subject, const char *line, size_t n,
                       const char *id, cm_err *err)
{
    errno = 0;
    if (w->sink(w->arg, subject, line, n) == 0)
        return false;
    int e = errno;
    cm_err_set(err, "audit", 0, 0, "cannot write audit record %s%s%s", id, e ? ": " : "",
               e ? strerror(e) : "");
    return true;
}

/* A record over its bound is refused whole: nothing of it reaches the sink. */
static int too_large(cm_err *err, const char *id, size_t max)
{
    cm_err_set(err, "audit", 0, 0, "audit record %s is larger than %zu bytes; not written", id,
               max);
    return -1;
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

static void *sign_worker(void *arg)
{
    aud_writer *w = arg;
    struct signer_q *q = w->q;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->n && !q->stop) {
            q->idle = true;
            pthread_cond_wait(&q->more, &q->mu);
            q->idle = false;
        }
        if (q->stop)
            break;
        struct job *j = &q->jobs[q->head];
        q->busy = true;
        pthread_mutex_unlock(&q->mu);
        bool ok = !q->failed;
        if (ok && j->sign) {
            ok = put_sig(w->signer, j->hash, j->line.p + j->sig_at) == 0;
            if (!ok)
                cm_err_set(&q->err, "audit", 0, 0, "signing failed");
        }
        if (ok && sink_fails(w, j->has_subject ? j->subject.p : NULL, j->line.p, j->line.len, j->id,
                             &q->err))
            ok = false;
        pthread_mutex_lock(&q->mu);
        if (!ok)
            q->failed = true;
        q->busy = false;
        q->head = (q->head + 1) % QUEUE;
        q->n--;
        /* Wake the deciding thread only when it sleeps, and only once half the queue
         * is free: one wake-up per half queue, not one per record. */
        if (q->waiting && (q->n <= QUEUE / 2 || q->failed))
            pthread_cond_broadcast(&q->room);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* Hands the record in w->out to the worker, which owns a copy of it: the deciding
 * thread writes the next record into w->out meanwhile. */
static int enqueue(aud_writer *w, const char *subject, const uint8_t hash[CRY_HASH_LEN], bool sign,
                   size_t sig_at, const char *id, cm_err *err)
{
    struct signer_q *q = w->q;
    pthread_mutex_lock(&q->mu);
    while (q->n == QUEUE && !q->failed) {
        q->waiting = true;
        pthread_cond_wait(&q->room, &q->mu);
        q->waiting = false;
    }
    if (q->failed) {
        *err = q->err;
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    struct job *j = &q->jobs[(q->head + q->n) % QUEUE];
    pthread_mutex_unlock(&q->mu);
    /* The slot is ours until it is counted in: the worker never reads past n. */
    cm_buf_reset(&j->line);
    cm_buf_add(&j->line, w->out.p, w->out.len);
    cm_buf_reset(&j->subject);
    j->has_subject = subject != NULL;
    if (subject)
        cm_buf_adds(&j->subject, subject);
    if (cm_buf_failed(&j->line) || cm_buf_failed(&j->subject))
        return too_large(err, id, j->line.max); /* not counted in: the slot stays free */
    memcpy(j->hash, hash, CRY_HASH_LEN);
    j->sign = sign;
    j->sig_at = sig_at;
    snprintf(j->id, sizeof j->id, "%s", id);
    pthread_mutex_lock(&q->mu);
    q->n++;
    if (q->idle)
        pthread_cond_signal(&q->more);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int aud_writer_async(aud_writer *w)
{
    if (w->q || !w->signer)
        return 0;
    struct signer_q *q = cm_xcalloc(1, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->more, NULL);
    pthread_cond_init(&q->room, NULL);
    for (size_t i = 0; i < QUEUE; i++) {
        cm_buf_init(&q->jobs[i].line, 0);
        cm_buf_init(&q->jobs[i].subject, 0);
    }
    w->q = q;
    if (pthread_create(&q->th, NULL, sign_worker, w) != 0) {
        w->q = NULL;
        free(q);
        return -1;
    }
    return 0;
}

int aud_writer_drain(aud_writer *w, cm_err *err)
{
    struct signer_q *q = w->q;
    if (!q)
        return 0;
    pthread_mutex_lock(&q->mu);
    q->waiting = true;
    while ((q->n && !q->failed) || q->busy) /* busy: a failed record still in hand */
        pthread_cond_wait(&q->room, &q->mu);
    q->waiting = false;
    int rc = q->failed ? -1 : 0;
    if (rc < 0)
        *err = q->err;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static void queue_stop(aud_writer *w)
{
    struct signer_q *q = w->q;
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->more);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    for (size_t i = 0; i < QUEUE; i++) {
        cm_buf_free(&q->jobs[i].line);
        cm_buf_free(&q->jobs[i].subject);
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->more);
    pthread_cond_destroy(&q->room);
    free(q);
    w->q = NULL;
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

/* Opens a record in w->out, up to its "data" key; the caller writes the data. */
static void start(aud_writer *w, cm_jw *j)
{
    cm_buf_reset(&w->out);
    cm_jw_init(j, &w->out);
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "chain", w->chain);
    cm_jw_key(j, "data");
}

/* Finishes the record that start() opened in w->out and whose data j wrote: every
 * member after "data" in its RFC 8785 place, the values of "hash" and "sig" written at
 * their final length as placeholders. The bytes around those two are hashed once, as
 * they lie; then the hash and the signature are written over the placeholders and the
 * record goes to the sink as it is (or to the signing worker, which keeps a copy). */
static int seal_and_emit(aud_writer *w, cm_jw *j, const char *type, const char *subject,
                         const char *when, bool force_sign, cm_err *err)
{
    static const uint8_t no_sig[CRY_SIG_LEN];
    cm_buf *out = &w->out;
    uint64_t seq = w->seq + 1;
    bool sign = w->signer && (force_sign || w->checkpoint == 0 || seq % w->checkpoint == 0);
    char id[300];
    record_id(id, sizeof id, w->chain, seq);
    cm_jw_kstr(j, "datacontenttype", "application/json");
    size_t hash_from = out->len;
    cm_jw_kstr(j, "hash", AUD_ZERO_HASH);
    size_t hash_to = out->len;
    cm_jw_kstr(j, "id", id);
    if (sign)
        cm_jw_kstr(j, "kid", cry_signer_kid(w->signer));
    cm_jw_kstr(j, "prevhash", w->head);
    cm_jw_kuint(j, "seq", seq);
    size_t sig_from = out->len;
    if (sign) {
        cm_jw_key(j, "sig");
        cm_jw_b64(j, no_sig, sizeof no_sig);
    }
    size_t sig_to = out->len;
    cm_jw_kstr(j, "source", "cmkguard");
    cm_jw_kstr(j, "specversion", "1.0");
    if (subject)
        cm_jw_kstr(j, "subject", subject);
    cm_jw_kstr(j, "time", when);
    cm_jw_kstr(j, "type", type);
    cm_jw_obj_end(j);
    /* The one check of the record, before any of it is hashed. */
    if (cm_jw_done(j) < 0)
        return too_large(err, id, out->max);
    uint8_t hash[CRY_HASH_LEN];
    char hex[65];
    if (cry_hash_begin(w->h) < 0 || cry_hash_update(w->h, out->p, hash_from) < 0 ||
        cry_hash_update(w->h, out->p + hash_to, sig_from - hash_to) < 0 ||
        cry_hash_update(w->h, out->p + sig_to, out->len - sig_to) < 0 ||
        cry_hash_final(w->h, hash) < 0) {
        cm_err_set(err, "audit", 0, 0, "hashing failed");
        return -1;
    }
    cm_hex(hash, sizeof hash, hex);
    /* Each value ends one byte (its closing quote) before its member does. */
    memcpy(out->p + hash_to - 1 - 64, hex, 64);
    size_t sig_at = sig_to - 1 - CM_B64_LEN(CRY_SIG_LEN);
    if (w->q) {
        if (enqueue(w, subject, hash, sign, sig_at, id, err) < 0)
            return -1;
    } else {
        if (sign && put_sig(w->signer, hash, out->p + sig_at) < 0) {
            cm_err_set(err, "audit", 0, 0, "signing failed");
            return -1;
        }
        if (sink_fails(w, subject, out->p, out->len, id, err))
            return -1;
    }
    w->seq = seq;
    if (sign)
        w->last_signed = seq;
    memcpy(w->head, hex, 65);
    return 0;
}

int aud_writer_emit(aud_writer *w, const aud_decision *d, const char *rules_hash, cm_err *err)
{
    const char *when = record_time(w, d->time);
    for (size_t i = 0; i < d->nrecs; i++) {
        const aud_rec *r = &d->recs[i];
        cm_jw j;
        start(w, &j);
        data_json(&j, d, r, rules_hash);
        if (seal_and_emit(w, &j, "cmkguard.audit.decision", r->subject, when, false, err) < 0)
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
    cm_jw j;
    start(w, &j);
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "engine", "cmkguard " CM_VERSION);
    cm_jw_kuint(&j, "first_seq", w->last_signed + 1);
    cm_jw_kstr(&j, "head", w->head);
    cm_jw_kuint(&j, "last_seq", w->seq);
    cm_jw_obj_end(&j);
    return seal_and_emit(w, &j, "cmkguard.audit.checkpoint", NULL, w->last_time, true, err);
}
