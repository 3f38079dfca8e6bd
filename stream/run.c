/* `run`: consume events, decide, and deliver every audit record exactly once.
 *
 * Each batch of input messages is applied in memory, then one SQLite transaction makes
 * durable together: the state changes, the batch's audit records and dead letters (the
 * outbox), the input offsets and the chain heads. Only then are the records produced
 * (idempotent producer, acks=all, retried forever); a row leaves the outbox when its
 * delivery is confirmed. After a crash, consumption resumes after the stored offsets,
 * and the outbox is resent minus what the audit topic already holds, found by each
 * chain's seq in the tail of its audit partition. One chain per input partition; a
 * chain's records all go to one audit partition, so their order there is the chain's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "audit/audit.h"
#include "common/map.h"
#include "pipeline/chains.h"
#include "pipeline/pipeline.h"
#include "policy/engine.h"
#include "stream/catalog.h"
#include "stream/cebind.h"
#include "stream/handover.h"
#include "stream/kafka_internal.h"
#include "stream/metrics.h"
#include "stream/outbox.h"
#include "stream/owner.h"

/* A snapshot at least every this many commits of a partition, whatever their size. */
#define SNAPSHOT_COMMITS 1024

/* An input partition: its chain, and where its events are decided. One instance decides
 * every partition on one state (st, ob and eng are the runner's); several instances
 * (SPEC §7a) each on the state of the partition it owns (own). */
typedef struct chainw {
    char name[300];
    int32_t part, audit_part;
    aud_writer *w;
    struct runner *r;
    vlt_state *st;
    stm_outbox *ob;
    pol_engine *eng;
    stm_owned own;   /* several instances: the partition's changelog and state */
    bool dirty;      /* messages decided since the last commit */
    stm_outmsg *out; /* several instances: the batch's outbox, produced once it is logged */
    size_t nout;
    int64_t inflight;     /* several instances: its audit messages not yet acknowledged */
    stm_catalog_ref cref; /* several instances: its state's view of the catalog */
} chainw;

typedef struct runner {
    const stm_config *cfg;
    const stm_signals *sig;
    vlt_state *st;
    stm_outbox *ob; /* the state's outbox and input offsets */
    pol_ruleset *rs;
    pol_engine *eng;
    cry_signer *signer;
    rd_kafka_t *cons, *prod;
    int audit_parts, dead_parts;
    cm_map *chains;   /* partition number as text -> chainw */
    int64_t inflight; /* produced, not yet confirmed */
    int64_t *sent;    /* confirmed ids, to delete from the outbox */
    size_t nsent, capsent;
    bool fatal;
    char fatal_msg[1024];
    rd_kafka_t *tail; /* reads audit partition tails for chains the state lacks */
    cm_buf event;     /* a binary-mode message written as its structured-mode event */
    cm_buf rec;       /* the first audit record of the message in hand */
    bool want_rec;
    stm_header *hdrs; /* the message in hand's headers */
    size_t caphdrs;
    aud_decision d;
    stm_metrics *m;
    cm_err err;
    bool scale;         /* topics.state: one of several instances (SPEC §7a) */
    bool closing;       /* the consumer closes: everything was committed and delivered */
    bool coop;          /* the group's rebalance protocol is cooperative, as last known */
    cry_secret *master; /* several instances: the shared master key */
    stm_log_io io;      /* several instances: the changelog's producer and reader */
    stm_catalog *cat;   /* several instances with topics.catalog: what every partition holds */
    double group_at;    /* when the group's offsets were last committed (cm_now) */
    double lag_at;      /* when the consumer lag was last worked out, and what it was */
    int64_t lag;
} runner;

/* The group's committed offsets are for lag tools only (the state says where to resume),
 * and the consumer lag only a metric: each is refreshed at most this often (seconds),
 * rather than with every batch, which at a low rate is every few events. */
#define GROUP_COMMIT_EVERY 1.0
#define LAG_EVERY 0.1

/* ---------- producing ---------- */

/* The input partitions' chains, by partition number. */
static chainw *slot_of(runner *r, int32_t part)
{
    char k[16];
    snprintf(k, sizeof k, "%d", (int)part);
    return cm_map_get(r->chains, k);
}

static void slot_put(runner *r, chainw *c)
{
    char k[16];
    snprintf(k, sizeof k, "%d", (int)c->part);
    cm_map_put(r->chains, k, c);
}

static void slot_del(runner *r, const chainw *c)
{
    char k[16];
    snprintf(k, sizeof k, "%d", (int)c->part);
    cm_map_del(r->chains, k);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    runner *r = opaque;
    (void)rk;
    r->inflight--;
    if (r->scale && !m->err) { /* the opaque is the input partition + 1 */
        chainw *c = slot_of(r, (int32_t)((intptr_t)m->_private - 1));
        if (c)
            c->inflight--;
        stm_metrics_add(r->m, STM_DELIVERED, 1);
        return;
    }
    if (m->err) {
        /* With idempotence and no timeout, only fatal errors get here: stop, keep the row. */
        r->fatal = true;
        snprintf(r->fatal_msg, sizeof r->fatal_msg, "audit delivery failed: %s",
                 rd_kafka_err2str(m->err));
        return;
    }
    if (r->nsent == r->capsent) {
        r->capsent = r->capsent ? r->capsent * 2 : 256;
        r->sent = cm_xrealloc(r->sent, r->capsent * sizeof *r->sent);
    }
    r->sent[r->nsent++] = (int64_t)(intptr_t)m->_private;
    stm_metrics_add(r->m, STM_DELIVERED, 1);
}

/* The Kafka headers of an outbox message (SPEC §7, CloudEvents binding). An audit record
 * is a structured-mode CloudEvent: its ce_* headers are read from the record itself
 * (from where canonical member order puts them, without parsing it), so
 * a resend after a crash carries the same headers. A dead letter's were worked out when
 * it entered the outbox and are stored with it (see dead_letter()). Returns a new list,
 * which a successful rd_kafka_producev takes. */
static rd_kafka_headers_t *headers_of(const stm_outmsg *o)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(STM_CE__COUNT + 4);
    const char *name, *value;
    size_t off = 0;
    if (o->chain) {
        stm_ce_attrs a = {0};
        rd_kafka_header_add(h, "content-type", -1, STM_CE_STRUCTURED, -1);
        stm_ce_read_record(o->value, o->len, o->chain, o->seq, &a);
        for (int i = 0; i < STM_CE__COUNT; i++)
            if (a.v[i])
                rd_kafka_header_add(h, stm_ce_header_name((enum stm_ce_attr)i), -1, a.v[i], -1);
        stm_ce_attrs_clear(&a);
    } else if (o->headers) {
        while (stm_ce_unpack(o->headers, o->hlen, &off, &name, &value))
            rd_kafka_header_add(h, name, -1, value, -1);
    } else { /* a dead letter queued by an older build */
        rd_kafka_header_add(h, "content-type", -1, "application/json", -1);
    }
    if (o->reason)
        rd_kafka_header_add(h, "cmkguard-reason", -1, o->reason, -1);
    if (o->input)
        rd_kafka_header_add(h, "cmkguard-input", -1, o->input, -1);
    return h;
}

