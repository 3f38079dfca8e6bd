#include "vault/state.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fault.h"
#include "common/map.h"
#include "common/timestamp.h"
#include "vault/internal.h"

/* ---------- lists ---------- */

void vlt_idl_add(vlt_idlist *l, const char *id)
{
    if (l->n == 0 && l->cap == 0) {
        l->u.one = id;
        l->n = 1;
        return;
    }
    if (l->cap == 0) { /* the second id: the one in place moves into an array */
        const char *first = l->u.one;
        l->u.many = cm_xmalloc(4 * sizeof *l->u.many);
        l->u.many[0] = first;
        l->cap = 4;
    } else if (l->n == l->cap) {
        l->cap *= 2;
        l->u.many = cm_xrealloc(l->u.many, l->cap * sizeof *l->u.many);
    }
    l->u.many[l->n++] = id;
}

void vlt_idl_del(vlt_idlist *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (vlt_idl_at(l, i) == id) {
            if (l->cap)
                l->u.many[i] = l->u.many[--l->n];
            else
                l->n = 0;
            return;
        }
}

void vlt_idl_free(vlt_idlist *l)
{
    if (!l)
        return;
    if (l->cap)
        free(l->u.many);
    *l = (vlt_idlist){0};
}

void vlt_strl_add(vlt_strlist *l, const char *str)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->s = cm_xrealloc(l->s, l->cap * sizeof *l->s);
    }
    l->s[l->n++] = cm_strdup(str);
}

void vlt_strl_free(vlt_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    *l = (vlt_strlist){0};
}

const char *vlt_str(vlt_state *s, const char *src)
{
    return cm_intern_copy(s->strs, src);
}

void vlt_set_str(vlt_state *s, const char **dst, const char *src)
{
    if (*dst && src && !strcmp(*dst, src))
        return; /* already that string (a vault refreshed as it is, say): no lookup */
    *dst = cm_intern_copy(s->strs, src);
}

int vlt_kw_set(vlt_kwrapped *w, const void *p, size_t n)
{
    if (n != VLT_KW_LEN)
        return CM_EINPUT;
    memcpy(w->b, p, n);
    w->len = (uint8_t)n;
    return 0;
}

const char *vlt_rid(vlt_state *s, const char *id)
{
    return cm_intern_copy(s->rids, id);
}

void vlt_state_gone(vlt_state *s, uint32_t h)
{
    if (!h || cm_itab_at(&s->resources, h))
        return;
    if (s->ngone == s->capgone) {
        s->capgone = s->capgone ? s->capgone * 2 : 64;
        s->gone = cm_xrealloc(s->gone, s->capgone * sizeof *s->gone);
    }
    s->gone[s->ngone++] = h;
}

void vlt_state_forget_gone(vlt_state *s)
{
    const cm_hset *dirty = &s->dirty[VLT_T_RESOURCE];
    size_t keep = 0;
    for (size_t i = 0; i < s->ngone; i++) {
        uint32_t h = s->gone[i];
        if (cm_itab_at(&s->resources, h))
            continue; /* created again */
        if (h < dirty->incap && dirty->in[h])
            s->gone[keep++] = h; /* the flush still names it */
        else
            cm_intern_forget(s->rids, h);
    }
    s->ngone = keep;
}

/* ---------- object lifetimes ---------- */

void vlt_vault_free(vlt_vault *v)
{
    free(v);
}

vlt_vault *vlt_vault_clone(const vlt_vault *o)
{
    vlt_vault *v = cm_xmalloc(sizeof *v);
    *v = *o;
    return v;
}

static void keyver_clear(vlt_keyver *kv)
{
    cm_buf_free(&kv->sealed);
    cry_pkey_free(kv->pk);
}

void vlt_key_free(vlt_key *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->nvers; i++)
        keyver_clear(&k->vers[i]);
    free(k->vers);
    free(k);
}

