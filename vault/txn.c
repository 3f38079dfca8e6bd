/* Transactions and the physics of envelope encryption (SPEC §3). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vault/internal.h"
#include "common/fault.h"

/* ---------- transaction views ---------- */

vlt_txn *vlt_txn_begin(vlt_state *s)
{
    vlt_txn *t = cm_xcalloc(1, sizeof *t);
    t->s = s;
    t->pv = cm_map_new();
    t->pk = cm_map_new();
    t->pr = cm_map_new();
    t->pacl = cm_map_new();
    t->acts = cm_map_new();
    t->changed = cm_map_new();
    return t;
}

static void *view(cm_map *pend, cm_map *committed, const char *id, bool prior)
{
    if (!id)
        return NULL;
    if (!prior) {
        struct pend *p = cm_map_get(pend, id);
        if (p)
            return p->obj;
    }
    return cm_map_get(committed, id);
}

const vlt_vault *vlt_txn_vault(vlt_txn *t, const char *uri, bool prior)
{
    return view(t->pv, t->s->vaults, uri, prior);
}

const vlt_key *vlt_txn_key(vlt_txn *t, const char *uri, bool prior)
{
    return view(t->pk, t->s->keys, uri, prior);
}

const vlt_resource *vlt_txn_resource(vlt_txn *t, const char *id, bool prior)
{
    return view(t->pr, t->s->resources, id, prior);
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

static void vfree(void *p) { vlt_vault_free(p); }
static void kfree(void *p) { vlt_key_free(p); }
static void rfree(void *p) { vlt_res_free(p); }

static void *vclone(const void *o) { return vlt_vault_clone(o); }
static void *kclone(const void *o) { return vlt_key_clone(o); }
static void *rclone(const void *o) { return vlt_res_clone(o); }

/* The transaction's own copy of a committed object, made on first write. */
static void *wr_obj(cm_map *pend, cm_map *committed, const char *id, void *(*clone)(const void *),
                    void (*fr)(void *))
{
    struct pend *p = cm_map_get(pend, id);
    if (p)
        return p->obj;
    const void *o = cm_map_get(committed, id);
    if (!o)
        return NULL;
    void *c = clone(o);
    pend_put(pend, id, c, fr);
    return c;
}

static vlt_vault *wr_vault(vlt_txn *t, const char *uri)
{
    return wr_obj(t->pv, t->s->vaults, uri, vclone, vfree);
}

static vlt_key *wr_key(vlt_txn *t, const char *uri)
{
    return wr_obj(t->pk, t->s->keys, uri, kclone, kfree);
}

static vlt_resource *wr_res(vlt_txn *t, const char *id)
{
    return wr_obj(t->pr, t->s->resources, id, rclone, rfree);
}

static const vlt_key *txn_key(void *arg, const char *uri, bool prior)
{
    return vlt_txn_key(arg, uri, prior);
}

/* Wrapping and unwrapping through the transaction's view of the keys. */
static int wrap_txn(vlt_txn *t, const char *ref, const cry_secret *dek, cm_buf *out, char *err,
                    size_t errn)
{
    vlt_key_lookup look = {txn_key, t};
    return vlt_wrap(t->s, &look, ref, dek, out, err, errn);
}

static cry_secret *unwrap_txn(vlt_txn *t, const char *ref, const cm_buf *w, char *err,
                              size_t errn)
{
    vlt_key_lookup look = {txn_key, t};
    return vlt_unwrap(t->s, &look, ref, w, err, errn);
}

/* ---------- apply: the event's own change ---------- */

__attribute__((format(printf, 3, 4))) static int reject(char *reason, size_t rn,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, rn, fmt, ap);
    va_end(ap);
    return -1;
}

unsigned vlt_txn_access(vlt_txn *t, const char *vault_uri, const char *principal, bool prior)
{
    if (!vault_uri || !principal)
        return 0;
    char k[1400];
    vlt_acl_key(vault_uri, principal, k, sizeof k);
    if (!prior) {
        uintptr_t p = (uintptr_t)cm_map_get(t->pacl, k);
        if (p)
            return p & VLT_ACL_GONE ? 0 : (unsigned)(p & VLT_PERM_ALL);
    }
    return (unsigned)((uintptr_t)cm_map_get(t->s->acl, k) & VLT_PERM_ALL);
}

/* Access policies live beside the vault, so a grant never copies the vault. */
static void acl_set(vlt_txn *t, const char *vault, const char *principal, unsigned perms,
                    bool grant)
{
    char k[1400];
    vlt_acl_key(vault, principal, k, sizeof k);
    unsigned cur = vlt_txn_access(t, vault, principal, false);
    uintptr_t v = grant ? (uintptr_t)(cur | perms | VLT_ACL_PRESENT) : VLT_ACL_GONE;
    cm_map_put(t->pacl, k, (void *)v);
}

