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

void aud_writer_bound(aud_writer *w, size_t max)
{
    w->a.max = w->b.max = w->c.max = w->out.max = max ? max : CM_BUF_MAX_DEFAULT;
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

/* A record over its bound is refused whole: nothing of it reaches the sink. */
static int too_large(cm_err *err, const char *id, size_t max)
{
    cm_err_set(err, "audit", 0, 0, "audit record %s is larger than %zu bytes; not written", id,
               max);
    return -1;
}

/* The signature member, between "seq" and "source". */
static void put_sig(cm_buf *out, const uint8_t sig[CRY_SIG_LEN])
{
    cm_jw j;
    cm_jw_init_member(&j, out);
    cm_jw_key(&j, "sig");
    cm_jw_b64(&j, sig, CRY_SIG_LEN);
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
            if (ok)
                put_sig(&q->out, sig);
            else
                cm_err_set(&q->err, "audit", 0, 0, "signing failed");
        }
        cm_buf_add(&q->out, j->post.p, j->post.len);
        if (ok && cm_buf_failed(&q->out))
            ok = too_large(&q->err, j->id, q->out.max) == 0;
        if (ok && sink_fails(w, j->has_subject ? j->subject.p : NULL, q->out.p, q->out.len, j->id,
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
    if (cm_buf_failed(&j->pre) || cm_buf_failed(&j->post) || cm_buf_failed(&j->subject))
        return too_large(err, id, j->pre.max); /* not counted in: the slot stays free */
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

/* Finishes a record whose first part (up to "datacontenttype") is in w->a: chain, sign,
 * emit. The parts are written apart, hashed without "hash" and "sig", then joined with
 * them in their RFC 8785 places. */
static int seal_and_emit(aud_writer *w, const char *type, const char *subject, const char *when,
                         bool force_sign, cm_err *err)
{
    uint64_t seq = w->seq + 1;
    bool sign = w->signer && (force_sign || w->checkpoint == 0 || seq % w->checkpoint == 0);
    cm_buf_reset(&w->b);
    cm_buf_reset(&w->c);
    char id[300];
    snprintf(id, sizeof id, "%s:%llu", w->chain, (unsigned long long)seq);
    cm_jw j;
    cm_jw_init_member(&j, &w->b);
    cm_jw_kstr(&j, "id", id);
    if (sign)
        cm_jw_kstr(&j, "kid", cry_signer_kid(w->signer));
    cm_jw_kstr(&j, "prevhash", w->head);
    cm_jw_kuint(&j, "seq", seq);
    cm_jw_init_member(&j, &w->c);
    cm_jw_kstr(&j, "source", "cmkguard");
    cm_jw_kstr(&j, "specversion", "1.0");
    if (subject)
        cm_jw_kstr(&j, "subject", subject);
    cm_jw_kstr(&j, "time", when);
    cm_jw_kstr(&j, "type", type);
    cm_jw_obj_end(&j);
    /* The one check of the parts, before any of them is hashed. */
    if (cm_buf_failed(&w->a) || cm_buf_failed(&w->b) || cm_jw_done(&j) < 0)
        return too_large(err, id, w->a.max);
    uint8_t hash[CRY_HASH_LEN];
    char hex[65];
    if (cry_hash_begin(w->h) < 0 || cry_hash_update(w->h, w->a.p, w->a.len) < 0 ||
        cry_hash_update(w->h, w->b.p, w->b.len) < 0 ||
        cry_hash_update(w->h, w->c.p, w->c.len) < 0 || cry_hash_final(w->h, hash) < 0) {
        cm_err_set(err, "audit", 0, 0, "hashing failed");
        return -1;
    }
    cm_hex(hash, sizeof hash, hex);
    /* The record: the hashed parts with "hash" and "sig" in their places. */
    cm_buf_reset(&w->out);
    cm_buf_add(&w->out, w->a.p, w->a.len);
    cm_jw_init_member(&j, &w->out);
    cm_jw_kstr(&j, "hash", hex);
    cm_buf_add(&w->out, w->b.p, w->b.len);
    if (w->q) {
        if (cm_buf_failed(&w->out))
            return too_large(err, id, w->out.max);
        if (enqueue(w, subject, hash, sign, id, err) < 0)
            return -1;
    } else if (sign) {
        uint8_t sig[CRY_SIG_LEN];
        if (cry_signer_sign(w->signer, hash, sizeof hash, sig) < 0) {
            cm_err_set(err, "audit", 0, 0, "signing failed");
            return -1;
        }
        put_sig(&w->out, sig);
    }
    if (!w->q) {
        cm_buf_add(&w->out, w->c.p, w->c.len);
        if (cm_buf_failed(&w->out))
            return too_large(err, id, w->out.max);
        if (sink_fails(w, subject, w->out.p, w->out.len, id, err))
            return -1;
    }
    w->seq = seq;
    if (sign)
        w->last_signed = seq;
    memcpy(w->head, hex, 65);
    return 0;
}

/* Opens a record in w->a, up to its "data" key; the caller writes the data. */
static void start(aud_writer *w, cm_jw *j)
{
    cm_buf_reset(&w->a);
    cm_jw_init(j, &w->a);
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "chain", w->chain);
    cm_jw_key(j, "data");
}

int aud_writer_emit(aud_writer *w, const aud_decision *d, const char *rules_hash, cm_err *err)
{
    const char *when = record_time(w, d->time);
    for (size_t i = 0; i < d->nrecs; i++) {
        const aud_rec *r = &d->recs[i];
        cm_jw j;
        start(w, &j);
        data_json(&j, d, r, rules_hash);
        cm_jw_kstr(&j, "datacontenttype", "application/json");
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
    cm_jw j;
    start(w, &j);
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "engine", "cmkguard " CM_VERSION);
    cm_jw_kuint(&j, "first_seq", w->last_signed + 1);
    cm_jw_kstr(&j, "head", w->head);
    cm_jw_kuint(&j, "last_seq", w->seq);
    cm_jw_obj_end(&j);
    cm_jw_kstr(&j, "datacontenttype", "application/json");
    return seal_and_emit(w, "cmkguard.audit.checkpoint", NULL, w->last_time, true, err);
}
