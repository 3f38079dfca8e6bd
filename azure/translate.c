/* Azure events: the envelope (CloudEvents or Event Grid schema), Key Vault's Event
 * Grid events and Resource Notifications, translated against the state; the observe
 * step; derived events as cmkguard JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/timestamp.h"

#include "azure/internal.h"
#include "vault/facts.h"

#define MAX_ID AZ_MAX_ID

static bool is(const char *type, const char *name)
{
    return type && !strcasecmp(type, name);
}

/* Key Vault: a new version, near expiry, expired (shared AZURE.md §1). */
static int eg_key(az_rd *r, const char *type, yajl_val data, vlt_state *st)
{
    az_obs *o = r->o;
    const char *id, *vname, *otype, *oname, *ver, *nbf, *exp;
    if (!data)
        return az_fail(r, "data: missing");
    if (az_str(r, data, "data", "Id", &id) < 0 ||
        az_str(r, data, "data", "VaultName", &vname) < 0 ||
        az_str(r, data, "data", "ObjectType", &otype) < 0 ||
        az_str(r, data, "data", "ObjectName", &oname) < 0 ||
        az_str(r, data, "data", "Version", &ver) < 0 || az_time(r, data, "data", "NBF", &nbf) < 0 ||
        az_time(r, data, "data", "EXP", &exp) < 0)
        return -1;
    if (otype && strcasecmp(otype, "Key") != 0)
        return az_fail(r, "data.ObjectType: '%.50s' where a key was announced", otype);
    const char *raw = id;
    if (!raw && vname && oname && ver)
        raw = az_keepf(o, "https://%s.vault.azure.net/keys/%s/%s", vname, oname, ver);
    vlt_keyref kr;
    if (!raw)
        return az_fail(r, "data.Id: missing (and no VaultName, ObjectName, Version to build it)");
    if (!vlt_key_uri_parse(raw, &kr))
        return az_fail(r, "data.Id: '%.200s' is not a key URI", raw);
    if (!kr.version[0] && ver) {
        for (size_t i = 0; ver[i] && i + 1 < sizeof kr.version; i++)
            kr.version[i] = (char)((ver[i] >= 'A' && ver[i] <= 'Z') ? ver[i] + 32 : ver[i]);
    }
    if (!kr.version[0])
        return az_fail(r, "data.Version: missing");
    az_keyref_lower(&kr);
    char uri[512];
    vlt_key_uri(&kr, false, uri, sizeof uri);
    const char *u = az_keep(o, uri, strlen(uri)), *v = az_keep(o, kr.version, strlen(kr.version));
    o->subject = u;
    az_event *e;
    if (is(type, "Microsoft.KeyVault.KeyNewVersionCreated")) {
        const vlt_key *k = vlt_state_key(st, uri);
        if (k && vlt_key_version(k, v))
            return 0; /* known already (an import, a body) */
        /* An unknown key: its type and size stay unknown until a body says them. */
        if (!(e = az_add(o, k ? "key.rotated" : "key.created", u)))
            return -1;
        e->has = 1u << VLT_F_VERSION;
    } else if (is(type, "Microsoft.KeyVault.KeyNearExpiry")) {
        if (!exp)
            return az_fail(r, "data.EXP: missing (the expiry KeyNearExpiry announces)");
        if (!(e = az_add(o, "key.expiring", u)))
            return -1;
        e->has = 1u << VLT_F_VERSION;
    } else {
        if (!(e = az_add(o, "key.expired", u)))
            return -1;
        e->has = 1u << VLT_F_VERSION;
    }
    e->version = v;
    e->nbf = nbf;
    e->exp = exp;
    return 0;
}

