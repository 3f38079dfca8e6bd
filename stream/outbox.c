/* The outbox and the input offsets (stream/outbox.h): their tables, their rows' layout,
 * and the part of the state's store that keeps them between commits. */
#include "stream/outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/le.h"
#include "common/map.h"
#include "common/mem.h"
#include "store/store.h"

/* Format 2's outbox, one row per message: read and deleted, no longer written. */
static const sto_table tab_outbox = {
    "outbox",
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,"
    " part INTEGER NOT NULL, chain TEXT, seq INTEGER, key BLOB, value BLOB NOT NULL,"
    " reason TEXT, input TEXT, headers BLOB, ver INTEGER NOT NULL, mac BLOB NOT NULL)",
    "id, topic, part, chain, seq, key, value, reason, input, headers", 10, 1};
/* Format 3's: the messages of one commit in one row, keyed by the id of its last. */
static const sto_table tab_batches = {"outbox_batches",
                                      "CREATE TABLE outbox_batches(id INTEGER PRIMARY KEY"
                                      " AUTOINCREMENT, n INTEGER NOT NULL, msgs BLOB NOT NULL,"
                                      " ver INTEGER NOT NULL, mac BLOB NOT NULL)",
                                      "id, n, msgs", 3, 1};
static const sto_table tab_offsets = {
    "offsets",
    "CREATE TABLE offsets(topic TEXT NOT NULL, part INTEGER NOT NULL,"
    " off INTEGER NOT NULL, ver INTEGER NOT NULL, mac BLOB NOT NULL, PRIMARY KEY(topic, part))",
    "topic, part, off", 3, 2};

/* A row of outbox_batches stays under this size: a commit with more spreads over
 * several rows. */
#define BATCH_ROW_MAX ((size_t)32 << 20)

struct stm_outbox {
    sto_db *db;
    stm_outmsg *outq, *outdone; /* queued for the next flush; made durable by the last */
    size_t noutq, capoutq, noutdone;
    cm_map *offsets; /* "topic\x1fpart" -> int64_t* */
    cm_map *dirty_offsets;
    int64_t next_out, saved_next_out; /* the next message id */
    /* Rows of outbox_batches still holding messages not yet delivered, in id order: a
     * row leaves the store once every message in it is delivered. Deletions wait for
     * the next commit rather than paying for a transaction of their own. */
    struct out_row {
        int64_t id, n, left; /* the first message's id, the count, those not delivered */
    } * rows;
    size_t nrows, caprows, saved_nrows;
    int64_t *gone; /* rows of outbox_batches to delete at the next commit */
    size_t ngone, capgone;
    struct { /* id ranges of the legacy outbox table, likewise */
        int64_t first, last;
    } * legacy_gone;
    size_t nlegacy_gone, caplegacy_gone;
    bool legacy_out; /* the legacy outbox table holds rows (a migrated state) */
};

/* ---------- messages ---------- */

static void outmsg_copy(stm_outmsg *d, const stm_outmsg *m)
{
    *d = *m;
    d->topic = cm_strdup(m->topic);
    d->chain = cm_strdup(m->chain);
    d->key = m->key ? cm_strndup(m->key, m->keylen) : NULL;
    d->value = cm_strndup(m->value, m->len);
    d->reason = cm_strdup(m->reason);
    d->input = cm_strdup(m->input);
    d->headers = m->headers ? cm_strndup(m->headers, m->hlen) : NULL;
    d->hlen = m->headers ? m->hlen : 0;
}

static void outmsg_clear(stm_outmsg *m)
{
    free(m->topic);
    free(m->chain);
    free(m->key);
    free(m->value);
    free(m->reason);
    free(m->input);
    free(m->headers);
}

void stm_outmsg_free(stm_outmsg *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        outmsg_clear(&m[i]);
    free(m);
}

/* ---------- a row of outbox_batches ---------- */

static void put32(cm_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    cm_buf_add(b, x, 4);
}

static void put64(cm_buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 7; i >= 0; i--, v >>= 8)
        x[i] = (uint8_t)v;
    cm_buf_add(b, x, 8);
}

