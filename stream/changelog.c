/* The changelog of a partition's state (stream/changelog.h): its records, the writer that
 * cuts a batch or a snapshot into them, and the restore.
 *
 * A record, integers little-endian:
 *
 *   "CMKL"  version:u8 (1)  kind:u8  epoch:u64  body  mac[64]
 *
 *   CLAIM     owner length:u16  owner
 *   CHANGES   seq:u64  index:u32  nitems:u32  items
 *   COMMIT    seq:u64  chunks:u32  nout:u32  point
 *   SNAPSHOT  seq:u64  index:u32  final:u8  point  nitems:u32  items
 *
 *   point     offset:i64  head seq:u64  head hash[32]  chain length:u16  chain
 *   item      kind:u8  flags:u8 (1: has a value)  name length:u32  name
 *             [value length:u32  value]
 *
 * An item is a state entry (vault/delta.h) or, of kind 'O', an outbox message: name its
 * topic, value  partition:u32  seq:u64  then chain, key, value, reason, input and headers
 * each as length:u32 (0xffffffff: none) and bytes. The mac is HMAC-SHA-512 of every byte
 * before it under HKDF(master key, "cmkguard changelog v1 partition N"): a record moved
 * to another partition, or altered, does not authenticate; its offset is no part of it,
 * so a record reads the same wherever it lands. A SNAPSHOT's chunks run from index 0 to
 * the one marked final; a batch's CHANGES chunks from 0 to its COMMIT's count - 1. */
#include "stream/changelog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "common/map.h"
#include "pipeline/chains.h"
#include "vault/delta.h"

#define MAGIC "CMKL"
#define VERSION 1
#define HEAD_LEN 14 /* magic, version, kind, epoch */
#define ITEM_OUTBOX 'O'
#define NONE 0xffffffffu

struct stm_clog {
    int32_t partition;
    cry_mac *mac;
};

stm_clog *stm_clog_new(const cry_secret *master, int32_t partition, cm_err *err)
{
    char info[64];
    snprintf(info, sizeof info, "cmkguard changelog v1 partition %d", (int)partition);
    cry_secret *k = cry_hkdf(master, info, 64);
    cry_mac *m = k ? cry_mac_new(k) : NULL;
    cry_secret_free(k);
    if (!m) {
        cm_err_env(err, "changelog", "cannot derive the changelog's key");
        return NULL;
    }
    stm_clog *c = cm_xcalloc(1, sizeof *c);
    c->partition = partition;
    c->mac = m;
    return c;
}

void stm_clog_free(stm_clog *c)
{
    if (!c)
        return;
    cry_mac_free(c->mac);
    free(c);
}

static int mac_of(stm_clog *c, const void *p, size_t n, uint8_t out[CRY_MAC_LEN])
{
    return cry_mac_begin(c->mac) == 0 && cry_mac_update(c->mac, p, n) == 0 &&
                   cry_mac_final(c->mac, out) == 0
               ? 0
               : CM_EENV;
}

/* ---------- writing ---------- */

static void put_head(cm_buf *b, int kind, uint64_t epoch)
{
    cm_buf_add(b, MAGIC, 4);
    cm_put_u8(b, VERSION);
    cm_put_u8(b, (uint8_t)kind);
    cm_put_u64(b, epoch);
}

static void put_point(cm_buf *b, const stm_cl_point *pt)
{
    uint8_t hash[32] = {0};
    cm_put_u64(b, (uint64_t)pt->offset);
    cm_put_u64(b, pt->head_seq);
    if (pt->head_hash[0] && cm_unhex(pt->head_hash, hash, sizeof hash) < 0)
        cm_buf_fail(b); /* not a hash: refused by the caller's check */
    cm_buf_add(b, hash, sizeof hash);
    size_t cn = strlen(pt->chain);
    cm_put_u16(b, (uint16_t)cn);
    cm_buf_add(b, pt->chain, cn);
}

/* Appends the mac and hands the record to emit. */
static int finish(stm_clog *c, cm_buf *b, stm_cl_emit emit, void *arg, cm_err *err)
{
    uint8_t mac[CRY_MAC_LEN];
    if (cm_buf_failed(b))
        return cm_err_env(err, "changelog", "a record larger than %zu bytes", b->max);
    if (mac_of(c, b->p, b->len, mac) < 0)
        return cm_err_env(err, "changelog", "cannot authenticate a changelog record");
    cm_buf_add(b, mac, sizeof mac);
    if (cm_buf_failed(b))
        return cm_err_env(err, "changelog", "a record larger than %zu bytes", b->max);
    int rc = emit(arg, b->p, b->len);
    if (rc < 0) {
        cm_err_env(err, "changelog", "a changelog record could not be written");
        err->code = rc;
    }
    return rc;
}

