/* vlt_event: one decoded key-configuration event (CloudEvents 1.0, SPEC §2).
 * Strings point into the decoder's arena and live until the next decode. */
#ifndef VLT_EVENT_H
#define VLT_EVENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vlt_etype {
    VLT_EV_NONE = 0,
    VLT_EV_VAULT_UPSERTED,
    VLT_EV_ACCESS_GRANTED,
    VLT_EV_ACCESS_REVOKED,
    VLT_EV_KEY_CREATED,
    VLT_EV_KEY_ROTATED,
    VLT_EV_KEY_DISABLED,
    VLT_EV_KEY_ENABLED,
    VLT_EV_KEY_DELETED,
    VLT_EV_KEY_RECOVERED,
    VLT_EV_KEY_PURGED,
    VLT_EV_KEY_EXPIRING,
    VLT_EV_KEY_EXPIRED,
    VLT_EV_RES_CREATED,
    VLT_EV_RES_IDENTITY_ENABLED,
    VLT_EV_RES_IDENTITY_DISABLED,
    VLT_EV_RES_CMK_ENABLED,
    VLT_EV_RES_KEY_UPDATED,
    VLT_EV_RES_CMK_DISABLED,
    VLT_EV_RES_MOVED,
    VLT_EV_RES_DELETED,
    /* Several instances (SPEC §7a): a resource moved to another tenant, arriving with its
     * state in that tenant's partition (a derived event; docs/ARCHITECTURE.md). */
    VLT_EV_RES_ARRIVED,
    VLT_EV__COUNT
};

enum vlt_subject_kind { VLT_SUBJ_VAULT, VLT_SUBJ_KEY, VLT_SUBJ_RESOURCE };

/* Data fields an event may carry; bit i of vlt_event.has is set when field i was present. */
enum vlt_efield {
    VLT_F_TENANT,
    VLT_F_REGION,
    VLT_F_SUBSCRIPTION,
    VLT_F_SOFT_DELETE,
    VLT_F_PURGE_PROTECTION,
    VLT_F_RETENTION_DAYS,
    VLT_F_PRINCIPAL,
    VLT_F_PERMISSIONS,
    VLT_F_VERSION,
    VLT_F_KTY,
    VLT_F_SIZE,
    VLT_F_KIND,
    VLT_F_KEY_URI,
    VLT_F_NBF,
    VLT_F_EXP,
    VLT_F_STATE, /* cmkguard.resource.arrived: the resource's document */
    VLT_F_MAC,   /* and its authentication, hex */
    VLT_F__COUNT
};

#define VLT_PERM_GET 1u
#define VLT_PERM_WRAP 2u
#define VLT_PERM_UNWRAP 4u
#define VLT_PERM_ALL 7u

typedef struct vlt_event {
    enum vlt_etype type;
    const char *type_name; /* as sent, even when unknown; NULL when absent */
    const char *id, *source, *subject, *time;
    /* data */
    const char *tenant, *region, *subscription, *principal, *version, *kty, *kind, *key_uri;
    const char *nbf, *exp;   /* as sent; nbf_at and exp_at are the instants they name */
    const char *state, *mac; /* cmkguard.resource.arrived */
    bool soft_delete, purge_protection;
    int64_t retention_days, size;
    int64_t at;             /* `time` in seconds since the epoch (UTC), set by the decoder */
    int64_t nbf_at, exp_at; /* valid when VLT_F_NBF / VLT_F_EXP is set */
    unsigned permissions;   /* VLT_PERM_* bits */
    unsigned has;           /* 1u << VLT_F_* */
} vlt_event;

static inline bool vlt_event_has(const vlt_event *e, enum vlt_efield f)
{
    return (e->has >> f) & 1u;
}

/* The event's time in seconds since the epoch: `at`, or `time` parsed when a caller built
 * the event without the decoder (0 when it does not parse). */
int64_t vlt_event_at(const vlt_event *e);

const char *vlt_etype_name(enum vlt_etype t);
enum vlt_etype vlt_etype_parse(const char *s);
/* Request types a deny rule can refuse (SPEC §4). */
bool vlt_etype_deniable(enum vlt_etype t);
enum vlt_subject_kind vlt_etype_subject(enum vlt_etype t);
/* Which data fields each type needs and may carry. */
unsigned vlt_etype_required(enum vlt_etype t);
unsigned vlt_etype_optional(enum vlt_etype t);
const char *vlt_efield_name(enum vlt_efield f);

/* Key identifier parts (SPEC F6, §2a), each in its canonical lower case. */
typedef struct vlt_keyref {
    char host[64];    /* {vault}.{suffix}: vault.azure.net, managedhsm.azure.cn, ... */
    char vault[32];   /* the vault (or managed HSM) name */
    char name[128];   /* key name */
    char version[80]; /* empty when versionless */
} vlt_keyref;

#define VLT_URI_MAX 511
enum vlt_uri_kind { VLT_URI_BAD = -1, VLT_URI_VAULT, VLT_URI_KEY, VLT_URI_KEY_VERSION };

/* Checks a vault or key URI as Azure writes it (any case, an explicit :443, a trailing
 * slash; the Key Vault and Managed HSM hosts of every cloud) and writes its canonical
 * spelling, https://{host}[/keys/{name}[/{version}]] in lower case, to out (n bytes).
 * out may be s itself: the canonical spelling is never longer. kr (may be NULL) gets
 * the parts. http, another port, a query, a fragment, `..` or another path are bad. */
enum vlt_uri_kind vlt_uri_canon(const char *s, char *out, size_t n, vlt_keyref *kr);
/* A vault URI -> its name (lower case). */
bool vlt_vault_uri_parse(const char *s, char *name, size_t n);
/* A key URI, versioned or not -> its parts. */
bool vlt_key_uri_parse(const char *s, vlt_keyref *out);
/* /subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name} */
bool vlt_resource_id_valid(const char *s);
/* Tenants, principals, key names and versions compare case-insensitively: lower-cases
 * s in place (NULL is a no-op). */
void vlt_id_lower(char *s);
/* Regions compare without case and spaces ("West US" is westus): in place. */
void vlt_region_compact(char *s);
/* A resource id folded for comparison (ARM ids compare case-insensitively). */
void vlt_resource_id_fold(const char *id, char *out, size_t n);
/* Canonical URIs of the parts: vault, versionless key, versioned key. */
void vlt_vault_uri(const vlt_keyref *k, char *out, size_t n);
void vlt_key_uri(const vlt_keyref *k, bool with_version, char *out, size_t n);
#endif
