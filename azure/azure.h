/* azure: what Azure itself writes (SPEC §2b, shared AZURE.md) turned into cmkguard
 * events. An Azure event or ARM body is an observation of state: it is parsed into a
 * typed observation, compared with the state it would change (read only), and turned
 * into the smallest list of cmkguard events that brings the state to what was seen.
 *
 * Shapes: Event Grid events from Key Vault (CloudEvents or Event Grid schema, alone or
 * as a JSON array), Azure Resource Notifications carrying the ARM body of a Cognitive
 * Services account, a key vault, a key or a role assignment, and bare ARM bodies for
 * `cmkguard import`. Member names match case-insensitively; string values are trimmed. */
#ifndef AZ_AZURE_H
#define AZ_AZURE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"
#include "vault/event.h"
#include "vault/state.h"

#define AZ_MAX_BATCH 1024   /* elements of one Event Grid array */
#define AZ_MAX_DERIVED 4096 /* events derived from one observation */
#define AZ_MAX_DEPTH 64     /* JSON nesting */

/* One derived cmkguard event (SPEC §2 vocabulary), strings owned by its az_obs. */
typedef struct az_event {
    const char *type; /* a static cmkguard type name */
    const char *subject;
    const char *tenant, *region, *subscription, *principal, *version, *kty, *kind, *key_uri;
    const char *nbf, *exp; /* RFC 3339; NULL when Azure did not say */
    bool soft_delete, purge_protection;
    int64_t retention_days, size;
    unsigned permissions;
    unsigned has; /* 1u << VLT_F_* for the optional and required fields it carries */
} az_event;

/* A fact to record with the observation (vault/facts.h); doc NULL removes it. */
typedef struct az_fact {
    char *key, *doc;
} az_fact;

/* One translated observation: the Azure event, what it derives, what it teaches. */
typedef struct az_obs {
    const char *type, *id, *source, *subject, *time; /* the Azure envelope, trimmed */
    az_event *ev;
    size_t nev, capev;
    az_fact *facts;
    size_t nfacts, capfacts;
    char **pool; /* strings the observation owns */
    size_t npool, cappool;
    char reason[768];
} az_obs;

void az_obs_clear(az_obs *o);

/* ---- the engine's side: one message in, decisions out one at a time ---- */

typedef struct az_ctx az_ctx;
az_ctx *az_ctx_new(void);
void az_ctx_free(az_ctx *a);
/* Whether a message the decoder refused may be an Azure shape: a JSON array, an
 * `eventType` member, or a `type` starting with "Microsoft." (type_name: what the
 * decoder read, or NULL). Looks at bytes only. */
bool az_recognise(const char *msg, size_t n, const char *type_name);
/* Takes one message in (forgetting what was pending): 0, or -1 with reason when it is
 * not JSON or is an empty array. */
int az_load(az_ctx *a, const char *msg, size_t n, char *reason, size_t rn);
void az_reset(az_ctx *a);
bool az_pending(const az_ctx *a);

enum az_step { AZ_DONE, AZ_EVENT, AZ_UNCHANGED, AZ_DUPLICATE, AZ_REJECTED };
typedef struct az_item {
    enum az_step step;
    const vlt_event *ev; /* AZ_EVENT: the derived event to decide (borrowed) */
    /* the Azure event it comes from (any may be NULL when rejected unread) */
    const char *type, *id, *source, *subject, *time;
    const char *reason; /* AZ_REJECTED */
    /* AZ_REJECTED of a derived event this build cannot decide: its id and type */
    const char *derived_id, *derived_type;
} az_item;
/* The next step of the loaded message. When the previous element is done, the next
 * one is translated against st and, if accepted and new, observed: its id is marked
 * seen and its facts recorded in st, to be committed with its decisions. Strings in
 * it are borrowed until the next call. */
enum az_step az_next(az_ctx *a, vlt_state *st, az_item *it);

/* ---- translation, usable alone (tests, import) ---- */

/* Translates one Azure event (a JSON object) against st: 0 with o filled, or -1 with
 * o->reason naming the shape and the field. o is cleared first. */
int az_translate_json(const char *json, size_t n, vlt_state *st, az_obs *o);
/* Records o's facts in st and marks its id seen. */
void az_observe(const az_obs *o, vlt_state *st);
/* The cmkguard event JSON (one line, no newline) of o->ev[i] with the given envelope,
 * appended to out; -1 when out hit its bound (what it holds is then a cut). */
int az_event_json(const az_event *e, const char *id, const char *source, const char *time,
                  cm_buf *out);

/* ---- import: bare ARM bodies -> cmkguard events (SPEC §6) ---- */

typedef struct az_import az_import;
/* time NULL: AZ_IMPORT_TIME. */
#define AZ_IMPORT_TIME "1970-01-01T00:00:00Z"
#define AZ_IMPORT_SOURCE "cmkguard/import"
az_import *az_import_new(const char *time);
void az_import_free(az_import *im);
/* Adds the bodies of one document (a body, an array of bodies, or Resource Graph's
 * {"data": [...]}): 0, or -1 with err naming the document (where) and the body. */
int az_import_add(az_import *im, const char *json, size_t n, const char *where, cm_err *err);
/* The cmkguard events that build the estate, one JSON per line, into out: vaults,
 * keys, access, resources created on MMK, their identities, then CMK bindings.
 * 0, or -1 with err. */
int az_import_write(az_import *im, cm_buf *out, cm_err *err);
#endif