static bool point_ok(const stm_cl_point *pt, cm_err *err)
{
    uint8_t h[32];
    size_t cn = strnlen(pt->chain, sizeof pt->chain);
    if (cn >= sizeof pt->chain || (pt->head_hash[0] && cm_unhex(pt->head_hash, h, sizeof h) < 0)) {
        cm_err_set(err, "changelog", 0, 0, "a commit point with a bad chain name or head hash");
        return false;
    }
    return true;
}

int stm_clog_claim(stm_clog *c, uint64_t epoch, const char *owner, stm_cl_emit emit, void *arg,
                   cm_err *err)
{
    size_t on = owner ? strlen(owner) : 0;
    if (!epoch || !on || on > 255) {
        cm_err_set(err, "changelog", 0, 0,
                   "a claim needs an epoch > 0 and an owner of 1-255 bytes");
        return CM_EINPUT;
    }
    cm_buf b;
    cm_buf_init(&b, 1024);
    put_head(&b, STM_CL_CLAIM, epoch);
    cm_put_u16(&b, (uint16_t)on);
    cm_buf_add(&b, owner, on);
    int rc = finish(c, &b, emit, arg, err);
    cm_buf_free(&b);
    return rc;
}

/* Cuts items into records of at most max bytes: one record in hand at a time. */
struct chunker {
    stm_clog *c;
    int kind;
    uint64_t epoch, seq;
    const stm_cl_point *pt; /* SNAPSHOT */
    size_t max;
    stm_cl_emit emit;
    void *arg;
    cm_err *err;
    cm_buf rec;
    uint32_t index, nitems;
    size_t nitems_at, final_at; /* where the record's count (and final flag) go */
    bool open;
    int rc;
};

static void chunk_open(struct chunker *k)
{
    cm_buf_reset(&k->rec);
    put_head(&k->rec, k->kind, k->epoch);
    cm_put_u64(&k->rec, k->seq);
    cm_put_u32(&k->rec, k->index);
    if (k->kind == STM_CL_SNAPSHOT) {
        k->final_at = k->rec.len;
        cm_put_u8(&k->rec, 0);
        put_point(&k->rec, k->pt);
    }
    k->nitems_at = k->rec.len;
    cm_put_u32(&k->rec, 0);
    k->nitems = 0;
    k->open = true;
}

static void chunk_close(struct chunker *k, bool final)
{
    if (k->rc < 0 || !k->open)
        return;
    if (!cm_buf_failed(&k->rec)) {
        cm_set_u32(k->rec.p + k->nitems_at, k->nitems);
        if (final && k->kind == STM_CL_SNAPSHOT)
            k->rec.p[k->final_at] = 1;
    }
    k->rc = finish(k->c, &k->rec, k->emit, k->arg, k->err);
    k->open = false;
    k->index++;
}

static void chunk_item(struct chunker *k, int kind, const char *name, size_t nlen, const void *val,
                       size_t vlen)
{
    if (k->rc < 0)
        return;
    size_t need = 1 + 1 + 4 + nlen + (val ? 4 + vlen : 0);
    if (k->open && k->nitems && k->rec.len + need + CRY_MAC_LEN > k->max)
        chunk_close(k, false);
    if (!k->open)
        chunk_open(k);
    if (k->rc < 0)
        return;
    if (k->rec.len + need + CRY_MAC_LEN > k->max || nlen > UINT32_MAX || vlen >= NONE) {
        k->rc =
            cm_err_env(k->err, "changelog", "entry '%.200s' (%zu bytes) cannot fit a record of %zu",
                       name, need, k->max);
        return;
    }
    cm_put_u8(&k->rec, (uint8_t)kind);
    cm_put_u8(&k->rec, val ? 1 : 0);
    cm_put_u32(&k->rec, (uint32_t)nlen);
    cm_buf_add(&k->rec, name, nlen);
    if (val) {
        cm_put_u32(&k->rec, (uint32_t)vlen);
        cm_buf_add(&k->rec, val, vlen);
    }
    k->nitems++;
}

