/* ARM bodies observed against the state: accounts, vaults, keys (ARM and data-plane
 * form) and role assignments, each turned into the smallest list of cmkguard events
 * that brings the state to what the body says (shared AZURE.md §3). Reads the state,
 * writes none: facts the body teaches go to the observation, recorded by az_observe. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "azure/internal.h"
#include "common/json.h"
#include "common/map.h"
#include "vault/facts.h"

/* ---------- spellings ---------- */

static const char *lower(az_obs *o, const char *s)
{
    if (!s)
        return NULL;
    char *c = (char *)az_keep(o, s, strlen(s));
    for (char *p = c; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return c;
}

/* Regions compare after lower-casing and removing spaces (SPEC §2a). */
static const char *region(az_obs *o, const char *s)
{
    if (!s)
        return NULL;
    char *c = (char *)az_keep(o, s, strlen(s));
    size_t k = 0;
    for (char *p = c; *p; p++)
        if (*p != ' ')
            c[k++] = (char)tolower((unsigned char)*p);
    c[k] = '\0';
    return c;
}

static bool same(const char *a, const char *b)
{
    return a && b ? strcasecmp(a, b) == 0 : a == b;
}

/* An ARM id: "/subscriptions/{sub}/..." with no empty segment, no blanks or quotes.
 * Fills the subscription and the resource group (empty when the id has none). */
static bool arm_parse(const char *id, char *sub, size_t subn, char *rg, size_t rgn)
{
    static const char pre[] = "/subscriptions/";
    sub[0] = rg[0] = '\0';
    size_t n = strlen(id);
    if (n > 1024 || strncasecmp(id, pre, sizeof pre - 1) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= ' ' || id[i] == '"' || id[i] == '\\' || id[i] == '?' ||
            id[i] == '#' || (id[i] == '/' && (id[i + 1] == '/' || id[i + 1] == '\0')))
            return false;
    const char *s = id + sizeof pre - 1;
    size_t sl = strcspn(s, "/");
    if (!sl || sl >= subn)
        return false;
    snprintf(sub, subn, "%.*s", (int)sl, s);
    const char *r = s + sl;
    static const char rgp[] = "/resourceGroups/";
    if (!strncasecmp(r, rgp, sizeof rgp - 1)) {
        const char *g = r + sizeof rgp - 1;
        size_t gl = strcspn(g, "/");
        if (!gl || gl >= rgn)
            return false;
        snprintf(rg, rgn, "%.*s", (int)gl, g);
    }
    return true;
}

/* The segment after "/{name}/" in an ARM id (case-insensitive), into out. */
static bool arm_segment(const char *id, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *p = id; (p = strchr(p, '/')); p++) {
        if (!strncasecmp(p + 1, name, nl) && p[1 + nl] == '/') {
            const char *v = p + 2 + nl;
            size_t vl = strcspn(v, "/");
            if (!vl || vl >= n)
                return false;
            snprintf(out, n, "%.*s", (int)vl, v);
            return true;
        }
    }
    return false;
}

/* Whether an assignment at scope covers the resource id: the id is the scope or
 * lies under it, compared case-insensitively segment by segment. */
static bool covers(const char *scope, const char *id)
{
    size_t n = strlen(scope);
    while (n && scope[n - 1] == '/')
        n--;
    return n && strncasecmp(scope, id, n) == 0 && (id[n] == '\0' || id[n] == '/');
}

/* ---------- facts ---------- */

static yajl_val fact(vlt_state *st, const char *key)
{
    const char *doc = vlt_fact_get(st, key);
    return doc ? yajl_tree_parse(doc, NULL, 0) : NULL;
}

static const char *fact_str(yajl_val f, const char *name)
{
    yajl_val v = az_get(f, name);
    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

/* A fact's document, or -1 (r failed) when it passed its bound: never a cut fact. */
static int fact_done(az_rd *r, cm_jw *j, const char *what)
{
    if (cm_jw_done(j) == 0)
        return 0;
    return az_fail(r, "%s: fact larger than %zu bytes", what, j->b->max);
}

static int sub_fact(az_rd *r, const char *sub, const char *tenant)
{
    az_obs *o = r->o;
    cm_buf b;
    cm_buf_init(&b, 0);
    cm_jw j;
    cm_jw_init(&j, &b);
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "tenant", tenant);
    cm_jw_obj_end(&j);
    int rc = fact_done(r, &j, "tenant");
    if (rc == 0)
        az_fact_add(o, az_keepf(o, "sub:%s", lower(o, sub)), b.p);
    cm_buf_free(&b);
    return rc;
}

