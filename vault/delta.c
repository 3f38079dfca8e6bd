/* A state as entries and what changed in it as entries (vault/delta.h): what a
 * partition's changelog carries. The tracking is the one the store's flush reads
 * (dirty objects, access policies, seen events, facts, offsets, chain heads); a state
 * without a store tracks too once vlt_state_track says so.
 *
 * The value of a chain entry, little-endian: seq:u64, the head's hash (64 hex digits),
 * has_pos:u8, and with a replay position: lines:i64, last_signed:u64, then time and
 * input each as length:u16 and bytes. */
#include "vault/delta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "vault/facts.h"
#include "vault/internal.h"

void vlt_state_track(vlt_state *s, bool on)
{
    s->track = on;
}

struct walk {
    vlt_state *s;
    vlt_entry_fn fn;
    void *arg;
    cm_buf val; /* the value being emitted */
    cm_err *err;
    int rc; /* sticky: the first failure stops the walk */
};

static void emit(struct walk *w, int kind, const char *name, const void *val, size_t vlen)
{
    if (w->rc < 0)
        return;
    vlt_entry e = {kind, name, strlen(name), val, vlen};
    int rc = w->fn(w->arg, &e);
    if (rc < 0)
        w->rc = rc;
}

static const int kind_of_table[3] = {VLT_E_VAULT, VLT_E_KEY, VLT_E_RES};

static cm_itab *table_of(vlt_state *s, int t)
{
    return t == VLT_T_VAULT ? &s->vaults : t == VLT_T_KEY ? &s->keys : &s->resources;
}

/* An object's entry: its document, or gone when the state no longer holds it. */
static void emit_obj(struct walk *w, int t, const char *id)
{
    const void *o = cm_itab_get(table_of(w->s, t), id);
    if (!o) {
        emit(w, kind_of_table[t], id, NULL, 0);
        return;
    }
    cm_buf_reset(&w->val);
    cm_jw j;
    cm_jw_init(&j, &w->val);
    vlt_doc_of(t, o, &j);
    if (cm_jw_done(&j) < 0 && w->rc == 0) {
        cm_err_set(w->err, id, 0, 0, "state document larger than %zu bytes", w->val.max);
        w->rc = -1;
    }
    emit(w, kind_of_table[t], id, w->val.p, w->val.len);
}

static void emit_acl(struct walk *w, const char *name, uint64_t pair)
{
    uint32_t perms;
    if (!cm_u64map_get(&w->s->acl, pair, &perms)) {
        emit(w, VLT_E_ACL, name, NULL, 0);
        return;
    }
    uint8_t le[4];
    cm_set_u32(le, perms & VLT_PERM_ALL);
    emit(w, VLT_E_ACL, name, le, sizeof le);
}

static void emit_fact(struct walk *w, const char *key)
{
    const char *doc = vlt_fact_get(w->s, key);
    emit(w, VLT_E_FACT, key, doc, doc ? strlen(doc) : 0);
}

static void emit_chain(struct walk *w, const char *name)
{
    const struct vlt_chain_head *h = cm_map_get(w->s->chains, name);
    cm_buf *b = &w->val;
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
    emit(w, VLT_E_CHAIN, name, b->p, b->len);
}

