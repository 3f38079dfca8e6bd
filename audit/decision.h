/* aud_decision: what the engine decided about one event — the content of its
 * decision record and fan-out records, before canonical JSON and signing. */
#ifndef AUD_DECISION_H
#define AUD_DECISION_H
#include <stdbool.h>
#include <stddef.h>

enum aud_outcome { AUD_ALLOWED, AUD_DENIED, AUD_REJECTED, AUD_DUPLICATE, AUD_FAILED };

typedef struct aud_finding {
    char *rule;
    const char *action, *severity; /* static names */
    char *message;
    char *resource; /* per-resource evaluation of a vault/key event; else NULL */
    bool unknown;
    char *exemption; /* the exemption that held it back (result "exempted"); else NULL */
    char **tags;     /* the rule's tags and compliance mappings (SPEC §4a) */
    size_t ntags;
    char **standards, **controls; /* compliance entry i: standards[i], controls[i] */
    size_t ncompliance;
} aud_finding;

typedef struct aud_action {
    const char *op; /* static name */
    char *from, *to, *error;
    bool ok;
} aud_action;

typedef struct aud_state {
    bool present; /* the subject is a resource */
    bool cmk, locked, lost, exists;
    char *key_uri;
    char **reasons;
    size_t nreasons;
} aud_state;

typedef struct aud_rec {
    char *subject; /* NULL when the event had none usable */
    aud_finding *f;
    size_t nf, capf;
    aud_action *a;
    size_t na, capa;
    aud_state st;
} aud_rec;

typedef struct aud_decision {
    enum aud_outcome outcome;
    bool bad_input;   /* rejected: goes to the dead-letter topic when streaming */
    bool fatal;       /* the crypto core failed: stop, keep and audit nothing of it */
    char *reason;     /* rejected, duplicate, failed */
    char *cause;      /* event id */
    char *event_type; /* as sent */
    char *time;       /* event time (RFC 3339) when valid */
    char *input;      /* file:line or topic/partition/offset */
    /* An event derived from an Azure observation (SPEC §2b): the Azure event's type and
     * id, written as data.derived_from; both NULL for cmkguard's own events. */
    char *derived_type, *derived_id;
    aud_rec *recs; /* recs[0] is the decision record */
    size_t nrecs, caprecs;
} aud_decision;

const char *aud_outcome_name(enum aud_outcome o);
/* Frees what the decision holds and empties it (keeps it usable). */
void aud_decision_clear(aud_decision *d);
aud_rec *aud_decision_add(aud_decision *d, const char *subject);
aud_finding *aud_rec_finding(aud_rec *r);
/* "exempted", "unknown" or "match": the finding's result as its record names it. */
const char *aud_finding_result(const aud_finding *f);
/* Frees what a finding holds (not the finding itself). */
void aud_finding_free(aud_finding *f);
aud_action *aud_rec_action(aud_rec *r);
#endif