static int entry_item(void *arg, const vlt_entry *e)
{
    struct chunker *k = arg;
    chunk_item(k, e->kind, e->name, e->nlen, e->val, e->vlen);
    return k->rc;
}

static void put_str(cm_buf *b, const char *s, size_t n)
{
    cm_put_u32(b, s ? (uint32_t)n : NONE);
    if (s)
        cm_buf_add(b, s, n);
}

static void outbox_items(struct chunker *k, const stm_outmsg *m, size_t n)
{
    cm_buf v;
    cm_buf_init(&v, 0);
    for (size_t i = 0; i < n && k->rc == 0; i++) {
        cm_buf_reset(&v);
        cm_put_u32(&v, (uint32_t)m[i].partition);
        cm_put_u64(&v, m[i].seq);
        put_str(&v, m[i].chain, m[i].chain ? strlen(m[i].chain) : 0);
        put_str(&v, m[i].key, m[i].keylen);
        put_str(&v, m[i].value, m[i].len);
        put_str(&v, m[i].reason, m[i].reason ? strlen(m[i].reason) : 0);
        put_str(&v, m[i].input, m[i].input ? strlen(m[i].input) : 0);
        put_str(&v, m[i].headers, m[i].hlen);
        const char *topic = m[i].topic ? m[i].topic : "";
        chunk_item(k, ITEM_OUTBOX, topic, strlen(topic), v.p, v.len);
    }
    cm_buf_free(&v);
}

static int chunker_init(struct chunker *k, stm_clog *c, int kind, uint64_t epoch,
                        const stm_cl_point *pt, size_t max, stm_cl_emit emit, void *arg,
                        cm_err *err)
{
    *k = (struct chunker){.c = c,
                          .kind = kind,
                          .epoch = epoch,
                          .seq = pt->seq,
                          .pt = pt,
                          .max = max,
                          .emit = emit,
                          .arg = arg,
                          .err = err};
    cm_err_clear(err);
    if (!epoch || !pt->seq || max < STM_CL_MIN_MESSAGE) {
        cm_err_set(err, "changelog", 0, 0,
                   "a batch or snapshot needs an epoch > 0, a seq > 0 and a bound of %d bytes "
                   "or more",
                   STM_CL_MIN_MESSAGE);
        return CM_EINPUT;
    }
    if (!point_ok(pt, err))
        return CM_EINPUT;
    cm_buf_init(&k->rec, max);
    return 0;
}

/* The parts of a state whose entries its changelog carries besides the vault's (its
 * chain heads and input offsets), attached, with what a restored snapshot carried for
 * them: a state that never had one lists none of its entries. 0, or err's code. */
static int attach(vlt_state *s, cm_err *err)
{
    if (pip_chains_open(s, err) == 0 && stm_outbox_open(s, err))
        return 0;
    return err->code ? err->code : CM_EENV;
}

int stm_clog_batch(stm_clog *c, vlt_state *s, uint64_t epoch, const stm_cl_point *pt,
                   const stm_outmsg *out, size_t nout, size_t max, stm_cl_emit emit, void *arg,
                   cm_err *err)
{
    struct chunker k;
    int rc = attach(s, err);
    if (rc == 0)
        rc = chunker_init(&k, c, STM_CL_CHANGES, epoch, pt, max, emit, arg, err);
    if (rc < 0)
        return rc;
    rc = vlt_state_changes(s, entry_item, &k, err);
    if (rc == 0 && k.rc == 0)
        outbox_items(&k, out, nout);
    chunk_close(&k, true);
    if (rc == 0)
        rc = k.rc;
    if (rc == 0) {
        cm_buf_reset(&k.rec);
        put_head(&k.rec, STM_CL_COMMIT, epoch);
        cm_put_u64(&k.rec, pt->seq);
        cm_put_u32(&k.rec, k.index);
        cm_put_u32(&k.rec, (uint32_t)nout);
        put_point(&k.rec, pt);
        rc = finish(c, &k.rec, emit, arg, err);
    }
    cm_buf_free(&k.rec);
    return rc;
}