/* tag: what the delivery report is told (an outbox row id, or a partition + 1). */
static int produce_tagged(runner *r, const stm_outmsg *o, intptr_t tag)
{
    for (;;) {
        rd_kafka_headers_t *h = headers_of(o);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            r->prod, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(o->partition),
            RD_KAFKA_V_KEY(o->key, o->key ? o->keylen : 0), RD_KAFKA_V_VALUE(o->value, o->len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_OPAQUE((void *)tag), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) { /* the message owns the headers now */
            r->inflight++;
            return 0;
        }
        rd_kafka_headers_destroy(h);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            cm_err_set(&r->err, o->topic, 0, 0, "cannot produce: %s", rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(r->prod, 100);
    }
}

static int produce(runner *r, const stm_outmsg *o)
{
    return produce_tagged(r, o, (intptr_t)o->id);
}

static int mark_sent(runner *r)
{
    if (!r->nsent)
        return 0;
    int rc = stm_outbox_sent(r->ob, r->sent, r->nsent, &r->err);
    r->nsent = 0;
    return rc;
}

/* ---------- chains ---------- */

static int outbox_sink(void *arg, const char *subject, const char *line, size_t n)
{
    chainw *c = arg;
    stm_outmsg m = {.topic = c->r->cfg->topic_audit,
                    .partition = c->audit_part,
                    .chain = c->name,
                    .seq = aud_writer_seq(c->w) + 1,
                    .key = (char *)subject,
                    .keylen = subject ? strlen(subject) : 0,
                    .value = (char *)line,
                    .len = n};
    stm_outbox_add(c->ob, &m);
    if (c->r->want_rec) { /* kept for the dead letter that may follow */
        cm_buf_reset(&c->r->rec);
        cm_buf_add(&c->r->rec, line, n);
        c->r->want_rec = false;
    }
    stm_metrics_add(c->r->m, STM_RECORDS, 1);
    return 0;
}

struct tail_head {
    const char *chain;
    unsigned long long seq;
    char hash[65];
};

static int find_head(void *arg, int32_t part, int64_t off, const char *v, size_t n)
{
    struct tail_head *t = arg;
    char chain[300], hash[65];
    unsigned long long seq;
    (void)part;
    (void)off;
    if (aud_record_peek(v, n, chain, sizeof chain, &seq, hash) && !strcmp(chain, t->chain) &&
        seq > t->seq) {
        t->seq = seq;
        memcpy(t->hash, hash, 65);
    }
    return 0;
}

/* The last record the audit topic holds for a chain (seq 0 when none): 0, or -1 when
 * the topic cannot be read. */
static int topic_head(runner *r, const char *chain, int32_t audit_part, struct tail_head *t)
{
    cm_err e;
    t->chain = chain;
    t->seq = 0;
    if (!r->tail) /* one reader for every chain: a client costs a connection */
        r->tail = stm_reader_new(r->cfg, &e);
    rd_kafka_t *rd = r->tail;
    int64_t lo = 0, hi = 0;
    if (!rd ||
        rd_kafka_query_watermark_offsets(rd, r->cfg->topic_audit, audit_part, &lo, &hi, 10000))
        return -1;
    /* The newest records first; the whole partition only if the chain is not there. */
    int64_t from = hi - 1000 > lo ? hi - 1000 : lo;
    if (stm_read_range(rd, r->cfg->topic_audit, audit_part, from, hi, find_head, t, &e) < 0)
        return -1;
    if (!t->seq && from > lo &&
        stm_read_range(rd, r->cfg->topic_audit, audit_part, lo, from, find_head, t, &e) < 0)
        return -1;
    return 0;
}

/* A chain the state does not know (a new or rebuilt state) continues from the last
 * record the audit topic holds for it, never from seq 1 again. */
static void head_from_topic(runner *r, chainw *c)
{
    struct tail_head t;
    if (topic_head(r, c->name, c->audit_part, &t) == 0 && t.seq) {
        aud_writer_resume(c->w, t.seq, t.hash);
        cm_log("run: chain %s continues from the audit topic at seq %llu", c->name, t.seq);
    }
}

static chainw *chain_new(runner *r, int32_t part)
{
    chainw *c = cm_xcalloc(1, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s/%d", r->cfg->topic_events, (int)part);
    c->part = part;
    c->audit_part = part % r->audit_parts;
    c->r = r;
    c->w = aud_writer_new(c->name, r->signer, (unsigned)r->cfg->checkpoint,
                          strcmp(r->cfg->clock, "event") ? AUD_CLOCK_WALL : AUD_CLOCK_EVENT,
                          outbox_sink, c);
    return c;
}

static void chain_free(chainw *c)
{
    aud_writer_free(c->w);
    stm_outmsg_free(c->out, c->nout);
    if (c->r->scale) { /* the partition's own state and engine */
        pol_engine_free(c->eng);
        stm_owned_clear(&c->own);
    }
    free(c);
}

/* One instance: every partition's chain, created on first use, on the one state. Several:
 * the partition's, when this instance owns it (NULL otherwise). */
static chainw *chain_for(runner *r, int32_t part)
{
    chainw *c = slot_of(r, part);
    if (c || r->scale)
        return c;
    c = chain_new(r, part);
    c->st = r->st;
    c->ob = r->ob;
    c->eng = r->eng;
    uint64_t seq;
    char head[65];
    if (pip_chain_get(r->st, c->name, &seq, head))
        aud_writer_resume(c->w, seq, head);
    else
        head_from_topic(r, c);
    slot_put(r, c);
    return c;
}

/* ---------- recovery ---------- */

struct tail_scan {
    cm_map *max_seq; /* chain -> uint64_t* */
};

static int scan_record(void *arg, int32_t part, int64_t off, const char *v, size_t n)
{
    struct tail_scan *t = arg;
    char chain[300];
    unsigned long long seq;
    (void)part;
    (void)off;
    if (!aud_record_peek(v, n, chain, sizeof chain, &seq, NULL))
        return 0;
    uint64_t *cur = cm_map_get(t->max_seq, chain);
    if (!cur) {
        cur = cm_xcalloc(1, sizeof *cur);
        cm_map_put(t->max_seq, chain, cur);
    }
    if (seq > *cur)
        *cur = seq;
    return 0;
}

/* ---------- the state against its audit trail ---------- */

struct head_check {
    runner *r;
    const stm_outmsg *pend;
    size_t npend;
    int failed; /* 0, or the exit code */
};

/* A chain the state knows must end where the audit topic ends, give or take what the
 * outbox still holds: a topic ahead of the state means the state is an older copy (a
 * rollback); a topic behind it beyond the outbox means records the state counts as
 * delivered are not there. Either way the state is refused. */
static void check_head(void *arg, const char *chain, uint64_t seq, const char *hash)
{
    struct head_check *h = arg;
    runner *r = h->r;
    size_t plen = strlen(r->cfg->topic_events);
    char *end = NULL;
    if (h->failed || strncmp(chain, r->cfg->topic_events, plen) != 0 || chain[plen] != '/')
        return;
    long part = strtol(chain + plen + 1, &end, 10);
    if (!end || *end || part < 0)
        return;
    uint64_t pending = 0;
    for (size_t i = 0; i < h->npend; i++)
        pending += h->pend[i].chain && !strcmp(h->pend[i].chain, chain);
    struct tail_head t;
    if (topic_head(r, chain, (int32_t)(part % r->audit_parts), &t) < 0) {
        cm_err_set(&r->err, r->cfg->topic_audit, 0, 0,
                   "cannot read the audit topic to check chain %s against the state", chain);
        h->failed = 3;
        return;
    }
    if (t.seq > seq || (t.seq == seq && seq && strcmp(t.hash, hash) != 0))
        cm_err_set(&r->err, r->cfg->state, 0, 0,
                   "chain %s: the state is at record %llu, but the audit topic %s holds record "
                   "%llu%s: the state is older than its own audit trail (a rolled-back copy?) "
                   "and is refused",
                   chain, (unsigned long long)seq, r->cfg->topic_audit, t.seq,
                   t.seq == seq ? " with another hash" : "");
    else if (t.seq + pending < seq)
        cm_err_set(&r->err, r->cfg->state, 0, 0,
                   "chain %s: the state is at record %llu, but the audit topic %s ends at record "
                   "%llu and the outbox holds %llu: records the state counts as delivered are "
                   "missing; the state is refused",
                   chain, (unsigned long long)seq, r->cfg->topic_audit, t.seq,
                   (unsigned long long)pending);
    else
        return;
    h->failed = 3;
}

static int check_heads(runner *r)
{
    size_t n = 0;
    stm_outmsg *pend = NULL;
    if (stm_outbox_pending(r->ob, &pend, &n, &r->err) < 0)
        return -1;
    struct head_check h = {.r = r, .pend = pend, .npend = n};
    pip_chain_each(r->st, check_head, &h);
    stm_outmsg_free(pend, n);
    return h.failed ? -1 : 0;
}

/* Resends what a previous run made durable but may not have delivered. */
static int recover(runner *r)
{
    size_t n;
    stm_outmsg *pend = NULL;
    if (stm_outbox_pending(r->ob, &pend, &n, &r->err) < 0)
        return -1;
    if (!n) {
        free(pend);
        return 0;
    }
    cm_log("run: %zu outbox record(s) from an earlier run: checking the audit topic", n);
    struct tail_scan t = {.max_seq = cm_map_new()};
    rd_kafka_t *rd = stm_reader_new(r->cfg, &r->err);
    int rc = rd ? 0 : -1;
    for (int p = 0; rc == 0 && p < r->audit_parts; p++) {
        int64_t cnt = 0, lo = 0, hi = 0;
        for (size_t i = 0; i < n; i++)
            cnt += pend[i].chain && pend[i].partition == p;
        if (!cnt)
            continue;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rd, r->cfg->topic_audit, p, &lo, &hi, 10000);
        if (e) {
            cm_err_set(&r->err, r->cfg->topic_audit, 0, 0, "partition %d: %s", p,
                       rd_kafka_err2str(e));
            rc = -1;
            break;
        }
        /* Only this process writes these chains: what the topic holds of the outbox is
         * among its last cnt messages. */
        int64_t from = hi - cnt > lo ? hi - cnt : lo;
        rc = stm_read_range(rd, r->cfg->topic_audit, p, from, hi, scan_record, &t, &r->err);
    }
    if (rd) {
        rd_kafka_consumer_close(rd);
        rd_kafka_destroy(rd);
    }
    size_t skipped = 0, resent = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t *have = pend[i].chain ? cm_map_get(t.max_seq, pend[i].chain) : NULL;
        if (have && pend[i].seq <= *have) {
            if (r->nsent == r->capsent) {
                r->capsent = r->capsent ? r->capsent * 2 : 256;
                r->sent = cm_xrealloc(r->sent, r->capsent * sizeof *r->sent);
            }
            r->sent[r->nsent++] = pend[i].id;
            skipped++;
        } else {
            rc = produce(r, &pend[i]);
            resent++;
        }
    }
    if (rc == 0)
        rc = mark_sent(r);
    cm_log("run: %zu already in the audit topic, %zu resent", skipped, resent);
    size_t it = 0;
    void *v;
    while (cm_map_next(t.max_seq, &it, NULL, &v))
        free(v);
    cm_map_free(t.max_seq);
    stm_outmsg_free(pend, n);
    return rc;
}