static int apply_vault(vlt_txn *t, const vlt_event *ev, char *reason, size_t rn)
{
    char uri[VLT_URI_MAX + 1];
    vlt_keyref kr;
    vlt_uri_canon(ev->subject, uri, sizeof uri, &kr);
    if (ev->type == VLT_EV_VAULT_UPSERTED) {
        vlt_vault *v = wr_vault(t, uri);
        if (!v) {
            v = cm_xcalloc(1, sizeof *v);
            v->uri = cm_strdup(uri);
            v->name = cm_strdup(kr.vault);
            pend_put(t->pv, uri, v, vfree);
        }
        vlt_set_str(&v->tenant, ev->tenant);
        vlt_set_str(&v->region, ev->region);
        vlt_set_str(&v->subscription, ev->subscription);
        v->soft_delete = ev->soft_delete;
        v->purge_protection = ev->purge_protection;
        v->retention_days = vlt_event_has(ev, VLT_F_RETENTION_DAYS) ? ev->retention_days : 90;
        return 0;
    }
    if (!vlt_txn_vault(t, uri, false))
        return reject(reason, rn, "vault %s does not exist", uri);
    acl_set(t, uri, ev->principal, ev->permissions, ev->type == VLT_EV_ACCESS_GRANTED);
    return 0;
}

/* The validity window an event gives a new version (absent: no bound). */
static void set_validity(vlt_keyver *kv, const vlt_event *ev)
{
    kv->has_nbf = vlt_event_has(ev, VLT_F_NBF);
    kv->nbf = kv->has_nbf ? ev->nbf_at : 0;
    kv->has_exp = vlt_event_has(ev, VLT_F_EXP);
    kv->exp = kv->has_exp ? ev->exp_at : 0;
}

static void key_destroy(vlt_txn *t, const char *uri)
{
    pend_put(t->pk, uri, NULL, kfree);
}

/* A key announced without its type (Event Grid says only that a version exists) is
 * completed by the first key.created that states the type and names a version it has.
 * Versions keep their stand-in material when it is of the stated family; otherwise,
 * and only while no resource is bound to the key, they get new material. */
static int key_complete(vlt_txn *t, vlt_key *k, const vlt_event *ev, char *reason, size_t rn)
{
    bool rsa = !strcmp(ev->kty, "RSA") || !strcmp(ev->kty, "RSA-HSM");
    k->kty = cm_strdup(ev->kty);
    k->size = vlt_event_has(ev, VLT_F_SIZE) ? ev->size : 256;
    if (rsa)
        return 0;
    if (vlt_txn_bound_count(t, NULL, k->uri) > 0)
        return reject(reason, rn,
                      "key %s was bound while its type was unknown: its type cannot change to %s",
                      k->uri, ev->kty);
    for (size_t i = 0; i < k->nvers; i++) {
        cry_pkey_free(k->vers[i].pk);
        k->vers[i].pk = NULL;
        cm_buf_free(&k->vers[i].sealed);
        if (vlt_keyver_generate(t->s, k, &k->vers[i], reason, rn) < 0)
            return -1;
    }
    return 0;
}