vlt_key *vlt_key_clone(const vlt_key *o)
{
    vlt_key *k = cm_xcalloc(1, sizeof *k);
    *k = *o;
    k->vers = cm_xcalloc(o->nvers + 1, sizeof *k->vers);
    for (size_t i = 0; i < o->nvers; i++) {
        k->vers[i].version = o->vers[i].version;
        k->vers[i].enabled = o->vers[i].enabled;
        k->vers[i].has_nbf = o->vers[i].has_nbf;
        k->vers[i].has_exp = o->vers[i].has_exp;
        k->vers[i].nbf = o->vers[i].nbf;
        k->vers[i].exp = o->vers[i].exp;
        /* A copy into a buffer of the same bound: it cannot fail. */
        cm_buf_init(&k->vers[i].sealed, o->vers[i].sealed.max);
        cm_buf_add(&k->vers[i].sealed, o->vers[i].sealed.p, o->vers[i].sealed.len);
        k->vers[i].pk = NULL;
        k->vers[i].unmade = o->vers[i].unmade;
    }
    return k;
}

void vlt_res_reasons_clear(vlt_resource *r)
{
    free(r->reasons);
    r->reasons = NULL;
    r->nreasons = 0;
}

/* A wrapped DEK too long to be held in place. */
struct vlt_wdek_big {
    size_t len;
    uint8_t b[];
};

static struct vlt_wdek_big *wdek_big(const vlt_wdek *w)
{
    struct vlt_wdek_big *big;
    memcpy(&big, w->in, sizeof big);
    return big;
}

cm_buf vlt_wdek_view(const vlt_wdek *w)
{
    cm_buf v = {0};
    if (w->len == VLT_WDEK_BIG) {
        struct vlt_wdek_big *big = wdek_big(w);
        v.p = (char *)big->b;
        v.len = big->len;
    } else {
        v.p = (char *)w->in;
        v.len = w->len;
    }
    v.cap = v.max = v.len;
    return v;
}

/* Lets go of a long wrapped DEK's block (a wrapped key is not a secret: not wiped). */
static void wdek_release(vlt_wdek *w)
{
    if (w->len == VLT_WDEK_BIG)
        free(wdek_big(w));
    w->len = 0;
}

void vlt_wdek_clear(vlt_wdek *w)
{
    cm_buf v = vlt_wdek_view(w);
    cm_wipe(v.p, v.len);
    wdek_release(w);
    cm_wipe(w->in, sizeof w->in);
}

void vlt_wdek_set(vlt_wdek *w, const void *p, size_t n)
{
    wdek_release(w);
    if (n <= sizeof w->in) {
        if (n)
            memcpy(w->in, p, n);
        w->len = (uint8_t)n;
        return;
    }
    struct vlt_wdek_big *big = cm_xmalloc(sizeof *big + n);
    big->len = n;
    memcpy(big->b, p, n);
    memcpy(w->in, &big, sizeof big);
    w->len = VLT_WDEK_BIG;
}

cry_secret *vlt_res_dek(const vlt_resource *r)
{
    return r->dek_held ? cry_secret_dup(r->dek, sizeof r->dek) : NULL;
}

void vlt_res_set_dek(vlt_resource *r, cry_secret *dek)
{
    if (r->dek_held) /* else its bytes are zero already */
        cm_wipe(r->dek, sizeof r->dek);
    r->dek_held = dek && dek->len == sizeof r->dek;
    if (r->dek_held)
        memcpy(r->dek, dek->b, sizeof r->dek);
    cry_secret_free(dek);
}

void vlt_res_free(vlt_resource *r)
{
    if (!r)
        return;
    wdek_release(&r->wdek);
    vlt_res_reasons_clear(r);
    if (r->dek_held)
        cm_wipe(r->dek, sizeof r->dek);
    free(r);
}

vlt_resource *vlt_res_clone(const vlt_resource *o)
{
    vlt_resource *r = cm_xmalloc(sizeof *r);
    *r = *o; /* the plaintext DEK with it: the clone's own, wiped when it goes */
    r->requested_key = NULL;
    if (o->wdek.len == VLT_WDEK_BIG) {
        cm_buf w = vlt_wdek_view(&o->wdek);
        r->wdek.len = 0;
        vlt_wdek_set(&r->wdek, w.p, w.len);
    }
    r->reasons = NULL;
    if (o->nreasons) {
        r->reasons = cm_xmalloc(o->nreasons * sizeof *r->reasons);
        memcpy(r->reasons, o->reasons, o->nreasons * sizeof *r->reasons);
    }
    return r;
}

/* ---------- bindings ---------- */

