/* A state as entries and what changed in it as entries (vault/delta.h): what a
 * partition's changelog carries. The tracking is the one the store's flush reads
 * (dirty objects, access policies, seen events, facts); a state without a file tracks
 * too once vlt_state_track says so. The entries of the store's other parts (chain
 * heads, input offsets) are theirs: listed after the vault's, applied through the
 * store. */
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
    if (w.rc == 0)
        w.rc = sto_entries(s->db, false, fn, arg);
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
    if (w.rc == 0)
        w.rc = sto_entries(s->db, true, fn, arg);
    return walk_end(&w);
}

void vlt_state_changes_clear(vlt_state *s)
{
    if (s->persistent)
        return; /* the store's flush clears them once they are written */
    for (int t = 0; t < 3; t++)
        cm_hset_clear(&s->dirty[t]);
    vlt_strl_free(&s->dirty_seen);
    cm_u64map_clear(&s->dirty_acl);
    vlt_facts_flushed(s);
    sto_changes_clear(s->db);
}

/* ---------- applying ---------- */

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
            return sto_entry_bad(err, e, name, "not a stored document");
        if (t == VLT_T_RESOURCE) { /* a resource is keyed by the id its document holds */
            const vlt_resource *r = cm_itab_get(tab, name);
            if (!r || strcmp(r->id, name) != 0)
                return sto_entry_bad(err, e, name, "the document names another resource");
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
        return sto_entry_bad(err, e, name, "not an access policy");
    uint64_t pair = vlt_acl_pair_of_key(s, name);
    if (e->val)
        cm_u64map_put(&s->acl, pair, perms | VLT_ACL_PRESENT);
    else
        cm_u64map_del(&s->acl, pair);
    if (vlt_tracks(s))
        cm_u64map_put(&s->dirty_acl, pair, 1);
    return 0;
}

int vlt_state_entry_apply(vlt_state *s, const vlt_entry *e, cm_err *err)
{
    char *name = cm_strndup(e->name, e->nlen);
    int rc = 0;
    if (strlen(name) != e->nlen || !e->nlen) {
        rc = sto_entry_bad(err, e, "", "a name with a NUL byte, or none");
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
            rc = sto_entry_bad(err, e, name, "not a seen event");
            break;
        }
        vlt_state_seen_load(s, name);
        if (vlt_tracks(s))
            vlt_strl_add(&s->dirty_seen, name);
        break;
    case VLT_E_SEEN_ANY:
        if (!e->val || e->vlen) {
            rc = sto_entry_bad(err, e, name, "not a seen event");
            break;
        }
        vlt_doc_load_seen_legacy(s, name);
        break;
    case VLT_E_FACT: {
        char *doc = e->val ? cm_strndup(e->val, e->vlen) : NULL;
        if (doc && strlen(doc) != e->vlen)
            rc = sto_entry_bad(err, e, name, "a fact with a NUL byte");
        else
            vlt_fact_put(s, name, doc);
        free(doc);
        break;
    }
    default: /* another part's, or none's */
        rc = sto_entry_apply(s->db, e, name, err);
    }
out:
    free(name);
    return rc;
}
