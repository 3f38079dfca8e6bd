#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"

/* Asynchronous signing: records queue in chain order; one worker signs each hash and
 * hands the finished line to the sink, in the same order. The deciding thread goes on
 * with the next event meanwhile; aud_writer_drain waits for the queue to empty. */
#define QUEUE 1024

struct job {
    cm_buf pre, post; /* the record before and after "sig" */
    cm_buf subject;   /* empty with no subject */
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
    cm_buf out; /* the worker's line */
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
    cm_buf a, b, c, out;
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
    cm_buf_init(&w->a, 0);
    cm_buf_init(&w->b, 0);
    cm_buf_init(&w->c, 0);
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
    cm_buf_free(&w->a);
    cm_buf_free(&w->b);
    cm_buf_free(&w->c);
    cm_buf_free(&w->out);
    free(w);
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

static void key(cm_buf *b, const char *k)
{
    cm_json_cstr(b, k);
    cm_buf_addc(b, ':');
}

static void kstr(cm_buf *b, const char *k, const char *v, bool comma)
{
    key(b, k);
    cm_json_cstr(b, v);
    if (comma)
        cm_buf_addc(b, ',');
}

static void kbool(cm_buf *b, const char *k, bool v, bool comma)
{
    key(b, k);
    cm_buf_adds(b, v ? "true" : "false");
    if (comma)
        cm_buf_addc(b, ',');
}

/* Writes `data` of a decision record, keys in RFC 8785 order. */
static void data_json(cm_buf *b, const aud_decision *d, const aud_rec *r, const char *rules_hash)
{
    cm_buf_addc(b, '{');
    key(b, "actions");
    cm_buf_addc(b, '[');
    for (size_t i = 0; i < r->na; i++) {
        const aud_action *a = &r->a[i];
        cm_buf_adds(b, i ? ",{" : "{");
        kstr(b, "error", a->error, true);
        kstr(b, "from", a->from, true);
        kstr(b, "op", a->op, true);
        kstr(b, "status", a->ok ? "ok" : "failed", true);
        kstr(b, "to", a->to, false);
        cm_buf_addc(b, '}');
    }
    cm_buf_adds(b, "],");
    kstr(b, "cause", d->cause, true);
    if (d->derived_id) {
        key(b, "derived_from");
        cm_buf_addc(b, '{');
        kstr(b, "id", d->derived_id, true);
        kstr(b, "type", d->derived_type, false);
        cm_buf_adds(b, "},");
    }
    kstr(b, "engine", "cmkguard " CM_VERSION, true);
    kstr(b, "event_type", d->event_type, true);
    key(b, "findings");
    cm_buf_addc(b, '[');
    for (size_t i = 0; i < r->nf; i++) {
        const aud_finding *f = &r->f[i];
        cm_buf_adds(b, i ? ",{" : "{");
        kstr(b, "action", f->action, true);
        if (f->ncompliance) {
            key(b, "compliance");
            cm_buf_addc(b, '[');
            for (size_t k = 0; k < f->ncompliance; k++) {
                cm_buf_adds(b, k ? ",{" : "{");
                kstr(b, "control", f->controls[k], true);
                kstr(b, "standard", f->standards[k], false);
                cm_buf_addc(b, '}');
            }
            cm_buf_adds(b, "],");
        }
        if (f->exemption)
            kstr(b, "exemption", f->exemption, true);
        kstr(b, "message", f->message, true);
        if (f->resource)
            kstr(b, "resource", f->resource, true);
        kstr(b, "result", aud_finding_result(f), true);
        kstr(b, "rule", f->rule, true);
        kstr(b, "severity", f->severity, f->ntags > 0);
        if (f->ntags) {
            key(b, "tags");
            cm_buf_addc(b, '[');
            for (size_t k = 0; k < f->ntags; k++) {
                if (k)
                    cm_buf_addc(b, ',');
                cm_json_cstr(b, f->tags[k]);
            }
            cm_buf_addc(b, ']');
        }
        cm_buf_addc(b, '}');
    }
    cm_buf_adds(b, "],");
    kstr(b, "input", d->input, true);
    kstr(b, "outcome", aud_outcome_name(d->outcome), true);
    if (d->reason && r == &d->recs[0])
        kstr(b, "reason", d->reason, true);
    kstr(b, "rules_hash", rules_hash, r->st.present);
    if (r->st.present) {
        key(b, "state");
        if (!r->st.exists) {
            cm_buf_adds(b, "null");
        } else {
            cm_buf_addc(b, '{');
            kstr(b, "key_source", r->st.cmk ? "cmk" : "mmk", true);
            kstr(b, "key_uri", r->st.key_uri, true);
            key(b, "lock_reasons");
            cm_buf_addc(b, '[');
            for (size_t i = 0; i < r->st.nreasons; i++) {
                if (i)
                    cm_buf_addc(b, ',');
                cm_json_cstr(b, r->st.reasons[i]);
            }
            cm_buf_adds(b, "],");
            kbool(b, "locked", r->st.locked, true);
            kbool(b, "lost", r->st.lost, false);
            cm_buf_addc(b, '}');
        }
    }
    cm_buf_addc(b, '}');
}

static const char *record_time(aud_writer *w, const char *event_time)
{
    if (w->clock == AUD_CLOCK_WALL) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->last_time, sizeof w->last_time, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else if (event_time && strlen(event_time) < sizeof w->last_time) {
        snprintf(w->last_time, sizeof w->last_time, "%s", event_time);
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
        cm_buf_reset(&q->out);
        cm_buf_add(&q->out, j->pre.p, j->pre.len);
        if (ok && j->sign) {
            uint8_t sig[CRY_SIG_LEN];
            ok = cry_signer_sign(w->signer, j->hash, sizeof j->hash, sig) == 0;
            if (ok) {
                cm_buf_adds(&q->out, "\"sig\":\"");
                cm_b64_encode(sig, sizeof sig, &q->out);
                cm_buf_adds(&q->out, "\",");
            } else {
                cm_err_set(&q->err, "audit", 0, 0, "signing failed");
            }
        }
        cm_buf_add(&q->out, j->post.p, j->post.len);
        if (ok && sink_fails(w, j->has_subject ? j->subject.p : NULL, q->out.p, q->out.len,
                             j->id, &q->err))
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

static int enqueue(aud_writer *w, const char *subject, const uint8_t hash[CRY_HASH_LEN], bool sign,
                   const char *id, cm_err *err)
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
    cm_buf_reset(&j->pre);
    cm_buf_add(&j->pre, w->out.p, w->out.len);
    cm_buf_reset(&j->post);
    cm_buf_add(&j->post, w->c.p, w->c.len);
    cm_buf_reset(&j->subject);
    j->has_subject = subject != NULL;
    if (subject)
        cm_buf_adds(&j->subject, subject);
    memcpy(j->hash, hash, CRY_HASH_LEN);
    j->sign = sign;
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
        cm_buf_init(&q->jobs[i].pre, 0);
        cm_buf_init(&q->jobs[i].post, 0);
        cm_buf_init(&q->jobs[i].subject, 0);
    }
    cm_buf_init(&q->out, 0);
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
        cm_buf_free(&q->jobs[i].pre);
        cm_buf_free(&q->jobs[i].post);
        cm_buf_free(&q->jobs[i].subject);
    }
    cm_buf_free(&q->out);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->more);
    pthread_cond_destroy(&q->room);
    free(q);
    w->q = NULL;
}

