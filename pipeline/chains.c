#include "pipeline/chains.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "common/map.h"
#include "common/mem.h"
#include "store/store.h"

struct head {
    uint64_t seq;
    char hash[65];
    bool has_pos;
    pip_replay_pos pos;
};

typedef struct chains {
    cm_map *heads; /* name -> struct head */
    bool dirty;
} chains;

/* A meta row (or a snapshot record) of the chains: a head, or a replay position of a
 * chain whose head came first (keys in order: "chain:" before "replay:"). */
static void load(chains *c, const char *k, const char *v)
{
    if (!k || !v)
        return;
    if (!strncmp(k, "replay:", 7)) {
        struct head *h = cm_map_get(c->heads, k + 7);
        pip_replay_pos p = {0};
        long long lines;
        unsigned long long signed_seq;
        int used = 0;
        if (h && sscanf(v, "%lld %llu %63s %n", &lines, &signed_seq, p.time, &used) == 3 &&
            used > 0) {
            p.lines = lines;
            p.last_signed = signed_seq;
            snprintf(p.input, sizeof p.input, "%s", v + used);
            h->pos = p;
            h->has_pos = true;
        }
        return;
    }
    if (strncmp(k, "chain:", 6) != 0)
        return;
    unsigned long long seq;
    char hash[65];
    if (sscanf(v, "%llu %64s", &seq, hash) != 2)
        return;
    struct head *h = cm_map_get(c->heads, k + 6);
    if (!h) {
        h = cm_xcalloc(1, sizeof *h);
        cm_map_put(c->heads, k + 6, h);
    }
    h->seq = seq;
    memcpy(h->hash, hash, 65);
}

static void load_row(void *arg, const char *k, const char *v)
{
    load(arg, k, v);
}

static void chains_free(void *part)
{
    chains *c = part;
    size_t it = 0;
    void *v;
    while (cm_map_next(c->heads, &it, NULL, &v))
        free(v);
    cm_map_free(c->heads);
    free(c);
}

static void *chains_open(sto_db *db, cm_err *err)
{
    chains *c = cm_xcalloc(1, sizeof *c);
    c->heads = cm_map_new();
    if (sto_meta_each(db, "", load_row, c, err) < 0) {
        chains_free(c);
        return NULL;
    }
    return c;
}

/* Every head, and the position of each replay, when any changed. */
static int chains_flush(void *part, sto_db *db, bool closing, cm_err *err)
{
    (void)closing; /* nothing waits for a close */
    chains *c = part;
    size_t it = 0;
    const char *name;
    void *v;
    int rc = 0;
    while (c->dirty && rc == 0 && cm_map_next(c->heads, &it, &name, &v)) {
        struct head *h = v;
        char k[300], val[100];
        snprintf(k, sizeof k, "chain:%s", name);
        snprintf(val, sizeof val, "%llu %s", (unsigned long long)h->seq, h->hash);
        rc = sto_meta_put(db, k, val, err);
        if (rc == 0 && h->has_pos) {
            char pk[300], pv[800];
            snprintf(pk, sizeof pk, "replay:%s", name);
            snprintf(pv, sizeof pv, "%lld %llu %s %s", (long long)h->pos.lines,
                     (unsigned long long)h->pos.last_signed, h->pos.time, h->pos.input);
            rc = sto_meta_put(db, pk, pv, err);
        }
    }
    return rc;
}

static void chains_committed(void *part)
{
    ((chains *)part)->dirty = false;
}

/* In the order of their names, so that equal states give equal bytes. */
static void chains_snapshot(void *part, sto_rec_fn *rec, void *arg)
{
    chains *c = part;
    size_t n;
    const char **names = cm_map_sorted_keys(c->heads, &n);
    for (size_t i = 0; i < n; i++) {
        const struct head *h = cm_map_get(c->heads, names[i]);
        char name[600], val[800];
        snprintf(name, sizeof name, "chain:%s", names[i]);
        snprintf(val, sizeof val, "%" PRIu64 " %s", h->seq, h->hash);
        rec(arg, 'm', name, val);
        if (h->has_pos) {
            snprintf(name, sizeof name, "replay:%s", names[i]);
            snprintf(val, sizeof val, "%lld %llu %s %s", (long long)h->pos.lines,
                     (unsigned long long)h->pos.last_signed, h->pos.time, h->pos.input);
            rec(arg, 'm', name, val);
        }
    }
    free(names);
}

static int chains_restore(void *part, const char *name, const char *val)
{
    load(part, name, val);
    return 0;
}

/* ---------- entries ---------- */

static int head_entry(const char *name, const struct head *h, cm_buf *b, sto_entry_fn fn, void *arg)
{
    cm_buf_reset(b);
    cm_put_u64(b, h->seq);
    cm_buf_add(b, h->hash, 64);
    cm_put_u8(b, h->has_pos);
    if (h->has_pos) {
        size_t tn = strlen(h->pos.time), in = strlen(h->pos.input);
        cm_put_u64(b, (uint64_t)h->pos.lines);
        cm_put_u64(b, h->pos.last_signed);
        cm_put_u16(b, (uint16_t)tn);
        cm_buf_add(b, h->pos.time, tn);
        cm_put_u16(b, (uint16_t)in);
        cm_buf_add(b, h->pos.input, in);
    }
    sto_entry e = {PIP_E_CHAIN, name, strlen(name), b->p, b->len};
    return fn(arg, &e);
}