/* A field: its length (UINT32_MAX for none), then its bytes. */
static void put_field(cm_buf *b, const char *p, size_t n)
{
    if (!p) {
        put32(b, UINT32_MAX);
        return;
    }
    if (n >= UINT32_MAX) {
        cm_buf_fail(b);
        return;
    }
    put32(b, (uint32_t)n);
    cm_buf_add(b, p, n);
}

static void put_msg(cm_buf *b, const stm_outmsg *m)
{
    put32(b, (uint32_t)m->partition);
    put64(b, m->chain ? m->seq : 0);
    put_field(b, m->topic, m->topic ? strlen(m->topic) : 0);
    put_field(b, m->chain, m->chain ? strlen(m->chain) : 0);
    put_field(b, m->key, m->keylen);
    put_field(b, m->value ? m->value : "", m->len);
    put_field(b, m->reason, m->reason ? strlen(m->reason) : 0);
    put_field(b, m->input, m->input ? strlen(m->input) : 0);
    put_field(b, m->headers, m->hlen);
}

static size_t msg_size(const stm_outmsg *m)
{
    return 12 + 7 * 4 + (m->topic ? strlen(m->topic) : 0) + (m->chain ? strlen(m->chain) : 0) +
           m->keylen + m->len + (m->reason ? strlen(m->reason) : 0) +
           (m->input ? strlen(m->input) : 0) + m->hlen;
}

struct reader {
    const uint8_t *p;
    size_t n, at;
    bool bad;
};