/* Splits a resource's key binding into vault URI and versionless key URI. */
bool vlt_binding_of(const vlt_resource *r, char *vault, size_t vn, char *key, size_t kn,
                    vlt_keyref *kr)
{
    vlt_keyref tmp;
    if (!kr)
        kr = &tmp;
    if (!r || !r->cmk || !r->key_uri || !vlt_key_uri_parse(r->key_uri, kr))
        return false;
    vlt_vault_uri(kr, vault, vn);
    vlt_key_uri(kr, false, key, kn);
    return true;
}

void vlt_index_res(vlt_state *s, const vlt_resource *r, bool add)
{
    char vault[256], key[512];
    if (!vlt_binding_of(r, vault, sizeof vault, key, sizeof key, NULL))
        return;
    cm_itab *tabs[2] = {&s->by_vault, &s->by_key};
    const char *ids[2] = {vault, key};
    for (int i = 0; i < 2; i++) {
        vlt_idlist *l = cm_itab_get(tabs[i], ids[i]);
        if (!l && add) {
            l = cm_xcalloc(1, sizeof *l);
            cm_itab_put(tabs[i], ids[i], l);
        }
        if (!l)
            continue;
        if (add)
            vlt_idl_add(l, r->id);
        else
            vlt_idl_del(l, r->id);
    }
}

void vlt_index_principal(vlt_state *s, const vlt_resource *r, bool add)
{
    if (!r || !r->identity || !r->principal)
        return;
    vlt_idlist *l = cm_itab_get(&s->by_principal, r->principal);
    if (!l && add) {
        l = cm_xcalloc(1, sizeof *l);
        cm_itab_put(&s->by_principal, r->principal, l);
    }
    if (l && add)
        vlt_idl_add(l, r->id);
    else if (l)
        vlt_idl_del(l, r->id);
}

const vlt_res_view *vlt_res_view_of(const vlt_resource *r, vlt_res_view *out)
{
    if (!r)
        return NULL;
    *out = (vlt_res_view){.id = r->id,
                          .kind = r->kind,
                          .tenant = r->tenant,
                          .region = r->region,
                          .subscription = r->subscription,
                          .cmk = r->cmk,
                          .key_uri = r->key_uri,
                          .versionless = r->versionless,
                          .requested_key = r->requested_key,
                          .identity = r->identity,
                          .principal = r->principal,
                          .identity_tenant = r->identity_tenant,
                          .locked = r->locked,
                          .lost = r->lost,
                          .reasons = (const char *const *)r->reasons,
                          .nreasons = r->nreasons};
    return out;
}

const vlt_vault_view *vlt_vault_view_of(const vlt_vault *v, vlt_vault_view *out)
{
    if (!v)
        return NULL;
    *out = (vlt_vault_view){.uri = v->uri,
                            .name = v->name,
                            .tenant = v->tenant,
                            .region = v->region,
                            .subscription = v->subscription,
                            .soft_delete = v->soft_delete,
                            .purge_protection = v->purge_protection,
                            .retention_days = v->retention_days};
    return out;
}

const vlt_key_view *vlt_key_view_of(const vlt_key *k, vlt_key_view *out)
{
    if (!k)
        return NULL;
    *out = (vlt_key_view){.uri = k->uri,
                          .name = k->name,
                          .vault_uri = k->vault_uri,
                          .kty = k->kty,
                          .size = k->size,
                          .deleted = k->deleted,
                          .latest = k->nvers ? k->vers[k->nvers - 1].version : NULL};
    return out;
}

const vlt_keyver_view *vlt_keyver_view_of(const vlt_key *k, const vlt_keyver *kv,
                                          vlt_keyver_view *out)
{
    if (!kv)
        return NULL;
    *out = (vlt_keyver_view){.version = kv->version,
                             .enabled = kv->enabled,
                             .latest = k && k->nvers && kv == &k->vers[k->nvers - 1],
                             .has_nbf = kv->has_nbf,
                             .has_exp = kv->has_exp,
                             .nbf = kv->nbf,
                             .exp = kv->exp};
    return out;
}

const vlt_vault *vlt_state_vault(const vlt_state *s, const char *uri)
{
    return cm_itab_get(&s->vaults, uri);
}