/* The tenant of a subscription as some body said it, or NULL. */
static const char *sub_tenant(az_obs *o, vlt_state *st, const char *sub)
{
    for (size_t i = o->nfacts; i-- > 0;) /* this observation's own first */
        if (!strcmp(o->facts[i].key, az_keepf(o, "sub:%s", lower(o, sub))) && o->facts[i].doc) {
            yajl_val f = yajl_tree_parse(o->facts[i].doc, NULL, 0);
            const char *t = fact_str(f, "tenant");
            t = t ? az_keep(o, t, strlen(t)) : NULL;
            yajl_tree_free(f);
            return t;
        }
    yajl_val f = fact(st, az_keepf(o, "sub:%s", lower(o, sub)));
    const char *t = fact_str(f, "tenant");
    t = t ? az_keep(o, t, strlen(t)) : NULL;
    yajl_tree_free(f);
    return t;
}

/* ---------- access ---------- */

static unsigned perm_bits(az_rd *r, yajl_val keys, const char *path)
{
    unsigned p = 0;
    for (size_t i = 0; YAJL_IS_ARRAY(keys) && i < keys->u.array.len; i++) {
        yajl_val v = keys->u.array.values[i];
        if (!YAJL_IS_STRING(v)) {
            az_fail(r, "%s[%zu]: expected a permission name", path, i);
            return 0;
        }
        const char *s = v->u.string;
        while (*s == ' ')
            s++;
        size_t n = strlen(s);
        while (n && s[n - 1] == ' ')
            n--;
        if (n == 3 && !strncasecmp(s, "get", 3))
            p |= VLT_PERM_GET;
        else if (n == 7 && !strncasecmp(s, "wrapKey", 7))
            p |= VLT_PERM_WRAP;
        else if (n == 9 && !strncasecmp(s, "unwrapKey", 9))
            p |= VLT_PERM_UNWRAP;
        else if (n == 3 && !strncasecmp(s, "all", 3))
            p |= VLT_PERM_ALL;
    }
    return p;
}

struct collect {
    cm_map *m;
};

/* want: principal -> perms | 0x100, one entry per principal compared without case
 * (the first spelling kept). */
static void want_add(cm_map *want, const char *principal, unsigned perms)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (cm_map_next(want, &it, &k, &v))
        if (!strcasecmp(k, principal)) {
            char *same_key = cm_strdup(k); /* the map may replace its own copy */
            cm_map_put(want, same_key, (void *)((uintptr_t)v | perms));
            free(same_key);
            return;
        }
    cm_map_put(want, principal, (void *)(uintptr_t)(0x100 | perms));
}

static void collect_current(void *arg, const char *principal, unsigned perms)
{
    struct collect *c = arg;
    want_add(c->m, principal, 0);
    (void)perms;
}

/* Emits the access events that take the vault from what the state holds to want
 * (principal -> perms | 0x100). With every_holder, principals holding access now but
 * absent from want lose it; otherwise only the principals in want are looked at. */
static void access_diff(az_rd *r, vlt_state *st, const char *vault_uri, cm_map *want,
                        bool every_holder)
{
    bool known = vlt_state_vault(st, vault_uri) != NULL;
    if (every_holder && known) {
        struct collect c = {want};
        vlt_state_access_each(st, vault_uri, collect_current, &c);
    }
    size_t n;
    const char **ps = cm_map_sorted_keys(want, &n);
    for (size_t i = 0; i < n && !r->failed; i++) {
        unsigned w = (unsigned)((uintptr_t)cm_map_get(want, ps[i]) & VLT_PERM_ALL);
        unsigned cur = known ? vlt_state_access(st, vault_uri, ps[i]) : 0;
        if (cur == w)
            continue;
        const char *p = az_keep(r->o, ps[i], strlen(ps[i]));
        bool revoke = (cur & ~w) != 0; /* a grant only adds: lose first, then gain */
        if (revoke) {
            az_event *e = az_add(r->o, "vault.access.revoked", vault_uri);
            if (!e)
                goto out_bound;
            e->principal = p;
            e->has = 1u << VLT_F_PRINCIPAL;
        }
        if (w && (revoke || (w & ~cur))) {
            az_event *e = az_add(r->o, "vault.access.granted", vault_uri);
            if (!e)
                goto out_bound;
            e->principal = p;
            e->permissions = w;
            e->has = 1u << VLT_F_PRINCIPAL | 1u << VLT_F_PERMISSIONS;
        }
    }
    free(ps);
    return;
out_bound:
    free(ps);
    az_fail(r, "derives more than %d events", AZ_MAX_DERIVED);
}

static const char *const crypto_roles[] = {
    "e147488a-f6f5-4113-8e2d-b22465e65bf6", /* Key Vault Crypto Service Encryption User */
    "12338af0-0e69-4776-bea7-57ae8d297424", /* Key Vault Crypto User */
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", /* Key Vault Crypto Officer */
    "00482a5a-887f-4fb3-b363-3b7fe8e74483", /* Key Vault Administrator */
};

static bool role_grants(const char *role_def)
{
    const char *last = strrchr(role_def, '/');
    last = last ? last + 1 : role_def;
    for (size_t i = 0; i < CM_ARRAY_LEN(crypto_roles); i++)
        if (!strcasecmp(last, crypto_roles[i]))
            return true;
    return false;
}

