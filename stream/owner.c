/* A partition owned among several instances, over Kafka (stream/owner.h). */
#include "stream/owner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/map.h"
#include "pipeline/chains.h"
#include "store/store.h"
#include "stream/kafka_internal.h"
#include "vault/delta.h"

/* How many commits' outboxes a restore keeps: more than a partition ever has between
 * two snapshots (run.c snapshots at least every STM_OWNER_SNAPSHOT_COMMITS). */
#define KEEP_OUTBOXES 4096

/* ---------- the producer and the reader ---------- */

static void on_log_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    stm_log_io *io = opaque;
    (void)rk;
    io->inflight--;
    if (m->err) {
        io->failed = true;
        snprintf(io->failed_msg, sizeof io->failed_msg, "%s: partition %d: %s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
        return;
    }
    if (m->_private)
        *(int64_t *)m->_private = m->offset;
}

int stm_log_io_open(stm_log_io *io, const stm_config *cfg, cm_err *err)
{
    char errstr[512];
    io->cfg = cfg;
    if (!io->max)
        io->max = STM_CL_DEFAULT_MESSAGE;
    rd_kafka_conf_t *pc = stm_conf(cfg, true, err);
    if (!pc || stm_set(pc, "enable.idempotence", "true", err) < 0 ||
        stm_set(pc, "acks", "all", err) < 0 || stm_set(pc, "message.timeout.ms", "0", err) < 0 ||
        stm_set(pc, "linger.ms", "0", err) < 0) {
        if (pc)
            rd_kafka_conf_destroy(pc);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(pc, on_log_delivery);
    rd_kafka_conf_set_opaque(pc, io);
    if (!(io->prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr))) {
        cm_err_set(err, "kafka", 0, 0, "changelog producer: %s", errstr);
        return -1;
    }
    if (!(io->reader = stm_reader_new(cfg, err)))
        return -1;
    return 0;
}

void stm_log_io_close(stm_log_io *io)
{
    if (io->reader) {
        rd_kafka_consumer_close(io->reader);
        rd_kafka_destroy(io->reader);
    }
    if (io->prod)
        rd_kafka_destroy(io->prod);
    io->reader = io->prod = NULL;
}

/* One record out to the partition of the state topic; slot (may be NULL) gets its offset
 * once acknowledged. */
struct emit_ctx {
    stm_log_io *io;
    int32_t part;
    int64_t *slot;
    size_t bytes;
    cm_err *err;
};

static int emit(void *arg, const void *p, size_t n)
{
    struct emit_ctx *e = arg;
    stm_log_io *io = e->io;
    for (;;) {
        rd_kafka_resp_err_t x = rd_kafka_producev(
            io->prod, RD_KAFKA_V_TOPIC(io->cfg->topic_state), RD_KAFKA_V_PARTITION(e->part),
            RD_KAFKA_V_VALUE((void *)p, n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(e->slot), RD_KAFKA_V_END);
        if (x == RD_KAFKA_RESP_ERR_NO_ERROR) {
            io->inflight++;
            e->bytes += n;
            e->slot = NULL; /* only the first record's offset is wanted */
            return 0;
        }
        if (x != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            cm_err_set(e->err, io->cfg->topic_state, 0, 0, "partition %d: cannot produce: %s",
                       (int)e->part, rd_kafka_err2str(x));
            return CM_EENV;
        }
        rd_kafka_poll(io->prod, 100);
    }
}

int stm_owner_sync(stm_log_io *io, cm_err *err)
{
    double t0 = cm_now(), said = t0;
    while (io->inflight > 0 && !io->failed) {
        rd_kafka_flush(io->prod, 200);
        if (io->inflight > 0 && cm_now() - said > 10) {
            said = cm_now();
            cm_log("run: waiting %.0fs for %s to take %lld changelog record(s)", said - t0,
                   io->cfg->topic_state, (long long)io->inflight);
        }
    }
    if (io->failed) {
        cm_err_set(err, io->cfg->topic_state, 0, 0, "changelog delivery failed: %s",
                   io->failed_msg);
        return -1;
    }
    return 0;
}

/* ---------- reading a partition ---------- */

struct log_vec {
    stm_cl_msg *m;
    size_t n, cap;
};

static int log_add(void *arg, int32_t part, int64_t off, const char *v, size_t len)
{
    struct log_vec *l = arg;
    (void)part;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->m = cm_xrealloc(l->m, l->cap * sizeof *l->m);
    }
    void *copy = cm_xmalloc(len + 1);
    if (len)
        memcpy(copy, v, len);
    l->m[l->n++] = (stm_cl_msg){off, copy, len};
    return 0;
}

