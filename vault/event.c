#include "vault/event.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/timestamp.h"

#define B(f) (1u << VLT_F_##f)

static const struct {
    const char *name;
    enum vlt_subject_kind subj;
    bool deniable;
    unsigned req, opt;
} types[VLT_EV__COUNT] = {
    [VLT_EV_VAULT_UPSERTED] = {"vault.upserted", VLT_SUBJ_VAULT, true,
                               B(TENANT) | B(REGION) | B(SUBSCRIPTION) | B(SOFT_DELETE) |
                                   B(PURGE_PROTECTION),
                               B(RETENTION_DAYS)},
    [VLT_EV_ACCESS_GRANTED] = {"vault.access.granted", VLT_SUBJ_VAULT, true,
                               B(PRINCIPAL) | B(PERMISSIONS), 0},
    [VLT_EV_ACCESS_REVOKED] = {"vault.access.revoked", VLT_SUBJ_VAULT, true, B(PRINCIPAL), 0},
    [VLT_EV_KEY_CREATED] = {"key.created", VLT_SUBJ_KEY, false, B(VERSION) | B(KTY),
                            B(SIZE) | B(NBF) | B(EXP)},
    [VLT_EV_KEY_ROTATED] = {"key.rotated", VLT_SUBJ_KEY, false, B(VERSION), B(NBF) | B(EXP)},
    [VLT_EV_KEY_DISABLED] = {"key.disabled", VLT_SUBJ_KEY, false, 0, B(VERSION)},
    [VLT_EV_KEY_ENABLED] = {"key.enabled", VLT_SUBJ_KEY, false, 0, B(VERSION)},
    [VLT_EV_KEY_DELETED] = {"key.deleted", VLT_SUBJ_KEY, true, 0, 0},
    [VLT_EV_KEY_RECOVERED] = {"key.recovered", VLT_SUBJ_KEY, false, 0, 0},
    [VLT_EV_KEY_PURGED] = {"key.purged", VLT_SUBJ_KEY, true, 0, 0},
    /* Key Vault's notices: observations of a version's validity, never requests. */
    [VLT_EV_KEY_EXPIRING] = {"key.expiring", VLT_SUBJ_KEY, false, B(VERSION) | B(EXP), 0},
    [VLT_EV_KEY_EXPIRED] = {"key.expired", VLT_SUBJ_KEY, false, B(VERSION), 0},
    [VLT_EV_RES_CREATED] = {"resource.created", VLT_SUBJ_RESOURCE, true,
                            B(KIND) | B(TENANT) | B(REGION) | B(SUBSCRIPTION), B(KEY_URI)},
    [VLT_EV_RES_IDENTITY_ENABLED] = {"resource.identity.enabled", VLT_SUBJ_RESOURCE, true,
                                     B(PRINCIPAL) | B(TENANT), 0},
    [VLT_EV_RES_IDENTITY_DISABLED] = {"resource.identity.disabled", VLT_SUBJ_RESOURCE, true, 0,
                                      0},
    [VLT_EV_RES_CMK_ENABLED] = {"resource.cmk.enabled", VLT_SUBJ_RESOURCE, true, B(KEY_URI), 0},
    [VLT_EV_RES_KEY_UPDATED] = {"resource.key.updated", VLT_SUBJ_RESOURCE, true, B(KEY_URI), 0},
    [VLT_EV_RES_CMK_DISABLED] = {"resource.cmk.disabled", VLT_SUBJ_RESOURCE, true, 0, 0},
    [VLT_EV_RES_MOVED] = {"resource.moved", VLT_SUBJ_RESOURCE, false,
                          B(TENANT) | B(SUBSCRIPTION), 0},
    [VLT_EV_RES_DELETED] = {"resource.deleted", VLT_SUBJ_RESOURCE, false, 0, 0},
};

static const char *const fields[VLT_F__COUNT] = {
    "tenant",    "region",    "subscription", "soft_delete", "purge_protection",
    "retention_days", "principal", "permissions", "version", "kty", "size", "kind", "key_uri",
    "nbf",       "exp",
};

int64_t vlt_event_at(const vlt_event *e)
{
    int64_t t = 0;
    if (!e->at && e->time && cm_ts_parse(e->time, strlen(e->time), &t))
        return t;
    return e->at;
}

const char *vlt_etype_name(enum vlt_etype t)
{
    return t > VLT_EV_NONE && t < VLT_EV__COUNT ? types[t].name : NULL;
}