/* An assignment's effect as recorded, or as the observation is about to record it
 * (skip: the assignment key being replaced; extra: its new fact document or NULL). */
static void rbac_want(vlt_state *st, const char *vault_arm, const char *only_principal,
                      const char *skip, const char *extra, cm_map *want)
{
    size_t n;
    const char **keys = vlt_fact_keys(st, "ra:", &n);
    for (size_t i = 0; i <= n; i++) {
        const char *doc =
            i < n ? (skip && !strcmp(keys[i], skip) ? NULL : vlt_fact_get(st, keys[i])) : extra;
        yajl_val f = doc ? yajl_tree_parse(doc, NULL, 0) : NULL;
        const char *p = fact_str(f, "principal"), *scope = fact_str(f, "scope");
        yajl_val g = az_get(f, "grants");
        if (p && scope && YAJL_IS_TRUE(g) && covers(scope, vault_arm) &&
            (!only_principal || !strcasecmp(p, only_principal)))
            want_add(want, only_principal ? only_principal : p, VLT_PERM_ALL);
        yajl_tree_free(f);
    }
    free(keys);
    if (only_principal) /* it may lose what it had */
        want_add(want, only_principal, 0);
}

/* ---------- Cognitive Services accounts ---------- */

static int account(az_rd *r, yajl_val b, bool deleted, const char *tenant_col, vlt_state *st)
{
    az_obs *o = r->o;
    const char *id, *kind = NULL, *loc = NULL;
    char sub[256], rg[256];
    if (az_str(r, b, "", "id", &id) <= 0)
        return r->failed ? -1 : az_fail(r, "id: missing");
    if (!vlt_resource_id_valid(id) || !arm_parse(id, sub, sizeof sub, rg, sizeof rg))
        return az_fail(r, "id: '%.200s' is not an ARM resource id", id);
    vlt_res_view cv;
    const vlt_res_view *cur = vlt_res_view_of(vlt_state_resource(st, id), &cv);
    if (deleted) {
        if (cur && !az_add(o, "resource.deleted", id))
            return -1;
        return 0;
    }
    yajl_val ident, props, enc = NULL, kvp = NULL, uai = NULL;
    const char *itype = NULL, *iprinc = NULL, *itenant = NULL, *ksrc = NULL;
    if (az_str(r, b, "", "kind", &kind) < 0 || az_str(r, b, "", "location", &loc) < 0 ||
        az_obj(r, b, "", "identity", &ident) < 0 || az_obj(r, b, "", "properties", &props) < 0)
        return -1;
    /* A notification may carry less than the full ARM body: kind and identity are also
     * looked for under properties. */
    if ((!kind && az_str(r, props, "properties", "kind", &kind) < 0) ||
        (!ident && az_obj(r, props, "properties", "identity", &ident) < 0))
        return -1;
    if (az_str(r, ident, "identity", "type", &itype) < 0 ||
        az_str(r, ident, "identity", "principalId", &iprinc) < 0 ||
        az_str(r, ident, "identity", "tenantId", &itenant) < 0 ||
        az_obj(r, ident, "identity", "userAssignedIdentities", &uai) < 0 ||
        az_obj(r, props, "properties", "encryption", &enc) < 0 ||
        az_str(r, enc, "properties.encryption", "keySource", &ksrc) < 0 ||
        az_obj(r, enc, "properties.encryption", "keyVaultProperties", &kvp) < 0)
        return -1;
    /* The identity that reaches the vault: the system-assigned one, or the
     * user-assigned one named by keyVaultProperties.identityClientId. */
    const char *principal = NULL, *client = NULL;
    bool ident_said = az_get(b, "identity") || az_get(props, "identity");
    if (itype && strcasestr(itype, "SystemAssigned"))
        principal = iprinc;
    bool cmk = ksrc && !strcasecmp(ksrc, "Microsoft.KeyVault");
    if (ksrc && !cmk && strcasecmp(ksrc, "Microsoft.CognitiveServices") != 0)
        return az_fail(r,
                       "properties.encryption.keySource: '%.100s' is neither "
                       "Microsoft.CognitiveServices nor Microsoft.KeyVault",
                       ksrc);
    const char *key_uri = NULL;
    if (cmk) {
        const char *vuri, *kname, *kver;
        if (az_str(r, kvp, "properties.encryption.keyVaultProperties", "keyVaultUri", &vuri) < 0 ||
            az_str(r, kvp, "properties.encryption.keyVaultProperties", "keyName", &kname) < 0 ||
            az_str(r, kvp, "properties.encryption.keyVaultProperties", "keyVersion", &kver) < 0 ||
            az_str(r, kvp, "properties.encryption.keyVaultProperties", "identityClientId",
                   &client) < 0)
            return -1;
        if (!vuri || !*vuri || !kname || !*kname)
            return az_fail(r, "properties.encryption.keyVaultProperties: keyVaultUri and keyName "
                              "are needed when keySource is Microsoft.KeyVault");
        size_t vl = strlen(vuri);
        while (vl && vuri[vl - 1] == '/')
            vl--;
        const char *raw = az_keepf(o, "%.*s/keys/%s%s%s", (int)vl, vuri, kname,
                                   kver && *kver ? "/" : "", kver ? kver : "");
        vlt_keyref kr;
        if (!vlt_key_uri_parse(raw, &kr))
            return az_fail(r, "properties.encryption.keyVaultProperties: '%.300s' is not a key URI",
                           raw);
        az_keyref_lower(&kr);
        char canon[512];
        vlt_key_uri(&kr, kr.version[0] != '\0', canon, sizeof canon);
        key_uri = az_keep(o, canon, strlen(canon));
    }
    if (client && *client) {
        principal = NULL;
        for (size_t i = 0; uai && i < uai->u.object.len; i++) {
            const char *cid, *pid;
            const char *path =
                az_keepf(o, "identity.userAssignedIdentities.%s", uai->u.object.keys[i]);
            if (!YAJL_IS_OBJECT(uai->u.object.values[i]))
                return az_fail(r, "%s: expected an object", path);
            if (az_str(r, uai->u.object.values[i], path, "clientId", &cid) < 0 ||
                az_str(r, uai->u.object.values[i], path, "principalId", &pid) < 0)
                return -1;
            if (cid && !strcasecmp(cid, client))
                principal = pid;
        }
        if (!principal)
            return az_fail(r,
                           "properties.encryption.keyVaultProperties.identityClientId: '%.100s' "
                           "names no identity in identity.userAssignedIdentities",
                           client);
    }
    principal = lower(o, principal);
    /* Tenant: Resource Graph's column, the identity's, or what a vault in the same
     * subscription said; else unknown. */
    const char *tenant = lower(o, tenant_col ? tenant_col
                                  : itenant  ? itenant
                                             : sub_tenant(o, st, sub));
    if ((tenant_col || itenant) && sub_fact(r, sub, tenant) < 0)
        return -1;
    const char *itn = itenant ? lower(o, itenant) : tenant;
    az_event *e;
    if (!cur) {
        if (!kind || !*kind)
            return az_fail(r, "kind: missing (ContentSafety, Face, ...)");
        if (!tenant)
            return az_fail(r,
                           "the tenant is not known: no tenantId, no identity.tenantId, and "
                           "no key vault seen in subscription %.100s",
                           sub);
        if (!loc)
            return az_fail(r, "location: missing");
        if (!(e = az_add(o, "resource.created", id)))
            return -1;
        e->kind = kind;
        e->tenant = tenant;
        e->region = region(o, loc);
        e->subscription = az_keep(o, sub, strlen(sub));
        e->has =
            1u << VLT_F_KIND | 1u << VLT_F_TENANT | 1u << VLT_F_REGION | 1u << VLT_F_SUBSCRIPTION;
        if (principal && (e = az_add(o, "resource.identity.enabled", id))) {
            e->principal = principal;
            e->tenant = itn;
            e->has = 1u << VLT_F_PRINCIPAL | 1u << VLT_F_TENANT;
        }
        if (key_uri && (e = az_add(o, "resource.cmk.enabled", id))) {
            e->key_uri = key_uri;
            e->has = 1u << VLT_F_KEY_URI;
        }
        return 0;
    }
    /* A move to another tenant takes the identity away (F11): the body's identity, if
     * any, comes back after it. */
    bool moved = tenant && cur->tenant && !same(tenant, cur->tenant);
    if (moved && (e = az_add(o, "resource.moved", id))) {
        e->tenant = tenant;
        e->subscription = az_keep(o, sub, strlen(sub));
        e->has = 1u << VLT_F_TENANT | 1u << VLT_F_SUBSCRIPTION;
    }
    if (principal && (moved || !cur->identity || !same(principal, cur->principal)) &&
        (e = az_add(o, "resource.identity.enabled", id))) {
        e->principal = principal;
        e->tenant = itn;
        e->has = 1u << VLT_F_PRINCIPAL | 1u << VLT_F_TENANT;
    }
    if (key_uri && !cur->cmk && (e = az_add(o, "resource.cmk.enabled", id))) {
        e->key_uri = key_uri;
        e->has = 1u << VLT_F_KEY_URI;
    } else if (key_uri && cur->cmk && !same(key_uri, cur->key_uri) &&
               (e = az_add(o, "resource.key.updated", id))) {
        e->key_uri = key_uri;
        e->has = 1u << VLT_F_KEY_URI;
    } else if (!key_uri && ksrc && cur->cmk) {
        az_add(o, "resource.cmk.disabled", id);
    }
    if (!principal && ident_said && cur->identity && !moved)
        az_add(o, "resource.identity.disabled", id);
    return 0;
}