static void log_free(struct log_vec *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((void *)l->m[i].p);
    free(l->m);
    memset(l, 0, sizeof *l);
}

static int watermarks(stm_log_io *io, const char *topic, int32_t part, int64_t *lo, int64_t *hi,
                      cm_err *err)
{
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(io->reader, topic, part, lo, hi, 10000);
    if (e) {
        cm_err_set(err, topic, 0, 0, "partition %d: cannot read its offsets: %s", (int)part,
                   rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* ---------- the local cache ---------- */

/* A partition's cache is a state file, DIR/partition-N.db, written when the partition is
 * released cleanly: the state as of this instance's last commit, and in its meta table
 * (through a part, so the row is in the file's one transaction and under its MACs)
 * "changelog:point": the epoch and offset of the claim it was written under, and the
 * point. A later owner on the same machine starts from it and reads the changelog from
 * that claim on, instead of from the latest snapshot. */
#define MARK_KEY "changelog:point"

struct mark {
    uint64_t epoch;
    int64_t claim_offset;
    stm_cl_point pt;
    bool dirty, found;
};

static int mark_flush(void *part, sto_db *db, bool closing, cm_err *err)
{
    struct mark *m = part;
    char text[700];
    (void)closing;
    if (!m->dirty)
        return 0;
    snprintf(text, sizeof text, "%" PRIu64 " %" PRId64 " %" PRIu64 " %" PRId64 " %" PRIu64 " %s %s",
             m->epoch, m->claim_offset, m->pt.seq, m->pt.offset, m->pt.head_seq, m->pt.head_hash,
             m->pt.chain[0] ? m->pt.chain : "-");
    return sto_meta_put(db, MARK_KEY, text, err);
}

static void mark_committed(void *part)
{
    ((struct mark *)part)->dirty = false;
}

static const sto_part_kind mark_kind = {
    .name = "changelog point", .free = free, .flush = mark_flush, .committed = mark_committed};

static void mark_read(void *arg, const char *k, const char *v)
{
    struct mark *m = arg;
    char hash[80], chain[300];
    unsigned long long epoch, seq, head;
    long long claim, off;
    if (strcmp(k, MARK_KEY) != 0 ||
        sscanf(v, "%llu %lld %llu %lld %llu %79s %299s", &epoch, &claim, &seq, &off, &head, hash,
               chain) != 7 ||
        strlen(hash) != 64)
        return;
    m->epoch = epoch;
    m->claim_offset = claim;
    m->pt.seq = seq;
    m->pt.offset = off;
    m->pt.head_seq = head;
    memcpy(m->pt.head_hash, hash, 65);
    snprintf(m->pt.chain, sizeof m->pt.chain, "%.255s", strcmp(chain, "-") ? chain : "");
    m->found = true;
}

static void cache_path(const stm_log_io *io, int32_t part, char *out, size_t n)
{
    snprintf(out, n, "%s/partition-%d.db", io->cfg->state, (int)part);
}

struct copy_ctx {
    vlt_state *to;
    cm_err *err;
};

static int copy_entry(void *arg, const vlt_entry *e)
{
    struct copy_ctx *c = arg;
    return vlt_state_entry_apply(c->to, e, c->err);
}

/* Every entry of from into to, whose parts are attached first: 0, or -1 with err. */
static int copy_state(vlt_state *from, vlt_state *to, cm_err *err)
{
    struct copy_ctx c = {to, err};
    if (!stm_outbox_open(to, err) || pip_chains_open(to, err) < 0)
        return -1;
    return vlt_state_entries(from, copy_entry, &c, err) < 0 ? -1 : 0;
}

int stm_owner_save(stm_log_io *io, stm_owned *o, cm_err *err)
{
    char path[4200], tmp[4300];
    cache_path(io, o->part, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    unlink(tmp);
    vlt_state *f = vlt_state_open(tmp, io->cfg->master_key, err);
    if (!f)
        return -1;
    struct mark *m = cm_xcalloc(1, sizeof *m);
    *m = (struct mark){
        .epoch = o->epoch, .claim_offset = o->claim_offset, .pt = o->pt, .dirty = true};
    sto_part_attach(vlt_state_store(f), &mark_kind, m);
    int rc = copy_state(o->st, f, err) < 0 || vlt_state_flush(f, err) < 0 ? -1 : 0;
    vlt_state_free(f);
    if (rc == 0 && rename(tmp, path) < 0) {
        cm_err_set(err, path, 0, 0, "cannot write the partition's cache: %s", strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* The cache of o's partition as a restore at its point, in res (a state in memory), with
 * the log read from its claim on in log: true when there is one that opens and verifies,
 * whose claim is still in the log, and that no later claim fenced before its last commit
 * (it was not written by an owner that had lost the partition). Otherwise the cache is
 * removed, and res and log are left empty. */
static bool from_cache(stm_log_io *io, stm_owned *o, stm_cl_restored *res, int64_t lo, int64_t hi,
                       struct log_vec *log)
{
    char path[4200];
    cache_path(io, o->part, path, sizeof path);
    if (access(path, F_OK) != 0)
        return false;
    cm_err e;
    cm_err_clear(&e);
    struct mark m = {0};
    vlt_state *f = vlt_state_open(path, io->cfg->master_key, &e);
    bool ok = f && sto_meta_each(vlt_state_store(f), MARK_KEY, mark_read, &m, &e) == 0 && m.found &&
              m.claim_offset >= lo && m.claim_offset < hi;
    ok = ok && stm_read_range(io->reader, io->cfg->topic_state, o->part, m.claim_offset, hi,
                              log_add, log, &e) == 0;
    stm_cl_rec r;
    ok = ok && log->n && log->m[0].offset == m.claim_offset &&
         stm_clog_decode(o->clog, log->m[0].p, log->m[0].n, &r, &e) == 0 &&
         r.kind == STM_CL_CLAIM && r.epoch == m.epoch;
    bool fenced = false; /* a later claim seen before the cache's own last commit */
    for (size_t i = 1; ok && i < log->n; i++) {
        if (stm_clog_decode(o->clog, log->m[i].p, log->m[i].n, &r, &e) < 0)
            ok = false;
        else if (r.kind == STM_CL_COMMIT && r.epoch == m.epoch && r.seq == m.pt.seq) {
            ok = !fenced;
            break;
        } else if (r.kind == STM_CL_CLAIM && r.epoch > m.epoch) {
            fenced = true;
        }
    }
    memset(res, 0, sizeof *res);
    res->keep = KEEP_OUTBOXES;
    if (ok && !(res->state = vlt_state_new_mem(io->master, &e)))
        ok = false;
    if (ok && copy_state(f, res->state, &e) < 0)
        ok = false;
    vlt_state_free(f);
    if (!ok) {
        stm_cl_restored_clear(res);
        log_free(log);
        cm_log("run: %s: not used (%s); restoring partition %d from the changelog", path,
               e.msg[0] ? e.msg : "its claim is gone from the changelog, or was fenced",
               (int)o->part);
        unlink(path);
        return false;
    }
    vlt_state_changes_clear(res->state);
    res->point = m.pt;
    res->epoch = m.epoch;
    snprintf(res->owner, sizeof res->owner, "%s", io->who);
    res->claim_offset = m.claim_offset;
    res->snapshot_at = -1;
    res->resume_at = m.claim_offset + 1;
    return true;
}

/* ---------- taking a partition ---------- */

static void where(cm_err *err, const stm_log_io *io, int32_t part)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%.100s partition %d: %.600s", io->cfg->topic_state, (int)part,
             err->msg);
    memcpy(err->msg, msg, sizeof msg);
}

int stm_owner_take(stm_log_io *io, int32_t part, stm_owned *o, cm_err *err)
{
    double t0 = cm_now();
    memset(o, 0, sizeof *o);
    o->part = part;
    o->claim_offset = -1;
    if (!(o->clog = stm_clog_new(io->master, part, err)))
        return -1;
    struct log_vec log = {0};
    stm_cl_restored res;
    memset(&res, 0, sizeof res);
    int64_t lo, hi;
    int rc = watermarks(io, io->cfg->topic_state, part, &lo, &hi, err);
    bool cached = false;
    if (rc == 0 && (cached = from_cache(io, o, &res, lo, hi, &log))) {
        size_t from = 0; /* the log from the cache's claim on, applied on the cache */
        while (from < log.n && log.m[from].offset < res.resume_at)
            from++;
        if (stm_clog_restore_more(o->clog, log.m + from, log.n - from, &res, err) < 0) {
            cm_log("run: partition %d: the cache does not continue into the changelog (%s): "
                   "restoring from the changelog",
                   (int)part, err->msg);
            log_free(&log);
            cached = false;
        }
    }
    o->cached = cached;
    if (rc == 0 && !cached)
        rc = stm_read_range(io->reader, io->cfg->topic_state, part, lo, hi, log_add, &log, err);
    if (rc == 0 && !cached &&
        stm_clog_restore(o->clog, io->master, log.m, log.n, KEEP_OUTBOXES, &res, err) < 0) {
        where(err, io, part);
        rc = -1;
    }
    for (int tries = 0; rc == 0; tries++) {
        if (tries == 16) {
            cm_err_set(err, io->cfg->topic_state, 0, 0,
                       "partition %d: 16 claims in a row were overtaken by other instances' claims",
                       (int)part);
            rc = -1;
            break;
        }
        int64_t claim_off = -1;
        struct emit_ctx e = {io, part, &claim_off, 0, err};
        uint64_t epoch = res.epoch + 1;
        if (stm_clog_claim(o->clog, epoch, io->who, emit, &e, err) < 0 ||
            stm_owner_sync(io, err) < 0) {
            rc = -1;
            break;
        }
        if (claim_off < hi) {
            cm_err_set(err, io->cfg->topic_state, 0, 0,
                       "partition %d: the claim landed at offset %lld, before the end read (%lld)",
                       (int)part, (long long)claim_off, (long long)hi);
            rc = -1;
            break;
        }
        /* Read on up to the claim: what landed between is the log too. */
        if (stm_read_range(io->reader, io->cfg->topic_state, part, hi, claim_off + 1, log_add, &log,
                           err) < 0) {
            rc = -1;
            break;
        }
        hi = claim_off + 1;
        size_t from = 0;
        while (from < log.n && log.m[from].offset < res.resume_at)
            from++;
        if (stm_clog_restore_more(o->clog, log.m + from, log.n - from, &res, err) < 0) {
            where(err, io, part);
            rc = -1;
            break;
        }
        if (res.claim_offset == claim_off && res.epoch == epoch)
            break;
        cm_log("run: %s partition %d: the claim at offset %lld (epoch %llu) was overtaken by "
               "one of epoch %llu; claiming again",
               io->cfg->topic_state, (int)part, (long long)claim_off, (unsigned long long)epoch,
               (unsigned long long)res.epoch);
    }
    log_free(&log);
    if (rc < 0) {
        stm_cl_restored_clear(&res);
        stm_owned_clear(o);
        return -1;
    }
    o->st = res.state;
    res.state = NULL;
    o->epoch = res.epoch;
    o->claim_offset = res.claim_offset;
    o->pt = res.point;
    o->outbox = res.outbox;
    o->noutbox = res.noutbox;
    o->restored_batches = res.batches;
    o->ignored = res.ignored;
    res.outbox = NULL;
    res.noutbox = 0;
    stm_cl_restored_clear(&res);
    vlt_state_track(o->st, true);
    o->restore_s = cm_now() - t0;
    return 0;
}

/* ---------- appending ---------- */

int stm_owner_batch(stm_log_io *io, stm_owned *o, const stm_cl_point *pt, const stm_outmsg *out,
                    size_t n, cm_err *err)
{
    struct emit_ctx e = {io, o->part, NULL, 0, err};
    if (stm_clog_batch(o->clog, o->st, o->epoch, pt, out, n, io->max, emit, &e, err) < 0)
        return -1;
    vlt_state_changes_clear(o->st);
    o->pt = *pt;
    o->since_snapshot += e.bytes;
    o->commits++;
    return 0;
}

int stm_owner_snapshot(stm_log_io *io, stm_owned *o, cm_err *err)
{
    struct emit_ctx e = {io, o->part, NULL, 0, err};
    if (stm_clog_snapshot(o->clog, o->st, o->epoch, &o->pt, NULL, 0, io->max, emit, &e, err) < 0)
        return -1;
    o->since_snapshot = 0;
    o->commits = 0;
    return 0;
}

/* ---------- reconciling with the audit topic ---------- */

struct chain_scan {
    const char *chain;
    cm_map *have;    /* seq as text -> its hash (64 hex digits) */
    uint64_t lowest; /* the lowest seq of the chain read */
};

static int scan_chain(void *arg, int32_t part, int64_t off, const char *v, size_t n)
{
    struct chain_scan *s = arg;
    char chain[300], hash[65], k[24];
    unsigned long long seq;
    (void)part;
    (void)off;
    if (!aud_record_peek(v, n, chain, sizeof chain, &seq, hash) || strcmp(chain, s->chain) != 0)
        return 0;
    snprintf(k, sizeof k, "%llu", seq);
    if (!cm_map_get(s->have, k))
        cm_map_put(s->have, k, cm_strdup(hash));
    if (!s->lowest || seq < s->lowest)
        s->lowest = seq;
    return 0;
}

int stm_owner_reconcile(stm_log_io *io, stm_owned *o, int32_t audit_part, stm_send_fn send,
                        void *arg, size_t *resent, cm_err *err)
{
    uint64_t want = 0; /* the lowest seq the outbox holds */
    *resent = 0;
    for (size_t i = 0; i < o->noutbox; i++)
        for (size_t j = 0; j < o->outbox[i].n; j++) {
            const stm_outmsg *m = &o->outbox[i].m[j];
            if (m->chain && (!want || m->seq < want))
                want = m->seq;
        }
    struct chain_scan s = {o->pt.chain, cm_map_new(), 0};
    int rc = 0;
    if (want) {
        /* Newest first, a growing window back, until the chain's records before the
         * outbox's are in sight: several chains and instances share the partition. */
        int64_t lo, hi;
        rc = watermarks(io, io->cfg->topic_audit, audit_part, &lo, &hi, err);
        int64_t to = hi, span = 1024;
        while (rc == 0 && to > lo && !(s.lowest && s.lowest <= want)) {
            int64_t from = to - span > lo ? to - span : lo;
            rc = stm_read_range(io->reader, io->cfg->topic_audit, audit_part, from, to, scan_chain,
                                &s, err);
            to = from;
            span *= 2;
        }
    }
    for (size_t i = 0; rc == 0 && i < o->noutbox; i++)
        for (size_t j = 0; rc == 0 && j < o->outbox[i].n; j++) {
            const stm_outmsg *m = &o->outbox[i].m[j];
            if (m->chain) {
                char chain[300], hash[65], k[24];
                unsigned long long seq;
                snprintf(k, sizeof k, "%llu", (unsigned long long)m->seq);
                const char *have = cm_map_get(s.have, k);
                if (have && aud_record_peek(m->value, m->len, chain, sizeof chain, &seq, hash) &&
                    !strcmp(have, hash))
                    continue; /* the same record is there */
            }
            rc = send(arg, m);
            (*resent)++;
        }
    size_t it = 0;
    void *v;
    while (cm_map_next(s.have, &it, NULL, &v))
        free(v);
    cm_map_free(s.have);
    for (size_t i = 0; i < o->noutbox; i++)
        stm_outmsg_free(o->outbox[i].m, o->outbox[i].n);
    free(o->outbox);
    o->outbox = NULL;
    o->noutbox = 0;
    return rc;
}

void stm_owned_clear(stm_owned *o)
{
    if (!o)
        return;
    stm_clog_free(o->clog);
    vlt_state_free(o->st);
    for (size_t i = 0; i < o->noutbox; i++)
        stm_outmsg_free(o->outbox[i].m, o->outbox[i].n);
    free(o->outbox);
    memset(o, 0, sizeof *o);
}