/* ---------- consuming ---------- */

static int commit_batch(runner *r);
static int drain_chain(runner *r, chainw *c);

static void set_fatal(runner *r)
{
    r->fatal = true;
    cm_err_format(&r->err, r->fatal_msg, sizeof r->fatal_msg);
}

static int send_reconciled(void *arg, const stm_outmsg *m)
{
    chainw *c = arg;
    int rc = produce_tagged(c->r, m, (intptr_t)c->part + 1);
    c->inflight += rc == 0;
    return rc;
}

/* Several instances: a partition the group gave this one, restored from its changelog
 * and claimed, its last commits' records reconciled with the audit topic. NULL (fatal)
 * when it cannot be. */
static chainw *take_partition(runner *r, int32_t part)
{
    chainw *c = chain_new(r, part);
    if (stm_owner_take(&r->io, part, &c->own, &r->err) < 0 ||
        !(c->ob = stm_outbox_open(c->own.st, &r->err))) {
        chain_free(c);
        return NULL;
    }
    c->st = c->own.st;
    c->eng = pol_engine_new(r->rs, c->st, (size_t)r->cfg->max_message);
    c->cref = (stm_catalog_ref){r->cat, part};
    vlt_state_set_handover(c->st, true);
    if (r->cat) /* a vault or key another partition holds: the catalog's facts */
        vlt_state_set_foreign(c->st, stm_catalog_foreign, &c->cref);
    if (c->own.pt.head_seq) /* the chain goes on where the last owner's commit left it */
        aud_writer_resume(c->w, c->own.pt.head_seq, c->own.pt.head_hash);
    slot_put(r, c);
    size_t resent = 0;
    if (stm_owner_reconcile(&r->io, &c->own, c->audit_part, send_reconciled, c, &resent, &r->err) <
        0)
        return NULL;
    cm_log("run: partition %d owned (epoch %llu, claim at %s offset %lld): restored in %.2fs "
           "from %s, %zu batch(es) after it, %zu record(s) ignored; chain at seq %llu, input "
           "from offset %lld; %zu outbox message(s) resent",
           (int)part, (unsigned long long)c->own.epoch, r->cfg->topic_state,
           (long long)c->own.claim_offset, c->own.restore_s,
           c->own.cached ? "the local cache" : "the changelog", c->own.restored_batches,
           c->own.ignored, (unsigned long long)c->own.pt.head_seq,
           (long long)(c->own.pt.offset + 1), resent);
    return c;
}