/* Resource Notifications: data.resourceInfo is the ARM body (shared AZURE.md §2). */
static int notification(az_rd *r, const char *type, yajl_val data, vlt_state *st)
{
    az_obs *o = r->o;
    yajl_val info, op;
    const char *t, *rid;
    if (!data)
        return az_fail(r, "data: missing");
    if (az_obj(r, data, "data", "resourceInfo", &info) < 0 ||
        az_obj(r, data, "data", "operationalInfo", &op) < 0 ||
        az_time(r, op, "data.operationalInfo", "resourceEventTime", &t) < 0)
        return -1;
    if (!info)
        return az_fail(r, "data.resourceInfo: missing");
    if (t)
        o->time = t;
    if (az_str(r, info, "data.resourceInfo", "id", &rid) < 0)
        return -1;
    if (rid)
        o->subject = rid;
    const char *kind = az_body_kind(info);
    az_rd body = {o, az_keepf(o, "%s (%s)", r->shape, kind ? kind : "unknown resource type"),
                  false};
    int rc = az_body(&body, info, is(type, "Microsoft.ResourceNotifications.Resources.Deleted"),
                     NULL, st);
    r->failed = body.failed;
    return rc;
}

static bool prefix(const char *s, const char *p)
{
    return s && !strncasecmp(s, p, strlen(p));
}

static int translate(yajl_val el, vlt_state *st, az_obs *o)
{
    az_rd r = {o, "Azure event", false};
    if (!YAJL_IS_OBJECT(el))
        return az_fail(&r, "not a JSON object");
    yajl_val data;
    const char *id, *type, *source, *subject, *time;
    if (az_str(&r, el, "", "id", &id) < 0)
        return -1;
    o->id = id && strlen(id) <= MAX_ID ? id : NULL; /* names the rejection, if any */
    bool ce = az_get(el, "specversion") != NULL;
    if (!ce && !az_get(el, "eventType"))
        return az_fail(&r, "neither CloudEvents (specversion) nor the Event Grid schema "
                           "(eventType)");
    r.shape = ce ? "Azure event (CloudEvents schema)" : "Azure event (Event Grid schema)";
    if (az_str(&r, el, "", ce ? "type" : "eventType", &type) < 0 ||
        az_str(&r, el, "", ce ? "source" : "topic", &source) < 0 ||
        az_str(&r, el, "", "subject", &subject) < 0 ||
        az_str(&r, el, "", ce ? "time" : "eventTime", &time) < 0)
        return -1;
    o->id = id;
    o->type = type;
    o->source = source ? source : "";
    o->subject = subject;
    if (!id || !*id || strlen(id) > MAX_ID)
        return az_fail(&r, "id: %s", id && *id ? "longer than 512 bytes" : "missing");
    if (!type || !*type)
        return az_fail(&r, "%s: missing", ce ? "type" : "eventType");
    if (!time || !cm_rfc3339_valid(time, strlen(time)))
        return az_fail(&r, "%s: %s", ce ? "time" : "eventTime",
                       time ? "not an RFC 3339 time" : "missing");
    o->time = time;
    if (az_obj(&r, el, "", "data", &data) < 0)
        return -1;
    r.shape = type;
    if (is(type, "Microsoft.KeyVault.KeyNewVersionCreated") ||
        is(type, "Microsoft.KeyVault.KeyNearExpiry") || is(type, "Microsoft.KeyVault.KeyExpired"))
        return eg_key(&r, type, data, st);
    if (is(type, "Microsoft.KeyVault.VaultAccessPolicyChanged") ||
        prefix(type, "Microsoft.KeyVault.Secret") || prefix(type, "Microsoft.KeyVault.Certificate"))
        return 0; /* says that something changed, not how, or outside the domain: recorded */
    if (is(type, "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated") ||
        is(type, "Microsoft.ResourceNotifications.Resources.Deleted"))
        return notification(&r, type, data, st);
    return az_fail(&r, "not an Azure event type cmkguard translates");
}

int az_translate_val(yajl_val el, vlt_state *st, az_obs *o)
{
    az_obs_clear(o);
    return translate(el, st, o);
}

int az_translate_json(const char *json, size_t n, vlt_state *st, az_obs *o)
{
    az_obs_clear(o);
    yajl_val v = az_json_parse(json, n, o->reason, sizeof o->reason);
    if (!v)
        return -1;
    int rc = az_translate_val(v, st, o);
    yajl_tree_free(v);
    return rc;
}

void az_observe(const az_obs *o, vlt_state *st)
{
    for (size_t i = 0; i < o->nfacts; i++)
        vlt_fact_put(st, o->facts[i].key, o->facts[i].doc);
    if (o->id)
        vlt_state_mark_seen(st, o->source, o->id);
}