static int apply_key(vlt_txn *t, const vlt_event *ev, char *reason, size_t rn)
{
    vlt_keyref kr;
    char uri[512], vuri[256];
    vlt_key_uri_parse(ev->subject, &kr);
    vlt_key_uri(&kr, false, uri, sizeof uri);
    vlt_vault_uri(&kr, vuri, sizeof vuri);
    const vlt_vault *v = vlt_txn_vault(t, vuri, false);
    if (!v)
        return reject(reason, rn, "vault %s does not exist", vuri);
    vlt_key *k = wr_key(t, uri);
    if (ev->type == VLT_EV_KEY_CREATED && k && !k->kty && !k->deleted && ev->kty &&
        vlt_key_version(k, ev->version))
        return key_complete(t, k, ev, reason, rn);
    if (ev->type == VLT_EV_KEY_CREATED) {
        if (k)
            return k->deleted
                       ? reject(reason, rn, "key %s is deleted: recover or purge it first", uri)
                       : reject(reason, rn, "key %s already exists: rotate it to add a version",
                                uri);
        k = cm_xcalloc(1, sizeof *k);
        k->uri = cm_strdup(uri);
        k->name = cm_strdup(kr.name);
        k->vault_uri = cm_strdup(vuri);
        k->kty = cm_strdup(ev->kty);
        k->size = vlt_event_has(ev, VLT_F_SIZE) ? ev->size : 256;
        k->vers = cm_xcalloc(1, sizeof *k->vers);
        k->vers[0].version = cm_strdup(ev->version);
        k->vers[0].enabled = true;
        set_validity(&k->vers[0], ev);
        k->nvers = 1;
        pend_put(t->pk, uri, k, kfree);
        if (vlt_keyver_generate(t->s, k, &k->vers[0], reason, rn) < 0)
            return -1;
        return 0;
    }
    if (!k)
        return reject(reason, rn, "key %s does not exist", uri);
    switch (ev->type) {
    case VLT_EV_KEY_ROTATED:
        if (k->deleted)
            return reject(reason, rn, "key %s is deleted", uri);
        if (vlt_key_version(k, ev->version) && ev->version)
            return reject(reason, rn, "version %s already exists", ev->version);
        k->vers = cm_xrealloc(k->vers, (k->nvers + 1) * sizeof *k->vers);
        memset(&k->vers[k->nvers], 0, sizeof k->vers[0]);
        k->vers[k->nvers].version = cm_strdup(ev->version);
        k->vers[k->nvers].enabled = true;
        set_validity(&k->vers[k->nvers], ev);
        k->nvers++;
        return vlt_keyver_generate(t->s, k, &k->vers[k->nvers - 1], reason, rn);
    case VLT_EV_KEY_DISABLED:
    case VLT_EV_KEY_ENABLED: {
        bool en = ev->type == VLT_EV_KEY_ENABLED;
        if (vlt_event_has(ev, VLT_F_VERSION)) {
            vlt_keyver *kv = (vlt_keyver *)vlt_key_version(k, ev->version);
            if (!kv)
                return reject(reason, rn, "key version %s does not exist", ev->version);
            kv->enabled = en;
        } else {
            for (size_t i = 0; i < k->nvers; i++)
                k->vers[i].enabled = en;
        }
        return 0;
    }
    /* Key Vault's notices observe a version's validity; the vault is the authority on it.
     * key.expiring records the exp it announces (a bound cmkguard did not know, or one
     * moved since the version was announced). key.expired says the version has expired:
     * an exp still unknown or later than the event becomes the event's time. Neither
     * locks anything (an expired version still unwraps), and neither is a request. */
    case VLT_EV_KEY_EXPIRING:
    case VLT_EV_KEY_EXPIRED: {
        vlt_keyver *kv = (vlt_keyver *)vlt_key_version(k, ev->version);
        if (!kv)
            return reject(reason, rn, "key version %s does not exist", ev->version);
        int64_t at = vlt_event_at(ev);
        if (ev->type == VLT_EV_KEY_EXPIRING) {
            kv->exp = ev->exp_at;
            kv->has_exp = true;
        } else if (!kv->has_exp || kv->exp > at) {
            kv->exp = at;
            kv->has_exp = true;
        }
        return 0;
    }
    case VLT_EV_KEY_DELETED:
        if (k->deleted)
            return reject(reason, rn, "key %s is already deleted", uri);
        if (v->soft_delete)
            k->deleted = true;
        else
            key_destroy(t, uri); /* no soft delete: gone for good (F15) */
        return 0;
    case VLT_EV_KEY_RECOVERED:
        if (!k->deleted)
            return reject(reason, rn, "key %s is not deleted", uri);
        k->deleted = false;
        return 0;
    case VLT_EV_KEY_PURGED:
        if (!k->deleted)
            return reject(reason, rn, "key %s is not deleted: only a deleted key can be purged",
                          uri);
        if (v->purge_protection)
            return reject(reason, rn, "vault %s has purge protection: the purge is refused", vuri);
        key_destroy(t, uri);
        return 0;
    default:
        return reject(reason, rn, "unexpected event for key %s", uri);
    }
}

static int apply_resource(vlt_txn *t, const vlt_event *ev, char *reason, size_t rn)
{
    const char *id = ev->subject;
    vlt_resource *r = wr_res(t, id);
    if (ev->type == VLT_EV_RES_CREATED) {
        if (r)
            return reject(reason, rn, "resource %s already exists", id);
        r = cm_xcalloc(1, sizeof *r);
        r->id = cm_strdup(id);
        r->kind = cm_strdup(ev->kind);
        r->tenant = cm_strdup(ev->tenant);
        r->region = cm_strdup(ev->region);
        r->subscription = cm_strdup(ev->subscription);
        cm_buf_init(&r->wdek, 0);
        cm_buf_init(&r->wsvc, 0);
        cm_buf_init(&r->wblk, 0);
        if (vlt_event_has(ev, VLT_F_KEY_URI)) {
            vlt_keyref kr;
            char k[512];
            vlt_key_uri_parse(ev->key_uri, &kr);
            vlt_key_uri(&kr, true, k, sizeof k);
            r->requested_key = cm_strdup(k);
        }
        pend_put(t->pr, id, r, rfree);
        return 0;
    }
    if (!r)
        return reject(reason, rn, "resource %s does not exist", id);
    switch (ev->type) {
    case VLT_EV_RES_IDENTITY_ENABLED:
        r->identity = true;
        vlt_set_str(&r->principal, ev->principal);
        vlt_set_str(&r->identity_tenant, ev->tenant);
        return 0;
    case VLT_EV_RES_IDENTITY_DISABLED:
        r->identity = false;
        vlt_set_str(&r->principal, NULL);
        vlt_set_str(&r->identity_tenant, NULL);
        return 0;
    case VLT_EV_RES_KEY_UPDATED:
        if (!r->cmk)
            return reject(reason, rn,
                          "resource %s uses service-managed keys: enable CMK instead", id);
        /* fall through */
    case VLT_EV_RES_CMK_ENABLED: {
        vlt_keyref kr;
        char k[512];
        vlt_key_uri_parse(ev->key_uri, &kr);
        vlt_key_uri(&kr, true, k, sizeof k);
        r->cmk = true;
        vlt_set_str(&r->key_uri, k);
        r->versionless = kr.version[0] == '\0';
        return 0;
    }
    case VLT_EV_RES_CMK_DISABLED:
        r->cmk = false;
        vlt_set_str(&r->key_uri, NULL);
        r->versionless = false;
        return 0;
    case VLT_EV_RES_MOVED:
        if (strcmp(r->tenant, ev->tenant) != 0) {
            /* Managed identities do not cross tenants (F11). */
            r->identity = false;
            vlt_set_str(&r->principal, NULL);
            vlt_set_str(&r->identity_tenant, NULL);
        }
        vlt_set_str(&r->tenant, ev->tenant);
        vlt_set_str(&r->subscription, ev->subscription);
        return 0;
    case VLT_EV_RES_DELETED:
        pend_put(t->pr, id, NULL, rfree);
        return 0;
    default:
        return reject(reason, rn, "unexpected event for resource %s", id);
    }
}

