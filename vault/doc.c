/* Persistence of vlt_state as JSON documents in SQLite, and `state show`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "common/json.h"
#include "common/timestamp.h"
#include "vault/internal.h"

/* The stored documents. Their bytes stay as the first version wrote them: the same
 * keys in the same order, so that old and new rows read alike. */
static void vault_doc(const vlt_vault *v, cm_jw *j)
{
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "uri", v->uri);
    cm_jw_kstr(j, "name", v->name);
    cm_jw_kstr(j, "tenant", v->tenant);
    cm_jw_kstr(j, "region", v->region);
    cm_jw_kstr(j, "subscription", v->subscription);
    cm_jw_kbool(j, "soft_delete", v->soft_delete);
    cm_jw_kbool(j, "purge_protection", v->purge_protection);
    cm_jw_kint(j, "retention_days", v->retention_days);
    cm_jw_obj_end(j);
}

static void key_doc(const vlt_key *k, cm_jw *j)
{
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "uri", k->uri);
    cm_jw_kstr(j, "name", k->name);
    cm_jw_kstr(j, "vault_uri", k->vault_uri);
    cm_jw_kstr(j, "kty", k->kty);
    cm_jw_kint(j, "size", k->size);
    cm_jw_kbool(j, "deleted", k->deleted);
    cm_jw_key(j, "versions");
    cm_jw_arr_begin(j);
    for (size_t i = 0; i < k->nvers; i++) {
        const vlt_keyver *kv = &k->vers[i];
        cm_jw_obj_begin(j);
        cm_jw_kstr(j, "version", kv->version);
        cm_jw_kbool(j, "enabled", kv->enabled);
        /* Written only when set: documents without them load as "no bound". */
        if (kv->has_nbf)
            cm_jw_kint(j, "nbf", kv->nbf);
        if (kv->has_exp)
            cm_jw_kint(j, "exp", kv->exp);
        cm_jw_khex(j, "sealed", kv->sealed.p, kv->sealed.len);
        cm_jw_obj_end(j);
    }
    cm_jw_arr_end(j);
    cm_jw_obj_end(j);
}

static void res_doc(const vlt_resource *r, cm_jw *j)
{
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "id", r->id);
    cm_jw_kstr(j, "kind", r->kind);
    cm_jw_kstr(j, "tenant", r->tenant);
    cm_jw_kstr(j, "region", r->region);
    cm_jw_kstr(j, "subscription", r->subscription);
    cm_jw_kbool(j, "cmk", r->cmk);
    cm_jw_kstr(j, "key_uri", r->key_uri);
    cm_jw_kbool(j, "versionless", r->versionless);
    cm_jw_kstr(j, "wrap_ref", r->wrap_ref);
    cm_buf wdek = vlt_wdek_view(&r->wdek);
    cm_jw_khex(j, "wdek", wdek.p, wdek.len);
    cm_jw_khex(j, "wsvc", (const char *)r->wsvc.b, r->wsvc.len);
    cm_jw_khex(j, "wblk", (const char *)r->wblk.b, r->wblk.len);
    cm_jw_kbool(j, "identity", r->identity);
    cm_jw_kstr(j, "principal", r->principal);
    cm_jw_kstr(j, "identity_tenant", r->identity_tenant);
    cm_jw_kbool(j, "locked", r->locked);
    cm_jw_kbool(j, "lost", r->lost);
    cm_jw_key(j, "reasons");
    cm_jw_arr_begin(j);
    for (size_t i = 0; i < r->nreasons; i++)
        cm_jw_str(j, r->reasons[i]);
    cm_jw_arr_end(j);
    cm_jw_obj_end(j);
}

/* ---------- loading ---------- */

static yajl_val get(yajl_val o, const char *k)
{
    const char *path[] = {k, NULL};
    return yajl_tree_get(o, path, yajl_t_any);
}

