/* Owners of a state partition's changelog for the unit tests (test_changelog.c,
 * test_kverify.c): a log (a partition as read, offsets 0, 1, 2...), and owners that decide
 * events in batches, claim, snapshot, and write to a log. The including test defines
 * CHAIN (the owners' audit chain) and TOPIC (their events topic) first, or takes these,
 * and sets rs (the rules), master (the master key) and, for signed records, signer
 * before making an owner. */
#ifndef T_CLOG_H
#define T_CLOG_H
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/chains.h"
#include "pipeline/pipeline.h"
#include "policy/policy.h"
#include "stream/changelog.h"
#include "stream/outbox.h"
#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"
#include "vault/delta.h"

#ifndef CHAIN
#define CHAIN "cmk"
#endif
#ifndef TOPIC
#define TOPIC "events"
#endif

static pol_ruleset *rs;
static cry_secret *master;
static cry_signer *signer; /* owners sign their records with it when set */

/* ---------- a partition of the state topic ---------- */

struct log {
    stm_cl_msg *m; /* offsets 0, 1, 2… */
    size_t n, cap;
};

static inline void log_add(struct log *l, const void *p, size_t n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->m = realloc(l->m, l->cap * sizeof *l->m);
    }
    void *c = malloc(n ? n : 1);
    memcpy(c, p, n);
    l->m[l->n] = (stm_cl_msg){(int64_t)l->n, c, n};
    l->n++;
}

static inline int log_emit(void *arg, const void *p, size_t n)
{
    log_add(arg, p, n);
    return 0;
}

static inline void log_free(struct log *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((void *)l->m[i].p);
    free(l->m);
    *l = (struct log){0};
}

/* A copy of records [from, to) of l, renumbered. */
static inline void log_copy(struct log *d, const struct log *l, size_t from, size_t to)
{
    for (size_t i = from; i < to && i < l->n; i++)
        log_add(d, l->m[i].p, l->m[i].n);
}

static inline int kind_of(const stm_cl_msg *m)
{
    return m->n > 5 ? ((const uint8_t *)m->p)[5] : 0;
}

/* An input offset of the state, through its outbox as `run` sets it. */
static inline void offset_set(vlt_state *st, int32_t part, int64_t off)
{
    cm_err err;
    stm_outbox *ob = stm_outbox_open(st, &err);
    CHECK(ob != NULL);
    if (ob)
        stm_offset_set(ob, TOPIC, part, off);
}

/* ---------- owners: a state, its engine and chain, its codec ---------- */

struct owner {
    vlt_state *st;
    pol_engine *eng;
    aud_writer *w;
    cm_buf out; /* the current batch's records */
    cm_buf all; /* every record this owner wrote */
    stm_clog *c;
    uint64_t epoch;
    stm_cl_point pt;
    size_t max; /* record bound */
};

static inline int sink(void *arg, const char *subject, const char *line, size_t n)
{
    (void)subject;
    cm_buf *b = arg;
    cm_buf_add(b, line, n);
    cm_buf_addc(b, '\n');
    return 0;
}

static inline void owner_open(struct owner *o, vlt_state *st, const stm_cl_point *pt,
                              uint64_t epoch, size_t max)
{
    cm_err err;
    memset(o, 0, sizeof *o);
    o->st = st;
    vlt_state_track(st, true);
    o->eng = pol_engine_new(rs, st, 1 << 20);
    cm_buf_init(&o->out, 0);
    cm_buf_init(&o->all, 0);
    o->w = aud_writer_new(CHAIN, signer, 0, AUD_CLOCK_EVENT, sink, &o->out);
    uint64_t seq;
    char head[65];
    pip_replay_pos pos;
    if (pip_chain_get(st, CHAIN, &seq, head))
        aud_writer_resume(o->w, seq, head);
    if (pip_replay_get(st, CHAIN, &pos))
        aud_writer_restore(o->w, pos.last_signed, pos.time);
    o->c = stm_clog_new(master, 0, &err);
    o->epoch = epoch;
    if (pt) {
        o->pt = *pt;
    } else {
        o->pt.offset = -1;
        memset(o->pt.head_hash, '0', 64);
    }
    o->max = max;
}