enum vlt_etype vlt_etype_parse(const char *s)
{
    for (int t = VLT_EV_NONE + 1; t < VLT_EV__COUNT; t++)
        if (!strcmp(types[t].name, s))
            return (enum vlt_etype)t;
    return VLT_EV_NONE;
}

bool vlt_etype_deniable(enum vlt_etype t)
{
    return t > VLT_EV_NONE && t < VLT_EV__COUNT && types[t].deniable;
}

enum vlt_subject_kind vlt_etype_subject(enum vlt_etype t)
{
    return types[t].subj;
}

unsigned vlt_etype_required(enum vlt_etype t)
{
    return types[t].req;
}

unsigned vlt_etype_optional(enum vlt_etype t)
{
    return types[t].opt;
}

const char *vlt_efield_name(enum vlt_efield f)
{
    return fields[f];
}

static const char VAULT_HOST[] = ".vault.azure.net";

/* Copies a name of [A-Za-z0-9-] (lower-cased) up to a delimiter; returns its length or -1. */
static int take_name(const char *s, char *out, size_t n, size_t min, size_t max, char stop)
{
    size_t i = 0;
    for (; s[i] && s[i] != stop; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-') || i + 1 >= n || i >= max)
            return -1;
        out[i] = (char)tolower(c);
    }
    if (i < min)
        return -1;
    out[i] = '\0';
    return (int)i;
}

static const char *vault_part(const char *s, char *name, size_t n)
{
    if (strncmp(s, "https://", 8) != 0)
        return NULL;
    s += 8;
    const char *dot = strchr(s, '.');
    if (!dot || strncasecmp(dot, VAULT_HOST, sizeof VAULT_HOST - 1) != 0)
        return NULL;
    if (take_name(s, name, n, 3, 24, '.') < 0 || name[0] == '-')
        return NULL;
    return dot + sizeof VAULT_HOST - 1;
}

bool vlt_vault_uri_parse(const char *s, char *name, size_t n)
{
    const char *rest = vault_part(s, name, n);
    return rest && (!*rest || !strcmp(rest, "/"));
}

bool vlt_key_uri_parse(const char *s, vlt_keyref *out)
{
    memset(out, 0, sizeof *out);
    const char *rest = vault_part(s, out->vault, sizeof out->vault);
    if (!rest || strncmp(rest, "/keys/", 6) != 0)
        return false;
    rest += 6;
    int n = take_name(rest, out->name, sizeof out->name, 1, 127, '/');
    if (n < 0)
        return false;
    rest += n;
    if (!*rest || !strcmp(rest, "/"))
        return true;
    rest++;
    /* Versions keep their case: Key Vault issues them as 32 hex digits. */
    size_t i = 0;
    for (; rest[i] && rest[i] != '/'; i++) {
        unsigned char c = (unsigned char)rest[i];
        if (!(isalnum(c) || c == '-') || i + 1 >= sizeof out->version)
            return false;
        out->version[i] = (char)c;
    }
    out->version[i] = '\0';
    return i > 0 && (!rest[i] || !strcmp(rest + i, "/"));
}

bool vlt_resource_id_valid(const char *s)
{
    static const char *const parts[] = {"subscriptions", NULL, "resourceGroups", NULL,
                                        "providers",     NULL, NULL,             NULL};
    if (*s != '/' || strlen(s) > 1024)
        return false;
    const char *p = s + 1;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0)
            return false;
        for (size_t k = 0; k < len; k++)
            if ((unsigned char)p[k] <= ' ' || p[k] == '"' || p[k] == '\\')
                return false;
        if (parts[i] && (strlen(parts[i]) != len || strncasecmp(parts[i], p, len) != 0))
            return false;
        if (!slash)
            return i == sizeof parts / sizeof parts[0] - 1;
        p = slash + 1;
    }
    return false;
}

void vlt_vault_uri(const char *vault, char *out, size_t n)
{
    snprintf(out, n, "https://%s%s", vault, VAULT_HOST);
}

void vlt_key_uri(const vlt_keyref *k, bool with_version, char *out, size_t n)
{
    if (with_version && k->version[0])
        snprintf(out, n, "https://%s%s/keys/%s/%s", k->vault, VAULT_HOST, k->name, k->version);
    else
        snprintf(out, n, "https://%s%s/keys/%s", k->vault, VAULT_HOST, k->name);
}