int stm_clog_snapshot(stm_clog *c, vlt_state *s, uint64_t epoch, const stm_cl_point *pt,
                      const stm_outmsg *pending, size_t npending, size_t max, stm_cl_emit emit,
                      void *arg, cm_err *err)
{
    struct chunker k;
    int rc = attach(s, err);
    if (rc == 0)
        rc = chunker_init(&k, c, STM_CL_SNAPSHOT, epoch, pt, max, emit, arg, err);
    if (rc < 0)
        return rc;
    chunk_open(&k); /* an empty state is one chunk */
    rc = vlt_state_entries(s, entry_item, &k, err);
    if (rc == 0 && k.rc == 0)
        outbox_items(&k, pending, npending);
    chunk_close(&k, true);
    if (rc == 0)
        rc = k.rc;
    cm_buf_free(&k.rec);
    return rc;
}

/* ---------- reading ---------- */

/* Walks n items at p: each to fn (when given); -1 when they are not n well-formed items
 * filling the bytes exactly. */
static int items_each(const uint8_t *p, size_t len, uint32_t n,
                      int (*fn)(void *arg, const vlt_entry *e), void *arg)
{
    cm_rd r = cm_rd_of(p, len);
    for (uint32_t i = 0; i < n; i++) {
        vlt_entry e;
        e.kind = cm_rd_u8(&r);
        uint8_t flags = cm_rd_u8(&r);
        e.nlen = cm_rd_u32(&r);
        e.name = (const char *)cm_rd_bytes(&r, e.nlen);
        e.vlen = flags & 1 ? cm_rd_u32(&r) : 0;
        e.val = flags & 1 ? cm_rd_bytes(&r, e.vlen) : NULL;
        if (r.bad || flags > 1)
            return -1;
        if (flags & 1 && !e.val)
            e.val = ""; /* an empty value is a value */
        int rc = fn ? fn(arg, &e) : 0;
        if (rc < 0)
            return rc;
    }
    return cm_rd_done(&r) ? 0 : -1;
}

static void get_point(cm_rd *r, stm_cl_point *pt)
{
    pt->offset = (int64_t)cm_rd_u64(r);
    pt->head_seq = cm_rd_u64(r);
    const uint8_t *h = cm_rd_bytes(r, 32);
    if (h)
        cm_hex(h, 32, pt->head_hash);
    uint16_t cn = cm_rd_u16(r);
    const uint8_t *cp = cm_rd_bytes(r, cn);
    if (cp && cn < sizeof pt->chain) {
        memcpy(pt->chain, cp, cn);
        pt->chain[cn] = '\0';
    } else {
        r->bad = true;
    }
}

static int refuse(cm_err *err, int code, const char *msg)
{
    cm_err_set(err, "changelog", 0, 0, "%s", msg);
    err->code = code;
    return code;
}

int stm_clog_decode(stm_clog *c, const void *p, size_t n, stm_cl_rec *r, cm_err *err)
{
    const uint8_t *b = p;
    memset(r, 0, sizeof *r);
    if (n < HEAD_LEN + CRY_MAC_LEN || memcmp(b, MAGIC, 4) != 0)
        return refuse(err, CM_EINPUT, "not a changelog record");
    if (b[4] != VERSION) {
        cm_err_set(err, "changelog", 0, 0, "a changelog record of version %u; this build reads %d",
                   b[4], VERSION);
        return CM_EINPUT;
    }
    uint8_t want[CRY_MAC_LEN];
    if (mac_of(c, b, n - CRY_MAC_LEN, want) < 0)
        return cm_err_env(err, "changelog", "cannot check a changelog record");
    if (!cry_memeq(want, b + n - CRY_MAC_LEN, CRY_MAC_LEN))
        return refuse(err, CM_ECHECK,
                      "a changelog record that does not authenticate (altered, cut, another "
                      "partition's, or under another master key)");
    memcpy(r->mac, want, sizeof want);
    cm_rd rd = cm_rd_of(b + HEAD_LEN, n - HEAD_LEN - CRY_MAC_LEN);
    r->kind = b[5];
    cm_rd e = cm_rd_of(b + 6, 8);
    r->epoch = cm_rd_u64(&e);
    switch (r->kind) {
    case STM_CL_CLAIM:
        r->owner_len = cm_rd_u16(&rd);
        r->owner = (const char *)cm_rd_bytes(&rd, r->owner_len);
        if (r->owner && memchr(r->owner, '\0', r->owner_len))
            rd.bad = true;
        break;
    case STM_CL_CHANGES:
        r->seq = cm_rd_u64(&rd);
        r->index = cm_rd_u32(&rd);
        r->nitems = cm_rd_u32(&rd);
        r->items_len = rd.n - rd.at;
        r->items = cm_rd_bytes(&rd, r->items_len);
        break;
    case STM_CL_COMMIT:
        r->seq = cm_rd_u64(&rd);
        r->count = cm_rd_u32(&rd);
        r->nout = cm_rd_u32(&rd);
        get_point(&rd, &r->point);
        break;
    case STM_CL_SNAPSHOT: {
        r->seq = cm_rd_u64(&rd);
        r->index = cm_rd_u32(&rd);
        uint8_t final = cm_rd_u8(&rd);
        r->count = final == 1 ? r->index + 1 : 0;
        if (final > 1)
            rd.bad = true;
        get_point(&rd, &r->point);
        r->nitems = cm_rd_u32(&rd);
        r->items_len = rd.n - rd.at;
        r->items = cm_rd_bytes(&rd, r->items_len);
        break;
    }
    default:
        return refuse(err, CM_EINPUT, "a changelog record of an unknown kind");
    }
    r->point.seq = r->seq;
    if (!cm_rd_done(&rd) || !r->epoch || (r->kind == STM_CL_CLAIM && !r->owner_len) ||
        (r->items && items_each(r->items, r->items_len, r->nitems, NULL, NULL) < 0))
        return refuse(err, CM_EINPUT, "a malformed changelog record");
    return 0;
}

