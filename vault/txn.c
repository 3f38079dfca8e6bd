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
    vlt_txn *t = s->spare; /* the last transaction's maps, emptied */
    s->spare = NULL;
    if (t)
        return t;
    t = cm_xcalloc(1, sizeof *t);
    t->s = s;
    t->pv = cm_map_new();
    t->pk = cm_map_new();
    t->pr = cm_map_new();
    t->acts = cm_map_new();
    t->changed = cm_map_new();
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

const vlt_vault *vlt_txn_vault(vlt_txn *t, const char *uri, bool prior)
{
    return view(t->pv, &t->s->vaults, uri, prior);
}

const vlt_key *vlt_txn_key(vlt_txn *t, const char *uri, bool prior)
{
    return view(t->pk, &t->s->keys, uri, prior);
}

const vlt_resource *vlt_txn_resource(vlt_txn *t, const char *id, bool prior)
{
    return view(t->pr, &t->s->resources, id, prior);
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
static void rfree(void *p)
{
    vlt_res_free(p);
}

static void *vclone(const void *o)
{
    return vlt_vault_clone(o);
}
static void *kclone(const void *o)
{
    return vlt_key_clone(o);
}
static void *rclone(const void *o)
{
    return vlt_res_clone(o);
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

vlt_resource *vlt_txn_wr_res(vlt_txn *t, const char *id)
{
    return wr_obj(t->pr, &t->s->resources, id, rclone, rfree);
}

void vlt_txn_put_vault(vlt_txn *t, const char *uri, vlt_vault *v)
{
    pend_put(t->pv, uri, v, vfree);
}
void vlt_txn_put_key(vlt_txn *t, const char *uri, vlt_key *k)
{
    pend_put(t->pk, uri, k, kfree);
}
void vlt_txn_put_res(vlt_txn *t, const char *id, vlt_resource *r)
{
    pend_put(t->pr, id, r, rfree);
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

unsigned vlt_txn_access(vlt_txn *t, const char *vault_uri, const char *principal, bool prior)
{
    if (!vault_uri || !principal)
        return 0;
    uint64_t pair = vlt_acl_find(t->s, vault_uri, principal);
    uint32_t p = 0;
    if (!prior && cm_u64map_get(&t->pacl, pair, &p))
        return p & VLT_ACL_GONE ? 0 : p & VLT_PERM_ALL;
    p = 0;
    cm_u64map_get(&t->s->acl, pair, &p);
    return p & VLT_PERM_ALL;
}

/* Access policies live beside the vault, so a grant never copies the vault. */
void vlt_txn_acl_set(vlt_txn *t, const char *vault, const char *principal, unsigned perms,
                     bool grant)
{
    unsigned cur = vlt_txn_access(t, vault, principal, false);
    uint32_t v = grant ? cur | perms | VLT_ACL_PRESENT : VLT_ACL_GONE;
    cm_u64map_put(&t->pacl, vlt_acl_pair(t->s, vault, principal), v);
}

/* ---------- affected resources ---------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const char *const *vlt_txn_affected(vlt_txn *t, bool bystanders, size_t *n)
{
    if (!t->affected_done) {
        t->affected_done = true;
        const vlt_event *ev = t->ev;
        if (vlt_etype_subject(ev->type) == VLT_SUBJ_RESOURCE) {
            t->affected = cm_xcalloc(1, sizeof *t->affected);
            t->affected[0] = cm_strdup(ev->subject);
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
                    const vlt_resource *r = vlt_txn_resource(t, vlt_idl_at(from, i), false);
                    if (!vlt_binding_of(r, bv, sizeof bv, bk, sizeof bk, NULL) ||
                        strcmp(bv, uri) != 0)
                        continue;
                }
                t->affected[k++] = cm_strdup(vlt_idl_at(from, i));
            }
            t->naff = k;
            qsort(t->affected, k, sizeof *t->affected, cmp_str);
        }
    }
    *n = t->naff;
    return (const char *const *)t->affected;
}

int64_t vlt_txn_bound_count(vlt_txn *t, const char *vault_uri, const char *key_uri)
{
    const cm_itab *idx = key_uri ? &t->s->by_key : &t->s->by_vault;
    const char *id = key_uri ? key_uri : vault_uri;
    if (!id)
        return 0;
    vlt_idlist *l = cm_itab_get(idx, id);
    int64_t n = l ? (int64_t)l->n : 0;
    size_t it = 0;
    const char *rid;
    void *pv;
    while (cm_map_next(t->pr, &it, &rid, &pv)) {
        char v1[256], k1[512], v2[256], k2[512];
        const vlt_resource *old = cm_itab_get(&t->s->resources, rid);
        const vlt_resource *neu = ((struct pend *)pv)->obj;
        bool was = vlt_binding_of(old, v1, sizeof v1, k1, sizeof k1, NULL) &&
                   !strcmp(key_uri ? k1 : v1, id);
        bool is = vlt_binding_of(neu, v2, sizeof v2, k2, sizeof k2, NULL) &&
                  !strcmp(key_uri ? k2 : v2, id);
        n += (int64_t)is - (int64_t)was;
    }
    return n;
}

/* ---------- actions ---------- */

void vlt_txn_act(vlt_txn *t, const char *rid, const char *op, const char *from, const char *to,
                 const char *error)
{
    struct actlist *l = cm_map_get(t->acts, rid);
    if (!l) {
        l = cm_xcalloc(1, sizeof *l);
        cm_map_put(t->acts, rid, l);
    }
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
    cm_map_put(t->changed, rid, (void *)1);
}

const vlt_action *vlt_txn_actions(vlt_txn *t, const char *rid, size_t *n)
{
    struct actlist *l = cm_map_get(t->acts, rid);
    *n = l ? l->n : 0;
    return l ? l->a : NULL;
}

bool vlt_txn_changed(vlt_txn *t, const char *rid)
{
    if (cm_map_get(t->changed, rid))
        return true;
    const vlt_resource *a = vlt_txn_resource(t, rid, true), *b = vlt_txn_resource(t, rid, false);
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

static void txn_free(vlt_txn *t)
{
    size_t it = 0;
    void *v;
    cm_map *maps[3] = {t->pv, t->pk, t->pr};
    for (int i = 0; i < 3; i++) {
        it = 0;
        while (cm_map_next(maps[i], &it, NULL, &v)) {
            struct pend *p = v;
            if (p->obj)
                (i == 0 ? vfree : i == 1 ? kfree : rfree)(p->obj);
            free(p);
        }
    }
    it = 0;
    while (cm_map_next(t->acts, &it, NULL, &v)) {
        struct actlist *l = v;
        for (size_t k = 0; k < l->n; k++) {
            free(l->a[k].from);
            free(l->a[k].to);
            free(l->a[k].error);
        }
        free(l->a);
        free(l);
    }
    for (size_t k = 0; k < t->naff; k++)
        free(t->affected[k]);
    free(t->affected);
    vlt_state *s = t->s;
    if (s->spare) {
        vlt_txn_dispose(t);
        return;
    }
    /* Kept for the next transaction: most touch a handful of objects, and their maps
     * are emptied in place (one that grew large is made anew: clearing it costs more). */
    cm_map **keep[5] = {&t->pv, &t->pk, &t->pr, &t->acts, &t->changed};
    for (int i = 0; i < 5; i++) {
        if (cm_map_len(*keep[i]) > 64) {
            cm_map_free(*keep[i]);
            *keep[i] = cm_map_new();
        } else {
            cm_map_clear(*keep[i]);
        }
    }
    cm_u64map_clear(&t->pacl);
    t->ev = NULL;
    t->affected = NULL;
    t->naff = 0;
    t->affected_done = false;
    s->spare = t;
}

void vlt_txn_dispose(vlt_txn *t)
{
    if (!t)
        return;
    cm_map_free(t->pv);
    cm_map_free(t->pk);
    cm_map_free(t->pr);
    cm_map_free(t->acts);
    cm_map_free(t->changed);
    cm_u64map_free(&t->pacl);
    free(t);
}

void vlt_txn_abort(vlt_txn *t)
{
    if (t)
        txn_free(t);
}

static void swap_in(vlt_state *s, cm_map *pend, cm_itab *committed, int table, void (*fr)(void *),
                    bool resources)
{
    size_t it = 0;
    const char *id;
    void *v;
    while (cm_map_next(pend, &it, &id, &v)) {
        struct pend *p = v;
        uint32_t h = cm_intern_add(committed->pool, id);
        void *old = cm_itab_at(committed, h);
        if (resources) {
            const vlt_resource *o = old, *n = p->obj;
            bool same = o && n && o->cmk == n->cmk && cm_streq(o->key_uri, n->key_uri);
            if (old && !same)
                vlt_index_res(s, old, false);
            if (p->obj && !same)
                vlt_index_res(s, p->obj, true);
            bool same_id =
                o && n && o->identity == n->identity && cm_streq(o->principal, n->principal);
            if (old && !same_id)
                vlt_index_principal(s, old, false);
            if (p->obj && !same_id)
                vlt_index_principal(s, p->obj, true);
            if (!old != !p->obj)
                vlt_index_spelling(s, id, p->obj != NULL);
        }
        if (old)
            fr(old);
        cm_itab_put_at(committed, h, p->obj);
        p->obj = NULL;
        if (vlt_tracks(s))
            cm_hset_add(&s->dirty[table], h);
    }
}

void vlt_txn_commit(vlt_txn *t)
{
    vlt_state *s = t->s;
    swap_in(s, t->pv, &s->vaults, VLT_T_VAULT, vfree, false);
    swap_in(s, t->pk, &s->keys, VLT_T_KEY, kfree, false);
    swap_in(s, t->pr, &s->resources, VLT_T_RESOURCE, rfree, true);
    size_t it = 0;
    uint64_t k;
    uint32_t v;
    while (cm_u64map_next(&t->pacl, &it, &k, &v)) {
        if (v & VLT_ACL_GONE)
            cm_u64map_del(&s->acl, k);
        else
            cm_u64map_put(&s->acl, k, v);
        if (vlt_tracks(s))
            cm_u64map_put(&s->dirty_acl, k, 1);
    }
    txn_free(t);
}