static uint64_t get_n(struct reader *r, int bytes)
{
    uint64_t v = 0;
    if (r->bad || r->n - r->at < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    for (int i = 0; i < bytes; i++)
        v = v << 8 | r->p[r->at++];
    return v;
}

/* A field as put_field wrote it, copied and NUL-terminated (NULL for none). */
static char *get_field(struct reader *r, size_t *len)
{
    uint32_t n = (uint32_t)get_n(r, 4);
    if (r->bad || n == UINT32_MAX)
        return NULL;
    if (r->n - r->at < n) {
        r->bad = true;
        return NULL;
    }
    char *s = cm_strndup((const char *)r->p + r->at, n);
    r->at += n;
    if (len)
        *len = n;
    return s;
}

static void add_row(stm_outbox *ob, int64_t id, int64_t n)
{
    if (ob->nrows == ob->caprows) {
        ob->caprows = ob->caprows ? ob->caprows * 2 : 64;
        ob->rows = cm_xrealloc(ob->rows, ob->caprows * sizeof *ob->rows);
    }
    ob->rows[ob->nrows++] = (struct out_row){id, n, n};
}

static int row_write(stm_outbox *ob, sto_db *db, cm_buf *b, int64_t first, size_t n, cm_err *err)
{
    if (cm_buf_failed(b)) {
        cm_err_set(err, "outbox", 0, 0, "cannot queue the outbox messages");
        return -1;
    }
    int64_t last = first + (int64_t)n - 1; /* the row's key */
    sto_val row[3] = {sto_int(last), sto_int((int64_t)n), sto_blob(b->p, b->len)};
    int rc = sto_insert(db, &tab_batches, row, err);
    if (rc == 0)
        add_row(ob, first, (int64_t)n);
    cm_buf_reset(b);
    return rc;
}

/* ---------- the part ---------- */

static void max_row(void *arg, const sto_row *r)
{
    int64_t *v = arg;
    if (sto_row_int(r, 0) > *v)
        *v = sto_row_int(r, 0);
}

static void batch_row(void *arg, const sto_row *r)
{
    stm_outbox *ob = arg;
    int64_t last = sto_row_int(r, 0), n = sto_row_int(r, 1);
    add_row(ob, last - n + 1, n);
    if (last >= ob->next_out)
        ob->next_out = last + 1;
}

static void offset_put(stm_outbox *ob, const char *k, int64_t off)
{
    int64_t *v = cm_map_get(ob->offsets, k);
    if (!v) {
        v = cm_xmalloc(sizeof *v);
        cm_map_put(ob->offsets, k, v);
    }
    *v = off;
}

static int offset_row(void *arg, const sto_row *r, cm_err *err)
{
    (void)err;
    const char *topic = sto_row_text(r, 0);
    if (topic) {
        char k[600];
        snprintf(k, sizeof k, "%s\x1f%d", topic, (int)sto_row_int(r, 1));
        offset_put(arg, k, sto_row_int(r, 2));
    }
    return 0;
}

static void outbox_free(void *part)
{
    stm_outbox *ob = part;
    size_t it = 0;
    void *v;
    while (cm_map_next(ob->offsets, &it, NULL, &v))
        free(v);
    cm_map_free(ob->offsets);
    cm_map_free(ob->dirty_offsets);
    stm_outmsg_free(ob->outq, ob->noutq);
    stm_outmsg_free(ob->outdone, ob->noutdone);
    free(ob->rows);
    free(ob->gone);
    free(ob->legacy_gone);
    free(ob);
}

/* Where the outbox stands in an authenticated store: the next id, and the rows still to
 * deliver (their messages are read, and checked, only when a run resends them); the
 * offsets applied. */
static void *outbox_open(sto_db *db, cm_err *err)
{
    stm_outbox *ob = cm_xcalloc(1, sizeof *ob);
    ob->db = db;
    ob->offsets = cm_map_new();
    ob->dirty_offsets = cm_map_new();
    /* A row of outbox_batches is keyed by the id of its last message, so the sequence
     * remembers the last id ever handed out, and ids never repeat. */
    int64_t a = sto_last_id(db, &tab_outbox), b = sto_last_id(db, &tab_batches), legacy = 0;
    ob->next_out = 1 + (a > b ? a : b);
    if (sto_declare(db, &tab_outbox, err) < 0 || sto_declare(db, &tab_batches, err) < 0 ||
        sto_declare(db, &tab_offsets, err) < 0 ||
        sto_peek(db, &tab_outbox, "count(*)", NULL, max_row, &legacy, err) < 0 ||
        sto_peek(db, &tab_batches, "id, n", "id", batch_row, ob, err) < 0 ||
        sto_read(db, &tab_offsets, NULL, 0, NULL, offset_row, ob, err) < 0) {
        outbox_free(ob);
        return NULL;
    }
    ob->legacy_out = legacy > 0;
    return ob;
}

/* Deletes what deliveries emptied; then (but at close) writes the offsets applied and
 * the messages queued, a row per commit. */
static int outbox_flush(void *part, sto_db *db, bool closing, cm_err *err)
{
    stm_outbox *ob = part;
    ob->saved_next_out = ob->next_out;
    ob->saved_nrows = ob->nrows;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ob->nlegacy_gone; i++)
        rc = sto_del_range(db, &tab_outbox, ob->legacy_gone[i].first, ob->legacy_gone[i].last, err);
    for (size_t i = 0; rc == 0 && i < ob->ngone; i++) {
        sto_val key = sto_int(ob->gone[i]);
        rc = sto_del(db, &tab_batches, &key, 1, err);
    }
    if (closing)
        return rc;
    size_t oit = 0;
    const char *okey;
    while (rc == 0 && cm_map_next(ob->dirty_offsets, &oit, &okey, NULL)) {
        const char *sep = strchr(okey, '\x1f');
        char topic[512];
        snprintf(topic, sizeof topic, "%.*s", (int)(sep - okey), okey);
        sto_val row[3] = {sto_text(topic), sto_int((int32_t)strtol(sep + 1, NULL, 10)),
                          sto_int(*(int64_t *)cm_map_get(ob->offsets, okey))};
        rc = sto_put(db, &tab_offsets, row, err);
    }
    cm_buf b;
    cm_buf_init(&b, 0);
    int64_t first = ob->next_out;
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < ob->noutq; i++) {
        stm_outmsg *m = &ob->outq[i];
        if (n && b.len + msg_size(m) > BATCH_ROW_MAX) {
            rc = row_write(ob, db, &b, first, n, err);
            first = ob->next_out;
            n = 0;
        }
        if (rc == 0) {
            put_msg(&b, m);
            m->id = ob->next_out++;
            n++;
        }
    }
    if (rc == 0 && n)
        rc = row_write(ob, db, &b, first, n, err);
    cm_buf_free(&b);
    return rc;
}