/* The state's copy of a string member (NULL when absent). */
static const char *gstr(vlt_state *s, yajl_val o, const char *k)
{
    yajl_val v = get(o, k);
    return YAJL_IS_STRING(v) ? vlt_str(s, YAJL_GET_STRING(v)) : NULL;
}

static bool gbool(yajl_val o, const char *k)
{
    return YAJL_IS_TRUE(get(o, k));
}

static int64_t gint(yajl_val o, const char *k)
{
    yajl_val v = get(o, k);
    return YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : 0;
}

/* An optional instant (seconds since the epoch): false when absent; a present value that
 * is not an integer marks the document bad (*rc = -1) rather than dropping a bound. */
static bool gtime(yajl_val o, const char *k, int64_t *out, int *rc)
{
    yajl_val v = get(o, k);
    if (!v)
        return false;
    if (!YAJL_IS_INTEGER(v)) {
        *rc = -1;
        return false;
    }
    *out = YAJL_GET_INTEGER(v);
    return true;
}

static int ghex(yajl_val o, const char *k, cm_buf *out)
{
    cm_buf_init(out, 0);
    yajl_val v = get(o, k);
    if (!YAJL_IS_STRING(v))
        return -1;
    const char *s = YAJL_GET_STRING(v);
    size_t n = strlen(s) / 2;
    if (!n)
        return 0;
    uint8_t *tmp = cm_xmalloc(n);
    int rc = cm_unhex(s, tmp, n);
    if (rc == 0)
        rc = cm_buf_add(out, tmp, n); /* past the bound: a bad document, never a cut value */
    free(tmp);
    return rc;
}

/* A data key wrapped under the MMK: absent or empty is none. */
static int gkw(yajl_val o, const char *k, vlt_kwrapped *w)
{
    cm_buf b;
    int rc = ghex(o, k, &b);
    w->len = 0;
    if (rc == 0 && b.len)
        rc = vlt_kw_set(w, b.p, b.len);
    cm_buf_free(&b);
    return rc;
}

/* A stored document as a yajl tree; NULL unless it is a JSON object. */
static yajl_val parse_doc(const char *doc)
{
    yajl_val o = yajl_tree_parse(doc, NULL, 0);
    if (YAJL_IS_OBJECT(o))
        return o;
    yajl_tree_free(o);
    return NULL;
}

static int load_vault(void *arg, const char *id, const char *doc)
{
    vlt_state *s = arg;
    yajl_val o = parse_doc(doc);
    if (!o)
        return -1;
    vlt_vault *v = cm_xcalloc(1, sizeof *v);
    v->uri = gstr(s, o, "uri");
    v->name = gstr(s, o, "name");
    v->tenant = gstr(s, o, "tenant");
    v->region = gstr(s, o, "region");
    v->subscription = gstr(s, o, "subscription");
    v->soft_delete = gbool(o, "soft_delete");
    v->purge_protection = gbool(o, "purge_protection");
    v->retention_days = gint(o, "retention_days");
    yajl_tree_free(o);
    if (!v->uri || !v->tenant) {
        vlt_vault_free(v);
        return -1;
    }
    vlt_vault_free(cm_itab_get(&s->vaults, id));
    cm_itab_put(&s->vaults, id, v);
    return 0;
}

