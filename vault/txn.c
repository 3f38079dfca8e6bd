/* Transactions over the state: a proposed view of vaults, keys, resources and access
 * beside the committed one, the actions taken, and commit or abort. What an event
 * changes is in apply.c; what follows from it (the physics) in physics.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/internal.h"

/* ---------- transaction views ---------- */

vlt_txn *vlt_txn_begin(vlt_state *s)
{
    if (s->ngone)
        vlt_state_forget_gone(s);
    vlt_txn *t = s->spare; /* the last transaction's maps, emptied */
    s->spare = NULL;
    if (t)
        return t;
    t = cm_xcalloc(1, sizeof *t);
    t->s = s;
    t->pv = cm_map_new();
    t->pk = cm_map_new();
    return t;
}

static void *view(cm_map *pend, const cm_itab *committed, const char *id, bool prior)
{
    if (!id)
        return NULL;
    if (!prior) {
        struct pend *p = cm_map_get(pend, id);
        if (p)
            return p->obj;
    }
    return cm_itab_get(committed, id);
}

/* The same by the handle of the URI (in the committed table's pool): a proposed object
 * is looked for by its URI only when the transaction holds any. */
static void *view_at(cm_map *pend, const cm_itab *committed, uint32_t h, bool prior)
{
    if (!prior && cm_map_len(pend)) {
        struct pend *p = cm_map_get(pend, cm_intern_str(committed->pool, h));
        if (p)
            return p->obj;
    }
    return cm_itab_at(committed, h);
}

const vlt_vault *vlt_txn_vault(vlt_txn *t, const char *uri, bool prior)
{
    return view(t->pv, &t->s->vaults, uri, prior);
}

const vlt_key *vlt_txn_key(vlt_txn *t, const char *uri, bool prior)
{
    return view(t->pk, &t->s->keys, uri, prior);
}

/* ---------- resources, by handle ---------- */

static struct txn_res *res_slot(const vlt_txn *t, vlt_rh h)
{
    uint32_t i;
    return h && cm_u64map_get(&t->rx, h, &i) ? &t->res[i - 1] : NULL;
}

/* The slot of h, made when the transaction first touches it. */
static struct txn_res *res_slot_add(vlt_txn *t, vlt_rh h)
{
    struct txn_res *x = res_slot(t, h);
    if (x)
        return x;
    if (t->nres == t->capres || !t->res) {
        t->capres = t->capres > t->nres ? t->capres : t->nres ? t->nres * 2 : 8;
        t->res = cm_xrealloc(t->res, t->capres * sizeof *t->res);
    }
    x = &t->res[t->nres++];
    *x = (struct txn_res){.h = h};
    cm_u64map_put(&t->rx, h, (uint32_t)t->nres);
    return x;
}

const vlt_resource *vlt_txn_resource_at(vlt_txn *t, vlt_rh h, bool prior)
{
    if (!prior) {
        const struct txn_res *x = res_slot(t, h);
        if (x && x->put)
            return x->obj;
    }
    return cm_itab_at(&t->s->resources, h);
}

const vlt_resource *vlt_txn_resource(vlt_txn *t, const char *id, bool prior)
{
    return id ? vlt_txn_resource_at(t, cm_intern_find(t->s->rids, id), prior) : NULL;
}

bool vlt_txn_res_written(const vlt_txn *t, vlt_rh h)
{
    const struct txn_res *x = res_slot(t, h);
    return x && x->put;
}

vlt_resource *vlt_txn_wr_res_at(vlt_txn *t, vlt_rh h)
{
    struct txn_res *x = res_slot(t, h);
    if (x && x->put)
        return x->obj;
    const vlt_resource *o = cm_itab_at(&t->s->resources, h);
    if (!o)
        return NULL;
    x = res_slot_add(t, h);
    x->obj = vlt_res_clone(o);
    x->put = true;
    return x->obj;
}

vlt_resource *vlt_txn_wr_res(vlt_txn *t, const char *id)
{
    return vlt_txn_wr_res_at(t, cm_intern_find(t->s->rids, id));
}