/* ---------- key vaults ---------- */

static int vault(az_rd *r, yajl_val b, bool deleted, const char *tenant_col, vlt_state *st)
{
    az_obs *o = r->o;
    const char *id, *name = NULL, *loc = NULL;
    char sub[256], rg[256];
    if (az_str(r, b, "", "id", &id) <= 0)
        return r->failed ? -1 : az_fail(r, "id: missing");
    if (!arm_parse(id, sub, sizeof sub, rg, sizeof rg))
        return az_fail(r, "id: '%.200s' is not an ARM resource id", id);
    const char *fkey = az_keepf(o, "vault:%s", lower(o, id));
    if (deleted) {
        az_fact_add(o, fkey, NULL); /* cmkguard has no event for a vault's deletion */
        return 0;
    }
    yajl_val props, pols;
    const char *tenant, *vuri;
    bool soft = true, purge = false, rbac = false;
    int64_t days = 90;
    if (az_str(r, b, "", "name", &name) < 0 || az_str(r, b, "", "location", &loc) < 0 ||
        az_obj(r, b, "", "properties", &props) < 0 ||
        az_str(r, props, "properties", "tenantId", &tenant) < 0 ||
        az_str(r, props, "properties", "vaultUri", &vuri) < 0 ||
        az_bool(r, props, "properties", "enableSoftDelete", &soft) < 0 ||
        az_bool(r, props, "properties", "enablePurgeProtection", &purge) < 0 ||
        az_int(r, props, "properties", "softDeleteRetentionInDays", &days) < 0 ||
        az_bool(r, props, "properties", "enableRbacAuthorization", &rbac) < 0 ||
        az_arr(r, props, "properties", "accessPolicies", &pols) < 0)
        return -1;
    if (!props)
        return az_fail(r, "properties: missing");
    if (!tenant && !(tenant = tenant_col))
        return az_fail(r, "properties.tenantId: missing");
    if (!loc)
        return az_fail(r, "location: missing");
    char uri[256];
    const char *src = vuri ? vuri : name ? az_keepf(o, "https://%s.vault.azure.net", name) : NULL;
    if (!src || vlt_uri_canon(src, uri, sizeof uri, NULL) != VLT_URI_VAULT)
        return az_fail(r, "properties.vaultUri: '%.200s' is not a vault URI",
                       vuri   ? vuri
                       : name ? name
                              : "");
    const char *u = az_keep(o, uri, strlen(uri));
    tenant = lower(o, tenant);
    const char *reg = region(o, loc);
    vlt_vault_view vv;
    const vlt_vault_view *v = vlt_vault_view_of(vlt_state_vault(st, uri), &vv);
    if (v && !az_get(props, "softDeleteRetentionInDays"))
        days = v->retention_days; /* left out: as known */
    if (!v || !same(v->tenant, tenant) || !cm_streq(region(o, v->region), reg) ||
        !same(v->subscription, sub) || v->soft_delete != soft || v->purge_protection != purge ||
        v->retention_days != days) {
        az_event *e = az_add(o, "vault.upserted", u);
        if (!e)
            return -1;
        e->tenant = tenant;
        e->region = reg;
        e->subscription = az_keep(o, sub, strlen(sub));
        e->soft_delete = soft;
        e->purge_protection = purge;
        e->retention_days = days;
        e->has = 1u << VLT_F_TENANT | 1u << VLT_F_REGION | 1u << VLT_F_SUBSCRIPTION |
                 1u << VLT_F_SOFT_DELETE | 1u << VLT_F_PURGE_PROTECTION |
                 1u << VLT_F_RETENTION_DAYS;
    }
    /* Access: access policies, or for an RBAC vault the role assignments that cover it. */
    /* A vault body says nothing about role assignments: under RBAC, access is what the
     * assignments seen so far give, and only a vault seen before with access policies
     * (switched to RBAC) loses its policy holders here; assignments revoke themselves.
     * Without RBAC, a body that leaves accessPolicies out leaves access as it was. */
    cm_map *want = cm_map_new();
    bool every_holder = true, touch_access = rbac || az_get(props, "accessPolicies") != NULL;
    if (rbac) {
        yajl_val was = fact(st, fkey);
        every_holder = was && YAJL_IS_FALSE(az_get(was, "rbac"));
        yajl_tree_free(was);
        rbac_want(st, lower(o, id), NULL, NULL, NULL, want);
    } else {
        for (size_t i = 0; pols && i < pols->u.array.len && !r->failed; i++) {
            yajl_val p = pols->u.array.values[i], perms, keys;
            const char *path = az_keepf(o, "properties.accessPolicies[%zu]", i), *oid;
            if (!YAJL_IS_OBJECT(p)) {
                az_fail(r, "%s: expected an object", path);
                break;
            }
            if (az_str(r, p, path, "objectId", &oid) < 0 ||
                az_obj(r, p, path, "permissions", &perms) < 0 ||
                az_arr(r, perms, az_keepf(o, "%s.permissions", path), "keys", &keys) < 0)
                break;
            if (!oid || !*oid) {
                az_fail(r, "%s.objectId: missing", path);
                break;
            }
            unsigned bits = perm_bits(r, keys, az_keepf(o, "%s.permissions.keys", path));
            want_add(want, lower(o, oid), bits);
        }
    }
    if (!r->failed && touch_access)
        access_diff(r, st, u, want, every_holder);
    cm_map_free(want);
    if (r->failed)
        return -1;
    cm_buf f;
    cm_buf_init(&f, 0);
    cm_jw j;
    cm_jw_init(&j, &f);
    cm_jw_obj_begin(&j);
    cm_jw_kbool(&j, "rbac", rbac);
    cm_jw_kstr(&j, "uri", u);
    cm_jw_obj_end(&j);
    int rc = fact_done(r, &j, "vault");
    if (rc == 0)
        az_fact_add(o, fkey, f.p);
    cm_buf_free(&f);
    return rc < 0 ? -1 : sub_fact(r, sub, tenant);
}