static int load_key(void *arg, const char *id, const char *doc)
{
    vlt_state *s = arg;
    yajl_val o = parse_doc(doc);
    if (!o)
        return -1;
    vlt_key *k = cm_xcalloc(1, sizeof *k);
    k->uri = gstr(s, o, "uri");
    k->name = gstr(s, o, "name");
    k->vault_uri = gstr(s, o, "vault_uri");
    k->kty = gstr(s, o, "kty");
    k->size = gint(o, "size");
    k->deleted = gbool(o, "deleted");
    yajl_val vs = get(o, "versions");
    size_t n = YAJL_IS_ARRAY(vs) ? vs->u.array.len : 0;
    k->vers = cm_xcalloc(n + 1, sizeof *k->vers);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        yajl_val e = vs->u.array.values[i];
        k->vers[i].version = gstr(s, e, "version");
        k->vers[i].enabled = gbool(e, "enabled");
        k->vers[i].has_nbf = gtime(e, "nbf", &k->vers[i].nbf, &rc);
        k->vers[i].has_exp = gtime(e, "exp", &k->vers[i].exp, &rc);
        k->nvers++;
        if (ghex(e, "sealed", &k->vers[i].sealed) < 0 || !k->vers[i].version)
            rc = -1;
    }
    yajl_tree_free(o);
    if (rc < 0 || !k->uri) { /* kty NULL: not known yet */
        vlt_key_free(k);
        return -1;
    }
    vlt_key_free(cm_itab_get(&s->keys, id));
    cm_itab_put(&s->keys, id, k);
    return 0;
}

vlt_resource *vlt_doc_resource(vlt_state *s, const char *doc)
{
    yajl_val o = parse_doc(doc);
    if (!o)
        return NULL;
    vlt_resource *r = cm_xcalloc(1, sizeof *r);
    yajl_val idv = get(o, "id");
    r->id = YAJL_IS_STRING(idv) ? vlt_rid(s, YAJL_GET_STRING(idv)) : NULL;
    r->kind = gstr(s, o, "kind");
    r->tenant = gstr(s, o, "tenant");
    r->region = gstr(s, o, "region");
    r->subscription = gstr(s, o, "subscription");
    r->cmk = gbool(o, "cmk");
    r->key_uri = gstr(s, o, "key_uri");
    r->versionless = gbool(o, "versionless");
    r->wrap_ref = gstr(s, o, "wrap_ref");
    cm_buf wdek;
    int rc = ghex(o, "wdek", &wdek) | gkw(o, "wsvc", &r->wsvc) | gkw(o, "wblk", &r->wblk);
    vlt_wdek_set(&r->wdek, wdek.p, wdek.len);
    cm_buf_free(&wdek);
    r->identity = gbool(o, "identity");
    r->principal = gstr(s, o, "principal");
    r->identity_tenant = gstr(s, o, "identity_tenant");
    r->locked = gbool(o, "locked");
    r->lost = gbool(o, "lost");
    yajl_val rs = get(o, "reasons");
    size_t n = YAJL_IS_ARRAY(rs) ? rs->u.array.len : 0;
    r->reasons = cm_xcalloc(n + 1, sizeof *r->reasons);
    for (size_t i = 0; i < n; i++)
        if (YAJL_IS_STRING(rs->u.array.values[i]))
            r->reasons[r->nreasons++] = vlt_str(s, YAJL_GET_STRING(rs->u.array.values[i]));
    yajl_tree_free(o);
    if (rc < 0 || !r->id || !r->kind || !r->wrap_ref) {
        vlt_res_free(r);
        return NULL;
    }
    return r;
}

static int load_res(void *arg, const char *id, const char *doc)
{
    vlt_state *s = arg;
    vlt_resource *r = vlt_doc_resource(s, doc);
    if (!r)
        return -1;
    vlt_res_free(cm_itab_get(&s->resources, id));
    cm_itab_put(&s->resources, id, r);
    vlt_index_spelling(s, id, true);
    vlt_index_res(s, r, true);
    vlt_index_principal(s, r, true);
    return 0;
}

static void load_seen(void *arg, const char *id)
{
    if (id)
        vlt_state_seen_load(arg, id);
}

static void load_seen_legacy(void *arg, const char *id)
{
    vlt_state *s = arg;
    if (!id)
        return;
    if (!s->seen_any)
        s->seen_any = cm_strset_new();
    cm_strset_add(s->seen_any, id);
}

static void load_acl(void *arg, const char *k, unsigned perms)
{
    vlt_state *s = arg;
    uint64_t pair = k ? vlt_acl_pair_of_key(s, k) : 0;
    if (pair)
        cm_u64map_put(&s->acl, pair, perms | VLT_ACL_PRESENT);
}