/* The partition's state as of its last commit, kept for the next owner on this machine:
 * a cache, so a failure only costs a longer restore. */
static void save_cache(runner *r, chainw *c)
{
    cm_err e;
    if (stm_owner_save(&r->io, &c->own, &e) < 0) {
        char m[1400];
        cm_err_format(&e, m, sizeof m);
        cm_log("run: partition %d: no local cache written: %s", (int)c->part, m);
    }
}

/* Whether the group's rebalances are cooperative (incremental assign and unassign). The
 * client says so while it is in the group; once it leaves (the revocation a close makes)
 * it has no protocol to tell, and the last one known stands. */
static bool cooperative(runner *r, rd_kafka_t *rk)
{
    const char *proto = rd_kafka_rebalance_protocol(rk);
    if (proto)
        r->coop = !strcmp(proto, "COOPERATIVE");
    return r->coop;
}

static void rebalance_scale(runner *r, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *parts)
{
    bool coop = cooperative(r, rk);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* Stopping (the group may still hand out what others released while the consumer
         * closes): nothing is claimed; the next owner takes them. */
        for (int i = 0; i < parts->cnt && !r->fatal && !*r->sig->stop && !r->closing; i++) {
            chainw *c = slot_of(r, parts->elems[i].partition);
            if (!c && !(c = take_partition(r, parts->elems[i].partition))) {
                set_fatal(r);
                break;
            }
            parts->elems[i].offset =
                c->own.pt.offset >= 0 ? c->own.pt.offset + 1 : RD_KAFKA_OFFSET_BEGINNING;
        }
        if (coop)
            rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else {
        /* The batch in hand is committed and its records delivered before the partitions
         * go; when they were lost (this instance was out of the group), nothing more of
         * theirs is written: another owner has them. */
        bool lost = rd_kafka_assignment_lost(rk);
        bool done = lost || r->closing; /* closing: committed, delivered and cached already */
        if (!done && !r->fatal && (commit_batch(r) < 0 || stm_owner_sync(&r->io, &r->err) < 0))
            set_fatal(r); /* (the sync: a snapshot written after the last batch) */
        for (int i = 0; i < parts->cnt; i++) {
            chainw *c = slot_of(r, parts->elems[i].partition);
            if (!c)
                continue;
            if (!done && drain_chain(r, c) == 0)
                save_cache(r, c);
            slot_del(r, c);
            cm_log("run: partition %d %s at seq %llu", (int)c->part, lost ? "lost" : "released",
                   (unsigned long long)aud_writer_seq(c->w));
            chain_free(c);
        }
        if (coop)
            rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    stm_metrics_set(r->m, STM_PARTITIONS, (int64_t)cm_map_len(r->chains));
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    runner *r = opaque;
    if (r->scale) {
        rebalance_scale(r, rk, err, parts);
        return;
    }
    bool coop = cooperative(r, rk);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            int64_t off;
            /* Our store, not the group's commit, says what has been applied. */
            if (stm_offset_get(r->ob, parts->elems[i].topic, parts->elems[i].partition, &off))
                parts->elems[i].offset = off + 1;
            else
                parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        }
        if (coop)
            rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        /* Each partition's chain picks up its head now, not under the first event. */
        for (int i = 0; i < parts->cnt; i++)
            chain_for(r, parts->elems[i].partition);
    } else if (coop) {
        rd_kafka_incremental_unassign(rk, parts);
    } else {
        rd_kafka_assign(rk, NULL);
    }
    rd_kafka_topic_partition_list_t *a = NULL;
    if (!rd_kafka_assignment(rk, &a) && a) {
        stm_metrics_set(r->m, STM_PARTITIONS, a->cnt);
        rd_kafka_topic_partition_list_destroy(a);
    }
}