/* ---------- restore ---------- */

struct rec_info {
    stm_cl_rec r;
    bool valid;        /* authenticated, of the current claim's epoch, and not a duplicate */
    bool snap_done;    /* the final chunk of a complete valid snapshot (when looked for) */
    size_t snap_first; /* and the index of its first chunk */
};

struct apply {
    vlt_state *s;
    cm_err *err;
    stm_outmsg *out; /* the outbox of the batch (or snapshot) being applied */
    size_t nout, cap;
};

static char *get_str(cm_rd *r, size_t *len)
{
    uint32_t n = cm_rd_u32(r);
    if (n == NONE) {
        *len = 0;
        return NULL;
    }
    const uint8_t *p = cm_rd_bytes(r, n);
    *len = p ? n : 0;
    return p ? cm_strndup((const char *)p, n) : NULL;
}

/* A state entry to a->s (none: only the outbox is wanted), an outbox message to a->out. */
static int apply_item(void *arg, const vlt_entry *e)
{
    struct apply *a = arg;
    if (e->kind != ITEM_OUTBOX)
        return a->s ? vlt_state_entry_apply(a->s, e, a->err) : 0;
    if (a->nout == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->out = cm_xrealloc(a->out, a->cap * sizeof *a->out);
    }
    stm_outmsg *m = &a->out[a->nout++];
    memset(m, 0, sizeof *m);
    cm_rd r = cm_rd_of(e->val, e->vlen);
    size_t len;
    m->topic = cm_strndup(e->name, e->nlen);
    m->partition = (int32_t)cm_rd_u32(&r);
    m->seq = cm_rd_u64(&r);
    m->chain = get_str(&r, &len);
    m->key = get_str(&r, &m->keylen);
    m->value = get_str(&r, &m->len);
    m->reason = get_str(&r, &len);
    m->input = get_str(&r, &len);
    m->headers = get_str(&r, &m->hlen);
    if (!e->val || !cm_rd_done(&r) || !m->value) {
        cm_err_set(a->err, "changelog", 0, 0, "a malformed outbox message for %.200s", m->topic);
        return CM_EINPUT;
    }
    return 0;
}

static void keep_outbox(stm_cl_restored *out, size_t keep, uint64_t seq, struct apply *a)
{
    if (!keep) {
        stm_outmsg_free(a->out, a->nout);
    } else {
        if (out->noutbox == keep) { /* the oldest goes */
            stm_outmsg_free(out->outbox[0].m, out->outbox[0].n);
            memmove(out->outbox, out->outbox + 1, (keep - 1) * sizeof *out->outbox);
            out->noutbox--;
        }
        out->outbox[out->noutbox++] = (stm_cl_outbox){seq, a->out, a->nout};
    }
    a->out = NULL;
    a->nout = a->cap = 0;
}

/* Where a record is, for messages. */
static void at(cm_err *err, int64_t off)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "record at offset %" PRId64 ": %.700s", off, err->msg);
    memcpy(err->msg, msg, sizeof msg);
}