/* ---------- keys ---------- */

typedef struct keyobs {
    const char *uri;     /* versionless, canonical */
    const char *version; /* lower case, or NULL */
    const char *kty;
    int64_t size;
    bool has_size, has_enabled, enabled;
    const char *nbf, *exp;
} keyobs;

static int key_observed(az_rd *r, vlt_state *st, const keyobs *k, bool deleted)
{
    az_obs *o = r->o;
    const vlt_key *curk = vlt_state_key(st, k->uri);
    vlt_key_view cv;
    const vlt_key_view *cur = vlt_key_view_of(curk, &cv);
    az_event *e;
    if (deleted) {
        if (cur && !cur->deleted && !az_add(o, "key.deleted", k->uri))
            return -1;
        return 0;
    }
    if (!k->version)
        return az_fail(r, "the key's version is not given (keyUriWithVersion or kid)");
    if (!cur) {
        if (!(e = az_add(o, "key.created", k->uri)))
            return -1;
        e->version = k->version;
        e->kty = k->kty;
        e->size = k->size;
        e->nbf = k->nbf;
        e->exp = k->exp;
        e->has = 1u << VLT_F_VERSION | (k->kty ? 1u << VLT_F_KTY : 0) |
                 (k->has_size ? 1u << VLT_F_SIZE : 0);
        if (k->has_enabled && !k->enabled && (e = az_add(o, "key.disabled", k->uri))) {
            e->version = k->version;
            e->has = 1u << VLT_F_VERSION;
        }
        return 0;
    }
    if (cur->deleted && !az_add(o, "key.recovered", k->uri))
        return -1;
    vlt_keyver_view kvv;
    const vlt_keyver_view *kv = vlt_keyver_view_of(curk, vlt_key_version(curk, k->version), &kvv);
    if (!cur->kty && k->kty) {
        /* First announced by Event Grid: the body completes its type and size. */
        if (!(e = az_add(o, "key.created", k->uri)))
            return -1;
        e->version = kv ? k->version : cur->latest;
        e->kty = k->kty;
        e->size = k->size;
        e->has = 1u << VLT_F_VERSION | 1u << VLT_F_KTY | (k->has_size ? 1u << VLT_F_SIZE : 0);
    }
    if (!kv) {
        if (!(e = az_add(o, "key.rotated", k->uri)))
            return -1;
        e->version = k->version;
        e->nbf = k->nbf;
        e->exp = k->exp;
        e->has = 1u << VLT_F_VERSION;
    }
    bool was = kv ? kv->enabled : true;
    if (k->has_enabled && was != k->enabled &&
        (e = az_add(o, k->enabled ? "key.enabled" : "key.disabled", k->uri))) {
        e->version = k->version;
        e->has = 1u << VLT_F_VERSION;
    }
    return 0;
}

