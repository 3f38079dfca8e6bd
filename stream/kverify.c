/* The audit topic verified by the changelogs of the state topic (stream/kverify.h).
 *
 * Reading a state partition keeps, per chain: its claims; the records of its valid
 * commits, by seq (each with the commit's offset, to name it); and the head, checked
 * commit by commit: each commit's chain records go on from the head before it (seq + 1,
 * prevhash = its hash) and end at the commit's own head, and batches follow one another.
 * Reading the audit topic then sorts its records by chain, seq and offset, walks each
 * changelog's chain back from its head, marks every record on the path, and hands the
 * verifier the path (and every record of a chain without a changelog), in that order. */
#include "stream/kverify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "common/json.h"
#include "common/map.h"

/* A record one valid commit holds for its chain. */
struct committed {
    uint64_t seq;
    char hash[65];
    char *value; /* its bytes */
    size_t len;
    int64_t at; /* the commit's offset in the state partition */
};

struct claim {
    uint64_t epoch;
    char owner[256];
    int64_t offset;
};

/* A chain with a changelog. */
struct kchain {
    char name[300];
    char where[300]; /* its state partition, "STATE/P" */
    bool started;    /* from the earliest valid claim or snapshot on */
    bool known;      /* the head and the last batch are known */
    uint64_t batch;  /* the last batch committed */
    uint64_t head_seq;
    char head_hash[65];
    int64_t claim_at; /* a valid claim since the last commit (-1: none) */
    struct committed *c;
    size_t nc, capc;
    struct claim *cl;
    size_t ncl, capcl;
    size_t fenced, uncommitted, repeats;
};

struct stm_kverify {
    const cry_secret *master;
    const char *events, *state, *audit;
    cm_map *chains; /* name -> struct kchain */
    char **order;   /* their names, in the order read */
    size_t norder;
};

stm_kverify *stm_kverify_new(const cry_secret *master, const char *events_topic,
                             const char *state_topic, const char *audit_topic)
{
    stm_kverify *k = cm_xcalloc(1, sizeof *k);
    k->master = master;
    k->events = events_topic;
    k->state = state_topic;
    k->audit = audit_topic;
    k->chains = cm_map_new();
    return k;
}

static void kchain_free(struct kchain *ch)
{
    if (!ch)
        return;
    for (size_t i = 0; i < ch->nc; i++)
        free(ch->c[i].value);
    free(ch->c);
    free(ch->cl);
    free(ch);
}

void stm_kverify_free(stm_kverify *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->norder; i++) {
        kchain_free(cm_map_get(k->chains, k->order[i]));
        free(k->order[i]);
    }
    free(k->order);
    cm_map_free(k->chains);
    free(k);
}

/* A check failed: err says where and what; returns CM_ECHECK. */
__attribute__((format(printf, 3, 4))) static int fail(cm_err *err, const char *where,
                                                      const char *fmt, ...)
{
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cm_err_set(err, where, 0, 0, "%s", msg);
    err->code = CM_ECHECK;
    return CM_ECHECK;
}

/* ---------- a record's chain fields ---------- */

struct fields {
    char chain[300];
    uint64_t seq;
    char hash[65], prev[65];
};

static bool str_field(yajl_val o, const char *k, char *out, size_t cap)
{
    const char *path[] = {k, NULL};
    yajl_val s = yajl_tree_get(o, path, yajl_t_string);
    const char *v = s ? YAJL_GET_STRING(s) : NULL;
    if (!v || strlen(v) >= cap)
        return false;
    memcpy(out, v, strlen(v) + 1);
    return true;
}

/* chain, seq, hash and prevhash of a record, from its top level: false when it has none
 * of a right shape (the verifier says what is wrong with it). */
static bool fields_of(const char *value, size_t len, struct fields *f)
{
    char ebuf[128];
    char *copy = cm_strndup(value, len);
    yajl_val o = yajl_tree_parse(copy, ebuf, sizeof ebuf);
    free(copy);
    const char *path_seq[] = {"seq", NULL};
    yajl_val s = o && YAJL_IS_OBJECT(o) ? yajl_tree_get(o, path_seq, yajl_t_number) : NULL;
    bool ok = s && YAJL_IS_INTEGER(s) && YAJL_GET_INTEGER(s) >= 1 &&
              str_field(o, "chain", f->chain, sizeof f->chain) &&
              str_field(o, "hash", f->hash, sizeof f->hash) && strlen(f->hash) == 64 &&
              str_field(o, "prevhash", f->prev, sizeof f->prev) && strlen(f->prev) == 64;
    if (ok)
        f->seq = (uint64_t)YAJL_GET_INTEGER(s);
    yajl_tree_free(o);
    return ok;
}

