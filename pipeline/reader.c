/* The ring between the reader thread and the deciding thread: one producer, one
 * consumer, each the only writer of its own index (tail: slots handed over; head: slots
 * given back), so a slot changes hands with one atomic store and no lock. A side that
 * finds nothing to do sleeps on a condition variable after saying what it waits for, and
 * the other side wakes it only then: the reader, mostly ahead, waits until half of what
 * is in flight came back, so that it is woken once per half ring, not once per line.
 *
 * The wake-up cannot be lost: the sleeper stores what it wants, then reads the other's
 * index; the other stores its index, then reads what is wanted (all sequentially
 * consistent), so at least one of them sees the other's store; and the sleeper holds the
 * mutex from its store until it waits, so a signal sent under the mutex finds it
 * waiting. */
#include "pipeline/reader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "decode/decode.h"

#define NSLOTS 512               /* a power of two */
#define BUDGET ((size_t)4 << 20) /* bytes the slots in flight may hold (but for one) */
#define KEEP ((size_t)4096)      /* a slot keeps no more room than this between lines */
#define LINE 1                   /* a slot's kind: a line; else 0 (the end) or -1 */

struct slot {
    pip_line l;
    int kind;    /* LINE, 0 at the end, -1 on a read error (in the reader's err) */
    cm_buf buf;  /* the event's strings; before them, when refused, the reason and line */
    size_t size; /* the room buf held when handed over (the reader's to read) */
};

struct pip_reader {
    /* The reader thread's, but err, which the deciding thread reads once it was handed
     * the slot of the error. */
    cm_lines *rd;
    dec_decoder *dec;
    size_t max;       /* dec_decoder's bound, 0 made the default */
    int64_t after;    /* lines up to this one are skipped */
    size_t seen_head; /* head as the reader last read it */
    size_t inflight;  /* room held by the slots in [seen_head, tail) */
    cm_err err;
    struct slot *slot;
    /* Each index on a cache line of its own: each side writes one, every line. */
    char pad1[64];
    _Atomic size_t tail; /* slots handed over (written by the reader only) */
    char pad2[64];
    _Atomic size_t head; /* slots given back (written by the deciding thread only) */
    char pad3[64];
    /* The deciding thread's. */
    size_t seen_tail; /* tail as it last read it */
    bool holding;     /* the slot at head is out, as the last line */
    /* Sleeping: 0, or the index the sleeper waits for (head for the reader, tail for the
     * deciding thread); stop tells the reader to end. */
    _Atomic size_t reader_wants, decider_wants;
    _Atomic bool stop;
    pthread_mutex_t mu;
    pthread_cond_t reader_cv, decider_cv;
    pthread_t th;
    bool started;
};

/* Wakes the other side when it sleeps waiting for its index to reach what it wants and
 * reached (this side's index, just stored) is that far. */
static void wake(pip_reader *r, _Atomic size_t *wants, size_t reached, pthread_cond_t *cv)
{
    size_t want = atomic_load(wants);
    if (want && reached >= want) {
        pthread_mutex_lock(&r->mu);
        pthread_cond_signal(cv);
        pthread_mutex_unlock(&r->mu);
    }
}

/* Counts the slots the deciding thread gave back since the last look. */
static void take_back(pip_reader *r)
{
    size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    for (; r->seen_head != h; r->seen_head++)
        r->inflight -= r->slot[r->seen_head & (NSLOTS - 1)].size;
}

/* Waits until the slot at tail is free and the slots in flight hold no more than the
 * budget (with none in flight, one of any size may go); false when told to stop. */
static bool room(pip_reader *r, size_t tail)
{
    for (;;) {
        if (atomic_load_explicit(&r->stop, memory_order_relaxed))
            return false;
        take_back(r);
        size_t out = tail - r->seen_head;
        if (out < NSLOTS && (r->inflight <= BUDGET || out == 0))
            return true;
        size_t want = r->seen_head + (out + 1) / 2; /* half of them back; never 0 */
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->reader_wants, want);
        while (atomic_load(&r->head) < want && !atomic_load(&r->stop))
            pthread_cond_wait(&r->reader_cv, &r->mu);
        atomic_store(&r->reader_wants, 0);
        pthread_mutex_unlock(&r->mu);
    }
}