/* Every head in the order of their names; the changes are all of them when any changed
 * (as the flush writes them). */
static int chains_entries(void *part, bool changed, sto_entry_fn fn, void *arg)
{
    chains *c = part;
    if (changed && !c->dirty)
        return 0;
    size_t n;
    const char **names = cm_map_sorted_keys(c->heads, &n);
    cm_buf b;
    cm_buf_init(&b, 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = head_entry(names[i], cm_map_get(c->heads, names[i]), &b, fn, arg);
    cm_buf_free(&b);
    free(names);
    return rc;
}

static int chains_entry_apply(void *part, const sto_entry *e, const char *name, cm_err *err)
{
    chains *c = part;
    cm_rd r = cm_rd_of(e->val, e->vlen);
    uint64_t seq = cm_rd_u64(&r);
    const uint8_t *hash = cm_rd_bytes(&r, 64);
    uint8_t has_pos = cm_rd_u8(&r);
    pip_replay_pos pos = {0};
    if (has_pos == 1) {
        pos.lines = (int64_t)cm_rd_u64(&r);
        pos.last_signed = cm_rd_u64(&r);
        uint16_t tn = cm_rd_u16(&r);
        const uint8_t *tp = cm_rd_bytes(&r, tn);
        uint16_t in = cm_rd_u16(&r);
        const uint8_t *ip = cm_rd_bytes(&r, in);
        if (tp && ip && tn < sizeof pos.time && in < sizeof pos.input) {
            memcpy(pos.time, tp, tn);
            memcpy(pos.input, ip, in);
        } else {
            r.bad = true;
        }
    }
    char hex[65] = {0};
    if (hash)
        memcpy(hex, hash, 64);
    uint8_t raw[32];
    if (!e->val || !cm_rd_done(&r) || has_pos > 1 || cm_unhex(hex, raw, sizeof raw) < 0)
        return sto_entry_bad(err, e, name, "not a chain head");
    struct head *h = cm_map_get(c->heads, name);
    if (!h) {
        h = cm_xcalloc(1, sizeof *h);
        cm_map_put(c->heads, name, h);
    }
    h->seq = seq;
    memcpy(h->hash, hex, 65);
    if (has_pos) {
        h->has_pos = true;
        h->pos = pos;
    }
    c->dirty = true;
    return 0;
}

static void chains_changes_clear(void *part)
{
    ((chains *)part)->dirty = false;
}

static const sto_part_kind chains_kind = {
    .name = "chains",
    .tag = 'm',
    .open = chains_open,
    .free = chains_free,
    .flush = chains_flush,
    .committed = chains_committed,
    .snapshot = chains_snapshot,
    .restore = chains_restore,
    .entry = PIP_E_CHAIN,
    .entries = chains_entries,
    .entry_apply = chains_entry_apply,
    .changes_clear = chains_changes_clear,
};

int pip_chains_open(vlt_state *st, cm_err *err)
{
    return sto_part(vlt_state_store(st), &chains_kind, err) ? 0 : -1;
}

static chains *of(vlt_state *st)
{
    cm_err e;
    cm_err_clear(&e);
    return sto_part(vlt_state_store(st), &chains_kind, &e);
}

bool pip_chain_get(vlt_state *st, const char *chain, uint64_t *seq, char hash[65])
{
    chains *c = of(st);
    struct head *h = c ? cm_map_get(c->heads, chain) : NULL;
    if (!h)
        return false;
    *seq = h->seq;
    memcpy(hash, h->hash, 65);
    return true;
}

void pip_chain_set(vlt_state *st, const char *chain, uint64_t seq, const char hash[65])
{
    chains *c = of(st);
    if (!c)
        return;
    struct head *h = cm_map_get(c->heads, chain);
    if (!h) {
        h = cm_xcalloc(1, sizeof *h);
        cm_map_put(c->heads, chain, h);
    }
    h->seq = seq;
    memcpy(h->hash, hash, 65);
    c->dirty = true;
}

void pip_chain_each(vlt_state *st,
                    void (*fn)(void *arg, const char *chain, uint64_t seq, const char *hash),
                    void *arg)
{
    chains *c = of(st);
    size_t it = 0;
    const char *name;
    void *v;
    while (c && cm_map_next(c->heads, &it, &name, &v)) {
        const struct head *h = v;
        fn(arg, name, h->seq, h->hash);
    }
}

bool pip_replay_get(vlt_state *st, const char *chain, pip_replay_pos *p)
{
    chains *c = of(st);
    struct head *h = c ? cm_map_get(c->heads, chain) : NULL;
    if (!h || !h->has_pos)
        return false;
    *p = h->pos;
    return true;
}

void pip_replay_set(vlt_state *st, const char *chain, const pip_replay_pos *p)
{
    chains *c = of(st);
    if (!c)
        return;
    struct head *h = cm_map_get(c->heads, chain);
    if (!h) { /* a chain without records yet: its head is set with the same commit */
        h = cm_xcalloc(1, sizeof *h);
        memset(h->hash, '0', 64);
        cm_map_put(c->heads, chain, h);
    }
    h->has_pos = true;
    h->pos = *p;
    c->dirty = true;
}