/* Fills r->hdrs with the message's headers, borrowed from it while it lives. */
static size_t headers_in(runner *r, rd_kafka_message_t *msg)
{
    rd_kafka_headers_t *hs = NULL;
    if (rd_kafka_message_headers(msg, &hs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hs)
        return 0;
    size_t n = rd_kafka_header_cnt(hs);
    if (n > r->caphdrs) {
        r->hdrs = cm_xrealloc(r->hdrs, n * sizeof *r->hdrs);
        r->caphdrs = n;
    }
    for (size_t i = 0; i < n; i++) {
        const void *v = NULL;
        size_t len = 0;
        const char *name = "";
        rd_kafka_header_get_all(hs, i, &name, &v, &len);
        r->hdrs[i] = (stm_header){.name = name, .value = v, .len = v ? len : 0};
    }
    return n;
}

static const char *bounded(const char *s)
{
    return s && *s && strlen(s) <= 2048 ? s : NULL;
}

/* A binary-mode message with no structured-mode equivalent (a header that is not text,
 * data that is not JSON…) is bad input, recorded as the decoder records one: what could
 * be read of its attributes names the event. */
static void reject_binary(aud_decision *d, const stm_ce_attrs *a, const char *reason,
                          const char *input)
{
    aud_decision_reset(d);
    d->input = aud_decision_str(d, input);
    d->outcome = AUD_REJECTED;
    d->bad_input = true;
    d->reason = aud_decision_str(d, reason);
    d->cause = aud_decision_str(d, bounded(a->v[STM_CE_ID]));
    d->event_type = aud_decision_str(d, bounded(a->v[STM_CE_TYPE]));
    const char *t = a->v[STM_CE_TIME];
    if (t && cm_rfc3339_valid(t, strlen(t)))
        d->time = aud_decision_str(d, t);
    aud_decision_add(d, bounded(a->v[STM_CE_SUBJECT]));
}

/* Dead letters keep the rejected event as it came (a binary-mode message: the same event
 * in structured mode when it can be written so, else its value), so that it can be
 * corrected and produced again; SPEC §2 says the input is copied. The binding (SPEC §7)
 * wants structured-mode CloudEvents with ce_* headers, but a rejected message is not
 * always a CloudEvent, so:
 *  - when the value is one (a JSON object with specversion, id, source and type strings),
 *    the headers are its own attributes and content-type application/cloudevents+json:
 *    the message is the original event, still routable by its type and subject;
 *  - otherwise the headers describe the dead letter itself, a binary-mode CloudEvent
 *    whose data is the value: type cmkguard.deadletter, source cmkguard, id the input
 *    position (topic/partition/offset: one dead letter per message), time and subject
 *    those of the rejection's audit record (subject the input position when the record
 *    has none), content-type application/json or application/octet-stream.
 * Both name the rejection's audit record in cmkguard-record (its id, chain:seq), next to
 * cmkguard-reason and cmkguard-input. The headers are stored with the message in the
 * outbox, so a resend after a crash carries the same ones. */
static void dead_letter(runner *r, chainw *c, const rd_kafka_message_t *msg, const char *value,
                        size_t len, const char *input)
{
    stm_ce_attrs rec = {0}, ev = {0};
    const char *v[STM_CE__COUNT] = {0}, *type;
    if (r->rec.len && cm_buf_ok(&r->rec))
        stm_ce_read(r->rec.p, r->rec.len, &rec);
    if (stm_ce_read(value, len, &ev) && stm_ce_attrs_complete(&ev)) {
        type = STM_CE_STRUCTURED;
        memcpy(v, ev.v, sizeof v);
    } else {
        type = stm_ce_is_json(value, len) ? "application/json" : "application/octet-stream";
        v[STM_CE_SPECVERSION] = "1.0";
        v[STM_CE_ID] = input;
        v[STM_CE_SOURCE] = "cmkguard";
        v[STM_CE_TYPE] = STM_CE_DEAD_LETTER_TYPE;
        v[STM_CE_TIME] = rec.v[STM_CE_TIME];
        v[STM_CE_SUBJECT] = rec.v[STM_CE_SUBJECT] ? rec.v[STM_CE_SUBJECT] : input;
    }
    cm_buf h;
    cm_buf_init(&h, 0);
    stm_ce_pack(&h, "content-type", type);
    for (int i = 0; i < STM_CE__COUNT; i++)
        if (v[i])
            stm_ce_pack(&h, stm_ce_header_name((enum stm_ce_attr)i), v[i]);
    if (rec.v[STM_CE_ID])
        stm_ce_pack(&h, "cmkguard-record", rec.v[STM_CE_ID]);
    stm_outmsg dl = {.topic = r->cfg->topic_dead,
                     .partition = msg->partition % r->dead_parts,
                     .key = msg->key,
                     .keylen = msg->key_len,
                     .value = (char *)value,
                     .len = len,
                     .reason = (char *)r->d.reason,
                     .input = (char *)input,
                     .headers = h.p,
                     .hlen = h.len};
    stm_outbox_add(c->ob, &dl);
    cm_buf_free(&h);
    stm_ce_attrs_clear(&rec);
    stm_ce_attrs_clear(&ev);
}

/* What a message's decisions need once recorded: the dead letter and the metrics. */
struct decided {
    runner *r;
    chainw *c;
    const rd_kafka_message_t *msg;
    const char *value;
    size_t len;
    bool dead;
};

static void on_decided(void *arg, const aud_decision *d, const char *input)
{
    struct decided *dc = arg;
    runner *r = dc->r;
    /* A message with bad input goes to the dead letters once, linked to the record of
     * its first rejection. */
    if (d->outcome == AUD_REJECTED && d->bad_input && !dc->dead) {
        dead_letter(r, dc->c, dc->msg, dc->value, dc->len, input);
        stm_metrics_add(r->m, STM_DEAD_LETTERS, 1);
        dc->dead = true;
    }
    stm_metrics_decision(r->m, d);
    cm_buf_reset(&r->rec); /* the next decision's first record, for its dead letter */
    r->want_rec = true;
}

static void process(runner *r, rd_kafka_message_t *msg)
{
    const char *topic = rd_kafka_topic_name(msg->rkt);
    int64_t applied;
    chainw *c = chain_for(r, msg->partition);
    if (!c)
        return; /* several instances: a partition this one no longer owns */
    if (stm_offset_get(c->ob, topic, msg->partition, &applied) && msg->offset <= applied)
        return; /* already reflected by a durable decision */
    double t0 = cm_now();
    char input[600];
    snprintf(input, sizeof input, "%s/%d/%lld", topic, (int)msg->partition, (long long)msg->offset);
    const char *value = msg->payload ? msg->payload : "";
    size_t len = msg->len, nh = headers_in(r, msg);
    bool converted = true;
    if (stm_ce_is_binary(r->hdrs, nh)) {
        /* Binary mode: decided as the same event in structured mode. */
        stm_ce_attrs a = {0};
        char reason[1024];
        if (stm_ce_from_binary(r->hdrs, nh, value, len, (size_t)r->cfg->max_message, &r->event, &a,
                               reason, sizeof reason) == 0) {
            value = r->event.p;
            len = r->event.len;
            pol_engine_process(c->eng, value, len, input, &r->d);
        } else {
            reject_binary(&r->d, &a, reason, input);
            converted = false;
        }
        stm_ce_attrs_clear(&a);
    } else {
        pol_engine_process(c->eng, value, len, input, &r->d);
    }
    /* Every decision (an Azure message may hold several) through the pipeline; offsets
     * commit once, below. */
    struct decided dc = {r, c, msg, value, len, false};
    r->want_rec = true; /* the first record is kept for the dead letter that may follow */
    cm_buf_reset(&r->rec);
    if (pip_record(converted ? c->eng : NULL, pol_ruleset_hash(r->rs), c->w, input, &r->d,
                   on_decided, &dc, &r->err) < 0) {
        /* The batch is not committed: after a restart it is read and applied again. */
        r->want_rec = false;
        r->fatal = true;
        cm_err_format(&r->err, r->fatal_msg, sizeof r->fatal_msg);
        return;
    }
    r->want_rec = false;
    stm_metrics_add(r->m, STM_EVENTS, 1);
    stm_metrics_latency(r->m, cm_now() - t0);
    stm_offset_set(c->ob, topic, msg->partition, msg->offset);
    c->dirty = true;
    /* Several instances: a resource moved to another tenant goes to its partition. */
    if (r->scale && stm_handover_outbox(c->st, c->ob, r->cfg->topic_events, &r->err) < 0)
        set_fatal(r);
}

/* ---------- several instances: batches through the changelog ---------- */

/* Waits until every audit message of c is acknowledged: 0, or -1 (fatal). */
static int drain_chain(runner *r, chainw *c)
{
    while (c->inflight > 0 && !r->fatal)
        rd_kafka_poll(r->prod, 100);
    return r->fatal ? -1 : 0;
}

/* The group took this instance's partitions away while it was not looking (paused past
 * its session timeout): what it decided since its last commit is dropped with the
 * partitions, unlogged; a batch logged but not yet produced is left to the next owner,
 * whose reconciliation produces its records. Another owner has claimed, or will. */
static bool drop_if_lost(runner *r)
{
    if (!rd_kafka_assignment_lost(r->cons))
        return false;
    size_t it = 0;
    const char *k;
    void *v;
    size_t n = 0;
    char **keys = cm_xcalloc(cm_map_len(r->chains) + 1, sizeof *keys);
    while (cm_map_next(r->chains, &it, &k, &v))
        if (((chainw *)v)->dirty)
            keys[n++] = cm_strdup(k);
    for (size_t i = 0; i < n; i++) {
        chainw *c = cm_map_del(r->chains, keys[i]);
        cm_log("run: partition %d lost to the group before its batch was out: dropped at seq %llu",
               (int)c->part, (unsigned long long)c->own.pt.head_seq);
        chain_free(c);
        free(keys[i]);
    }
    free(keys);
    return true;
}

/* Each partition's batch: its changes, outbox and commit appended to its changelog; once
 * every one is acknowledged, the audit records and dead letters produced. A partition
 * whose changelog grew past the snapshot bound gets a snapshot once its records are
 * delivered (a snapshot carries no outbox). */
static int commit_scale(runner *r)
{
    size_t it = 0;
    void *v;
    int rc = 0;
    bool any = false;
    if (drop_if_lost(r))
        return 0;
    while (rc == 0 && cm_map_next(r->chains, &it, NULL, &v)) {
        chainw *c = v;
        if (!c->dirty)
            continue;
        pip_chain pc = {c->name, c->w};
        if (pip_commit(c->st, &pc, 1, NULL, NULL, &r->err) < 0)
            return -1;
        stm_cl_point pt = c->own.pt;
        pt.seq++;
        int64_t off;
        if (stm_offset_get(c->ob, r->cfg->topic_events, c->part, &off))
            pt.offset = off;
        if (aud_writer_seq(c->w)) {
            snprintf(pt.chain, sizeof pt.chain, "%.255s", c->name); /* topics: <= 249 */
            pt.head_seq = aud_writer_seq(c->w);
            snprintf(pt.head_hash, sizeof pt.head_hash, "%s", aud_writer_head(c->w));
        }
        stm_outmsg_free(c->out, c->nout); /* (none: a batch's are produced before the next) */
        if (r->cat && stm_catalog_outbox(c->st, c->ob, r->cfg->topic_catalog, c->part, &r->err) < 0)
            return -1;
        c->out = stm_outbox_take(c->ob, &c->nout);
        rc = stm_owner_batch(&r->io, &c->own, &pt, c->out, c->nout, &r->err);
        any = true;
    }
    if (rc < 0 || !any)
        return rc;
    if (stm_owner_sync(&r->io, &r->err) < 0)
        return -1;
    if (drop_if_lost(r))
        return 0;
    /* The batches are the log's now: their records go out. */
    it = 0;
    while (rc == 0 && cm_map_next(r->chains, &it, NULL, &v)) {
        chainw *c = v;
        if (!c->dirty)
            continue;
        c->dirty = false;
        for (size_t i = 0; rc == 0 && i < c->nout; i++) {
            rc = produce_tagged(r, &c->out[i], (intptr_t)c->part + 1);
            c->inflight += rc == 0;
        }
        stm_outmsg_free(c->out, c->nout);
        c->out = NULL;
        c->nout = 0;
    }
    if (rc < 0)
        return -1;
    rd_kafka_commit(r->cons, NULL, 1); /* the group's view, for lag tools */
    it = 0;
    while (rc == 0 && cm_map_next(r->chains, &it, NULL, &v)) {
        chainw *c = v;
        if (c->own.since_snapshot < (size_t)r->cfg->snapshot_bytes &&
            c->own.commits < SNAPSHOT_COMMITS)
            continue;
        if (drain_chain(r, c) < 0 || stm_owner_snapshot(&r->io, &c->own, &r->err) < 0)
            rc = -1;
    }
    return rc;
}

/* The group's view of the offsets consumed, for lag tools: at most every
 * GROUP_COMMIT_EVERY seconds, or now (a clean stop). */
static void group_commit(runner *r, bool now)
{
    double t = cm_now();
    if (!now && t - r->group_at < GROUP_COMMIT_EVERY)
        return;
    rd_kafka_commit(r->cons, NULL, 1);
    r->group_at = t;
}

/* The batch through the pipeline's commit (the records are in the state's outbox, so
 * nothing needs flushing first), then its outbox produced. */
static int commit_batch(runner *r)
{
    if (r->scale)
        return commit_scale(r);
    size_t nc = cm_map_len(r->chains), it = 0, k = 0;
    pip_chain *chains = cm_xcalloc(nc + 1, sizeof *chains);
    void *v;
    while (cm_map_next(r->chains, &it, NULL, &v))
        chains[k++] = (pip_chain){((chainw *)v)->name, ((chainw *)v)->w};
    int committed = pip_commit(r->st, chains, k, NULL, NULL, &r->err);
    free(chains);
    if (committed < 0)
        return -1;
    size_t n;
    stm_outmsg *out = stm_outbox_flushed(r->ob, &n);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = produce(r, &out[i]);
    stm_outmsg_free(out, n);
    if (rc == 0)
        group_commit(r, false);
    return rc;
}

/* The config's rules and exemptions, as one rule set (SPEC §4a). */
static pol_ruleset *load_rules(const stm_config *c, cm_err *err)
{
    return pol_ruleset_load_ex((const char *const *)c->rules, c->nrules,
                               (const char *const *)c->exemptions, c->nexemptions, err);
}

static void reload(runner *r)
{
    cm_err e;
    pol_ruleset *rs = load_rules(r->cfg, &e);
    if (!rs) {
        char m[1400];
        cm_err_format(&e, m, sizeof m);
        cm_log("run: rules not reloaded, keeping the loaded set (%s): %s", pol_ruleset_hash(r->rs),
               m);
        stm_metrics_add(r->m, STM_RELOAD_FAILURES, 1);
        return;
    }
    if (r->scale) { /* every owned partition's engine */
        size_t it = 0;
        void *v;
        while (cm_map_next(r->chains, &it, NULL, &v))
            pol_engine_set_rules(((chainw *)v)->eng, rs);
    } else {
        pol_engine_set_rules(r->eng, rs);
    }
    pol_ruleset_free(r->rs);
    r->rs = rs;
    stm_metrics_add(r->m, STM_RELOADS, 1);
    stm_metrics_set(r->m, STM_RULES_LOADED, (int64_t)time(NULL));
    if (r->cfg->nexemptions)
        cm_log("run: rules reloaded: %zu rules, %zu exemptions, hash %s", pol_ruleset_count(rs),
               pol_ruleset_exemptions(rs), pol_ruleset_hash(rs));
    else
        cm_log("run: rules reloaded: %zu rules, hash %s", pol_ruleset_count(rs),
               pol_ruleset_hash(rs));
}

static int64_t lag(runner *r)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(r->cons, &a) || !a)
        return -1;
    rd_kafka_position(r->cons, a);
    int64_t total = 0;
    for (int i = 0; i < a->cnt; i++) {
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(r->cons, a->elems[i].topic, a->elems[i].partition, &lo,
                                           &hi) == 0 &&
            a->elems[i].offset >= 0 && hi > a->elems[i].offset)
            total += hi - a->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(a);
    return total;
}