const vlt_key *vlt_state_key(const vlt_state *s, const char *uri)
{
    return cm_itab_get(&s->keys, uri);
}

const vlt_resource *vlt_state_resource(const vlt_state *s, const char *id)
{
    if (!id)
        return NULL;
    const vlt_resource *r = cm_itab_get(&s->resources, id);
    if (r)
        return r;
    /* Any spelling of an ARM id names the resource (SPEC §2a). */
    const char *first = vlt_state_resource_spelling(s, id);
    return first ? cm_itab_at(&s->resources, cm_intern_handle(first)) : NULL;
}

const char **vlt_state_resource_ids(const vlt_state *s, size_t *n)
{
    return cm_itab_sorted_keys(&s->resources, n);
}

/* The handle a seen event's source goes under (0: never seen, when add is false). */
static uint32_t seen_src(vlt_state *s, const char *source, bool add)
{
    const char *src = source ? source : "";
    return add ? cm_intern_add(s->strs, src) : cm_intern_find(s->strs, src);
}

bool vlt_state_seen(vlt_state *s, const char *source, const char *id)
{
    /* Ids migrated from a format that kept no source count for every source. */
    if (s->seen_any && cm_strset_has(s->seen_any, id))
        return true;
    uint32_t h = seen_src(s, source, false);
    return h && cm_idset_has(s->seen, h, id);
}

/* Into the in-memory set only. */
static void seen_add(vlt_state *s, const char *source, const char *id)
{
    cm_idset_add(s->seen, seen_src(s, source, true), id);
}

/* How the store names a seen event, "SOURCE\x1fID" (a source holds no control
 * character): into buf when it fits, else into a new string the caller frees. */
static char *store_key(const char *source, const char *id, char *buf, size_t n)
{
    size_t sl = source ? strlen(source) : 0, il = strlen(id);
    char *k = sl + il + 2 <= n ? buf : cm_xmalloc(sl + il + 2);
    memcpy(k, source ? source : "", sl);
    k[sl] = '\x1f';
    memcpy(k + sl + 1, id, il + 1);
    return k;
}

void vlt_state_mark_seen(vlt_state *s, const char *source, const char *id)
{
    seen_add(s, source, id);
    if (!vlt_tracks(s))
        return;
    char buf[512], *k = store_key(source, id, buf, sizeof buf);
    vlt_strl_add(&s->dirty_seen, k);
    if (k != buf)
        free(k);
}

struct seen_each {
    const vlt_state *s;
    void (*fn)(void *arg, const char *key);
    void *arg;
};

/* An element of the set as the store names it. */
static void seen_one(void *arg, uint32_t src, const char *id)
{
    struct seen_each *e = arg;
    char buf[512], *key = store_key(cm_intern_str(e->s->strs, src), id, buf, sizeof buf);
    e->fn(e->arg, key);
    if (key != buf)
        free(key);
}

void vlt_state_seen_each(const vlt_state *s, void (*fn)(void *arg, const char *key), void *arg)
{
    struct seen_each e = {s, fn, arg};
    cm_idset_each(s->seen, seen_one, &e);
}

void vlt_state_seen_load(vlt_state *s, const char *key)
{
    const char *sep = strchr(key, '\x1f');
    if (!sep)
        return;
    char *source = cm_strndup(key, (size_t)(sep - key));
    seen_add(s, source, sep + 1);
    free(source);
}

/* ---------- resource ids: one spelling per resource ---------- */

/* The hash of id case-folded; false for an id too long to be a resource's (1024 bytes). */
static bool fold_hash(const char *id, uint64_t *hash)
{
    char buf[1100];
    if (strlen(id) >= sizeof buf)
        return false;
    vlt_resource_id_fold(id, buf, sizeof buf);
    size_t n;
    *hash = cm_strhash(buf, &n);
    return true;
}

