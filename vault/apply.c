/* Applying an event's own change to a transaction (SPEC §2, §3): a vault upserted or its
 * access changed, a key created, rotated, enabled, expired, deleted or purged, a
 * resource created, bound, moved or deleted. Requests the state cannot honour are
 * rejected with a reason; what follows from a change is settled in physics.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/internal.h"

__attribute__((format(printf, 3, 4))) static int reject(char *reason, size_t rn, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, rn, fmt, ap);
    va_end(ap);
    return CM_EINPUT;
}

static int apply_vault(vlt_txn *t, const vlt_event *ev, char *reason, size_t rn)
{
    char uri[VLT_URI_MAX + 1];
    vlt_keyref kr;
    vlt_uri_canon(ev->subject, uri, sizeof uri, &kr);
    if (ev->type == VLT_EV_VAULT_UPSERTED) {
        vlt_vault *v = vlt_txn_wr_vault(t, uri);
        if (!v) {
            v = cm_xcalloc(1, sizeof *v);
            v->uri = vlt_str(t->s, uri);
            v->name = vlt_str(t->s, kr.vault);
            vlt_txn_put_vault(t, uri, v);
        }
        vlt_set_str(t->s, &v->tenant, ev->tenant);
        vlt_set_str(t->s, &v->region, ev->region);
        vlt_set_str(t->s, &v->subscription, ev->subscription);
        v->soft_delete = ev->soft_delete;
        v->purge_protection = ev->purge_protection;
        v->retention_days = vlt_event_has(ev, VLT_F_RETENTION_DAYS) ? ev->retention_days : 90;
        return 0;
    }
    if (!vlt_txn_vault(t, uri, false))
        return reject(reason, rn, "vault %s does not exist", uri);
    vlt_txn_acl_set(t, uri, ev->principal, ev->permissions, ev->type == VLT_EV_ACCESS_GRANTED);
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
    vlt_txn_put_key(t, uri, NULL);
}

/* A key announced without its type (Event Grid says only that a version exists) is
 * completed by the first key.created that states the type and names a version it has.
 * Versions keep their stand-in material when it is of the stated family; otherwise,
 * and only while no resource is bound to the key, they get new material. */