/* ---------- cmkguard JSON of a derived event ---------- */

int az_event_json(const az_event *e, const char *id, const char *source, const char *time,
                  cm_buf *out)
{
    cm_jw j;
    cm_jw_init(&j, out);
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "specversion", "1.0");
    cm_jw_kstr(&j, "id", id);
    cm_jw_kstr(&j, "source", source);
    cm_jw_kstr(&j, "type", e->type);
    cm_jw_kstr(&j, "subject", e->subject);
    cm_jw_kstr(&j, "time", time);
    cm_jw_key(&j, "data");
    cm_jw_obj_begin(&j);
    const struct {
        enum vlt_efield f;
        const char *name, *v;
    } strs[] = {{VLT_F_KIND, "kind", e->kind},
                {VLT_F_TENANT, "tenant", e->tenant},
                {VLT_F_REGION, "region", e->region},
                {VLT_F_SUBSCRIPTION, "subscription", e->subscription},
                {VLT_F_PRINCIPAL, "principal", e->principal},
                {VLT_F_VERSION, "version", e->version},
                {VLT_F_KTY, "kty", e->kty},
                {VLT_F_KEY_URI, "key_uri", e->key_uri}};
    for (size_t i = 0; i < CM_ARRAY_LEN(strs); i++)
        if ((e->has >> strs[i].f) & 1u)
            cm_jw_kstr(&j, strs[i].name, strs[i].v);
    if ((e->has >> VLT_F_SIZE) & 1u)
        cm_jw_kint(&j, "size", e->size);
    if ((e->has >> VLT_F_SOFT_DELETE) & 1u)
        cm_jw_kbool(&j, "soft_delete", e->soft_delete);
    if ((e->has >> VLT_F_PURGE_PROTECTION) & 1u)
        cm_jw_kbool(&j, "purge_protection", e->purge_protection);
    if ((e->has >> VLT_F_RETENTION_DAYS) & 1u)
        cm_jw_kint(&j, "retention_days", e->retention_days);
    if ((e->has >> VLT_F_PERMISSIONS) & 1u) {
        static const char *const names[] = {"get", "wrapKey", "unwrapKey"};
        cm_jw_key(&j, "permissions");
        cm_jw_arr_begin(&j);
        for (unsigned i = 0; i < 3; i++)
            if (e->permissions & (1u << i))
                cm_jw_str(&j, names[i]);
        cm_jw_arr_end(&j);
    }
    if (e->nbf)
        cm_jw_kstr(&j, "nbf", e->nbf);
    if (e->exp)
        cm_jw_kstr(&j, "exp", e->exp);
    cm_jw_obj_end(&j);
    cm_jw_obj_end(&j);
    return cm_jw_done(&j);
}

int az_event_vlt(const az_event *e, vlt_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = vlt_etype_parse(e->type);
    if (ev->type == VLT_EV_NONE)
        return -1;
    ev->type_name = e->type;
    ev->subject = e->subject;
    ev->tenant = e->tenant;
    ev->region = e->region;
    ev->subscription = e->subscription;
    ev->principal = e->principal;
    ev->version = e->version;
    ev->kty = e->kty;
    ev->kind = e->kind;
    ev->key_uri = e->key_uri;
    ev->soft_delete = e->soft_delete;
    ev->purge_protection = e->purge_protection;
    ev->retention_days = e->retention_days;
    ev->size = e->size;
    ev->permissions = e->permissions;
    ev->has = e->has;
    /* The version's validity, as Key Vault stated it (RFC 3339 by now). */
    if (e->nbf && cm_ts_parse(e->nbf, strlen(e->nbf), &ev->nbf_at)) {
        ev->nbf = e->nbf;
        ev->has |= 1u << VLT_F_NBF;
    }
    if (e->exp && cm_ts_parse(e->exp, strlen(e->exp), &ev->exp_at)) {
        ev->exp = e->exp;
        ev->has |= 1u << VLT_F_EXP;
    }
    if (ev->type == VLT_EV_KEY_EXPIRING && !vlt_event_has(ev, VLT_F_EXP))
        return -1; /* Key Vault's notice without the instant it announces */
    return 0;
}