void vlt_txn_put_res(vlt_txn *t, const char *id, vlt_resource *r)
{
    vlt_txn_put_res_at(t, cm_intern_add(t->s->rids, id), r);
}

void vlt_txn_put_res_at(vlt_txn *t, vlt_rh h, vlt_resource *r)
{
    struct txn_res *x = res_slot_add(t, h);
    if (x->put && x->obj && x->obj != r)
        vlt_res_free(x->obj);
    x->obj = r;
    x->put = true;
}

static void pend_put(cm_map *m, const char *id, void *obj, void (*fr)(void *))
{
    struct pend *p = cm_map_get(m, id);
    if (!p) {
        p = cm_xcalloc(1, sizeof *p);
        cm_map_put(m, id, p);
    } else if (p->obj && p->obj != obj) {
        fr(p->obj);
    }
    p->obj = obj;
}

static void vfree(void *p)
{
    vlt_vault_free(p);
}
static void kfree(void *p)
{
    vlt_key_free(p);
}

static void *vclone(const void *o)
{
    return vlt_vault_clone(o);
}
static void *kclone(const void *o)
{
    return vlt_key_clone(o);
}

/* The transaction's own copy of a committed object, made on first write. */
static void *wr_obj(cm_map *pend, const cm_itab *committed, const char *id,
                    void *(*clone)(const void *), void (*fr)(void *))
{
    struct pend *p = cm_map_get(pend, id);
    if (p)
        return p->obj;
    const void *o = cm_itab_get(committed, id);
    if (!o)
        return NULL;
    void *c = clone(o);
    pend_put(pend, id, c, fr);
    return c;
}

vlt_vault *vlt_txn_wr_vault(vlt_txn *t, const char *uri)
{
    return wr_obj(t->pv, &t->s->vaults, uri, vclone, vfree);
}

vlt_key *vlt_txn_wr_key(vlt_txn *t, const char *uri)
{
    return wr_obj(t->pk, &t->s->keys, uri, kclone, kfree);
}

void vlt_txn_put_vault(vlt_txn *t, const char *uri, vlt_vault *v)
{
    pend_put(t->pv, uri, v, vfree);
}
void vlt_txn_put_key(vlt_txn *t, const char *uri, vlt_key *k)
{
    pend_put(t->pk, uri, k, kfree);
}

static const vlt_key *txn_key(void *arg, const char *uri, bool prior)
{
    return vlt_txn_key(arg, uri, prior);
}

/* Wrapping and unwrapping through the transaction's view of the keys. */
int vlt_txn_wrap(vlt_txn *t, const char *ref, const cry_secret *dek, cm_buf *out, char *err,
                 size_t errn)
{
    vlt_key_lookup look = {txn_key, t};
    return vlt_wrap(t->s, &look, ref, dek, out, err, errn);
}

int vlt_txn_unwrap(vlt_txn *t, const char *ref, const cm_buf *w, cry_secret **out, char *err,
                   size_t errn)
{
    vlt_key_lookup look = {txn_key, t};
    return vlt_unwrap(t->s, &look, ref, w, out, err, errn);
}

/* ---------- access ---------- */

static unsigned access_pair(vlt_txn *t, uint64_t pair, bool prior)
{
    uint32_t p = 0;
    if (!prior && cm_u64map_get(&t->pacl, pair, &p))
        return p & VLT_ACL_GONE ? 0 : p & VLT_PERM_ALL;
    p = 0;
    cm_u64map_get(&t->s->acl, pair, &p);
    return p & VLT_PERM_ALL;
}

unsigned vlt_txn_access(vlt_txn *t, const char *vault_uri, const char *principal, bool prior)
{
    if (!vault_uri || !principal)
        return 0;
    return access_pair(t, vlt_acl_find(t->s, vault_uri, principal), prior);
}

/* The vault's URI and the principal are strings of the state's pool: their handles are
 * where the strings are. */