static void status(runner *r, double t0, double *last, uint64_t *last_events)
{
    double t = cm_now();
    if (t - r->lag_at >= LAG_EVERY) {
        r->lag = lag(r);
        r->lag_at = t;
    }
    int64_t behind = r->lag;
    uint64_t events = stm_metrics_get(r->m, STM_EVENTS);
    stm_metrics_set(r->m, STM_LAG, behind);
    stm_metrics_set(r->m, STM_BACKLOG, r->inflight);
    if (!r->cfg->status_interval || t - *last < (double)r->cfg->status_interval)
        return;
    cm_log("run: %llu events (%.0f/s), lag %lld, audit backlog %lld, %llu records, %llu dead "
           "letters, up %.0fs",
           (unsigned long long)events, (double)(events - *last_events) / (t - *last),
           (long long)behind, (long long)r->inflight,
           (unsigned long long)stm_metrics_get(r->m, STM_RECORDS),
           (unsigned long long)stm_metrics_get(r->m, STM_DEAD_LETTERS), t - t0);
    *last = t;
    *last_events = events;
}

/* ---------- setup and the loop ---------- */

static int setup(runner *r)
{
    char errstr[512];
    if (!r->m) {
        cm_err_set(&r->err, "run", 0, 0, "cannot set up the metrics: %s", strerror(ENOMEM));
        return CM_EENV;
    }
    r->rs = load_rules(r->cfg, &r->err);
    if (!r->rs)
        return CM_EINPUT;
    stm_metrics_set(r->m, STM_RULES_LOADED, (int64_t)time(NULL));
    /* Before Kafka and the state: a bad address is a config error, found at once. */
    if (r->cfg->metrics_listen &&
        stm_metrics_listen(r->m, r->cfg->metrics_listen, (int)r->cfg->metrics_timeout, &r->err) < 0)
        return CM_EINPUT;
    if (r->cfg->sign_key && !(r->signer = cry_signer_load(r->cfg->sign_key, &r->err)))
        return CM_EINPUT;
    if (r->scale) {
        /* Several instances: the state is each owned partition's, from the changelog. */
        if (!(r->master = vlt_master_load(r->cfg->master_key, true, &r->err)))
            return CM_EENV;
        if (mkdir(r->cfg->state, 0700) < 0 && errno != EEXIST) {
            cm_err_set(&r->err, r->cfg->state, 0, 0, "cannot create the state directory: %s",
                       strerror(errno));
            return CM_EENV;
        }
        char host[128] = "host";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        snprintf(r->io.who, sizeof r->io.who, "%s/%d %s", host, (int)getpid(), r->cfg->state);
        r->io.master = r->master;
        if (stm_log_io_open(&r->io, r->cfg, &r->err) < 0)
            return CM_EENV;
        if (r->cfg->topic_catalog &&
            (!(r->cat = stm_catalog_new()) || stm_catalog_open(r->cat, r->cfg, &r->err) < 0))
            return CM_EENV;
    } else if (!(r->st = vlt_state_open(r->cfg->state, r->cfg->master_key, &r->err)) ||
               !(r->ob = stm_outbox_open(r->st, &r->err)) || pip_chains_open(r->st, &r->err) < 0) {
        return CM_EENV;
    } else {
        r->eng = pol_engine_new(r->rs, r->st, (size_t)r->cfg->max_message);
    }
    rd_kafka_conf_t *pc = stm_conf(r->cfg, true, &r->err);
    if (!pc || stm_set(pc, "enable.idempotence", "true", &r->err) < 0 ||
        stm_set(pc, "acks", "all", &r->err) < 0 ||
        stm_set(pc, "message.timeout.ms", "0", &r->err) < 0) {
        if (pc)
            rd_kafka_conf_destroy(pc);
        return CM_EINPUT;
    }
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    rd_kafka_conf_set_opaque(pc, r);
    if (!(r->prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr))) {
        cm_err_set(&r->err, "kafka", 0, 0, "producer: %s", errstr);
        return CM_EINPUT;
    }
    if ((r->audit_parts = stm_partition_count(r->prod, r->cfg->topic_audit, &r->err)) <= 0 ||
        (r->dead_parts = stm_partition_count(r->prod, r->cfg->topic_dead, &r->err)) <= 0)
        return CM_EENV;
    if (r->scale) { /* a changelog partition for every events partition */
        int ev = stm_partition_count(r->prod, r->cfg->topic_events, &r->err);
        int sp = ev > 0 ? stm_partition_count(r->prod, r->cfg->topic_state, &r->err) : -1;
        if (ev <= 0 || sp <= 0)
            return CM_EENV;
        if (sp < ev) {
            cm_err_set(&r->err, r->cfg->topic_state, 0, 0,
                       "has %d partitions; the events topic %s has %d: it needs one per events "
                       "partition",
                       sp, r->cfg->topic_events, ev);
            return CM_EINPUT;
        }
    } else if (check_heads(r) < 0 || recover(r) < 0) {
        return CM_EENV;
    }
    rd_kafka_conf_t *cc = stm_conf(r->cfg, false, &r->err);
    if (!cc || stm_set(cc, "enable.auto.commit", "false", &r->err) < 0 ||
        stm_set(cc, "enable.auto.offset.store", "true", &r->err) < 0) {
        if (cc)
            rd_kafka_conf_destroy(cc);
        return CM_EINPUT;
    }
    bool has_reset = false;
    for (size_t i = 0; i < r->cfg->nkafka; i++)
        has_reset |= !strcmp(r->cfg->kafka_keys[i], "auto.offset.reset");
    if (!has_reset)
        stm_set(cc, "auto.offset.reset", "earliest", &r->err);
    rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
    rd_kafka_conf_set_opaque(cc, r);
    if (!(r->cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof errstr))) {
        cm_err_set(&r->err, "kafka", 0, 0, "consumer: %s", errstr);
        return CM_EINPUT;
    }
    rd_kafka_poll_set_consumer(r->cons);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, r->cfg->topic_events, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(r->cons, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        cm_err_set(&r->err, r->cfg->topic_events, 0, 0, "cannot subscribe: %s",
                   rd_kafka_err2str(e));
        return CM_EENV;
    }
    return 0;
}