/* Finishes a record whose data is in w->a (after `"data":`): chain, sign, emit. */
static int seal_and_emit(aud_writer *w, const char *type, const char *subject, const char *when,
                         bool force_sign, cm_err *err)
{
    uint64_t seq = w->seq + 1;
    bool sign = w->signer && (force_sign || w->checkpoint == 0 || seq % w->checkpoint == 0);
    cm_buf_reset(&w->b);
    cm_buf_reset(&w->c);
    cm_buf_addf(&w->b, "\"id\":");
    char id[300];
    snprintf(id, sizeof id, "%s:%llu", w->chain, (unsigned long long)seq);
    cm_json_cstr(&w->b, id);
    cm_buf_addc(&w->b, ',');
    if (sign)
        kstr(&w->b, "kid", cry_signer_kid(w->signer), true);
    kstr(&w->b, "prevhash", w->head, true);
    cm_buf_addf(&w->b, "\"seq\":%llu,", (unsigned long long)seq);
    kstr(&w->c, "source", "cmkguard", true);
    kstr(&w->c, "specversion", "1.0", true);
    if (subject)
        kstr(&w->c, "subject", subject, true);
    kstr(&w->c, "time", when, true);
    kstr(&w->c, "type", type, false);
    cm_buf_addc(&w->c, '}');
    uint8_t hash[CRY_HASH_LEN];
    char hex[65];
    if (cry_hash_begin(w->h) < 0 || cry_hash_update(w->h, w->a.p, w->a.len) < 0 ||
        cry_hash_update(w->h, w->b.p, w->b.len) < 0 ||
        cry_hash_update(w->h, w->c.p, w->c.len) < 0 || cry_hash_final(w->h, hash) < 0) {
        cm_err_set(err, "audit", 0, 0, "hashing failed");
        return -1;
    }
    cm_hex(hash, sizeof hash, hex);
    cm_buf_reset(&w->out);
    cm_buf_add(&w->out, w->a.p, w->a.len);
    kstr(&w->out, "hash", hex, true);
    cm_buf_add(&w->out, w->b.p, w->b.len);
    if (w->q) {
        if (enqueue(w, subject, hash, sign, id, err) < 0)
            return -1;
    } else if (sign) {
        uint8_t sig[CRY_SIG_LEN];
        if (cry_signer_sign(w->signer, hash, sizeof hash, sig) < 0) {
            cm_err_set(err, "audit", 0, 0, "signing failed");
            return -1;
        }
        key(&w->out, "sig");
        cm_buf_addc(&w->out, '"');
        cm_b64_encode(sig, sizeof sig, &w->out);
        cm_buf_adds(&w->out, "\",");
    }
    if (!w->q) {
        cm_buf_add(&w->out, w->c.p, w->c.len);
        if (sink_fails(w, subject, w->out.p, w->out.len, id, err))
            return -1;
    }
    w->seq = seq;
    if (sign)
        w->last_signed = seq;
    memcpy(w->head, hex, 65);
    return 0;
}