static void load_meta(void *arg, const char *k, const char *v)
{
    vlt_state *s = arg;
    if (k && v && !strcmp(k, "master:check"))
        snprintf(s->master_check, sizeof s->master_check, "%s", v);
}

struct doc_each {
    vlt_state *s;
    int table;
};

static int load_doc_row(void *arg, const sto_row *r, cm_err *err)
{
    struct doc_each *e = arg;
    const char *id = sto_row_text(r, 0), *doc = sto_row_text(r, 1);
    if (vlt_doc_load(e->s, e->table, id ? id : "", doc ? doc : "") < 0) {
        cm_err_set(err, sto_path(e->s->db), 0, 0, "corrupt %s record '%s'",
                   vlt_tab_doc[e->table].name, id ? id : "");
        return -1;
    }
    return 0;
}

static int load_acl_row(void *arg, const sto_row *r, cm_err *err)
{
    (void)err;
    load_acl(arg, sto_row_text(r, 0), (unsigned)sto_row_int(r, 1));
    return 0;
}

int vlt_state_load_docs(vlt_state *s, cm_err *err)
{
    for (int t = VLT_T_VAULT; t <= VLT_T_RESOURCE; t++) {
        struct doc_each e = {s, t};
        if (sto_read(s->db, &vlt_tab_doc[t], NULL, 0, "id", load_doc_row, &e, err) < 0)
            return -1;
    }
    if (vlt_seen_each(s, load_seen, s, err) < 0 ||
        (sto_format(s->db) >= 2 && vlt_seen_legacy_each(s, load_seen_legacy, s, err) < 0) ||
        sto_read(s->db, &vlt_tab_acl, NULL, 0, NULL, load_acl_row, s, err) < 0 ||
        vlt_facts_load(s, err) < 0)
        return -1;
    return sto_meta_each(s->db, "master:", load_meta, s, err);
}

static int flush_table(vlt_state *s, int t, const cm_itab *objs, void (*doc)(const void *, cm_jw *),
                       cm_err *err)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->dirty[t].n; i++) {
        uint32_t h = s->dirty[t].h[i];
        const char *id = cm_intern_str(objs->pool, h);
        const void *o = cm_itab_at(objs, h);
        if (o) {
            cm_buf_reset(&b);
            cm_jw j;
            cm_jw_init(&j, &b);
            doc(o, &j);
            if (cm_jw_done(&j) < 0) { /* never a cut document in the store */
                cm_err_set(err, id, 0, 0, "state document larger than %zu bytes; not stored",
                           b.max);
                rc = -1;
                break;
            }
            sto_val row[2] = {sto_text(id), sto_text(b.p)};
            rc = sto_put(s->db, &vlt_tab_doc[t], row, err);
        } else {
            sto_val key = sto_text(id);
            rc = sto_del(s->db, &vlt_tab_doc[t], &key, 1, err);
            if (rc == 0 && t == VLT_T_RESOURCE)
                rc = sto_del(s->db, &vlt_tab_data, &key, 1, err);
        }
    }
    cm_buf_free(&b);
    return rc;
}

static void vault_doc_v(const void *o, cm_jw *j)
{
    vault_doc(o, j);
}

static void key_doc_v(const void *o, cm_jw *j)
{
    key_doc(o, j);
}

static void res_doc_v(const void *o, cm_jw *j)
{
    res_doc(o, j);
}

void vlt_doc_of(int table, const void *obj, cm_jw *j)
{
    (table == VLT_T_VAULT ? vault_doc_v : table == VLT_T_KEY ? key_doc_v : res_doc_v)(obj, j);
}

int vlt_doc_load(vlt_state *s, int table, const char *id, const char *doc)
{
    return (table == VLT_T_VAULT ? load_vault
            : table == VLT_T_KEY ? load_key
                                 : load_res)(s, id, doc);
}