unsigned vlt_txn_access_of(vlt_txn *t, const vlt_vault *v, const vlt_resource *r, bool prior)
{
    if (!v || !r || !v->uri || !r->principal)
        return 0;
    return access_pair(t, cm_u64_pair(cm_intern_handle(v->uri), cm_intern_handle(r->principal)),
                       prior);
}

/* Access policies live beside the vault, so a grant never copies the vault. */
void vlt_txn_acl_set(vlt_txn *t, const char *vault, const char *principal, unsigned perms,
                     bool grant)
{
    unsigned cur = vlt_txn_access(t, vault, principal, false);
    uint32_t v = grant ? cur | perms | VLT_ACL_PRESENT : VLT_ACL_GONE;
    cm_u64map_put(&t->pacl, vlt_acl_pair(t->s, vault, principal), v);
}

/* ---------- bindings ---------- */

/* What a key URI of the state's pool names (its handle is where it is): parsed the
 * first time, then found by handle. The URIs it names are interned, so the handles hold
 * for good. False when it is not a key URI. */
static bool bind_of(vlt_state *s, const char *key_uri, struct vlt_bind *out)
{
    uint32_t h = cm_intern_handle(key_uri), i;
    if (!cm_u64map_get(&s->bind, h, &i)) {
        vlt_keyref kr;
        i = 0;
        if (vlt_key_uri_parse(key_uri, &kr)) {
            char vuri[256], kuri[512];
            vlt_vault_uri(&kr, vuri, sizeof vuri);
            vlt_key_uri(&kr, false, kuri, sizeof kuri);
            if (s->nbinds == s->capbinds) {
                s->capbinds = s->capbinds ? s->capbinds * 2 : 16;
                s->binds = cm_xrealloc(s->binds, s->capbinds * sizeof *s->binds);
            }
            s->binds[s->nbinds++] = (struct vlt_bind){
                .vh = cm_intern_add(s->strs, vuri),
                .kh = cm_intern_add(s->strs, kuri),
                .verh = kr.version[0] ? cm_intern_add(s->strs, kr.version) : 0,
            };
            i = (uint32_t)s->nbinds;
        }
        cm_u64map_put(&s->bind, h, i);
    }
    if (!i)
        return false;
    *out = s->binds[i - 1];
    return true;
}

/* A resource's key reference, as the engine reads it: its binding, or the key it asked
 * for at creation. */
static const char *res_key_ref(const vlt_resource *r)
{
    return r->key_uri ? r->key_uri : r->requested_key;
}

/* ---------- what other partitions hold (vlt_state_set_foreign) ---------- */

/* The transaction's read-only copy of a vault the foreign lookup knows, its strings in
 * the state's pool like every object's; NULL when unknown. One copy per transaction. */
static const vlt_vault *foreign_vault(vlt_txn *t, const char *uri)
{
    vlt_state *s = t->s;
    vlt_vault *v = t->fv ? cm_map_get(t->fv, uri) : NULL;
    vlt_foreign f = {0};
    if (v || !s->foreign || !s->foreign(s->foreign_arg, uri, false, &f))
        return v;
    v = cm_xcalloc(1, sizeof *v);
    v->uri = vlt_str(s, uri);
    v->name = vlt_str(s, f.vault.name);
    v->tenant = vlt_str(s, f.vault.tenant);
    v->region = vlt_str(s, f.vault.region);
    v->subscription = vlt_str(s, f.vault.subscription);
    v->soft_delete = f.vault.soft_delete;
    v->purge_protection = f.vault.purge_protection;
    v->retention_days = f.vault.retention_days;
    if (!t->fv)
        t->fv = cm_map_new();
    cm_map_put(t->fv, uri, v);
    return v;
}