static bool key_uri_split(az_obs *o, const char *s, keyobs *k)
{
    vlt_keyref kr;
    if (!s || !vlt_key_uri_parse(s, &kr))
        return false;
    az_keyref_lower(&kr);
    char canon[512];
    vlt_key_uri(&kr, false, canon, sizeof canon);
    k->uri = az_keep(o, canon, strlen(canon));
    if (kr.version[0])
        k->version = az_keep(o, kr.version, strlen(kr.version));
    return true;
}

static int key_arm(az_rd *r, yajl_val b, bool deleted, vlt_state *st)
{
    az_obs *o = r->o;
    const char *id, *kuri = NULL, *kuriv = NULL;
    char sub[256], rg[256], vname[128], kname[256];
    if (az_str(r, b, "", "id", &id) <= 0)
        return r->failed ? -1 : az_fail(r, "id: missing");
    if (!arm_parse(id, sub, sizeof sub, rg, sizeof rg) ||
        !arm_segment(id, "vaults", vname, sizeof vname) ||
        !arm_segment(id, "keys", kname, sizeof kname))
        return az_fail(r, "id: '%.200s' is not the ARM id of a key", id);
    keyobs k = {0};
    yajl_val props, attrs;
    if (az_obj(r, b, "", "properties", &props) < 0 ||
        az_str(r, props, "properties", "kty", &k.kty) < 0 ||
        az_str(r, props, "properties", "keyUri", &kuri) < 0 ||
        az_str(r, props, "properties", "keyUriWithVersion", &kuriv) < 0 ||
        az_obj(r, props, "properties", "attributes", &attrs) < 0 ||
        az_time(r, attrs, "properties.attributes", "nbf", &k.nbf) < 0 ||
        az_time(r, attrs, "properties.attributes", "exp", &k.exp) < 0)
        return -1;
    int rc = az_int(r, props, "properties", "keySize", &k.size);
    if (rc < 0)
        return -1;
    k.has_size = rc > 0;
    if ((rc = az_bool(r, attrs, "properties.attributes", "enabled", &k.enabled)) < 0)
        return -1;
    k.has_enabled = rc > 0;
    if (kuriv && !key_uri_split(o, kuriv, &k))
        return az_fail(r, "properties.keyUriWithVersion: '%.200s' is not a key URI", kuriv);
    if (!k.uri && kuri && !key_uri_split(o, kuri, &k))
        return az_fail(r, "properties.keyUri: '%.200s' is not a key URI", kuri);
    if (!k.uri &&
        !key_uri_split(o, az_keepf(o, "https://%s.vault.azure.net/keys/%s", vname, kname), &k))
        return az_fail(r, "id: '%.200s' names no key URI", id);
    if (k.kty && !k.has_size && strncmp(k.kty, "EC", 2) != 0 && !deleted)
        return az_fail(r, "properties.keySize: missing for a %s key", k.kty);
    return key_observed(r, st, &k, deleted);
}