static bool same_folded(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (*a != *b && tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

/* The slot of the live resource whose id folds as id does, or the empty slot where it
 * would go. */
static struct vlt_fold_slot *fold_find(const vlt_state *s, const char *id, uint64_t hash)
{
    size_t mask = s->fold_cap - 1, i = (size_t)hash & mask;
    uint32_t hi = (uint32_t)(hash >> 32);
    for (;; i = (i + 1) & mask) {
        struct vlt_fold_slot *sl = &s->fold[i];
        if (!sl->h || (sl->hash == hi && same_folded(cm_intern_str(s->rids, sl->h), id)))
            return sl;
    }
}

const char *vlt_state_resource_spelling(const vlt_state *s, const char *id)
{
    if (!id)
        return NULL;
    const vlt_resource *r = cm_itab_get(&s->resources, id);
    if (r)
        return r->id;
    uint64_t hash;
    if (!s->fold_len || !fold_hash(id, &hash))
        return NULL;
    const struct vlt_fold_slot *sl = fold_find(s, id, hash);
    return sl->h ? cm_intern_str(s->rids, sl->h) : NULL;
}

static void fold_grow(vlt_state *s)
{
    struct vlt_fold_slot *old = s->fold;
    size_t ocap = s->fold_cap;
    s->fold_cap = ocap ? ocap * 2 : 256;
    s->fold = cm_xcalloc(s->fold_cap, sizeof *s->fold);
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].h)
            continue;
        uint64_t hash = 0; /* an indexed id always folds */
        fold_hash(cm_intern_str(s->rids, old[i].h), &hash);
        size_t j = (size_t)hash & (s->fold_cap - 1);
        while (s->fold[j].h)
            j = (j + 1) & (s->fold_cap - 1);
        s->fold[j] = old[i];
    }
    free(old);
}

/* Removes the slot at i, moving up the later entries of its run (no tombstones). */
static void fold_remove(vlt_state *s, size_t hole)
{
    size_t mask = s->fold_cap - 1, i = hole;
    for (;;) {
        i = (i + 1) & mask;
        if (!s->fold[i].h)
            break;
        uint64_t hash = 0; /* an indexed id always folds */
        fold_hash(cm_intern_str(s->rids, s->fold[i].h), &hash);
        size_t home = (size_t)hash & mask;
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            s->fold[hole] = s->fold[i];
            hole = i;
        }
    }
    s->fold[hole] = (struct vlt_fold_slot){0};
    s->fold_len--;
}

void vlt_index_spelling(vlt_state *s, const char *id, bool add)
{
    uint64_t hash;
    if (!fold_hash(id, &hash))
        return;
    if (add && (s->fold_len + 1) * 4 > s->fold_cap * 3)
        fold_grow(s);
    if (!s->fold_cap)
        return;
    struct vlt_fold_slot *sl = fold_find(s, id, hash);
    if (!add) {
        if (sl->h)
            fold_remove(s, (size_t)(sl - s->fold));
        return;
    }
    s->fold_len += sl->h == 0;
    sl->hash = (uint32_t)(hash >> 32);
    sl->h = cm_intern_handle(vlt_rid(s, id));
}

/* ---------- key material ---------- */

int vlt_keyver_pkey(vlt_state *s, const vlt_key *k, const vlt_keyver *kvc, cry_pkey **out,
                    char *err, size_t errn)
{
    vlt_keyver *kv = (vlt_keyver *)kvc; /* the loaded key is a cache */
    /* A transaction's new version used before it settles: its material is made now. */
    if (kv->unmade) {
        int rc = vlt_keyver_generate(s, k, kv, err, errn);
        if (rc < 0)
            return rc;
    }
    *out = kv->pk;
    if (kv->pk)
        return 0;
    char aad[768];
    snprintf(aad, sizeof aad, "%s/%s", k->uri, kv->version);
    cm_buf der;
    cm_buf_init_secret(&der, 0);
    int rc = cry_gcm_open(s->master->b, aad, strlen(aad), kv->sealed.p, kv->sealed.len, &der);
    if (rc < 0) {
        snprintf(err, errn, "cannot open the key material of %s (wrong master key?)", aad);
        cm_buf_free(&der);
        return rc;
    }
    kv->pk = cry_pkey_import(vlt_key_material_kty(k), (const uint8_t *)der.p, der.len);
    cm_buf_free(&der);
    if (!kv->pk) {
        snprintf(err, errn, "corrupt key material for %s", aad);
        return CM_EENV;
    }
    *out = kv->pk;
    return 0;
}