/* ---------- a state partition ---------- */

/* The record ch's commits hold for seq (NULL: none). They are in seq order. */
static struct committed *committed_at(struct kchain *ch, uint64_t seq)
{
    size_t lo = 0, hi = ch->nc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ch->c[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ch->nc && ch->c[lo].seq == seq ? &ch->c[lo] : NULL;
}

static void add_claim(struct kchain *ch, const stm_cl_seen *s)
{
    if (ch->ncl == ch->capcl) {
        ch->capcl = ch->capcl ? ch->capcl * 2 : 4;
        ch->cl = cm_xrealloc(ch->cl, ch->capcl * sizeof *ch->cl);
    }
    struct claim *c = &ch->cl[ch->ncl++];
    c->epoch = s->epoch;
    c->offset = s->offset;
    snprintf(c->owner, sizeof c->owner, "%.*s", (int)s->owner_len, s->owner);
}

/* One chain record of the commit s (where: its offset, named): a fork, or a break in the
 * chain, fails; otherwise it is the chain's head from here. */
static int commit_record(struct kchain *ch, const stm_cl_seen *s, const stm_outmsg *m,
                         const char *where, cm_err *err)
{
    struct fields f;
    if (strcmp(m->chain, ch->name) != 0)
        return fail(err, where, "a commit of chain '%s' holds a record of chain '%s'", ch->name,
                    m->chain);
    if (!fields_of(m->value, m->len, &f) || strcmp(f.chain, m->chain) != 0 || f.seq != m->seq)
        return fail(err, where, "the commit holds, for chain '%s' seq %" PRIu64 ", no such record",
                    ch->name, m->seq);
    struct committed *o = committed_at(ch, f.seq);
    if (o && (o->len != m->len || memcmp(o->value, m->value, m->len) != 0))
        return fail(err, where,
                    "chain '%s' seq %" PRIu64 ": the valid commits at offsets %" PRId64
                    " and %" PRId64 " hold different records for it: a fork",
                    ch->name, f.seq, o->at, s->offset);
    if (ch->known && (f.seq != ch->head_seq + 1 || strcmp(f.prev, ch->head_hash) != 0)) {
        if (ch->claim_at >= 0)
            return fail(err, where,
                        "the first commit after the claim at offset %" PRId64
                        " does not go on from the head before it: its record is seq %" PRIu64
                        " after prevhash %.16s..., the head seq %" PRIu64 ", hash %.16s...",
                        ch->claim_at, f.seq, f.prev, ch->head_seq, ch->head_hash);
        return fail(err, where,
                    "the commit's record seq %" PRIu64 " (prevhash %.16s...) does not go on from "
                    "the head seq %" PRIu64 ", hash %.16s...",
                    f.seq, f.prev, ch->head_seq, ch->head_hash);
    }
    if (ch->nc == ch->capc) {
        ch->capc = ch->capc ? ch->capc * 2 : 64;
        ch->c = cm_xrealloc(ch->c, ch->capc * sizeof *ch->c);
    }
    struct committed *c = &ch->c[ch->nc++];
    c->seq = f.seq;
    memcpy(c->hash, f.hash, sizeof c->hash);
    c->value = cm_strndup(m->value, m->len);
    c->len = m->len;
    c->at = s->offset;
    ch->head_seq = f.seq;
    memcpy(ch->head_hash, f.hash, sizeof ch->head_hash);
    ch->known = true;
    return 0;
}

static int commit(struct kchain *ch, const stm_cl_seen *s, const char *where, cm_err *err)
{
    const stm_cl_point *pt = &s->point;
    if (pt->chain[0] && strcmp(pt->chain, ch->name) != 0)
        return fail(err, where, "a commit of chain '%s' in the changelog of chain '%s'", pt->chain,
                    ch->name);
    if (!s->complete)
        return fail(err, where, "the changes of batch %" PRIu64 " are not all in the changelog",
                    pt->seq);
    bool known = ch->known, records = false; /* a fork shows in the records first */
    for (size_t i = 0; i < s->nout; i++) {
        if (!s->out[i].chain)
            continue; /* a dead letter */
        int rc = commit_record(ch, s, &s->out[i], where, err);
        if (rc < 0)
            return rc;
        records = true;
    }
    if (known && pt->seq != ch->batch + 1)
        return fail(err, where,
                    "batch %" PRIu64 " follows batch %" PRIu64
                    ": batches missing or repeated in the changelog",
                    pt->seq, ch->batch);
    if ((records || ch->known) &&
        (pt->head_seq != ch->head_seq || strcmp(pt->head_hash, ch->head_hash) != 0))
        return fail(err, where,
                    "batch %" PRIu64 " commits the head seq %" PRIu64
                    "; its records leave it at seq %" PRIu64,
                    pt->seq, pt->head_seq, ch->head_seq);
    ch->head_seq = pt->head_seq;
    memcpy(ch->head_hash, pt->head_hash, sizeof ch->head_hash);
    ch->batch = pt->seq;
    ch->known = true;
    ch->claim_at = -1;
    return 0;
}

static int on_seen(void *arg, const stm_cl_seen *s, cm_err *err)
{
    struct kchain *ch = arg;
    char where[400];
    snprintf(where, sizeof where, "%s/%" PRId64, ch->where, s->offset);
    switch (s->kind) {
    case STM_CL_CLAIM:
        add_claim(ch, s);
        ch->started = true;
        ch->claim_at = s->offset;
        return 0;
    case STM_CL_SNAPSHOT:
        if (!ch->started) { /* the head trimmed up to here: the head as of it */
            ch->started = ch->known = true;
            ch->batch = s->point.seq;
            ch->head_seq = s->point.head_seq;
            memcpy(ch->head_hash, s->point.head_hash, sizeof ch->head_hash);
        } else if (ch->known && s->point.seq == ch->batch &&
                   (s->point.head_seq != ch->head_seq ||
                    strcmp(s->point.head_hash, ch->head_hash) != 0)) {
            return fail(err, where,
                        "the snapshot as of batch %" PRIu64 " holds another head than the batch's "
                        "commit",
                        s->point.seq);
        }
        return 0;
    default: /* a commit; before the earliest claim or snapshot, its fencing is unknown */
        return ch->started ? commit(ch, s, where, err) : 0;
    }
}

int stm_kverify_state(stm_kverify *k, int32_t part, const stm_cl_msg *log, size_t n, cm_err *err)
{
    cm_err_clear(err);
    if (!n)
        return 0;
    struct kchain *ch = cm_xcalloc(1, sizeof *ch);
    snprintf(ch->name, sizeof ch->name, "%s/%d", k->events, (int)part);
    snprintf(ch->where, sizeof ch->where, "%s/%d", k->state, (int)part);
    ch->claim_at = -1;
    memset(ch->head_hash, '0', 64);
    if (cm_map_get(k->chains, ch->name)) {
        kchain_free(ch);
        cm_err_set(err, k->state, 0, 0, "partition %d read twice", (int)part);
        return CM_EINPUT;
    }
    stm_clog *c = stm_clog_new(k->master, part, err);
    int rc = c ? stm_clog_scan(c, log, n, on_seen, ch, err) : CM_EENV;
    stm_clog_free(c);
    if (rc == 0 && !ch->started)
        rc = fail(err, ch->where, "no valid claim or snapshot to read the changelog from");
    if (rc < 0 && strncmp(err->where, ch->where, strlen(ch->where)) != 0) {
        char w[sizeof err->where];
        snprintf(w, sizeof w, "%s", ch->where); /* the changelog's own message has the offset */
        memcpy(err->where, w, sizeof w);
    }
    if (rc < 0) {
        kchain_free(ch);
        return rc;
    }
    cm_map_put(k->chains, ch->name, ch);
    k->order = cm_xrealloc(k->order, (k->norder + 1) * sizeof *k->order);
    k->order[k->norder++] = cm_strdup(ch->name);
    return 0;
}

/* ---------- the audit topic ---------- */

enum { R_FEED = 1, R_REPEAT, R_FENCED, R_UNCOMMITTED };

struct arec {
    char chain[300];
    unsigned long long seq;
    const stm_kv_msg *m;
    struct fields f; /* a changelog's chain only */
    int fate;        /* R_*: 0 until decided */
};

static int by_chain_seq(const void *a, const void *b)
{
    const struct arec *x = a, *y = b;
    int c = strcmp(x->chain, y->chain);
    if (c)
        return c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    if (x->m->partition != y->m->partition)
        return x->m->partition < y->m->partition ? -1 : 1;
    return x->m->offset < y->m->offset ? -1 : x->m->offset > y->m->offset;
}

static void where_of(const stm_kverify *k, const struct arec *r, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%d/%" PRId64, k->audit, (int)r->m->partition, r->m->offset);
}

static bool same_bytes(const stm_kv_msg *a, const char *p, size_t n)
{
    return a->len == n && memcmp(a->value, p, n) == 0;
}

/* The first of r[0..n) at seq (they are in seq order): its index, or n. */
static size_t seq_from(const struct arec *r, size_t n, uint64_t seq)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Every committed record of ch is among r[0..n) (ch's records), with its bytes. */
static int check_committed(const stm_kverify *k, const struct kchain *ch, const struct arec *r,
                           size_t n, cm_err *err)
{
    char where[400], rw[400];
    for (size_t i = 0; i < ch->nc; i++) {
        const struct committed *c = &ch->c[i];
        snprintf(where, sizeof where, "%s/%" PRId64, ch->where, c->at);
        const struct arec *other = NULL;
        bool found = false;
        for (size_t j = seq_from(r, n, c->seq); !found && j < n && r[j].seq == c->seq; j++) {
            found = same_bytes(r[j].m, c->value, c->len);
            if (!strcmp(r[j].f.hash, c->hash))
                other = &r[j];
        }
        if (found)
            continue;
        if (other) {
            where_of(k, other, rw, sizeof rw);
            return fail(err, where,
                        "chain '%s' seq %" PRIu64 " is committed here with other bytes than the "
                        "record at %s",
                        ch->name, c->seq, rw);
        }
        return fail(err, where,
                    "chain '%s' seq %" PRIu64 ", committed here, is not on the audit topic: a "
                    "committed decision lost",
                    ch->name, c->seq);
    }
    return 0;
}

/* Marks the path back from ch's head among r[0..n) (ch's records) R_FEED (R_REPEAT for a
 * byte-identical copy), every other record fenced or uncommitted, and logs those. */
static int walk(const stm_kverify *k, struct kchain *ch, struct arec *r, size_t n, cm_err *err)
{
    char where[400];
    uint64_t seq = ch->head_seq;
    char want[65];
    memcpy(want, ch->head_hash, sizeof want);
    for (; seq >= 1; seq--) {
        size_t j = seq_from(r, n, seq), on = n;
        for (size_t q = j; q < n && r[q].seq == seq; q++) {
            if (strcmp(r[q].f.hash, want) != 0)
                continue;
            if (on == n) {
                on = q;
                r[q].fate = R_FEED;
            } else if (same_bytes(r[q].m, r[on].m->value, r[on].m->len)) {
                r[q].fate = R_REPEAT;
                ch->repeats++;
            } else {
                where_of(k, &r[q], where, sizeof where);
                return fail(err, where,
                            "chain '%s' seq %" PRIu64 ": another copy of the record on the chain, "
                            "with other bytes",
                            ch->name, seq);
            }
        }
        if (on == n) {
            if (seq == ch->head_seq)
                return fail(err, ch->where,
                            "chain '%s': the committed head seq %" PRIu64 " (hash %.16s...) is "
                            "not on the audit topic: a committed decision lost",
                            ch->name, seq, want);
            if (j > 0 || (j < n && r[j].seq == seq)) /* records below it, or others at it */
                return fail(err, ch->where,
                            "chain '%s': seq %" PRIu64 " (hash %.16s...) on the way back from "
                            "the committed head seq %" PRIu64 " is not on the audit topic: a gap",
                            ch->name, seq, want, ch->head_seq);
            break; /* the earliest record the topic holds */
        }
        memcpy(want, r[on].f.prev, sizeof want);
    }
    for (size_t q = 0; q < n; q++) {
        if (r[q].fate)
            continue;
        bool fenced = r[q].seq <= ch->head_seq;
        r[q].fate = fenced ? R_FENCED : R_UNCOMMITTED;
        if (fenced)
            ch->fenced++;
        else
            ch->uncommitted++;
        where_of(k, &r[q], where, sizeof where);
        cm_log("%s: chain '%s' seq %llu: %s, ignored", where, ch->name, r[q].seq,
               fenced ? "a fenced write (not on the committed chain)"
                      : "uncommitted (past the committed head)");
    }
    return 0;
}

static void summary_chain(cm_jw *j, const char *name, uint64_t first, const char *head,
                          uint64_t last, const struct kchain *ch)
{
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "chain", name);
    cm_jw_kuint(j, "first_seq", first);
    cm_jw_kstr(j, "head", head);
    cm_jw_kuint(j, "last_seq", last);
    if (ch) {
        cm_jw_key(j, "claims");
        cm_jw_arr_begin(j);
        for (size_t i = 0; i < ch->ncl; i++) {
            cm_jw_obj_begin(j);
            cm_jw_kuint(j, "epoch", ch->cl[i].epoch);
            cm_jw_kstr(j, "owner", ch->cl[i].owner);
            cm_jw_kint(j, "offset", ch->cl[i].offset);
            cm_jw_obj_end(j);
        }
        cm_jw_arr_end(j);
        cm_jw_kuint(j, "fenced", ch->fenced);
        cm_jw_kuint(j, "uncommitted", ch->uncommitted);
        cm_jw_kuint(j, "repeats", ch->repeats);
    }
    cm_jw_obj_end(j);
}

/* Today's summary (aud_verifier_end's), each chain with a changelog telling it too, and
 * the chains with a changelog but no record on the path after them. */
static int summary(const stm_kverify *k, const aud_verifier *v, cm_buf *out, cm_err *err)
{
    cm_jw j;
    cm_jw_init(&j, out);
    cm_jw_obj_begin(&j);
    cm_jw_key(&j, "chains");
    cm_jw_arr_begin(&j);
    uint64_t records = 0;
    size_t nv = aud_verifier_chain_count(v);
    for (size_t i = 0; i < nv; i++) {
        aud_chain_info c;
        aud_verifier_chain(v, i, &c);
        summary_chain(&j, c.chain, c.first, c.head, c.last, cm_map_get(k->chains, c.chain));
        records += c.records;
    }
    for (size_t i = 0; i < k->norder; i++) {
        bool listed = false;
        for (size_t q = 0; q < nv && !listed; q++) {
            aud_chain_info c;
            aud_verifier_chain(v, q, &c);
            listed = !strcmp(c.chain, k->order[i]);
        }
        if (!listed)
            summary_chain(&j, k->order[i], 0, AUD_ZERO_HASH, 0, cm_map_get(k->chains, k->order[i]));
    }
    cm_jw_arr_end(&j);
    cm_jw_kuint(&j, "records", records);
    cm_jw_kbool(&j, "verified", true);
    cm_jw_obj_end(&j);
    if (cm_jw_done(&j) < 0) {
        cm_err_set(err, "audit", 0, 0, "verification summary larger than %zu bytes", out->max);
        return CM_ECHECK;
    }
    return 0;
}

int stm_kverify_audit(stm_kverify *k, aud_verifier *v, const stm_kv_msg *recs, size_t n,
                      cm_buf *out, cm_err *err)
{
    cm_err_clear(err);
    struct arec *r = cm_xcalloc(n + 1, sizeof *r);
    char where[400];
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        r[i].m = &recs[i];
        if (!aud_record_peek(recs[i].value, recs[i].len, r[i].chain, sizeof r[i].chain, &r[i].seq,
                             NULL))
            r[i].chain[0] = '\0'; /* the verifier will say what is wrong with it */
    }
    if (n)
        qsort(r, n, sizeof *r, by_chain_seq);
    for (size_t i = 0, e; rc == 0 && i < n; i = e) {
        for (e = i + 1; e < n && !strcmp(r[e].chain, r[i].chain);)
            e++;
        struct kchain *ch = cm_map_get(k->chains, r[i].chain);
        for (size_t q = i; q < e; q++)
            r[q].fate = ch ? 0 : R_FEED;
        if (!ch)
            continue;
        for (size_t q = i; rc == 0 && q < e; q++) {
            if (fields_of(r[q].m->value, r[q].m->len, &r[q].f) && r[q].f.seq == r[q].seq &&
                !strcmp(r[q].f.chain, r[q].chain))
                continue;
            where_of(k, &r[q], where, sizeof where);
            if (aud_verifier_line(v, where, r[q].m->value, r[q].m->len, err) == 0)
                fail(err, where, "a record whose chain, seq or hashes cannot be read");
            rc = CM_ECHECK;
        }
        if (rc == 0)
            rc = check_committed(k, ch, r + i, e - i, err);
        if (rc == 0)
            rc = walk(k, ch, r + i, e - i, err);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (r[i].fate != R_FEED)
            continue;
        where_of(k, &r[i], where, sizeof where);
        if (aud_verifier_line(v, where, r[i].m->value, r[i].m->len, err) < 0)
            rc = CM_ECHECK;
    }
    cm_buf scratch;
    cm_buf_init(&scratch, 0);
    if (rc == 0 && aud_verifier_end(v, &scratch, err) < 0)
        rc = CM_ECHECK;
    cm_buf_free(&scratch);
    if (rc == 0)
        rc = summary(k, v, out, err);
    if (rc < 0 && !err->code)
        err->code = rc;
    free(r);
    return rc;
}