int vlt_txn_apply(vlt_txn *t, const vlt_event *ev, char *reason, size_t rn)
{
    t->ev = ev;
    switch (vlt_etype_subject(ev->type)) {
    case VLT_SUBJ_VAULT: return apply_vault(t, ev, reason, rn);
    case VLT_SUBJ_KEY: return apply_key(t, ev, reason, rn);
    case VLT_SUBJ_RESOURCE: return apply_resource(t, ev, reason, rn);
    }
    return -1;
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
            cm_map *idx;
            if (vlt_etype_subject(ev->type) == VLT_SUBJ_VAULT) {
                vlt_uri_canon(ev->subject, uri, sizeof uri, NULL);
                idx = t->s->by_vault;
            } else {
                vlt_keyref kr;
                vlt_key_uri_parse(ev->subject, &kr);
                vlt_key_uri(&kr, false, uri, sizeof uri);
                idx = t->s->by_key;
            }
            vlt_idlist *l = cm_map_get(idx, uri);
            bool access = ev->type == VLT_EV_ACCESS_GRANTED || ev->type == VLT_EV_ACCESS_REVOKED;
            bool narrow = access && !bystanders;
            /* An access change can only matter to the identity it names: start from the
             * principal's resources and keep those bound to this vault. */
            vlt_idlist *from = narrow ? cm_map_get(t->s->by_principal, ev->principal) : l;
            size_t cnt = from ? from->n : 0, k = 0;
            t->affected = cm_xcalloc(cnt + 1, sizeof *t->affected);
            for (size_t i = 0; i < cnt; i++) {
                if (narrow) {
                    char bv[256], bk[512];
                    const vlt_resource *r = vlt_txn_resource(t, from->ids[i], false);
                    if (!vlt_binding_of(r, bv, sizeof bv, bk, sizeof bk, NULL) || strcmp(bv, uri) != 0)
                        continue;
                }
                t->affected[k++] = cm_strdup(from->ids[i]);
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
    cm_map *idx = key_uri ? t->s->by_key : t->s->by_vault;
    const char *id = key_uri ? key_uri : vault_uri;
    if (!id)
        return 0;
    vlt_idlist *l = cm_map_get(idx, id);
    int64_t n = l ? (int64_t)l->n : 0;
    size_t it = 0;
    const char *rid;
    void *pv;
    while (cm_map_next(t->pr, &it, &rid, &pv)) {
        char v1[256], k1[512], v2[256], k2[512];
        const vlt_resource *old = cm_map_get(t->s->resources, rid);
        const vlt_resource *neu = ((struct pend *)pv)->obj;
        bool was = vlt_binding_of(old, v1, sizeof v1, k1, sizeof k1, NULL) &&
                   !strcmp(key_uri ? k1 : v1, id);
        bool is = vlt_binding_of(neu, v2, sizeof v2, k2, sizeof k2, NULL) &&
                  !strcmp(key_uri ? k2 : v2, id);
        n += (int64_t)is - (int64_t)was;
    }
    return n;
}

/* ---------- lock reasons ---------- */

static bool has_reason(const vlt_resource *r, const char *why)
{
    for (size_t i = 0; i < r->nreasons; i++)
        if (!strcmp(r->reasons[i], why))
            return true;
    return false;
}

static void add_reason(vlt_resource *r, const char *why)
{
    if (has_reason(r, why))
        return;
    r->reasons = cm_xrealloc(r->reasons, (r->nreasons + 1) * sizeof *r->reasons);
    r->reasons[r->nreasons++] = cm_strdup(why);
    qsort(r->reasons, r->nreasons, sizeof *r->reasons, cmp_str);
}

static void del_reasons(vlt_resource *r, bool rules)
{
    size_t j = 0;
    for (size_t i = 0; i < r->nreasons; i++) {
        bool is_rule = !strncmp(r->reasons[i], "rule:", 5);
        if (is_rule == rules)
            free(r->reasons[i]);
        else
            r->reasons[j++] = r->reasons[i];
    }
    r->nreasons = j;
}

void vlt_txn_rule_lock(vlt_txn *t, const char *rid, const char *rule_id, bool hold)
{
    char why[256];
    snprintf(why, sizeof why, "rule:%s", rule_id);
    const vlt_resource *cur = vlt_txn_resource(t, rid, false);
    if (!cur || has_reason(cur, why) == hold)
        return;
    vlt_resource *r = wr_res(t, rid);
    if (hold) {
        add_reason(r, why);
    } else {
        for (size_t i = 0; i < r->nreasons; i++)
            if (!strcmp(r->reasons[i], why)) {
                free(r->reasons[i]);
                memmove(&r->reasons[i], &r->reasons[i + 1],
                        (r->nreasons - i - 1) * sizeof *r->reasons);
                r->nreasons--;
                break;
            }
    }
}

/* Why a CMK resource cannot use the key version its DEK is wrapped under. */
static void physics_reasons(vlt_txn *t, vlt_resource *r)
{
    if (r->lost) {
        add_reason(r, "key-destroyed");
        return;
    }
    if (!r->cmk)
        return;
    vlt_keyref kr;
    char vuri[256], kuri[512];
    const char *ref = r->wrap_ref && strcmp(r->wrap_ref, VLT_MMK) ? r->wrap_ref : r->key_uri;
    if (!ref || !vlt_key_uri_parse(ref, &kr)) {
        add_reason(r, "key-missing");
        return;
    }
    vlt_vault_uri(&kr, vuri, sizeof vuri);
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    const vlt_vault *v = vlt_txn_vault(t, vuri, false);
    const vlt_key *k = vlt_txn_key(t, kuri, false);
    const vlt_keyver *kv = vlt_key_version(k, kr.version);
    if (!v)
        add_reason(r, "vault-missing");
    if (!kv)
        add_reason(r, "key-missing");
    else if (k->deleted)
        add_reason(r, "key-deleted");
    else if (!kv->enabled)
        add_reason(r, "key-disabled");
    if (!r->identity) {
        add_reason(r, "identity-missing");
        return;
    }
    if (v && !cm_streq(r->identity_tenant, v->tenant))
        add_reason(r, "identity-tenant-mismatch");
    unsigned p = v ? vlt_txn_access(t, v->uri, r->principal, false) : 0;
    if (v && (p & VLT_PERM_ALL) != VLT_PERM_ALL) {
        static const char *const names[] = {"get", "wrapKey", "unwrapKey"};
        const char *missing[3];
        size_t nm = 0;
        for (int i = 0; i < 3; i++)
            if (!(p & (1u << i)))
                missing[nm++] = names[i];
        char list[32], why[64];
        cm_join(list, sizeof list, ",", missing, nm); /* "get,wrapKey,unwrapKey" fits */
        snprintf(why, sizeof why, "access-missing:%s", list);
        add_reason(r, why);
    }
}

/* Physics-only usability of a CMK reference for this resource (ignores rule locks). */
static bool usable_for(vlt_txn *t, const vlt_resource *r, const char *ref, char *why, size_t wn)
{
    if (!strcmp(ref, VLT_MMK))
        return true;
    vlt_resource probe = *r;
    probe.reasons = NULL;
    probe.nreasons = 0;
    probe.cmk = true;
    probe.lost = r->lost;
    char *saved_ref = probe.wrap_ref;
    probe.wrap_ref = (char *)ref;
    physics_reasons(t, &probe);
    probe.wrap_ref = saved_ref;
    bool ok = probe.nreasons == 0;
    if (!ok)
        cm_join(why, wn, ", ", (const char *const *)probe.reasons, probe.nreasons);
    for (size_t i = 0; i < probe.nreasons; i++)
        free(probe.reasons[i]);
    free(probe.reasons);
    return ok;
}

/* ---------- actions ---------- */

static void act(vlt_txn *t, const char *rid, const char *op, const char *from, const char *to,
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

/* ---------- settle ---------- */

static int fail_op(vlt_txn *t, const char *rid, const char *op, const char *from, const char *to,
                   const char *error, char *reason, size_t rn)
{
    act(t, rid, op, from, to, error);
    snprintf(reason, rn, "%s of %s failed: %s", op, rid, error);
    return -1;
}

static int create_deks(vlt_txn *t, vlt_resource *r, char *reason, size_t rn)
{
    char err[256];
    cry_secret *dek = cry_secret_random(CRY_DEK_LEN);
    cry_secret *svc = cry_secret_random(CRY_DEK_LEN);
    cry_secret *blk = cry_secret_random(CRY_DEK_LEN);
    int rc = -1;
    if (!dek || !svc || !blk) {
        snprintf(err, sizeof err, "random generator failed");
        goto out_wipe;
    }
    if (wrap_txn(t, VLT_MMK, dek, &r->wdek, err, sizeof err) < 0 ||
        wrap_txn(t, VLT_MMK, blk, &r->wblk, err, sizeof err) < 0)
        goto out_wipe;
    if (!strcmp(r->kind, "Face") && wrap_txn(t, VLT_MMK, svc, &r->wsvc, err, sizeof err) < 0)
        goto out_wipe;
    vlt_set_str(&r->wrap_ref, VLT_MMK);
    r->dek = dek;
    dek = NULL;
    rc = 0;
out_wipe:
    cry_secret_free(dek);
    cry_secret_free(svc);
    cry_secret_free(blk);
    if (rc < 0)
        return fail_op(t, r->id, "wrap", NULL, VLT_MMK, err, reason, rn);
    act(t, r->id, "wrap", NULL, VLT_MMK, NULL);
    return 0;
}

/* The reference a resource's DEK should be wrapped under now. */
static void target_ref(vlt_txn *t, const vlt_resource *r, char *out, size_t n)
{
    if (!r->cmk || !r->key_uri) {
        snprintf(out, n, "%s", VLT_MMK);
        return;
    }
    if (!r->versionless) {
        snprintf(out, n, "%s", r->key_uri);
        return;
    }
    vlt_keyref kr;
    char kuri[512];
    vlt_key_uri_parse(r->key_uri, &kr);
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    const vlt_keyver *kv = vlt_key_version(vlt_txn_key(t, kuri, false), NULL);
    if (kv)
        snprintf(kr.version, sizeof kr.version, "%s", kv->version);
    vlt_key_uri(&kr, true, out, n);
}

/* Whether the version a reference names may wrap at the event's time (SPEC §3: before its
 * nbf or from its exp on it wraps nothing). The VLT_MMK and a missing version (reported by
 * usable_for) pass here. */
static bool wrap_valid(vlt_txn *t, const char *ref, char *why, size_t wn)
{
    vlt_keyref kr;
    char kuri[512];
    if (!strcmp(ref, VLT_MMK) || !vlt_key_uri_parse(ref, &kr) || !kr.version[0])
        return true;
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    const vlt_keyver *kv = vlt_key_version(vlt_txn_key(t, kuri, false), kr.version);
    return !kv || vlt_keyver_valid_at(kv, vlt_event_at(t->ev), why, wn);
}

/* Whether the event asks for a wrap under this resource's target: a binding of the
 * resource itself, or a rotation (SPEC §3). Other events only let a resource catch up. */
static bool wrap_requested(const vlt_txn *t, const char *rid)
{
    switch (t->ev->type) {
    case VLT_EV_RES_CMK_ENABLED:
    case VLT_EV_RES_KEY_UPDATED: return !strcmp(t->ev->subject, rid);
    case VLT_EV_KEY_ROTATED: return true;
    default: return false;
    }
}

static int rewrap(vlt_txn *t, vlt_resource *r, const char *to, bool tolerant, char *reason,
                  size_t rn)
{
    char err[1400], why[256];
    const char *from = r->wrap_ref;
    if (r->lost)
        return fail_op(t, r->id, "rewrap", from, to, "the data key was destroyed with its key",
                       reason, rn);
    if (!usable_for(t, r, from, why, sizeof why)) {
        if (tolerant)
            return 0; /* a locked resource stays on the version it has */
        snprintf(err, sizeof err, "cannot unwrap under %s: %s", from, why);
        return fail_op(t, r->id, "rewrap", from, to, err, reason, rn);
    }
    if (!usable_for(t, r, to, why, sizeof why)) {
        snprintf(err, sizeof err, "cannot wrap under %s: %s", to, why);
        return fail_op(t, r->id, "rewrap", from, to, err, reason, rn);
    }
    if (!wrap_valid(t, to, why, sizeof why)) {
        if (!wrap_requested(t, r->id))
            return 0; /* not asked to move: it stays under the version it has */
        snprintf(err, sizeof err, "cannot wrap under %s: %s", to, why);
        return fail_op(t, r->id, "rewrap", from, to, err, reason, rn);
    }
    /* A usable resource holds its DEK, as the service does: re-wrapping it needs only
     * the new key. Without it (after a restart), the old key unwraps it first. */
    cry_secret *dek = r->dek ? cry_secret_dup(r->dek->b, r->dek->len)
                             : unwrap_txn(t, from, &r->wdek, err, sizeof err);
    if (!dek)
        return fail_op(t, r->id, "rewrap", from, to, err, reason, rn);
    cm_buf nw;
    cm_buf_init(&nw, 0);
    if (wrap_txn(t, to, dek, &nw, err, sizeof err) < 0) {
        cry_secret_free(dek);
        cm_buf_free(&nw);
        return fail_op(t, r->id, "rewrap", from, to, err, reason, rn);
    }
    cm_buf_free(&r->wdek);
    r->wdek = nw;
    act(t, r->id, "rewrap", from, to, NULL);
    vlt_set_str(&r->wrap_ref, to);
    cry_secret_free(r->dek);
    r->dek = dek;
    return 0;
}

static bool key_destroyed(vlt_txn *t, const vlt_resource *r)
{
    if (!r->cmk || r->lost || !r->wrap_ref || !strcmp(r->wrap_ref, VLT_MMK))
        return false;
    vlt_keyref kr;
    char kuri[512];
    vlt_key_uri_parse(r->wrap_ref, &kr);
    vlt_key_uri(&kr, false, kuri, sizeof kuri);
    return !vlt_txn_key(t, kuri, false) && vlt_txn_key(t, kuri, true);
}

/* Whether settling would change a resource the event itself did not touch. */
static bool needs_settle(vlt_txn *t, const vlt_resource *r)
{
    if (key_destroyed(t, r))
        return true;
    char to[640];
    target_ref(t, r, to, sizeof to);
    if (!r->lost && r->wrap_ref && strcmp(to, r->wrap_ref) != 0)
        return true;
    vlt_resource probe = *r;
    probe.reasons = NULL;
    probe.nreasons = 0;
    physics_reasons(t, &probe);
    bool same = true;
    size_t j = 0;
    for (size_t i = 0; same && i < r->nreasons; i++) {
        if (!strncmp(r->reasons[i], "rule:", 5))
            continue;
        same = j < probe.nreasons && !strcmp(r->reasons[i], probe.reasons[j]);
        j++;
    }
    same = same && j == probe.nreasons;
    for (size_t i = 0; i < probe.nreasons; i++)
        free(probe.reasons[i]);
    free(probe.reasons);
    return !same;
}

static int settle_one(vlt_txn *t, const char *rid, char *reason, size_t rn)
{
    const vlt_resource *prior = vlt_txn_resource(t, rid, true);
    const vlt_resource *cur = vlt_txn_resource(t, rid, false);
    if (!cur) {
        if (prior) { /* resource.deleted: its keys and data go with it */
            vlt_resource *gone = (vlt_resource *)prior;
            act(t, rid, "shred", gone->lost ? NULL : gone->wrap_ref, NULL, NULL);
        }
        return 0;
    }
    if (!cm_map_get(t->pr, rid) && !needs_settle(t, cur))
        return 0; /* nothing about it changes: no copy */
    vlt_resource *r = wr_res(t, rid);
    if (!prior && create_deks(t, r, reason, rn) < 0)
        return -1;
    /* A destroyed key takes the data key with it (F15). */
    if (key_destroyed(t, r)) {
        act(t, rid, "shred", r->wrap_ref, NULL, NULL);
        r->lost = true;
        cm_wipe(r->wdek.p, r->wdek.len);
        cm_buf_free(&r->wdek);
        cry_secret_free(r->dek);
        r->dek = NULL;
    }
    char to[640];
    target_ref(t, r, to, sizeof to);
    if (!r->lost && r->wrap_ref && strcmp(to, r->wrap_ref) != 0) {
        bool tolerant = t->ev->type == VLT_EV_KEY_ROTATED;
        if (rewrap(t, r, to, tolerant, reason, rn) < 0)
            return -1;
    } else if (r->lost && prior && (r->cmk != prior->cmk || !cm_streq(r->key_uri, prior->key_uri))) {
        return fail_op(t, rid, "rewrap", r->wrap_ref, to, "the data key was destroyed with its key",
                       reason, rn);
    } else if (!r->lost && wrap_requested(t, rid) && t->ev->type != VLT_EV_KEY_ROTATED) {
        /* A binding to the version the data key is already under still has to wrap. */
        char why[256], err[1400];
        if (!wrap_valid(t, to, why, sizeof why)) {
            snprintf(err, sizeof err, "cannot wrap under %s: %s", to, why);
            return fail_op(t, rid, "rewrap", r->wrap_ref, to, err, reason, rn);
        }
    }
    del_reasons(r, false);
    physics_reasons(t, r);
    bool was_locked = prior ? prior->locked : false;
    r->locked = r->nreasons > 0;
    if (r->locked && !was_locked) {
        cry_secret_free(r->dek); /* the plaintext DEK goes: nothing can read the data */
        r->dek = NULL;
        act(t, rid, "lockout", r->wrap_ref, NULL, NULL);
    } else if (!r->locked && was_locked) {
        char err[512];
        cry_secret *dek = unwrap_txn(t, r->wrap_ref, &r->wdek, err, sizeof err);
        if (!dek)
            return fail_op(t, rid, "unlock", NULL, r->wrap_ref, err, reason, rn);
        cry_secret_free(r->dek);
        r->dek = dek;
        act(t, rid, "unlock", NULL, r->wrap_ref, NULL);
    }
    if (r->locked && r->dek) {
        cry_secret_free(r->dek);
        r->dek = NULL;
    }
    return 0;
}

/* ---------- parallel unwrap before a large re-wrap ---------- */

struct prefetch {
    cry_secret *der; /* the old key version's private key */
    const char *kty;
    const cm_buf **wrapped;
    cry_secret **dek;
    size_t n, stride, first;
};

static void *prefetch_worker(void *arg)
{
    struct prefetch *p = arg;
    cry_pkey *k = cry_pkey_import(p->kty, p->der->b, p->der->len);
    char err[256];
    for (size_t i = p->first; k && i < p->n; i += p->stride)
        p->dek[i] = cry_pkey_unwrap(k, (const uint8_t *)p->wrapped[i]->p, p->wrapped[i]->len, err,
                                    sizeof err);
    cry_pkey_free(k);
    return NULL;
}

/* A rotation re-wraps every resource on the key. Those that do not hold their DEK (after
 * a restart) need the old version to unwrap it: an RSA private operation each, spread
 * here over every core. A DEK that does not come out is left to the ordinary path, which
 * says why; so this only ever saves time. (Not under fault injection, which counts calls
 * on one thread.) */
static void prefetch_deks(vlt_txn *t, const char *const *ids, size_t n)
{
    static long cores;
    if (n < 64 || cm_fault_armed)
        return;
    if (!cores)
        cores = sysconf(_SC_NPROCESSORS_ONLN); /* reads /sys: once */
    if (cores < 2)
        return;
    const char *ref = NULL;
    const char **rid = cm_xcalloc(n, sizeof *rid);
    const cm_buf **wrapped = cm_xcalloc(n, sizeof *wrapped);
    size_t m = 0;
    char to[640], why[256];
    for (size_t i = 0; i < n; i++) {
        const vlt_resource *r = vlt_txn_resource(t, ids[i], false);
        if (!r || r->lost || r->dek || !r->wrap_ref || !strcmp(r->wrap_ref, VLT_MMK) || !r->wdek.len)
            continue;
        if (ref && strcmp(ref, r->wrap_ref) != 0)
            continue; /* one key version at a time: a rotation's resources share it */
        target_ref(t, r, to, sizeof to);
        if (!strcmp(to, r->wrap_ref) || !usable_for(t, r, r->wrap_ref, why, sizeof why))
            continue;
        ref = r->wrap_ref;
        rid[m] = ids[i];
        wrapped[m++] = &r->wdek;
    }
    vlt_keyref kr;
    char kuri[512], err[256];
    const vlt_key *k = NULL;
    const vlt_keyver *kv = NULL;
    if (m >= 64) {
        vlt_key_uri_parse(ref, &kr);
        vlt_key_uri(&kr, false, kuri, sizeof kuri);
        k = vlt_txn_key(t, kuri, false);
        kv = vlt_key_version(k, kr.version);
    }
    cry_pkey *pk = kv ? vlt_keyver_pkey(t->s, k, kv, err, sizeof err) : NULL;
    cry_secret *der = pk ? cry_pkey_export(pk) : NULL;
    if (der) {
        size_t nt = cores > 8 ? 8 : (size_t)cores;
        cry_secret **dek = cm_xcalloc(m, sizeof *dek);
        struct prefetch work[8];
        pthread_t th[8];
        size_t started = 0;
        for (size_t i = 0; i < nt; i++) {
            work[i] = (struct prefetch){der, vlt_key_material_kty(k), wrapped, dek, m, nt, i};
            if (pthread_create(&th[i], NULL, prefetch_worker, &work[i]) == 0)
                started++;
            else
                break;
        }
        for (size_t i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        for (size_t i = 0; i < m; i++) {
            if (!dek[i])
                continue;
            vlt_resource *r = wr_res(t, rid[i]);
            cry_secret_free(r->dek);
            r->dek = dek[i];
        }
        free(dek);
        cry_secret_free(der);
    }
    cry_failure_take(); /* a key that failed here fails again, and is reported, below */
    free(rid);
    free(wrapped);
}

int vlt_txn_settle(vlt_txn *t, char *reason, size_t rn)
{
    size_t n;
    const char *const *ids = vlt_txn_affected(t, false, &n);
    prefetch_deks(t, ids, n);
    for (size_t i = 0; i < n; i++)
        if (settle_one(t, ids[i], reason, rn) < 0)
            return -1;
    return 0;
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
        cm_map_free(maps[i]);
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
    cm_map_free(t->acts);
    cm_map_free(t->changed);
    cm_map_free(t->pacl);
    for (size_t k = 0; k < t->naff; k++)
        free(t->affected[k]);
    free(t->affected);
    free(t);
}

void vlt_txn_abort(vlt_txn *t)
{
    if (t)
        txn_free(t);
}

static void swap_in(vlt_state *s, cm_map *pend, cm_map *committed, int table,
                    void (*fr)(void *), bool resources)
{
    size_t it = 0;
    const char *id;
    void *v;
    while (cm_map_next(pend, &it, &id, &v)) {
        struct pend *p = v;
        void *old = cm_map_get(committed, id);
        if (resources) {
            const vlt_resource *o = old, *n = p->obj;
            bool same = o && n && o->cmk == n->cmk && cm_streq(o->key_uri, n->key_uri);
            if (old && !same)
                vlt_index_res(s, old, false);
            if (p->obj && !same)
                vlt_index_res(s, p->obj, true);
            bool same_id = o && n && o->identity == n->identity && cm_streq(o->principal, n->principal);
            if (old && !same_id)
                vlt_index_principal(s, old, false);
            if (p->obj && !same_id)
                vlt_index_principal(s, p->obj, true);
            if (!old != !p->obj)
                vlt_index_spelling(s, id, p->obj != NULL);
        }
        if (old)
            fr(old);
        if (p->obj)
            cm_map_put(committed, id, p->obj);
        else
            cm_map_del(committed, id);
        p->obj = NULL;
        if (s->db)
            cm_map_put(s->dirty[table], id, (void *)1);
    }
}

void vlt_txn_commit(vlt_txn *t)
{
    vlt_state *s = t->s;
    swap_in(s, t->pv, s->vaults, VLT_T_VAULT, vfree, false);
    swap_in(s, t->pk, s->keys, VLT_T_KEY, kfree, false);
    swap_in(s, t->pr, s->resources, VLT_T_RESOURCE, rfree, true);
    size_t it = 0;
    const char *k;
    void *v;
    while (cm_map_next(t->pacl, &it, &k, &v)) {
        if ((uintptr_t)v & VLT_ACL_GONE)
            cm_map_del(s->acl, k);
        else
            cm_map_put(s->acl, k, v);
        if (s->db)
            cm_map_put(s->dirty_acl, k, (void *)1);
    }
    txn_free(t);
}