void vlt_doc_load_acl(vlt_state *s, const char *key, unsigned perms)
{
    load_acl(s, key, perms);
}

void vlt_doc_load_seen_legacy(vlt_state *s, const char *id)
{
    load_seen_legacy(s, id);
}

/* The vault's flush hook: inside the one transaction of a commit, what changed. */
static int vault_flush(void *part, sto_db *db, bool closing, cm_err *err)
{
    (void)db;
    (void)closing; /* the vault has nothing to write at close */
    vlt_state *s = part;
    int rc = flush_table(s, VLT_T_VAULT, &s->vaults, vault_doc_v, err);
    if (rc == 0)
        rc = flush_table(s, VLT_T_KEY, &s->keys, key_doc_v, err);
    if (rc == 0)
        rc = flush_table(s, VLT_T_RESOURCE, &s->resources, res_doc_v, err);
    size_t ait = 0;
    uint64_t pair;
    while (rc == 0 && cm_u64map_next(&s->dirty_acl, &ait, &pair, NULL)) {
        char ak[1400];
        uint32_t p = 0;
        vlt_acl_key_of(s, pair, ak, sizeof ak);
        if (cm_u64map_get(&s->acl, pair, &p)) {
            sto_val row[2] = {sto_text(ak), sto_int(p & VLT_PERM_ALL)};
            rc = sto_put(s->db, &vlt_tab_acl, row, err);
        } else {
            sto_val key = sto_text(ak);
            rc = sto_del(s->db, &vlt_tab_acl, &key, 1, err);
        }
    }
    if (rc == 0)
        rc = vlt_facts_flush(s, err);
    if (rc == 0)
        rc = vlt_seen_flush(s, err);
    return rc;
}

/* Committed: from here on nothing may fail, so nothing allocates. */
static void vault_committed(void *part)
{
    vlt_state *s = part;
    for (int t = 0; t < 3; t++)
        cm_hset_clear(&s->dirty[t]);
    vlt_strl_free(&s->dirty_seen);
    cm_u64map_clear(&s->dirty_acl);
    vlt_facts_flushed(s);
    s->next_seen = s->flush_seen;
}

const sto_part_kind vlt_part = {
    .name = "vault",
    .flush = vault_flush,
    .committed = vault_committed,
};

int vlt_state_flush(vlt_state *s, cm_err *err)
{
    return sto_flush(s->db, err);
}

struct sto_db *vlt_state_store(vlt_state *s)
{
    return s->db;
}

/* ---------- state show ---------- */

static void show_res(const vlt_resource *r, cm_jw *j)
{
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "id", r->id);
    cm_jw_kstr(j, "kind", r->kind);
    cm_jw_kstr(j, "tenant", r->tenant);
    cm_jw_kstr(j, "region", r->region);
    cm_jw_kstr(j, "subscription", r->subscription);
    cm_jw_kstr(j, "key_source", r->cmk ? "cmk" : "mmk");
    cm_jw_kstr(j, "key_uri", r->key_uri);
    cm_jw_kstr(j, "wrapped_under", r->lost ? NULL : r->wrap_ref);
    cm_jw_key(j, "identity");
    if (r->identity) {
        cm_jw_obj_begin(j);
        cm_jw_kstr(j, "principal", r->principal);
        cm_jw_kstr(j, "tenant", r->identity_tenant);
        cm_jw_obj_end(j);
    } else {
        cm_jw_null(j);
    }
    cm_jw_kbool(j, "locked", r->locked);
    cm_jw_key(j, "lock_reasons");
    cm_jw_arr_begin(j);
    for (size_t i = 0; i < r->nreasons; i++)
        cm_jw_str(j, r->reasons[i]);
    cm_jw_arr_end(j);
    cm_jw_kbool(j, "lost", r->lost);
    cm_jw_key(j, "layers");
    cm_jw_arr_begin(j);
    if (r->wsvc.len) {
        cm_jw_obj_begin(j);
        cm_jw_kstr(j, "layer", "service");
        cm_jw_kstr(j, "key", "mmk");
        cm_jw_obj_end(j);
    }
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "layer", r->wsvc.len ? "customer" : "data");
    cm_jw_kstr(j, "key", r->lost ? NULL : r->wrap_ref);
    cm_jw_obj_end(j);
    cm_jw_arr_end(j);
    cm_jw_key(j, "blocklist_names");
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "key", "mmk");
    cm_jw_obj_end(j);
    cm_jw_obj_end(j);
}