/* The same for a key: its versions carry no material (sealed empty, no key loaded). */
static const vlt_key *foreign_key(vlt_txn *t, const char *uri)
{
    vlt_state *s = t->s;
    vlt_key *k = t->fk ? cm_map_get(t->fk, uri) : NULL;
    vlt_foreign f = {0};
    if (k || !s->foreign || !s->foreign(s->foreign_arg, uri, true, &f))
        return k;
    k = cm_xcalloc(1, sizeof *k);
    k->uri = vlt_str(s, uri);
    k->name = vlt_str(s, f.key.name);
    k->vault_uri = vlt_str(s, f.key.vault_uri);
    k->kty = vlt_str(s, f.key.kty);
    k->size = f.key.size;
    k->deleted = f.key.deleted;
    k->vers = cm_xcalloc(f.nvers + 1, sizeof *k->vers);
    for (size_t i = 0; i < f.nvers; i++) {
        if (!f.vers[i].version)
            continue;
        vlt_keyver *kv = &k->vers[k->nvers++];
        kv->version = vlt_str(s, f.vers[i].version);
        kv->enabled = f.vers[i].enabled;
        kv->has_nbf = f.vers[i].has_nbf;
        kv->has_exp = f.vers[i].has_exp;
        kv->nbf = f.vers[i].nbf;
        kv->exp = f.vers[i].exp;
    }
    if (!t->fk)
        t->fk = cm_map_new();
    cm_map_put(t->fk, uri, k);
    return k;
}

static void foreign_free(vlt_txn *t)
{
    size_t it = 0;
    void *v;
    while (t->fv && cm_map_next(t->fv, &it, NULL, &v))
        vlt_vault_free(v);
    it = 0;
    while (t->fk && cm_map_next(t->fk, &it, NULL, &v))
        vlt_key_free(v);
    cm_map_free(t->fv);
    cm_map_free(t->fk);
    t->fv = t->fk = NULL;
}

bool vlt_txn_binding(vlt_txn *t, const vlt_resource *r, bool prior, vlt_binding *b)
{
    struct vlt_bind x;
    memset(b, 0, sizeof *b);
    if (!r || !res_key_ref(r) || !bind_of(t->s, res_key_ref(r), &x))
        return false;
    b->v = view_at(t->pv, &t->s->vaults, x.vh, prior);
    b->k = view_at(t->pk, &t->s->keys, x.kh, prior);
    /* Not held here: what the partition that holds it published, read-only. */
    if (t->s->foreign && !b->v && !view_at(t->pv, &t->s->vaults, x.vh, !prior))
        b->v = foreign_vault(t, cm_intern_str(t->s->strs, x.vh));
    if (t->s->foreign && !b->k && !view_at(t->pk, &t->s->keys, x.kh, !prior))
        b->k = foreign_key(t, cm_intern_str(t->s->strs, x.kh));
    b->kv = vlt_key_version(b->k, x.verh ? cm_intern_str(t->s->strs, x.verh) : NULL);
    b->versionless = !x.verh;
    return true;
}

/* The handle of the vault's (key false) or key's URI a CMK resource is bound to; 0 for
 * none. */
static uint32_t bound_to(vlt_state *s, const vlt_resource *r, bool key)
{
    struct vlt_bind x;
    if (!r || !r->cmk || !r->key_uri || !bind_of(s, r->key_uri, &x))
        return 0;
    return key ? x.kh : x.vh;
}

int64_t vlt_txn_bound_count_of(vlt_txn *t, const vlt_vault *v, const vlt_key *k)
{
    const char *uri = k ? k->uri : v ? v->uri : NULL;
    if (!uri)
        return 0;
    uint32_t h = cm_intern_handle(uri);
    const vlt_idlist *l = cm_itab_at(k ? &t->s->by_key : &t->s->by_vault, h);
    int64_t n = l ? (int64_t)l->n : 0;
    for (size_t i = 0; i < t->nres; i++) {
        if (!t->res[i].put)
            continue;
        const vlt_resource *old = cm_itab_at(&t->s->resources, t->res[i].h);
        n += (int64_t)(bound_to(t->s, t->res[i].obj, k != NULL) == h) -
             (int64_t)(bound_to(t->s, old, k != NULL) == h);
    }
    return n;
}

/* ---------- affected resources ---------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ids are the pool's copies (a resource event's subject exists once applied), so
 * each handle is where its string is. */