/* Decodes one line into s, copying what the deciding thread will read. */
static void fill(pip_reader *r, struct slot *s, const char *line, size_t n, size_t lineno)
{
    char reason[1024];
    if (s->buf.cap > KEEP) /* a large message's room goes with it */
        cm_buf_free(&s->buf);
    cm_buf_reset(&s->buf);
    s->l.n = n;
    s->l.lineno = lineno;
    s->l.decoded = dec_decode(r->dec, line, n, &s->l.ev, reason, sizeof reason);
    size_t line_at = 0, reason_at = 0;
    if (s->l.decoded < 0) {
        reason_at = s->buf.len;
        cm_buf_adds(&s->buf, reason);
        cm_buf_addc(&s->buf, '\0');
        line_at = s->buf.len;
        if (n <= r->max) /* past it, cm_lines kept only part of the line */
            cm_buf_add(&s->buf, line, n);
        cm_buf_addc(&s->buf, '\0');
    }
    /* Last: the strings' addresses hold once nothing more is appended. */
    if (dec_event_keep(r->dec, &s->l.ev, &s->buf) < 0 || cm_buf_failed(&s->buf))
        cm_oom(s->buf.len); /* never: the bound holds the arena, a line and a reason */
    s->l.reason = s->l.decoded < 0 ? s->buf.p + reason_at : "";
    s->l.msg = s->l.decoded < 0 && n <= r->max ? s->buf.p + line_at : "";
}

static void *read_ahead(void *arg)
{
    pip_reader *r = arg;
    size_t tail = 0;
    for (;;) {
        const char *line = NULL;
        size_t n = 0, lineno = 0;
        int got = cm_lines_next(r->rd, &line, &n, &lineno, &r->err);
        if (got == LINE && (int64_t)lineno <= r->after)
            continue; /* applied and committed by the interrupted run */
        if (!room(r, tail))
            break;
        struct slot *s = &r->slot[tail & (NSLOTS - 1)];
        s->kind = got;
        if (got == LINE)
            fill(r, s, line, n, lineno);
        s->size = s->buf.cap;
        r->inflight += s->size;
        atomic_store(&r->tail, ++tail);
        wake(r, &r->decider_wants, tail, &r->decider_cv);
        if (got != LINE)
            break; /* the end, or a read error: the deciding thread stops there */
    }
    return NULL;
}

pip_reader *pip_reader_start(cm_lines *rd, size_t max_message, int64_t after)
{
    pip_reader *r = cm_xcalloc(1, sizeof *r);
    r->rd = rd;
    r->max = max_message ? max_message : DEC_MAX_MESSAGE_DEFAULT;
    r->after = after;
    r->dec = dec_decoder_new(max_message);
    r->slot = cm_xcalloc(NSLOTS, sizeof *r->slot);
    for (size_t i = 0; i < NSLOTS; i++) /* the arena's bound, a line and a reason */
        cm_buf_init(&r->slot[i].buf, r->max * 3 + 8192);
    cm_err_clear(&r->err);
    atomic_init(&r->tail, 0);
    atomic_init(&r->head, 0);
    atomic_init(&r->reader_wants, 0);
    atomic_init(&r->decider_wants, 0);
    atomic_init(&r->stop, false);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->reader_cv, NULL);
    pthread_cond_init(&r->decider_cv, NULL);
    if (pthread_create(&r->th, NULL, read_ahead, r) != 0) {
        pip_reader_free(r);
        return NULL;
    }
    r->started = true;
    return r;
}

int pip_reader_next(pip_reader *r, const pip_line **line, cm_err *err)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (r->holding) { /* the last line is done with: its slot goes back */
        r->holding = false;
        atomic_store(&r->head, ++head);
        wake(r, &r->reader_wants, head, &r->reader_cv);
    }
    if (head == r->seen_tail)
        r->seen_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head == r->seen_tail) {
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->decider_wants, head + 1);
        while ((r->seen_tail = atomic_load(&r->tail)) == head)
            pthread_cond_wait(&r->decider_cv, &r->mu);
        atomic_store(&r->decider_wants, 0);
        pthread_mutex_unlock(&r->mu);
    }
    struct slot *s = &r->slot[head & (NSLOTS - 1)];
    if (s->kind != LINE) { /* kept at head: a later call gives it again */
        if (s->kind < 0)
            *err = r->err;
        return s->kind;
    }
    r->holding = true;
    *line = &s->l;
    return LINE;
}

void pip_reader_free(pip_reader *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->stop, true);
    pthread_cond_broadcast(&r->reader_cv);
    pthread_mutex_unlock(&r->mu);
    if (r->started)
        pthread_join(r->th, NULL);
    for (size_t i = 0; i < NSLOTS; i++)
        cm_buf_free(&r->slot[i].buf);
    free(r->slot);
    dec_decoder_free(r->dec);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->reader_cv);
    pthread_cond_destroy(&r->decider_cv);
    free(r);
}