static void start(aud_writer *w)
{
    cm_buf_reset(&w->a);
    cm_buf_adds(&w->a, "{");
    kstr(&w->a, "chain", w->chain, true);
    key(&w->a, "data");
}

int aud_writer_emit(aud_writer *w, const aud_decision *d, const char *rules_hash, cm_err *err)
{
    const char *when = record_time(w, d->time);
    for (size_t i = 0; i < d->nrecs; i++) {
        const aud_rec *r = &d->recs[i];
        start(w);
        data_json(&w->a, d, r, rules_hash);
        cm_buf_addc(&w->a, ',');
        kstr(&w->a, "datacontenttype", "application/json", true);
        if (seal_and_emit(w, "cmkguard.audit.decision", r->subject, when, false, err) < 0)
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
    start(w);
    cm_buf_addf(&w->a, "{\"engine\":\"cmkguard " CM_VERSION "\",\"first_seq\":%llu,\"head\":",
                (unsigned long long)(w->last_signed + 1));
    cm_json_cstr(&w->a, w->head);
    cm_buf_addf(&w->a, ",\"last_seq\":%llu},", (unsigned long long)w->seq);
    kstr(&w->a, "datacontenttype", "application/json", true);
    return seal_and_emit(w, "cmkguard.audit.checkpoint", NULL, w->last_time, true, err);
}