/* Pass 1: every record decoded and authenticated; fencing (from out's epoch on: the
 * highest read so far; a CLAIM is valid above it, any other record at or above it, and a
 * valid record raises it to its own: on a whole log, a record counts when its epoch is
 * that of the latest valid claim before it, and after a head trimmed past its claim it
 * still counts); duplicates (a producer's retry: the same bytes again) dropped; the
 * latest complete snapshot found, when snapshots are looked for. Returns the index of
 * its first chunk, or n when there is none; -1 with err. */
static long fence(stm_clog *c, const stm_cl_msg *log, size_t n, struct rec_info *v,
                  stm_cl_restored *out, bool snapshots, cm_err *err)
{
    cm_map *macs = cm_map_new();
    uint64_t cur = out->epoch; /* the highest epoch of a valid record so far */
    size_t snap = n;           /* the latest complete snapshot */
    size_t sfirst = 0;
    uint32_t snext = 0; /* the next chunk expected of the snapshot in progress (0: none) */
    long rc = 0;
    for (size_t i = 0; i < n; i++) {
        stm_cl_rec *r = &v[i].r;
        if (stm_clog_decode(c, log[i].p, log[i].n, r, err) < 0) {
            at(err, log[i].offset);
            rc = -1;
            break;
        }
        char key[2 * 24 + 1];
        cm_hex(r->mac, 24, key);
        if (cm_map_get(macs, key)) {
            out->ignored++;
            continue;
        }
        cm_map_put(macs, key, (void *)1);
        if (r->kind == STM_CL_CLAIM) {
            v[i].valid = r->epoch > cur;
            if (v[i].valid) {
                cur = r->epoch;
                out->epoch = r->epoch;
                snprintf(out->owner, sizeof out->owner, "%.*s", (int)r->owner_len, r->owner);
                out->claim_offset = log[i].offset;
            }
        } else {
            v[i].valid = r->epoch >= cur;
            if (v[i].valid && r->epoch > cur) { /* its claim was trimmed away */
                cur = r->epoch;
                out->epoch = r->epoch;
                out->owner[0] = '\0';
                out->claim_offset = -1;
            }
        }
        if (!v[i].valid) {
            out->ignored++;
            continue;
        }
        if (r->kind != STM_CL_SNAPSHOT || !snapshots)
            continue;
        const stm_cl_rec *f = &v[sfirst].r;
        if (r->index == 0) {
            sfirst = i;
            snext = 1;
        } else if (snext && r->index == snext && r->epoch == f->epoch && r->seq == f->seq) {
            snext++;
        } else {
            snext = 0; /* a chunk out of place: the snapshot in progress is broken */
            continue;
        }
        if (r->count) { /* the final chunk */
            snap = sfirst;
            snext = 0;
            v[i].snap_done = true;
            v[i].snap_first = sfirst;
        }
    }
    cm_map_free(macs);
    return rc < 0 ? -1 : (long)snap;
}

struct pending {
    uint64_t epoch, seq;
    size_t *idx; /* the batch's CHANGES records, by chunk */
    uint32_t n, cap;
    bool broken;
};

/* The valid CHANGES record v[i] to the batch in hand: a chunk 0 starts a batch (what was
 * in hand is returned: never committed), any other must be the next chunk of it. */
static uint32_t pending_add(struct pending *p, const struct rec_info *v, size_t i)
{
    const stm_cl_rec *r = &v[i].r;
    uint32_t dropped = 0;
    if (r->index == 0) {
        dropped = p->n;
        p->epoch = r->epoch;
        p->seq = r->seq;
        p->n = 0;
        p->broken = false;
    } else if (r->epoch != p->epoch || r->seq != p->seq || r->index != p->n) {
        p->broken = true;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->idx = cm_xrealloc(p->idx, p->cap * sizeof *p->idx);
    }
    p->idx[p->n++] = i;
    return dropped;
}

/* Whether the batch in hand is all of the one the COMMIT r commits. */
static bool pending_has(const struct pending *p, const stm_cl_rec *r)
{
    return r->count == 0 ||
           (!p->broken && p->epoch == r->epoch && p->seq == r->seq && p->n == r->count);
}