static void show_vault(const vlt_vault *v, cm_jw *j)
{
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "uri", v->uri);
    cm_jw_kstr(j, "tenant", v->tenant);
    cm_jw_kstr(j, "region", v->region);
    cm_jw_kbool(j, "soft_delete", v->soft_delete);
    cm_jw_kbool(j, "purge_protection", v->purge_protection);
    cm_jw_obj_end(j);
}

static void show_key(const vlt_key *k, cm_jw *j)
{
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "uri", k->uri);
    cm_jw_kstr(j, "kty", k->kty);
    cm_jw_kint(j, "size", k->size);
    cm_jw_kbool(j, "deleted", k->deleted);
    cm_jw_key(j, "versions");
    cm_jw_arr_begin(j);
    for (size_t i = 0; i < k->nvers; i++) {
        const vlt_keyver *kv = &k->vers[i];
        char when[CM_TS_SIZE];
        cm_jw_obj_begin(j);
        cm_jw_kstr(j, "version", kv->version);
        cm_jw_kbool(j, "enabled", kv->enabled);
        if (kv->has_nbf) {
            cm_ts_format(kv->nbf, when);
            cm_jw_kstr(j, "nbf", when);
        }
        if (kv->has_exp) {
            cm_ts_format(kv->exp, when);
            cm_jw_kstr(j, "exp", when);
        }
        cm_jw_obj_end(j);
    }
    cm_jw_arr_end(j);
    cm_jw_obj_end(j);
}

int vlt_state_show(vlt_state *s, const char *rid, cm_buf *out, cm_err *err)
{
    cm_jw j;
    cm_jw_init(&j, out);
    if (rid) {
        const char *sp = vlt_state_resource_spelling(s, rid);
        const vlt_resource *r = sp ? cm_itab_get(&s->resources, sp) : NULL;
        if (!r) {
            cm_err_set(err, rid, 0, 0, "no such resource");
            return -1;
        }
        show_res(r, &j);
    } else {
        size_t n;
        const char **ids = cm_itab_sorted_keys(&s->resources, &n);
        cm_jw_obj_begin(&j);
        cm_jw_key(&j, "resources");
        cm_jw_arr_begin(&j);
        for (size_t i = 0; i < n; i++)
            show_res(cm_itab_get(&s->resources, ids[i]), &j);
        cm_jw_arr_end(&j);
        free(ids);
        ids = cm_itab_sorted_keys(&s->vaults, &n);
        cm_jw_key(&j, "vaults");
        cm_jw_arr_begin(&j);
        for (size_t i = 0; i < n; i++)
            show_vault(cm_itab_get(&s->vaults, ids[i]), &j);
        cm_jw_arr_end(&j);
        free(ids);
        ids = cm_itab_sorted_keys(&s->keys, &n);
        cm_jw_key(&j, "keys");
        cm_jw_arr_begin(&j);
        for (size_t i = 0; i < n; i++)
            show_key(cm_itab_get(&s->keys, ids[i]), &j);
        cm_jw_arr_end(&j);
        free(ids);
        cm_jw_obj_end(&j);
    }
    if (cm_jw_done(&j) < 0) {
        cm_err_set(err, rid ? rid : "state", 0, 0, "state show output larger than %zu bytes",
                   out->max);
        return -1;
    }
    return 0;
}