/* Byte length of base64url text once decoded, leading zero bytes not counted. */
static int64_t modulus_bits(const char *n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t len = strlen(n), bits = 0;
    int64_t bytes = 0, lead = 0;
    unsigned acc = 0;
    bool seen = false;
    for (size_t i = 0; i < len; i++) {
        if (n[i] == '=')
            break;
        const char *p = strchr(al, n[i] == '+' ? '-' : n[i] == '/' ? '_' : n[i]);
        if (!p || !n[i])
            return -1;
        acc = (acc << 6) | (unsigned)(p - al);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            unsigned byte = (acc >> bits) & 0xff;
            if (!seen && byte == 0)
                lead++;
            else
                seen = true;
            bytes++;
        }
    }
    return (bytes - lead) * 8;
}

static int key_dataplane(az_rd *r, yajl_val b, vlt_state *st)
{
    az_obs *o = r->o;
    yajl_val key, attrs;
    const char *kid, *n;
    keyobs k = {0};
    if (az_obj(r, b, "", "key", &key) < 0 || az_str(r, key, "key", "kid", &kid) < 0 ||
        az_str(r, key, "key", "kty", &k.kty) < 0 || az_str(r, key, "key", "n", &n) < 0 ||
        az_obj(r, b, "", "attributes", &attrs) < 0)
        return -1;
    if (!kid || !key_uri_split(o, kid, &k))
        return az_fail(r, "key.kid: '%.200s' is not a key URI", kid ? kid : "");
    if (!k.kty)
        return az_fail(r, "key.kty: missing");
    if (n) {
        int64_t bits = modulus_bits(n);
        if (bits <= 0)
            return az_fail(r, "key.n: not base64url");
        k.size = bits;
        k.has_size = true;
    } else if (strncmp(k.kty, "EC", 2) != 0) {
        return az_fail(r, "key.n: missing for a %s key", k.kty);
    }
    int rc = az_bool(r, attrs, "attributes", "enabled", &k.enabled);
    if (rc < 0)
        return -1;
    k.has_enabled = rc > 0;
    if (az_time(r, attrs, "attributes", "exp", &k.exp) < 0 ||
        (!k.exp && az_time(r, attrs, "attributes", "expires", &k.exp) < 0) ||
        az_time(r, attrs, "attributes", "nbf", &k.nbf) < 0 ||
        (!k.nbf && az_time(r, attrs, "attributes", "notBefore", &k.nbf) < 0))
        return -1;
    return key_observed(r, st, &k, false);
}

/* ---------- role assignments ---------- */