static int apply_records(const struct rec_info *v, const size_t *idx, uint32_t n, struct apply *a)
{
    for (uint32_t i = 0; i < n; i++) {
        const stm_cl_rec *r = &v[idx[i]].r;
        int rc = items_each(r->items, r->items_len, r->nitems, apply_item, a);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The batch in hand, which the valid COMMIT v[i] commits, applied through a (its outbox
 * into a->out), its outbox checked against the commit's count. 0, or a code with err. */
static int apply_batch(const struct rec_info *v, size_t i, const struct pending *p, struct apply *a,
                       cm_err *err)
{
    const stm_cl_rec *r = &v[i].r;
    int rc = apply_records(v, p->idx, r->count, a);
    if (rc == 0 && a->nout != r->nout) {
        cm_err_set(err, "changelog", 0, 0,
                   "batch %" PRIu64 " holds %zu outbox messages; its commit says %u", r->seq,
                   a->nout, (unsigned)r->nout);
        rc = CM_EINPUT;
    }
    return rc;
}

static int restore_from(const stm_cl_msg *log, size_t n, struct rec_info *v, size_t start,
                        size_t keep, stm_cl_restored *out, cm_err *err)
{
    struct apply a = {out->state, err, NULL, 0, 0};
    struct pending p = {0};
    uint64_t last = out->point.seq;
    int rc = 0;
    size_t i = start < n ? start : 0; /* from the snapshot, or from the start without one */
    if (start < n) { /* the snapshot: its chunks back to back among the valid records */
        out->snapshot_at = log[start].offset;
        const stm_cl_rec *f = &v[start].r;
        for (; rc == 0 && i < n; i++) {
            const stm_cl_rec *r = &v[i].r;
            if (!v[i].valid || r->kind == STM_CL_CLAIM)
                continue;
            if (r->kind != STM_CL_SNAPSHOT || r->epoch != f->epoch || r->seq != f->seq) {
                cm_err_set(err, "changelog", 0, 0,
                           "a batch written amid the chunks of the snapshot as of batch %" PRIu64,
                           f->seq);
                rc = CM_EINPUT;
                break;
            }
            size_t one = i;
            rc = apply_records(v, &one, 1, &a);
            if (rc < 0)
                at(err, log[i].offset);
            if (r->count) {
                i++;
                break;
            }
        }
        if (rc == 0) {
            out->point = f->point;
            last = f->seq;
            keep_outbox(out, keep, last, &a);
            out->resume_at = log[i - 1].offset + 1;
        }
    }
    for (; rc == 0 && i < n; i++) {
        const stm_cl_rec *r = &v[i].r;
        if (!v[i].valid)
            continue;
        if (r->kind == STM_CL_CHANGES) {
            out->ignored += pending_add(&p, v, i); /* a batch never committed */
        } else if (r->kind == STM_CL_COMMIT) {
            if (r->seq <= last) { /* already in what was restored */
                out->ignored++;
                continue;
            }
            bool have = pending_has(&p, r);
            if (r->seq != last + 1) {
                cm_err_set(err, "changelog", 0, 0,
                           "batch %" PRIu64 " follows batch %" PRIu64
                           ": the log lacks the batches between (cut before a complete snapshot?)",
                           r->seq, last);
                rc = CM_ECHECK;
            } else if (!have) {
                cm_err_set(err, "changelog", 0, 0,
                           "the changes of batch %" PRIu64 " are not all in the log", r->seq);
                rc = CM_ECHECK;
            } else {
                rc = apply_batch(v, i, &p, &a, err);
            }
            if (rc < 0) {
                at(err, log[i].offset);
                break;
            }
            keep_outbox(out, keep, r->seq, &a);
            out->point = r->point;
            out->resume_at = log[i].offset + 1;
            last = r->seq;
            out->batches++;
            p.n = 0;
        } else if (r->kind == STM_CL_SNAPSHOT) {
            out->ignored++; /* an older or unfinished snapshot */
        } else if (r->kind == STM_CL_CLAIM) {
            out->ignored += p.n; /* a new owner: the batch in hand never commits */
            p.n = 0;
            p.broken = false;
        }
    }
    if (rc == 0)
        out->ignored += p.n; /* the trailing batch, never committed */
    stm_outmsg_free(a.out, a.nout);
    free(p.idx);
    return rc;
}

int stm_clog_restore(stm_clog *c, const cry_secret *master, const stm_cl_msg *log, size_t n,
                     size_t keep, stm_cl_restored *out, cm_err *err)
{
    memset(out, 0, sizeof *out);
    out->claim_offset = out->snapshot_at = -1;
    out->point.offset = -1;
    memset(out->point.head_hash, '0', 64);
    out->resume_at = n ? log[0].offset : 0;
    out->keep = keep;
    cm_err_clear(err);
    struct rec_info *v = cm_xcalloc(n + 1, sizeof *v);
    out->outbox = cm_xcalloc(keep + 1, sizeof *out->outbox);
    int rc = 0;
    long snap = fence(c, log, n, v, out, true, err);
    if (snap < 0) {
        rc = err->code ? err->code : CM_EINPUT;
        goto out_free;
    }
    if (!(out->state = vlt_state_new_mem(master, err))) {
        rc = CM_EENV;
        goto out_free;
    }
    if ((rc = attach(out->state, err)) < 0)
        goto out_free;
    rc = restore_from(log, n, v, (size_t)snap, keep, out, err);
    if (rc == 0)
        vlt_state_changes_clear(out->state); /* what it holds is the log's: nothing new */
out_free:
    free(v);
    if (rc < 0) {
        int code = err->code;
        stm_cl_restored_clear(out);
        err->code = code;
    }
    return rc;
}

int stm_clog_restore_more(stm_clog *c, const stm_cl_msg *tail, size_t n, stm_cl_restored *r,
                          cm_err *err)
{
    cm_err_clear(err);
    if (!r->state) {
        cm_err_set(err, "changelog", 0, 0, "no restored state to go on from");
        return CM_EINPUT;
    }
    if (!r->outbox)
        r->outbox = cm_xcalloc(r->keep + 1, sizeof *r->outbox);
    struct rec_info *v = cm_xcalloc(n + 1, sizeof *v);
    int rc = attach(r->state, err);
    if (rc == 0 && fence(c, tail, n, v, r, false, err) < 0)
        rc = err->code ? err->code : CM_EINPUT;
    else if (rc == 0)
        rc = restore_from(tail, n, v, n, r->keep, r, err);
    if (rc == 0)
        vlt_state_changes_clear(r->state);
    free(v);
    if (rc < 0) {
        int code = err->code;
        stm_cl_restored_clear(r);
        err->code = code;
    }
    return rc;
}

void stm_cl_restored_clear(stm_cl_restored *r)
{
    if (!r)
        return;
    vlt_state_free(r->state);
    for (size_t i = 0; i < r->noutbox; i++)
        stm_outmsg_free(r->outbox[i].m, r->outbox[i].n);
    free(r->outbox);
    memset(r, 0, sizeof *r);
    r->claim_offset = r->snapshot_at = -1;
}

/* ---------- scan ---------- */

int stm_clog_scan(stm_clog *c, const stm_cl_msg *log, size_t n, stm_cl_scan_fn fn, void *arg,
                  cm_err *err)
{
    stm_cl_restored st;
    memset(&st, 0, sizeof st);
    st.claim_offset = -1;
    cm_err_clear(err);
    struct rec_info *v = cm_xcalloc(n + 1, sizeof *v);
    struct apply a = {NULL, err, NULL, 0, 0};
    struct pending p = {0};
    int rc = 0;
    if (fence(c, log, n, v, &st, true, err) < 0)
        rc = err->code ? err->code : CM_EINPUT;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const stm_cl_rec *r = &v[i].r;
        if (!v[i].valid)
            continue;
        stm_cl_seen e = {.kind = r->kind, .offset = log[i].offset, .epoch = r->epoch};
        if (r->kind == STM_CL_CHANGES) {
            pending_add(&p, v, i);
            continue;
        } else if (r->kind == STM_CL_CLAIM) {
            p.n = 0; /* the batch in hand never commits */
            e.owner = r->owner;
            e.owner_len = r->owner_len;
        } else if (r->kind == STM_CL_SNAPSHOT) {
            if (!v[i].snap_done)
                continue;
            e.offset = log[v[i].snap_first].offset;
            e.point = r->point;
        } else { /* COMMIT */
            e.point = r->point;
            e.complete = pending_has(&p, r);
            if (e.complete && (rc = apply_batch(v, i, &p, &a, err)) < 0) {
                at(err, log[i].offset);
                break;
            }
            e.out = a.out;
            e.nout = a.nout;
            p.n = 0;
        }
        rc = fn(arg, &e, err);
        stm_outmsg_free(a.out, a.nout);
        a.out = NULL;
        a.nout = a.cap = 0;
    }
    if (rc < 0 && err->code == 0)
        err->code = rc;
    stm_outmsg_free(a.out, a.nout);
    free(p.idx);
    free(v);
    return rc;
}