static inline void owner_close(struct owner *o)
{
    aud_writer_free(o->w);
    pol_engine_free(o->eng);
    vlt_state_free(o->st);
    cm_buf_free(&o->out);
    cm_buf_free(&o->all);
    stm_clog_free(o->c);
}

static inline void claim(struct owner *o, const char *who, struct log *l)
{
    cm_err err;
    CHECK(stm_clog_claim(o->c, o->epoch, who, log_emit, l, &err) == 0);
}

/* An emitter that drops COMMIT records: a crash between a batch's changes and its commit. */
static inline int emit_no_commit(void *arg, const void *p, size_t n)
{
    if (n > 5 && ((const uint8_t *)p)[5] == STM_CL_COMMIT)
        return 0;
    return log_emit(arg, p, n);
}

/* Lines [from, to) as one batch: decided, committed, and written to l as CHANGES and a
 * COMMIT (or, with emit given, through it). */
static inline void batch(struct owner *o, char **lines, size_t from, size_t to, struct log *l,
                         stm_cl_emit emit)
{
    cm_err err;
    aud_decision d = {0};
    int rc = 0;
    for (size_t i = from; rc == 0 && i < to; i++) {
        char input[32];
        snprintf(input, sizeof input, "log:%zu", i + 1);
        rc = pip_message(o->eng, pol_ruleset_hash(rs), o->w, lines[i], strlen(lines[i]), input, &d,
                         NULL, NULL, &err);
    }
    aud_decision_clear(&d);
    CHECK(rc == 0);
    pip_replay_pos pos = {.lines = (int64_t)to, .last_signed = aud_writer_last_signed(o->w)};
    snprintf(pos.input, sizeof pos.input, "log");
    snprintf(pos.time, sizeof pos.time, "%s", aud_writer_last_time(o->w));
    if (aud_writer_seq(o->w) > 0)
        pip_replay_set(o->st, CHAIN, &pos);
    offset_set(o->st, 0, (int64_t)to - 1);
    pip_chain c = {CHAIN, o->w};
    CHECK(pip_commit(o->st, &c, 1, NULL, NULL, &err) == 0);
    /* the batch's outbox: its records, one message each */
    size_t nmsg = 0;
    for (size_t i = 0; i < o->out.len; i++)
        nmsg += o->out.p[i] == '\n';
    stm_outmsg *m = calloc(nmsg + 1, sizeof *m);
    const char *p = o->out.p ? o->out.p : "";
    for (size_t i = 0; i < nmsg; i++) {
        const char *e = strchr(p, '\n');
        m[i] = (stm_outmsg){.topic = "audit",
                            .chain = CHAIN,
                            .seq = o->pt.head_seq + 1 + i,
                            .key = "k",
                            .keylen = 1,
                            .value = (char *)p,
                            .len = (size_t)(e - p),
                            .input = "log"};
        p = e + 1;
    }
    o->pt.seq++;
    o->pt.offset = (int64_t)to - 1;
    snprintf(o->pt.chain, sizeof o->pt.chain, "%s", CHAIN);
    o->pt.head_seq = aud_writer_seq(o->w);
    snprintf(o->pt.head_hash, sizeof o->pt.head_hash, "%s", aud_writer_head(o->w));
    rc = stm_clog_batch(o->c, o->st, o->epoch, &o->pt, m, nmsg, o->max, emit ? emit : log_emit, l,
                        &err);
    if (rc < 0)
        fprintf(stderr, "  batch: %s\n", err.msg);
    CHECK(rc == 0);
    vlt_state_changes_clear(o->st);
    free(m);
    cm_buf_add(&o->all, o->out.p, o->out.len);
    cm_buf_reset(&o->out);
}

static inline void snapshot(struct owner *o, struct log *l)
{
    cm_err err;
    int rc = stm_clog_snapshot(o->c, o->st, o->epoch, &o->pt, NULL, 0, o->max, log_emit, l, &err);
    if (rc < 0)
        fprintf(stderr, "  snapshot: %s\n", err.msg);
    CHECK(rc == 0);
}

static inline size_t rand_max(void)
{
    static const size_t maxes[] = {STM_CL_MIN_MESSAGE, 2 * STM_CL_MIN_MESSAGE,
                                   STM_CL_DEFAULT_MESSAGE};
    return maxes[t_rand() % 3];
}
#endif