static int role_assignment(az_rd *r, yajl_val b, bool deleted, vlt_state *st)
{
    az_obs *o = r->o;
    static const char mark[] = "/providers/Microsoft.Authorization/roleAssignments/";
    const char *id, *role = NULL, *principal = NULL, *scope = NULL;
    if (az_str(r, b, "", "id", &id) <= 0)
        return r->failed ? -1 : az_fail(r, "id: missing");
    const char *at = strcasestr(id, mark);
    char sub[256], rg[256];
    if (!at || !at[sizeof mark - 1] || strchr(at + sizeof mark - 1, '/') ||
        (at != id && !arm_parse(az_keep(o, id, (size_t)(at - id)), sub, sizeof sub, rg, sizeof rg)))
        return az_fail(r, "id: '%.200s' is not the ARM id of a role assignment", id);
    const char *fkey = az_keepf(o, "ra:%s", lower(o, id));
    yajl_val props;
    if (az_obj(r, b, "", "properties", &props) < 0)
        return -1;
    /* `az role assignment list` writes the properties at the top level. */
    const char *pp = props ? "properties" : "";
    if (!props)
        props = b;
    if (az_str(r, props, pp, "roleDefinitionId", &role) < 0 ||
        az_str(r, props, pp, "principalId", &principal) < 0 ||
        az_str(r, props, pp, "scope", &scope) < 0)
        return -1;
    yajl_val old = fact(st, fkey);
    if (deleted && !principal && fact_str(old, "principal"))
        principal = az_keep(o, fact_str(old, "principal"), strlen(fact_str(old, "principal")));
    if (deleted && !scope && fact_str(old, "scope"))
        scope = az_keep(o, fact_str(old, "scope"), strlen(fact_str(old, "scope")));
    yajl_tree_free(old);
    if (!scope)
        scope = az_keep(o, id, (size_t)(at - id));
    if (!deleted && (!role || !principal)) {
        return az_fail(r, "properties.%s: missing", role ? "principalId" : "roleDefinitionId");
    }
    if (!principal) /* a deletion of an assignment never seen: nothing it gave */
        return 0;
    if (*scope && !arm_parse(scope, sub, sizeof sub, rg, sizeof rg))
        return az_fail(r, "properties.scope: '%.200s' is not an ARM scope", scope);
    principal = lower(o, principal);
    const char *doc = NULL;
    if (!deleted) {
        cm_buf f;
        cm_buf_init(&f, 0);
        cm_jw j;
        cm_jw_init(&j, &f);
        cm_jw_obj_begin(&j);
        cm_jw_kbool(&j, "grants", role_grants(role));
        cm_jw_kstr(&j, "principal", principal);
        cm_jw_kstr(&j, "scope", lower(o, scope));
        cm_jw_obj_end(&j);
        int rc = fact_done(r, &j, "role assignment");
        if (rc == 0)
            doc = az_keep(o, f.p, f.len);
        cm_buf_free(&f);
        if (rc < 0)
            return -1;
    }
    /* Every RBAC vault it covers (by what earlier bodies said of them). */
    size_t n;
    const char **vaults = vlt_fact_keys(st, "vault:", &n);
    for (size_t i = 0; i < n && !r->failed; i++) {
        const char *arm = vaults[i] + 6;
        if (!covers(scope, arm))
            continue;
        yajl_val vf = fact(st, vaults[i]);
        const char *uri = fact_str(vf, "uri");
        if (uri && YAJL_IS_TRUE(az_get(vf, "rbac"))) {
            cm_map *want = cm_map_new();
            rbac_want(st, arm, principal, fkey, doc, want);
            access_diff(r, st, az_keep(o, uri, strlen(uri)), want, false);
            cm_map_free(want);
        }
        yajl_tree_free(vf);
    }
    free(vaults);
    az_fact_add(o, fkey, doc);
    return r->failed ? -1 : 0;
}

/* ---------- dispatch ---------- */

const char *az_body_kind(yajl_val b)
{
    yajl_val t = az_get(b, "type");
    if (!YAJL_IS_STRING(t)) {
        yajl_val k = az_get(b, "key");
        return YAJL_IS_OBJECT(k) && az_get(k, "kid") ? "key (data plane)" : NULL;
    }
    static const char *const kinds[] = {
        "Microsoft.CognitiveServices/accounts", "Microsoft.KeyVault/vaults",
        "Microsoft.KeyVault/vaults/keys", "Microsoft.Authorization/roleAssignments"};
    const char *s = t->u.string;
    while (*s == ' ')
        s++;
    for (size_t i = 0; i < CM_ARRAY_LEN(kinds); i++)
        if (!strncasecmp(s, kinds[i], strlen(kinds[i])) &&
            (s[strlen(kinds[i])] == '\0' || s[strlen(kinds[i])] == ' '))
            return kinds[i];
    return NULL;
}

int az_body(az_rd *r, yajl_val b, bool deleted, const char *tenant_col, vlt_state *st)
{
    if (!YAJL_IS_OBJECT(b))
        return az_fail(r, "the resource body is not an object");
    const char *kind = az_body_kind(b);
    if (!kind) {
        yajl_val t = az_get(b, "type");
        return YAJL_IS_STRING(t)
                   ? az_fail(r, "type: '%.200s' is not a resource cmkguard translates", t->u.string)
                   : az_fail(r, "type: missing (not an ARM body)");
    }
    if (!strcmp(kind, "key (data plane)"))
        return key_dataplane(r, b, st);
    if (!strcmp(kind, "Microsoft.CognitiveServices/accounts"))
        return account(r, b, deleted, tenant_col, st);
    if (!strcmp(kind, "Microsoft.KeyVault/vaults"))
        return vault(r, b, deleted, tenant_col, st);
    if (!strcmp(kind, "Microsoft.KeyVault/vaults/keys"))
        return key_arm(r, b, deleted, st);
    return role_assignment(r, b, deleted, st);
}