int vlt_keyver_generate(vlt_state *s, const vlt_key *k, vlt_keyver *kv, char *err, size_t errn)
{
    cry_pkey *pk;
    int rc = cry_pkey_generate(vlt_key_material_kty(k), vlt_key_material_size(k), &pk, err, errn);
    if (rc < 0)
        return rc;
    cry_secret *der = cry_pkey_export(pk);
    char aad[768];
    snprintf(aad, sizeof aad, "%s/%s", k->uri, kv->version);
    cm_buf_init(&kv->sealed, 0);
    rc =
        der ? cry_gcm_seal(s->master->b, aad, strlen(aad), der->b, der->len, &kv->sealed) : CM_EENV;
    cry_secret_free(der);
    if (rc < 0) {
        snprintf(err, errn, "cannot seal the new key material");
        cm_buf_free(&kv->sealed);
        cry_pkey_free(pk);
        return rc;
    }
    kv->pk = pk;
    kv->unmade = false;
    return 0;
}

int vlt_keyver_generate_later(vlt_state *s, const vlt_key *k, vlt_keyver *kv, char *err,
                              size_t errn)
{
    if (cm_fault_armed || vlt_bulk_threads() < 2)
        return vlt_keyver_generate(s, k, kv, err, errn);
    int rc = cry_pkey_check(vlt_key_material_kty(k), vlt_key_material_size(k), err, errn);
    if (rc < 0)
        return rc;
    cm_buf_init(&kv->sealed, 0);
    kv->pk = NULL;
    kv->unmade = true;
    return 0;
}

size_t vlt_key_nversions(const vlt_key *k)
{
    return k ? k->nvers : 0;
}

const vlt_keyver *vlt_key_version_at(const vlt_key *k, size_t i)
{
    return k && i < k->nvers ? &k->vers[i] : NULL;
}

void vlt_state_set_foreign(vlt_state *s, vlt_foreign_fn fn, void *arg)
{
    s->foreign = fn;
    s->foreign_arg = fn ? arg : NULL;
}

const vlt_keyver *vlt_key_version(const vlt_key *k, const char *version)
{
    if (!k || !k->nvers)
        return NULL;
    if (!version || !*version)
        return &k->vers[k->nvers - 1];
    for (size_t i = 0; i < k->nvers; i++)
        if (!strcmp(k->vers[i].version, version))
            return &k->vers[i];
    return NULL;
}

bool vlt_keyver_valid_at(const vlt_keyver *kv, int64_t at, char *why, size_t wn)
{
    char when[CM_TS_SIZE];
    if (kv->has_nbf && at < kv->nbf) {
        if (why) {
            cm_ts_format(kv->nbf, when);
            snprintf(why, wn, "key version %s is not valid before %s", kv->version, when);
        }
        return false;
    }
    if (kv->has_exp && at >= kv->exp) {
        if (why) {
            cm_ts_format(kv->exp, when);
            snprintf(why, wn, "key version %s expired at %s", kv->version, when);
        }
        return false;
    }
    return true;
}

void vlt_acl_key(const char *vault, const char *principal, char *out, size_t n)
{
    snprintf(out, n, "%s\x1f%s", vault, principal);
}

uint64_t vlt_acl_pair(vlt_state *s, const char *vault, const char *principal)
{
    uint32_t v = cm_intern_add(s->strs, vault);
    return cm_u64_pair(v, cm_intern_add(s->strs, principal));
}

uint64_t vlt_acl_find(const vlt_state *s, const char *vault, const char *principal)
{
    uint32_t v = cm_intern_find(s->strs, vault), p = v ? cm_intern_find(s->strs, principal) : 0;
    return v && p ? cm_u64_pair(v, p) : 0;
}

void vlt_acl_key_of(const vlt_state *s, uint64_t pair, char *out, size_t n)
{
    vlt_acl_key(cm_intern_str(s->strs, (uint32_t)(pair >> 32)),
                cm_intern_str(s->strs, (uint32_t)pair), out, n);
}

uint64_t vlt_acl_pair_of_key(vlt_state *s, const char *key)
{
    const char *sep = strchr(key, '\x1f');
    if (!sep)
        return 0;
    char *vault = cm_strndup(key, (size_t)(sep - key));
    uint64_t pair = vlt_acl_pair(s, vault, sep + 1);
    free(vault);
    return pair;
}