static int key_complete(vlt_txn *t, vlt_key *k, const vlt_event *ev, char *reason, size_t rn)
{
    bool rsa = !strcmp(ev->kty, "RSA") || !strcmp(ev->kty, "RSA-HSM");
    k->kty = vlt_str(t->s, ev->kty);
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
        int rc = vlt_keyver_generate(t->s, k, &k->vers[i], reason, rn);
        if (rc < 0)
            return rc;
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
    vlt_key *k = vlt_txn_wr_key(t, uri);
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
        k->uri = vlt_str(t->s, uri);
        k->name = vlt_str(t->s, kr.name);
        k->vault_uri = vlt_str(t->s, vuri);
        k->kty = vlt_str(t->s, ev->kty);
        k->size = vlt_event_has(ev, VLT_F_SIZE) ? ev->size : 256;
        k->vers = cm_xcalloc(1, sizeof *k->vers);
        k->vers[0].version = vlt_str(t->s, ev->version);
        k->vers[0].enabled = true;
        set_validity(&k->vers[0], ev);
        k->nvers = 1;
        vlt_txn_put_key(t, uri, k);
        return vlt_keyver_generate(t->s, k, &k->vers[0], reason, rn);
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
        k->vers[k->nvers].version = vlt_str(t->s, ev->version);
        k->vers[k->nvers].enabled = true;
        set_validity(&k->vers[k->nvers], ev);
        k->nvers++;
        /* Its material is made while settling unwraps under the old version. */
        return vlt_keyver_generate_later(t->s, k, &k->vers[k->nvers - 1], reason, rn);
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
    vlt_rh h = cm_intern_find(t->s->rids, id); /* the one lookup of the id */
    vlt_resource *r = vlt_txn_wr_res_at(t, h);
    if (ev->type == VLT_EV_RES_ARRIVED) { /* from another tenant's partition, as it left */
        if (r)
            return reject(reason, rn, "resource %s already exists", id);
        if (!vlt_handover_check(t->s, id, ev->tenant, ev->state, ev->mac))
            return reject(reason, rn, "the state of resource %s does not authenticate", id);
        r = vlt_doc_resource(t->s, ev->state);
        if (!r || strcmp(r->id, id) != 0 || !cm_streq(r->tenant, ev->tenant)) {
            vlt_res_free(r);
            return reject(reason, rn, "the state of resource %s is not its document", id);
        }
        t->subject = cm_intern_handle(r->id);
        vlt_txn_put_res_at(t, t->subject, r);
        return 0;
    }
    if (ev->type == VLT_EV_RES_CREATED) {
        if (r)
            return reject(reason, rn, "resource %s already exists", id);
        r = cm_xcalloc(1, sizeof *r);
        r->id = vlt_rid(t->s, id);
        r->kind = vlt_str(t->s, ev->kind);
        r->tenant = vlt_str(t->s, ev->tenant);
        r->region = vlt_str(t->s, ev->region);
        r->subscription = vlt_str(t->s, ev->subscription);
        if (vlt_event_has(ev, VLT_F_KEY_URI)) {
            vlt_keyref kr;
            char k[512];
            vlt_key_uri_parse(ev->key_uri, &kr);
            vlt_key_uri(&kr, true, k, sizeof k);
            r->requested_key = vlt_str(t->s, k);
        }
        t->subject = cm_intern_handle(r->id);
        vlt_txn_put_res_at(t, t->subject, r);
        return 0;
    }
    if (!r)
        return reject(reason, rn, "resource %s does not exist", id);
    t->subject = h;
    switch (ev->type) {
    case VLT_EV_RES_IDENTITY_ENABLED:
        r->identity = true;
        vlt_set_str(t->s, &r->principal, ev->principal);
        vlt_set_str(t->s, &r->identity_tenant, ev->tenant);
        return 0;
    case VLT_EV_RES_IDENTITY_DISABLED:
        r->identity = false;
        vlt_set_str(t->s, &r->principal, NULL);
        vlt_set_str(t->s, &r->identity_tenant, NULL);
        return 0;
    case VLT_EV_RES_KEY_UPDATED:
        if (!r->cmk)
            return reject(reason, rn, "resource %s uses service-managed keys: enable CMK instead",
                          id);
        /* fall through */
    case VLT_EV_RES_CMK_ENABLED: {
        vlt_keyref kr;
        char k[512];
        vlt_key_uri_parse(ev->key_uri, &kr);
        vlt_key_uri(&kr, true, k, sizeof k);
        r->cmk = true;
        vlt_set_str(t->s, &r->key_uri, k);
        r->versionless = kr.version[0] == '\0';
        return 0;
    }
    case VLT_EV_RES_CMK_DISABLED:
        r->cmk = false;
        vlt_set_str(t->s, &r->key_uri, NULL);
        r->versionless = false;
        return 0;
    case VLT_EV_RES_MOVED:
        if (strcmp(r->tenant, ev->tenant) != 0) {
            /* Managed identities do not cross tenants (F11). */
            t->moved = true; /* and with several instances, the resource leaves */
            r->identity = false;
            vlt_set_str(t->s, &r->principal, NULL);
            vlt_set_str(t->s, &r->identity_tenant, NULL);
        }
        vlt_set_str(t->s, &r->tenant, ev->tenant);
        vlt_set_str(t->s, &r->subscription, ev->subscription);
        return 0;
    case VLT_EV_RES_DELETED:
        vlt_txn_put_res_at(t, h, NULL);
        return 0;
    default:
        return reject(reason, rn, "unexpected event for resource %s", id);
    }
}

int vlt_txn_apply(vlt_txn *t, const vlt_event *ev, char *reason, size_t rn)
{
    t->ev = ev;
    switch (vlt_etype_subject(ev->type)) {
    case VLT_SUBJ_VAULT:
        return apply_vault(t, ev, reason, rn);
    case VLT_SUBJ_KEY:
        return apply_key(t, ev, reason, rn);
    case VLT_SUBJ_RESOURCE:
        return apply_resource(t, ev, reason, rn);
    }
    return -1;
}