const vlt_rh *vlt_txn_affected_h(vlt_txn *t, bool bystanders, const char *const **ids, size_t *n)
{
    if (!t->affected_done) {
        t->affected_done = true;
        const vlt_event *ev = t->ev;
        if (vlt_etype_subject(ev->type) == VLT_SUBJ_RESOURCE) {
            t->affected = cm_xcalloc(1, sizeof *t->affected);
            t->affected[0] = t->subject ? cm_intern_str(t->s->rids, t->subject)
                                        : cm_intern_copy(t->s->rids, ev->subject);
            t->naff = 1;
        } else {
            char uri[512];
            const cm_itab *idx;
            if (vlt_etype_subject(ev->type) == VLT_SUBJ_VAULT) {
                vlt_uri_canon(ev->subject, uri, sizeof uri, NULL);
                idx = &t->s->by_vault;
            } else {
                vlt_keyref kr;
                vlt_key_uri_parse(ev->subject, &kr);
                vlt_key_uri(&kr, false, uri, sizeof uri);
                idx = &t->s->by_key;
            }
            vlt_idlist *l = cm_itab_get(idx, uri);
            bool access = ev->type == VLT_EV_ACCESS_GRANTED || ev->type == VLT_EV_ACCESS_REVOKED;
            bool narrow = access && !bystanders;
            /* An access change can only matter to the identity it names: start from the
             * principal's resources and keep those bound to this vault. */
            vlt_idlist *from = narrow ? cm_itab_get(&t->s->by_principal, ev->principal) : l;
            size_t cnt = from ? from->n : 0, k = 0;
            t->affected = cm_xcalloc(cnt + 1, sizeof *t->affected);
            for (size_t i = 0; i < cnt; i++) {
                if (narrow) {
                    char bv[256], bk[512];
                    const vlt_resource *r =
                        vlt_txn_resource_at(t, cm_intern_handle(vlt_idl_at(from, i)), false);
                    if (!vlt_binding_of(r, bv, sizeof bv, bk, sizeof bk, NULL) ||
                        strcmp(bv, uri) != 0)
                        continue;
                }
                t->affected[k++] = vlt_idl_at(from, i);
            }
            t->naff = k;
            qsort(t->affected, k, sizeof *t->affected, cmp_str);
        }
        t->aff_h = cm_xcalloc(t->naff + 1, sizeof *t->aff_h);
        for (size_t i = 0; i < t->naff; i++)
            t->aff_h[i] = cm_intern_handle(t->affected[i]);
    }
    if (ids)
        *ids = t->affected;
    *n = t->naff;
    return t->aff_h;
}

const char *const *vlt_txn_affected(vlt_txn *t, bool bystanders, size_t *n)
{
    const char *const *ids;
    vlt_txn_affected_h(t, bystanders, &ids, n);
    return ids;
}

int64_t vlt_txn_bound_count(vlt_txn *t, const char *vault_uri, const char *key_uri)
{
    const cm_itab *idx = key_uri ? &t->s->by_key : &t->s->by_vault;
    const char *id = key_uri ? key_uri : vault_uri;
    if (!id)
        return 0;
    vlt_idlist *l = cm_itab_get(idx, id);
    int64_t n = l ? (int64_t)l->n : 0;
    for (size_t i = 0; i < t->nres; i++) {
        if (!t->res[i].put)
            continue;
        char v1[256], k1[512], v2[256], k2[512];
        const vlt_resource *old = cm_itab_at(&t->s->resources, t->res[i].h);
        const vlt_resource *neu = t->res[i].obj;
        bool was = vlt_binding_of(old, v1, sizeof v1, k1, sizeof k1, NULL) &&
                   !strcmp(key_uri ? k1 : v1, id);
        bool is = vlt_binding_of(neu, v2, sizeof v2, k2, sizeof k2, NULL) &&
                  !strcmp(key_uri ? k2 : v2, id);
        n += (int64_t)is - (int64_t)was;
    }
    return n;
}