static void count_of(void *arg, const sto_row *r)
{
    *(int64_t *)arg = sto_row_int(r, 0);
}

/* After a commit: the rows it deleted are gone for good, the messages it wrote durable. */
static void outbox_committed(void *part)
{
    stm_outbox *ob = part;
    size_t k = 0;
    for (size_t i = 0; i < ob->nrows; i++)
        if (ob->rows[i].left > 0)
            ob->rows[k++] = ob->rows[i];
    ob->nrows = k;
    if (ob->nlegacy_gone) { /* the migrated rows, once all are gone, are never asked for again */
        int64_t left = 0;
        cm_err e;
        sto_peek(ob->db, &tab_outbox, "count(*)", NULL, count_of, &left, &e);
        ob->legacy_out = left > 0;
    }
    ob->ngone = ob->nlegacy_gone = 0;
    cm_map_clear(ob->dirty_offsets);
    /* The queued messages are durable now: hand them over for sending. */
    stm_outmsg_free(ob->outdone, ob->noutdone);
    ob->outdone = ob->outq;
    ob->noutdone = ob->noutq;
    ob->outq = NULL;
    ob->noutq = ob->capoutq = 0;
}

/* What the transaction wrote was not: ids and rows as they were; deletions wait for the
 * next one. */
static void outbox_rolled_back(void *part)
{
    stm_outbox *ob = part;
    ob->next_out = ob->saved_next_out;
    ob->nrows = ob->saved_nrows;
}

static bool outbox_pending(const void *part)
{
    const stm_outbox *ob = part;
    return ob->ngone || ob->nlegacy_gone;
}

/* The offsets, in the order of their keys ("TOPIC\x1fPARTITION"). */
static void outbox_snapshot(void *part, sto_rec_fn *rec, void *arg)
{
    stm_outbox *ob = part;
    size_t n;
    const char **keys = cm_map_sorted_keys(ob->offsets, &n);
    for (size_t i = 0; i < n; i++) {
        char val[32];
        snprintf(val, sizeof val, "%" PRId64, *(const int64_t *)cm_map_get(ob->offsets, keys[i]));
        rec(arg, 'o', keys[i], val);
    }
    free(keys);
}

static int outbox_restore(void *part, const char *name, const char *val)
{
    const char *sep = strrchr(name, '\x1f');
    if (!sep)
        return -1;
    char *topic = cm_strndup(name, (size_t)(sep - name));
    stm_offset_set(part, topic, (int32_t)strtol(sep + 1, NULL, 10), strtoll(val, NULL, 10));
    free(topic);
    return 0;
}

/* The offsets (all, or those changed), in the order of their names. */
static int outbox_entries(void *part, bool changed, sto_entry_fn fn, void *arg)
{
    stm_outbox *ob = part;
    size_t n;
    const char **keys = cm_map_sorted_keys(changed ? ob->dirty_offsets : ob->offsets, &n);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const int64_t *v = cm_map_get(ob->offsets, keys[i]);
        uint8_t le[8];
        for (int j = 0; v && j < 8; j++)
            le[j] = (uint8_t)((uint64_t)*v >> (8 * j));
        sto_entry e = {STM_E_OFFSET, keys[i], strlen(keys[i]), v ? le : NULL, v ? sizeof le : 0};
        rc = fn(arg, &e);
    }
    free(keys);
    return rc;
}

static int outbox_entry_apply(void *part, const sto_entry *e, const char *name, cm_err *err)
{
    cm_rd r = cm_rd_of(e->val, e->vlen);
    int64_t off = (int64_t)cm_rd_u64(&r);
    const char *sep = strrchr(name, '\x1f');
    int64_t p;
    if (!e->val || !cm_rd_done(&r) || !sep || !cm_parse_i64(sep + 1, &p) || p < 0 || p > INT32_MAX)
        return sto_entry_bad(err, e, name, "not an input offset");
    char *topic = cm_strndup(name, (size_t)(sep - name));
    stm_offset_set(part, topic, (int32_t)p, off);
    free(topic);
    return 0;
}

