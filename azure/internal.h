/* Internals shared by the files of azure/ (not part of its interface). */
#ifndef AZ_INTERNAL_H
#define AZ_INTERNAL_H
#include <yajl/yajl_tree.h>

#include "azure/azure.h"

/* Parses one message with the decoder's checks (valid UTF-8, no lone surrogate
 * escape, nesting at most AZ_MAX_DEPTH, no member name twice in an object when names
 * are compared as Azure does). NULL with reason. The caller frees with yajl_tree_free. */
yajl_val az_json_parse(const char *msg, size_t n, char *reason, size_t rn);
/* The member of obj named name, compared case-insensitively with the member's name
 * trimmed; NULL when obj is not an object or has no such member. */
yajl_val az_get(yajl_val obj, const char *name);

#define AZ_MAX_ID 512 /* bytes of an Azure event id */

/* Translates one parsed Azure event (az_translate_json without the parse). */
int az_translate_val(yajl_val el, vlt_state *st, az_obs *o);

/* A reading of one shape: errors name the shape and the field, first one wins. */
typedef struct az_rd {
    az_obs *o;
    const char *shape;
    bool failed;
} az_rd;

/* Copies s (n bytes) into the observation; the copy lives as long as o. */
const char *az_keep(az_obs *o, const char *s, size_t n);
const char *az_keepf(az_obs *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int az_fail(az_rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Lower-cases a key reference's vault, name and version in place (SPEC §2a). */
void az_keyref_lower(vlt_keyref *kr);
/* Typed members: 1 present (into *out), 0 absent or null, -1 wrong type (r fails). */
int az_str(az_rd *r, yajl_val obj, const char *path, const char *name, const char **out);
int az_bool(az_rd *r, yajl_val obj, const char *path, const char *name, bool *out);
int az_int(az_rd *r, yajl_val obj, const char *path, const char *name, int64_t *out);
int az_obj(az_rd *r, yajl_val obj, const char *path, const char *name, yajl_val *out);
int az_arr(az_rd *r, yajl_val obj, const char *path, const char *name, yajl_val *out);
/* A time member: RFC 3339 text, or epoch seconds as a number or numeric text. */
int az_time(az_rd *r, yajl_val obj, const char *path, const char *name, const char **out);

/* The vlt_event of a derived event (strings borrowed; no id, source or time):
 * 0, or -1 when this build does not know its type. */
int az_event_vlt(const az_event *e, vlt_event *ev);

az_event *az_add(az_obs *o, const char *type, const char *subject);
void az_fact_add(az_obs *o, const char *key, const char *doc);

/* An ARM body (from a Resource Notification or an import) observed against st.
 * deleted: the resource is gone. tenant_col: Resource Graph's tenantId, or NULL. */
int az_body(az_rd *r, yajl_val body, bool deleted, const char *tenant_col, vlt_state *st);
/* The kind of ARM body by its `type` (lower-case name), or NULL when unknown. */
const char *az_body_kind(yajl_val body);
#endif