/* ---------- actions ---------- */

void vlt_txn_act(vlt_txn *t, vlt_rh h, const char *op, const char *from, const char *to,
                 const char *error)
{
    struct txn_res *x = res_slot_add(t, h);
    struct actlist *l = &x->acts;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->a = cm_xrealloc(l->a, l->cap * sizeof *l->a);
    }
    vlt_action *a = &l->a[l->n++];
    a->op = op;
    a->from = cm_strdup(from);
    a->to = cm_strdup(to);
    a->ok = error == NULL;
    a->error = cm_strdup(error);
    x->changed = true;
}

const vlt_action *vlt_txn_actions_at(vlt_txn *t, vlt_rh h, size_t *n)
{
    const struct txn_res *x = res_slot(t, h);
    *n = x ? x->acts.n : 0;
    return *n ? x->acts.a : NULL;
}

const vlt_action *vlt_txn_actions(vlt_txn *t, const char *rid, size_t *n)
{
    return vlt_txn_actions_at(t, rid ? cm_intern_find(t->s->rids, rid) : 0, n);
}

bool vlt_txn_changed(vlt_txn *t, const char *rid)
{
    return vlt_txn_changed_at(t, rid ? cm_intern_find(t->s->rids, rid) : 0);
}

bool vlt_txn_changed_at(vlt_txn *t, vlt_rh h)
{
    const struct txn_res *x = res_slot(t, h);
    if (x && x->changed)
        return true;
    const vlt_resource *a = vlt_txn_resource_at(t, h, true), *b = vlt_txn_resource_at(t, h, false);
    if (!a || !b)
        return a != b;
    if (a->locked != b->locked || a->lost != b->lost || a->cmk != b->cmk ||
        !cm_streq(a->key_uri, b->key_uri) || a->nreasons != b->nreasons)
        return true;
    for (size_t i = 0; i < a->nreasons; i++)
        if (strcmp(a->reasons[i], b->reasons[i]) != 0)
            return true;
    return false;
}

/* ---------- commit / abort ---------- */