static void outbox_changes_clear(void *part)
{
    cm_map_clear(((stm_outbox *)part)->dirty_offsets);
}

static const sto_part_kind outbox_kind = {
    .name = "outbox",
    .tag = 'o',
    .open = outbox_open,
    .free = outbox_free,
    .flush = outbox_flush,
    .committed = outbox_committed,
    .rolled_back = outbox_rolled_back,
    .pending = outbox_pending,
    .snapshot = outbox_snapshot,
    .restore = outbox_restore,
    .entry = STM_E_OFFSET,
    .entries = outbox_entries,
    .entry_apply = outbox_entry_apply,
    .changes_clear = outbox_changes_clear,
};

stm_outbox *stm_outbox_open(vlt_state *st, cm_err *err)
{
    return sto_part(vlt_state_store(st), &outbox_kind, err);
}

/* ---------- the interface ---------- */

void stm_outbox_add(stm_outbox *ob, const stm_outmsg *m)
{
    if (ob->noutq == ob->capoutq) {
        ob->capoutq = ob->capoutq ? ob->capoutq * 2 : 64;
        ob->outq = cm_xrealloc(ob->outq, ob->capoutq * sizeof *ob->outq);
    }
    outmsg_copy(&ob->outq[ob->noutq++], m);
}

stm_outmsg *stm_outbox_take(stm_outbox *ob, size_t *n)
{
    stm_outmsg *m = ob->outq;
    *n = ob->noutq;
    ob->outq = NULL;
    ob->noutq = ob->capoutq = 0;
    return m;
}

stm_outmsg *stm_outbox_flushed(stm_outbox *ob, size_t *n)
{
    stm_outmsg *m = ob->outdone;
    *n = ob->noutdone;
    ob->outdone = NULL;
    ob->noutdone = 0;
    return m;
}

struct pend_collect {
    stm_outmsg *m;
    size_t n, cap;
};

static void collect(struct pend_collect *c, const stm_outmsg *m)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->m = cm_xrealloc(c->m, c->cap * sizeof *c->m);
    }
    outmsg_copy(&c->m[c->n++], m);
}

static char *col_dup(const sto_row *r, int i, size_t *len)
{
    size_t n;
    const void *b = sto_row_blob(r, i, &n);
    if (!b)
        return NULL;
    if (len)
        *len = n;
    return cm_strndup(b, n);
}

static int legacy_row(void *arg, const sto_row *r, cm_err *err)
{
    (void)err;
    stm_outmsg m = {0};
    m.id = sto_row_int(r, 0);
    m.topic = col_dup(r, 1, NULL);
    m.partition = (int32_t)sto_row_int(r, 2);
    m.chain = col_dup(r, 3, NULL);
    m.seq = (uint64_t)sto_row_int(r, 4);
    m.key = col_dup(r, 5, &m.keylen);
    m.value = col_dup(r, 6, &m.len);
    m.reason = col_dup(r, 7, NULL);
    m.input = col_dup(r, 8, NULL);
    m.headers = col_dup(r, 9, &m.hlen);
    collect(arg, &m);
    outmsg_clear(&m);
    return 0;
}

/* The messages of one checked row of outbox_batches; -1 when it does not parse (its MAC
 * held, so only a writer's bug gets here). */
static int batch_msgs(void *arg, const sto_row *row, cm_err *err)
{
    int64_t n = sto_row_int(row, 1), id = sto_row_int(row, 0) - n + 1;
    size_t len;
    const void *p = sto_row_blob(row, 2, &len);
    struct reader r = {p, p ? len : 0, 0, false};
    for (int64_t i = 0; i < n && !r.bad; i++) {
        stm_outmsg m = {0};
        m.id = id + i;
        m.partition = (int32_t)get_n(&r, 4);
        m.seq = get_n(&r, 8);
        m.topic = get_field(&r, NULL);
        m.chain = get_field(&r, NULL);
        m.key = get_field(&r, &m.keylen);
        m.value = get_field(&r, &m.len);
        m.reason = get_field(&r, NULL);
        m.input = get_field(&r, NULL);
        m.headers = get_field(&r, &m.hlen);
        if (!r.bad && m.topic && m.value)
            collect(arg, &m);
        else
            r.bad = true;
        outmsg_clear(&m);
    }
    if (r.bad || r.at != r.n) {
        cm_err_set(err, "outbox", 0, 0, "outbox record %lld does not parse", (long long)id);
        return -1;
    }
    return 0;
}