static int drain(runner *r, double limit_s)
{
    double t0 = cm_now();
    while (r->inflight > 0 && !r->fatal) {
        rd_kafka_poll(r->prod, 100);
        if (mark_sent(r) < 0)
            return -1;
        if (limit_s > 0 && cm_now() - t0 > limit_s)
            break;
    }
    return mark_sent(r);
}

static void teardown(runner *r)
{
    r->closing = true; /* the consumer's last rebalance only lets go */
    if (r->tail) {
        rd_kafka_consumer_close(r->tail);
        rd_kafka_destroy(r->tail);
    }
    if (r->cons) {
        rd_kafka_consumer_close(r->cons);
        rd_kafka_destroy(r->cons);
    }
    if (r->prod)
        rd_kafka_destroy(r->prod);
    size_t it = 0;
    void *v;
    while (r->chains && cm_map_next(r->chains, &it, NULL, &v))
        chain_free(v);
    cm_map_free(r->chains);
    stm_log_io_close(&r->io);
    stm_catalog_free(r->cat);
    cry_secret_free(r->master);
    aud_decision_clear(&r->d);
    pol_engine_free(r->eng);
    pol_ruleset_free(r->rs);
    vlt_state_free(r->st);
    cry_signer_free(r->signer);
    stm_metrics_free(r->m);
    free(r->sent);
    free(r->hdrs);
    cm_buf_free(&r->event);
    cm_buf_free(&r->rec);
}