int vlt_txn_ready(vlt_txn *t, char *reason, size_t rn)
{
    size_t it = 0;
    const char *uri;
    void *v;
    while (cm_map_next(t->pk, &it, &uri, &v)) {
        vlt_key *k = ((struct pend *)v)->obj;
        for (size_t i = 0; k && i < k->nvers; i++) {
            int rc = k->vers[i].unmade ? vlt_keyver_generate(t->s, k, &k->vers[i], reason, rn) : 0;
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static void txn_free(vlt_txn *t)
{
    size_t it = 0;
    void *v;
    foreign_free(t);
    t->moved = false;
    cm_map *maps[2] = {t->pv, t->pk};
    for (int i = 0; i < 2; i++) {
        it = 0;
        while (cm_map_next(maps[i], &it, NULL, &v)) {
            struct pend *p = v;
            if (p->obj)
                (i == 0 ? vfree : kfree)(p->obj);
            free(p);
        }
    }
    for (size_t i = 0; i < t->nres; i++) {
        struct txn_res *x = &t->res[i];
        if (x->put && x->obj)
            vlt_res_free(x->obj);
        vlt_state_gone(t->s, x->h); /* deleted, or made and not committed: its id may go */
        for (size_t k = 0; k < x->acts.n; k++) {
            free(x->acts.a[k].from);
            free(x->acts.a[k].to);
            free(x->acts.a[k].error);
        }
        free(x->acts.a);
    }
    t->nres = 0;
    free(t->affected);
    free(t->aff_h);
    vlt_state *s = t->s;
    if (s->spare) {
        vlt_txn_dispose(t);
        return;
    }
    /* Kept for the next transaction: most touch a handful of objects, and their maps
     * are emptied in place (one that grew large is made anew: clearing it costs more). */
    cm_map **keep[2] = {&t->pv, &t->pk};
    for (int i = 0; i < 2; i++) {
        if (cm_map_len(*keep[i]) > 64) {
            cm_map_free(*keep[i]);
            *keep[i] = cm_map_new();
        } else {
            cm_map_clear(*keep[i]);
        }
    }
    cm_u64map_clear(&t->pacl);
    if (t->capres > 64) { /* a fan-out's slots are not kept */
        cm_u64map_free(&t->rx);
        free(t->res);
        t->res = NULL;
        t->capres = 0;
    } else {
        cm_u64map_clear(&t->rx);
    }
    t->ev = NULL;
    t->subject = 0;
    t->affected = NULL;
    t->aff_h = NULL;
    t->naff = 0;
    t->affected_done = false;
    s->spare = t;
}

void vlt_txn_dispose(vlt_txn *t)
{
    if (!t)
        return;
    foreign_free(t);
    cm_map_free(t->pv);
    cm_map_free(t->pk);
    cm_u64map_free(&t->pacl);
    cm_u64map_free(&t->rx);
    free(t->res);
    free(t);
}

void vlt_txn_abort(vlt_txn *t)
{
    if (t)
        txn_free(t);
}

static void swap_in(vlt_state *s, cm_map *pend, cm_itab *committed, int table, void (*fr)(void *))
{
    size_t it = 0;
    const char *id;
    void *v;
    while (cm_map_next(pend, &it, &id, &v)) {
        struct pend *p = v;
        uint32_t h = cm_intern_add(committed->pool, id);
        void *old = cm_itab_at(committed, h);
        if (old)
            fr(old);
        cm_itab_put_at(committed, h, p->obj);
        p->obj = NULL;
        if (vlt_tracks(s))
            cm_hset_add(&s->dirty[table], h);
    }
}

/* The resources the transaction wrote, in the order it first touched them. */
static void swap_in_res(vlt_state *s, vlt_txn *t)
{
    for (size_t i = 0; i < t->nres; i++) {
        struct txn_res *x = &t->res[i];
        if (!x->put)
            continue;
        vlt_resource *old = cm_itab_at(&s->resources, x->h), *neu = x->obj;
        const vlt_resource *o = old, *n = neu;
        bool same = o && n && o->cmk == n->cmk && cm_streq(o->key_uri, n->key_uri);
        if (old && !same)
            vlt_index_res(s, old, false);
        if (neu && !same)
            vlt_index_res(s, neu, true);
        bool same_id = o && n && o->identity == n->identity && cm_streq(o->principal, n->principal);
        if (old && !same_id)
            vlt_index_principal(s, old, false);
        if (neu && !same_id)
            vlt_index_principal(s, neu, true);
        if (!old != !neu)
            vlt_index_spelling(s, cm_intern_str(s->rids, x->h), neu != NULL);
        if (old)
            vlt_res_free(old);
        cm_itab_put_at(&s->resources, x->h, neu);
        x->put = false;
        x->obj = NULL;
        if (vlt_tracks(s))
            cm_hset_add(&s->dirty[VLT_T_RESOURCE], x->h);
    }
}

void vlt_txn_commit(vlt_txn *t)
{
    vlt_state *s = t->s;
    if (t->moved)
        vlt_handover_note(t);
    swap_in(s, t->pv, &s->vaults, VLT_T_VAULT, vfree);
    swap_in(s, t->pk, &s->keys, VLT_T_KEY, kfree);
    swap_in_res(s, t);
    size_t it = 0;
    uint64_t k;
    uint32_t v;
    while (cm_u64map_next(&t->pacl, &it, &k, &v)) {
        /* A grant of what the principal holds already, or a revocation of nothing,
         * changes no row: it is not written again. */
        uint32_t was = 0;
        bool had = cm_u64map_get(&s->acl, k, &was);
        if (v & VLT_ACL_GONE ? !had : had && was == v)
            continue;
        if (v & VLT_ACL_GONE)
            cm_u64map_del(&s->acl, k);
        else
            cm_u64map_put(&s->acl, k, v);
        if (vlt_tracks(s))
            cm_u64map_put(&s->dirty_acl, k, 1);
    }
    txn_free(t);
}