static void emit_offset(struct walk *w, const char *name)
{
    const int64_t *v = cm_map_get(w->s->offsets, name);
    uint8_t le[8];
    for (int i = 0; v && i < 8; i++)
        le[i] = (uint8_t)((uint64_t)*v >> (8 * i));
    emit(w, VLT_E_OFFSET, name, v ? le : NULL, v ? sizeof le : 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct acl_name {
    char *name; /* "VAULT\x1fPRINCIPAL" */
    uint64_t pair;
};

static int cmp_acl(const void *a, const void *b)
{
    return strcmp(((const struct acl_name *)a)->name, ((const struct acl_name *)b)->name);
}

/* Access policies, in the order of their names: every one (all) or the changed ones. */
static void emit_acls(struct walk *w, const cm_u64map *which)
{
    size_t n = 0, it = 0;
    struct acl_name *v = cm_xcalloc(cm_u64map_len(which) + 1, sizeof *v);
    uint64_t pair;
    while (cm_u64map_next(which, &it, &pair, NULL)) {
        char key[1400];
        vlt_acl_key_of(w->s, pair, key, sizeof key);
        v[n++] = (struct acl_name){cm_strdup(key), pair};
    }
    qsort(v, n, sizeof *v, cmp_acl);
    for (size_t i = 0; i < n; i++) {
        emit_acl(w, v[i].name, v[i].pair);
        free(v[i].name);
    }
    free(v);
}

/* The keys of a map, in byte order, each through fn. */
static void emit_sorted(struct walk *w, const cm_map *m, void (*fn)(struct walk *, const char *))
{
    size_t n = 0;
    const char **keys = m ? cm_map_sorted_keys(m, &n) : NULL;
    for (size_t i = 0; i < n; i++)
        fn(w, keys[i]);
    free(keys);
}

static void seen_entry(void *arg, const char *key)
{
    emit(arg, VLT_E_SEEN, key, "", 0);
}

static void seen_any_entry(void *arg, const char *id)
{
    emit(arg, VLT_E_SEEN_ANY, id, "", 0);
}

static int walk_end(struct walk *w)
{
    cm_buf_free(&w->val);
    return w->rc;
}

int vlt_state_entries(vlt_state *s, vlt_entry_fn fn, void *arg, cm_err *err)
{
    struct walk w = {s, fn, arg, {0}, err, 0};
    cm_buf_init(&w.val, 0);
    for (int t = 0; t < 3; t++) {
        size_t n;
        const char **ids = cm_itab_sorted_keys(table_of(s, t), &n);
        for (size_t i = 0; i < n && w.rc == 0; i++)
            emit_obj(&w, t, ids[i]);
        free(ids);
    }
    emit_acls(&w, &s->acl);
    if (w.rc == 0)
        vlt_state_seen_each(s, seen_entry, &w);
    if (w.rc == 0 && s->seen_any)
        cm_strset_each(s->seen_any, seen_any_entry, &w);
    emit_sorted(&w, s->facts, emit_fact);
    emit_sorted(&w, s->chains, emit_chain);
    emit_sorted(&w, s->offsets, emit_offset);
    return walk_end(&w);
}

int vlt_state_changes(vlt_state *s, vlt_entry_fn fn, void *arg, cm_err *err)
{
    struct walk w = {s, fn, arg, {0}, err, 0};
    cm_buf_init(&w.val, 0);
    for (int t = 0; t < 3; t++) {
        const cm_hset *d = &s->dirty[t];
        const char **ids = cm_xcalloc(d->n + 1, sizeof *ids);
        for (size_t i = 0; i < d->n; i++)
            ids[i] = cm_intern_str(table_of(s, t)->pool, d->h[i]);
        qsort(ids, d->n, sizeof *ids, cmp_str);
        for (size_t i = 0; i < d->n && w.rc == 0; i++)
            emit_obj(&w, t, ids[i]);
        free(ids);
    }
    emit_acls(&w, &s->dirty_acl);
    for (size_t i = 0; i < s->dirty_seen.n; i++) /* in the order seen */
        emit(&w, VLT_E_SEEN, s->dirty_seen.s[i], "", 0);
    emit_sorted(&w, s->dirty_facts, emit_fact);
    if (s->dirty_chains)
        emit_sorted(&w, s->chains, emit_chain);
    emit_sorted(&w, s->dirty_offsets, emit_offset);
    return walk_end(&w);
}

void vlt_state_changes_clear(vlt_state *s)
{
    if (s->db)
        return; /* the store's flush clears them once they are written */
    for (int t = 0; t < 3; t++)
        cm_hset_clear(&s->dirty[t]);
    vlt_strl_free(&s->dirty_seen);
    cm_u64map_clear(&s->dirty_acl);
    cm_map_clear(s->dirty_offsets);
    vlt_facts_flushed(s);
    s->dirty_chains = false;
}

/* ---------- applying ---------- */

static int bad(cm_err *err, const vlt_entry *e, const char *name, const char *what)
{
    int k = e->kind > 32 && e->kind < 127 ? e->kind : '?';
    cm_err_set(err, "changelog", 0, 0, "entry '%c' %.200s: %s", k, name, what);
    return CM_EINPUT;
}

static int apply_obj(vlt_state *s, int t, const vlt_entry *e, const char *name, cm_err *err)
{
    cm_itab *tab = table_of(s, t);
    void *old = cm_itab_get(tab, name);
    if (t == VLT_T_RESOURCE && old) { /* the document's load indexes the new one */
        vlt_index_res(s, old, false);
        vlt_index_principal(s, old, false);
        if (!e->val)
            vlt_index_spelling(s, name, false);
    }
    if (!e->val) {
        if (old)
            cm_itab_del(tab, name);
        if (t == VLT_T_VAULT)
            vlt_vault_free(old);
        else if (t == VLT_T_KEY)
            vlt_key_free(old);
        else
            vlt_res_free(old);
    } else {
        char *doc = cm_strndup(e->val, e->vlen);
        int rc = strlen(doc) == e->vlen ? vlt_doc_load(s, t, name, doc) : -1;
        free(doc);
        if (rc < 0)
            return bad(err, e, name, "not a stored document");
        if (t == VLT_T_RESOURCE) { /* a resource is keyed by the id its document holds */
            const vlt_resource *r = cm_itab_get(tab, name);
            if (!r || strcmp(r->id, name) != 0)
                return bad(err, e, name, "the document names another resource");
        }
    }
    if (vlt_tracks(s))
        cm_hset_add(&s->dirty[t], cm_intern_add(tab->pool, name));
    return 0;
}

static int apply_acl(vlt_state *s, const vlt_entry *e, const char *name, cm_err *err)
{
    cm_rd r = cm_rd_of(e->val, e->vlen);
    uint32_t perms = cm_rd_u32(&r);
    if (!strchr(name, '\x1f') || (e->val && (!cm_rd_done(&r) || perms > VLT_PERM_ALL)))
        return bad(err, e, name, "not an access policy");
    uint64_t pair = vlt_acl_pair_of_key(s, name);
    if (e->val)
        cm_u64map_put(&s->acl, pair, perms | VLT_ACL_PRESENT);
    else
        cm_u64map_del(&s->acl, pair);
    if (vlt_tracks(s))
        cm_u64map_put(&s->dirty_acl, pair, 1);
    return 0;
}

static int apply_chain(vlt_state *s, const vlt_entry *e, const char *name, cm_err *err)
{
    cm_rd r = cm_rd_of(e->val, e->vlen);
    uint64_t seq = cm_rd_u64(&r);
    const uint8_t *hash = cm_rd_bytes(&r, 64);
    uint8_t has_pos = cm_rd_u8(&r);
    vlt_replay_pos pos = {0};
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
    char h[65] = {0};
    if (hash)
        memcpy(h, hash, 64);
    uint8_t raw[32];
    if (!e->val || !cm_rd_done(&r) || has_pos > 1 || cm_unhex(h, raw, sizeof raw) < 0)
        return bad(err, e, name, "not a chain head");
    vlt_state_chain_set(s, name, seq, h);
    if (has_pos)
        vlt_state_replay_set(s, name, &pos);
    return 0;
}

static int apply_offset(vlt_state *s, const vlt_entry *e, const char *name, cm_err *err)
{
    cm_rd r = cm_rd_of(e->val, e->vlen);
    int64_t off = (int64_t)cm_rd_u64(&r);
    const char *sep = strrchr(name, '\x1f');
    int64_t part;
    if (!e->val || !cm_rd_done(&r) || !sep || !cm_parse_i64(sep + 1, &part) || part < 0 ||
        part > INT32_MAX)
        return bad(err, e, name, "not an input offset");
    char *topic = cm_strndup(name, (size_t)(sep - name));
    vlt_state_offset_set(s, topic, (int32_t)part, off);
    free(topic);
    return 0;
}

int vlt_state_entry_apply(vlt_state *s, const vlt_entry *e, cm_err *err)
{
    char *name = cm_strndup(e->name, e->nlen);
    int rc = 0;
    if (strlen(name) != e->nlen || !e->nlen) {
        rc = bad(err, e, "", "a name with a NUL byte, or none");
        goto out;
    }
    switch (e->kind) {
    case VLT_E_VAULT:
        rc = apply_obj(s, VLT_T_VAULT, e, name, err);
        break;
    case VLT_E_KEY:
        rc = apply_obj(s, VLT_T_KEY, e, name, err);
        break;
    case VLT_E_RES:
        rc = apply_obj(s, VLT_T_RESOURCE, e, name, err);
        break;
    case VLT_E_ACL:
        rc = apply_acl(s, e, name, err);
        break;
    case VLT_E_SEEN:
        if (!e->val || e->vlen || !strchr(name, '\x1f')) {
            rc = bad(err, e, name, "not a seen event");
            break;
        }
        vlt_state_seen_load(s, name);
        if (vlt_tracks(s))
            vlt_strl_add(&s->dirty_seen, name);
        break;
    case VLT_E_SEEN_ANY:
        if (!e->val || e->vlen) {
            rc = bad(err, e, name, "not a seen event");
            break;
        }
        vlt_doc_load_seen_legacy(s, name);
        break;
    case VLT_E_FACT: {
        char *doc = e->val ? cm_strndup(e->val, e->vlen) : NULL;
        if (doc && strlen(doc) != e->vlen)
            rc = bad(err, e, name, "a fact with a NUL byte");
        else
            vlt_fact_put(s, name, doc);
        free(doc);
        break;
    }
    case VLT_E_CHAIN:
        rc = apply_chain(s, e, name, err);
        break;
    case VLT_E_OFFSET:
        rc = apply_offset(s, e, name, err);
        break;
    default:
        rc = bad(err, e, name, "an unknown kind of entry");
    }
out:
    free(name);
    return rc;
}
