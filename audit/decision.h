/* aud_decision: what the engine decided about one event — the content of its
 * decision record and fan-out records, before canonical JSON and signing.
 *
 * Every string and list a decision holds lives in its own arena (or is a static name):
 * the decision owns them all, and aud_decision_reset gives them back at once while
 * keeping the memory, so that deciding event after event into one decision allocates
 * nothing in steady state. Fill string members with aud_decision_str. */
#ifndef AUD_DECISION_H
#define AUD_DECISION_H
#include <stdbool.h>
#include <stddef.h>

#include "common/arena.h"

enum aud_outcome { AUD_ALLOWED, AUD_DENIED, AUD_REJECTED, AUD_DUPLICATE, AUD_FAILED };

typedef struct aud_finding {
    const char *rule;
    const char *action, *severity; /* static names */
    const char *message;
    const char *resource; /* per-resource evaluation of a vault/key event; else NULL */
    bool unknown;
    const char *exemption; /* the exemption that held it back (result "exempted"); else NULL */
    const char **tags;     /* the rule's tags and compliance mappings (SPEC §4a) */
    size_t ntags;
    const char **standards, **controls; /* compliance entry i: standards[i], controls[i] */
    size_t ncompliance;
} aud_finding;

typedef struct aud_action {
    const char *op; /* static name */
    const char *from, *to, *error;
    bool ok;
} aud_action;

typedef struct aud_state {
    bool present; /* the subject is a resource */
    bool cmk, locked, lost, exists;
    const char *key_uri;
    const char **reasons;
    size_t nreasons;
} aud_state;

typedef struct aud_rec {
    const char *subject; /* NULL when the event had none usable */
    aud_finding *f;
    size_t nf, capf;
    aud_action *a;
    size_t na, capa;
    aud_state st;
} aud_rec;

typedef struct aud_decision {
    enum aud_outcome outcome;
    bool bad_input;         /* rejected: goes to the dead-letter topic when streaming */
    bool fatal;             /* the crypto core failed: stop, keep and audit nothing of it */
    const char *reason;     /* rejected, duplicate, failed */
    const char *cause;      /* event id */
    const char *event_type; /* as sent */
    const char *time;       /* event time (RFC 3339) when valid */
    const char *input;      /* file:line or topic/partition/offset */
    /* An event derived from an Azure observation (SPEC §2b): the Azure event's type and
     * id, written as data.derived_from; both NULL for cmkguard's own events. */
    const char *derived_type, *derived_id;
    aud_rec *recs; /* recs[0] is the decision record; kept across resets */
    size_t nrecs, caprecs;
    cm_arena arena; /* every string and list above but recs */
} aud_decision;

const char *aud_outcome_name(enum aud_outcome o);
/* Empties d for the next event; its memory stays for it (no free, no malloc). */
void aud_decision_reset(aud_decision *d);
/* Frees what the decision holds and empties it (keeps it usable). */
void aud_decision_clear(aud_decision *d);
/* A copy of s in d's arena, valid until d is reset or cleared; NULL in, NULL out. */
const char *aud_decision_str(aud_decision *d, const char *s);
const char *aud_decision_strn(aud_decision *d, const char *s, size_t n);
/* A new record of d about subject (copied; may be NULL). The pointer is good until the
 * next aud_decision_add. */
aud_rec *aud_decision_add(aud_decision *d, const char *subject);
/* A new, empty finding or action of r, a record of d (or a scratch record whose lists
 * are in d's arena). */
aud_finding *aud_rec_finding(aud_decision *d, aud_rec *r);
aud_action *aud_rec_action(aud_decision *d, aud_rec *r);
/* "exempted", "unknown" or "match": the finding's result as its record names it. */
const char *aud_finding_result(const aud_finding *f);
#endif