int stm_run(const stm_config *cfg, const stm_signals *sig)
{
    runner r = {.cfg = cfg,
                .sig = sig,
                .chains = cm_map_new(),
                .m = stm_metrics_new(),
                .scale = cfg->topic_state != NULL};
    cm_buf_init(&r.event, 0);
    cm_buf_init(&r.rec, 0);
    cm_err_clear(&r.err);
    int rc = setup(&r);
    if (rc) {
        cm_err_print(&r.err);
        teardown(&r);
        return rc;
    }
    cm_log("run: consuming %s; audit to %s (%d partitions), dead letters to %s; rules %s",
           cfg->topic_events, cfg->topic_audit, r.audit_parts, cfg->topic_dead,
           pol_ruleset_hash(r.rs));
    double t0 = cm_now(), last = t0;
    uint64_t last_events = 0;
    bool paused = false;
    while (!*sig->stop && !r.fatal) {
        if (*sig->reload) {
            *sig->reload = 0;
            reload(&r);
        }
        /* Bounded backlog: while the audit topic lags behind, stop reading events. */
        bool full = r.inflight >= cfg->backlog;
        if (full != paused) {
            rd_kafka_topic_partition_list_t *a = NULL;
            if (!rd_kafka_assignment(r.cons, &a) && a) {
                if (full)
                    rd_kafka_pause_partitions(r.cons, a);
                else
                    rd_kafka_resume_partitions(r.cons, a);
                rd_kafka_topic_partition_list_destroy(a);
            }
            paused = full;
            stm_metrics_set(r.m, STM_PAUSED, full);
            if (full)
                cm_log("run: audit backlog at %lld: consumption paused", (long long)r.inflight);
        }
        size_t nc = r.cat ? stm_catalog_poll(r.cat, 10000) : 0;
        if (nc)
            cm_log("run: catalog: %zu record(s) read, %zu known", nc, stm_catalog_len(r.cat));
        int n = 0;
        while (n < cfg->batch && !*sig->stop) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(r.cons, n ? 0 : 100);
            if (!m)
                break;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    cm_log("run: consumer: %s", rd_kafka_message_errstr(m));
            } else {
                process(&r, m);
                n++;
            }
            rd_kafka_message_destroy(m);
            if (r.fatal)
                break;
        }
        if (n && !r.fatal && commit_batch(&r) < 0) {
            cm_err_print(&r.err);
            teardown(&r);
            return CM_EENV;
        }
        rd_kafka_poll(r.prod, 0);
        if (mark_sent(&r) < 0) {
            cm_err_print(&r.err);
            teardown(&r);
            return CM_EENV;
        }
        status(&r, t0, &last, &last_events);
    }
    if (r.fatal) {
        cm_log("run: %s", r.fatal_msg);
        teardown(&r);
        return CM_EENV;
    }
    /* A clean stop: the event in hand is done; close the chains' checkpoints, deliver,
     * and leave nothing in the outbox. */
    size_t it = 0;
    void *v;
    while (cm_map_next(r.chains, &it, NULL, &v)) {
        chainw *c = v;
        uint64_t seq = aud_writer_seq(c->w);
        aud_writer_finish(c->w, &r.err);
        c->dirty |= aud_writer_seq(c->w) != seq; /* a closing checkpoint record */
    }
    rc = commit_batch(&r) < 0 || drain(&r, 0) < 0 || (r.st && vlt_state_flush(r.st, &r.err) < 0)
             ? CM_EENV
             : 0;
    if (rc == 0 && !r.scale)
        group_commit(&r, true); /* where this instance stopped, for lag tools */
    if (rc == 0 && r.scale && stm_owner_sync(&r.io, &r.err) < 0) /* a last snapshot */
        rc = CM_EENV;
    it = 0;
    while (rc == 0 && r.scale && cm_map_next(r.chains, &it, NULL, &v))
        save_cache(&r, v);
    if (rc)
        cm_err_print(&r.err);
    cm_log("run: stopped after %llu events, %llu records delivered",
           (unsigned long long)stm_metrics_get(r.m, STM_EVENTS),
           (unsigned long long)stm_metrics_get(r.m, STM_DELIVERED));
    teardown(&r);
    return rc;
}
