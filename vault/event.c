#include "vault/event.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

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
    [VLT_EV_RES_IDENTITY_DISABLED] = {"resource.identity.disabled", VLT_SUBJ_RESOURCE, true, 0, 0},
    [VLT_EV_RES_CMK_ENABLED] = {"resource.cmk.enabled", VLT_SUBJ_RESOURCE, true, B(KEY_URI), 0},
    [VLT_EV_RES_KEY_UPDATED] = {"resource.key.updated", VLT_SUBJ_RESOURCE, true, B(KEY_URI), 0},
    [VLT_EV_RES_CMK_DISABLED] = {"resource.cmk.disabled", VLT_SUBJ_RESOURCE, true, 0, 0},
    [VLT_EV_RES_MOVED] = {"resource.moved", VLT_SUBJ_RESOURCE, false, B(TENANT) | B(SUBSCRIPTION),
                          0},
    [VLT_EV_RES_DELETED] = {"resource.deleted", VLT_SUBJ_RESOURCE, false, 0, 0},
    [VLT_EV_RES_ARRIVED] = {"cmkguard.resource.arrived", VLT_SUBJ_RESOURCE, false,
                            B(TENANT) | B(SUBSCRIPTION) | B(STATE) | B(MAC), 0},
};

static const char *const fields[VLT_F__COUNT] = {
    "tenant",         "region",    "subscription", "soft_delete", "purge_protection",
    "retention_days", "principal", "permissions",  "version",     "kty",
    "size",           "kind",      "key_uri",      "nbf",         "exp",
    "state",          "mac",
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

/* Key Vault and Managed HSM hosts of the public and sovereign clouds (SPEC §2a). */
static const char *const SUFFIXES[] = {"vault.azure.net",         "vault.azure.cn",
                                       "vault.usgovcloudapi.net", "managedhsm.azure.net",
                                       "managedhsm.azure.cn",     "managedhsm.usgovcloudapi.net"};

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* Lower-cases a run of [A-Za-z0-9-] from s + *r to out + *w (w <= r, so out may be s);
 * returns its length. */
static size_t take_lower(const char *s, size_t *r, char *out, size_t *w)
{
    size_t start = *r;
    while (name_char((unsigned char)s[*r])) {
        unsigned char c = (unsigned char)s[(*r)++];
        out[(*w)++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    return *r - start;
}

/* At the end of a URI: nothing left, or one trailing slash. */
static bool at_end(const char *s, size_t r)
{
    return !s[r] || (s[r] == '/' && !s[r + 1]);
}

static void copy_part(char *dst, size_t dn, const char *src, size_t len)
{
    if (len >= dn)
        len = dn - 1; /* never: the parts' bounds are checked while reading them */
    memcpy(dst, src, len);
    dst[len] = '\0';
}

enum vlt_uri_kind vlt_uri_canon(const char *s, char *out, size_t n, vlt_keyref *kr)
{
    size_t len = strlen(s), r = 8, w = 8;
    if (len >= n || len > VLT_URI_MAX || strncasecmp(s, "https://", 8) != 0)
        return VLT_URI_BAD;
    memcpy(out, "https://", 8);
    size_t vlen = take_lower(s, &r, out, &w);
    if (vlen < 3 || vlen > 24 || out[8] == '-' || s[r] != '.')
        return VLT_URI_BAD;
    out[w++] = s[r++];
    size_t i = 0, sl = 0;
    for (; i < CM_ARRAY_LEN(SUFFIXES); i++) {
        sl = strlen(SUFFIXES[i]);
        char next = s[r + sl > len ? len : r + sl];
        if (r + sl <= len && !strncasecmp(s + r, SUFFIXES[i], sl) &&
            (!next || next == '/' || next == ':'))
            break;
    }
    if (i == CM_ARRAY_LEN(SUFFIXES))
        return VLT_URI_BAD;
    memcpy(out + w, SUFFIXES[i], sl);
    r += sl;
    w += sl;
    size_t host_end = w;
    if (s[r] == ':') {
        if (strncmp(s + r, ":443", 4) != 0 || (s[r + 4] && s[r + 4] != '/'))
            return VLT_URI_BAD; /* only the default port of https */
        r += 4;
    }
    enum vlt_uri_kind kind = VLT_URI_VAULT;
    size_t name_at = 0, name_len = 0, ver_at = 0, ver_len = 0;
    if (!at_end(s, r)) {
        if (strncasecmp(s + r, "/keys/", 6) != 0)
            return VLT_URI_BAD;
        memcpy(out + w, "/keys/", 6);
        r += 6;
        w += 6;
        name_at = w;
        name_len = take_lower(s, &r, out, &w);
        if (name_len < 1 || name_len > 127)
            return VLT_URI_BAD;
        kind = VLT_URI_KEY;
        if (!at_end(s, r)) {
            if (s[r] != '/')
                return VLT_URI_BAD;
            out[w++] = s[r++];
            ver_at = w;
            ver_len = take_lower(s, &r, out, &w);
            if (ver_len < 1 || ver_len > 79 || !at_end(s, r))
                return VLT_URI_BAD;
            kind = VLT_URI_KEY_VERSION;
        }
    }
    out[w] = '\0';
    if (kr) {
        copy_part(kr->host, sizeof kr->host, out + 8, host_end - 8);
        copy_part(kr->vault, sizeof kr->vault, out + 8, vlen);
        copy_part(kr->name, sizeof kr->name, out + name_at, name_len);
        copy_part(kr->version, sizeof kr->version, out + ver_at, ver_len);
    }
    return kind;
}

bool vlt_vault_uri_parse(const char *s, char *name, size_t n)
{
    char buf[VLT_URI_MAX + 1];
    vlt_keyref kr;
    if (vlt_uri_canon(s, buf, sizeof buf, &kr) != VLT_URI_VAULT)
        return false;
    snprintf(name, n, "%s", kr.vault);
    return true;
}

bool vlt_key_uri_parse(const char *s, vlt_keyref *out)
{
    char buf[VLT_URI_MAX + 1];
    enum vlt_uri_kind k = vlt_uri_canon(s, buf, sizeof buf, out);
    if (k == VLT_URI_KEY || k == VLT_URI_KEY_VERSION)
        return true;
    memset(out, 0, sizeof *out);
    return false;
}

bool vlt_resource_id_valid(const char *s)
{
    static const char *const parts[] = {
        "subscriptions", NULL, "resourceGroups", NULL, "providers", NULL, NULL, NULL};
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

void vlt_id_lower(char *s)
{
    for (; s && *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + ('a' - 'A'));
}

void vlt_region_compact(char *s)
{
    char *w = s;
    for (; s && *s; s++)
        if (*s != ' ')
            *w++ = (char)(*s >= 'A' && *s <= 'Z' ? *s + ('a' - 'A') : *s);
    if (w)
        *w = '\0';
}

void vlt_resource_id_fold(const char *id, char *out, size_t n)
{
    size_t i = 0;
    for (; id[i] && i + 1 < n; i++)
        out[i] = (char)tolower((unsigned char)id[i]);
    if (n)
        out[i] = '\0';
}

void vlt_vault_uri(const vlt_keyref *k, char *out, size_t n)
{
    snprintf(out, n, "https://%s", k->host);
}

void vlt_key_uri(const vlt_keyref *k, bool with_version, char *out, size_t n)
{
    if (with_version && k->version[0])
        snprintf(out, n, "https://%s/keys/%s/%s", k->host, k->name, k->version);
    else
        snprintf(out, n, "https://%s/keys/%s", k->host, k->name);
}