int stm_outbox_pending(stm_outbox *ob, stm_outmsg **out, size_t *n, cm_err *err)
{
    struct pend_collect c = {0};
    *out = NULL;
    *n = 0;
    /* Rows of format 2 (one per message, kept by the migration) come first: their ids
     * are lower. */
    if (sto_read(ob->db, &tab_outbox, NULL, 0, "id", legacy_row, &c, err) < 0 ||
        sto_read(ob->db, &tab_batches, NULL, 0, "id", batch_msgs, &c, err) < 0) {
        stm_outmsg_free(c.m, c.n);
        return -1;
    }
    *out = c.m;
    *n = c.n;
    return 0;
}

/* Delivered: the rows first..last leave the store with the next commit (or at close). */
static void sent_range(stm_outbox *ob, int64_t first, int64_t last)
{
    if (ob->legacy_out) {
        if (ob->nlegacy_gone == ob->caplegacy_gone) {
            ob->caplegacy_gone = ob->caplegacy_gone ? ob->caplegacy_gone * 2 : 16;
            ob->legacy_gone =
                cm_xrealloc(ob->legacy_gone, ob->caplegacy_gone * sizeof *ob->legacy_gone);
        }
        ob->legacy_gone[ob->nlegacy_gone].first = first;
        ob->legacy_gone[ob->nlegacy_gone++].last = last;
    }
    /* The first row that may hold first: rows are in id order and do not overlap. */
    size_t lo = 0, hi = ob->nrows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ob->rows[mid].id + ob->rows[mid].n - 1 < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < ob->nrows && ob->rows[i].id <= last; i++) {
        struct out_row *r = &ob->rows[i];
        int64_t a = first > r->id ? first : r->id;
        int64_t b = last < r->id + r->n - 1 ? last : r->id + r->n - 1;
        if (r->left <= 0 || b < a)
            continue;
        r->left -= b - a + 1;
        if (r->left <= 0) {
            if (ob->ngone == ob->capgone) {
                ob->capgone = ob->capgone ? ob->capgone * 2 : 64;
                ob->gone = cm_xrealloc(ob->gone, ob->capgone * sizeof *ob->gone);
            }
            ob->gone[ob->ngone++] = r->id + r->n - 1; /* the row's key: its last id */
        }
    }
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int stm_outbox_sent(stm_outbox *ob, const int64_t *ids, size_t n, cm_err *err)
{
    (void)err; /* nothing is written until the next commit */
    if (!sto_persistent(ob->db) || !n)
        return 0;
    /* Confirmations come mostly in order: sorted, they collapse into a few ranges. */
    int64_t *sorted = cm_xmalloc(n * sizeof *sorted);
    memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_id);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && sorted[j] <= sorted[j - 1] + 1)
            j++;
        sent_range(ob, sorted[i], sorted[j - 1]);
        i = j;
    }
    free(sorted);
    return 0;
}

void stm_offset_set(stm_outbox *ob, const char *topic, int32_t part, int64_t off)
{
    char k[600];
    snprintf(k, sizeof k, "%s\x1f%d", topic, (int)part);
    offset_put(ob, k, off);
    cm_map_put(ob->dirty_offsets, k, (void *)1);
}

bool stm_offset_get(stm_outbox *ob, const char *topic, int32_t part, int64_t *off)
{
    char k[600];
    snprintf(k, sizeof k, "%s\x1f%d", topic, (int)part);
    int64_t *v = cm_map_get(ob->offsets, k);
    if (v)
        *off = *v;
    return v != NULL;
}
