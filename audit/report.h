/* The compliance report (SPEC §6 `report`): one self-contained HTML page made from
 * verified audit records and, optionally, the authenticated state. Nothing on the page
 * is fetched: inline CSS, inline SVG charts, no script. */
#ifndef AUD_REPORT_H
#define AUD_REPORT_H
#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"

typedef struct aud_report aud_report;

aud_report *aud_report_new(void);
void aud_report_free(aud_report *r);
/* An aud_record_fn: pass with the aud_report as arg to aud_verifier_on_record. */
int aud_report_record(void *arg, const char *where, const struct yajl_val_s *rec, cm_err *err);
/* The inputs and the key, as the page names them (copied). */
void aud_report_input(aud_report *r, const char *name);
void aud_report_key(aud_report *r, const char *path, const char *kid);
/* How verification of the trail ended: failure NULL when every check passed, else what
 * failed ("FILE:LINE: seq N: why"), copied. Chains are read from v. Call once. */
void aud_report_trail(aud_report *r, const aud_verifier *v, const char *failure);

/* The state, when one was given: read through the vault API by the caller. */
void aud_report_state(aud_report *r, const char *path, const char *failure);
typedef struct aud_report_resource {
    const char *id, *key_uri; /* key_uri NULL on MMK */
    bool cmk, locked, lost;
    const char *const *reasons;
    size_t nreasons;
} aud_report_resource;
void aud_report_state_resource(aud_report *r, const aud_report_resource *res);
void aud_report_state_chain(aud_report *r, const char *chain, uint64_t seq, const char *hash);

/* An exemption from the exemption files (report --exemptions), listed with its expiry
 * whether or not the trail shows it applied; rules is its rule ids, comma-separated.
 * Strings copied. */
void aud_report_exemption(aud_report *r, const char *id, const char *category, const char *expires,
                          const char *reason, const char *ticket, const char *rules);

/* The page, as of the instant as_of (seconds since the epoch: what "expires within 30
 * days" counts from), appended to out. -1 when it would exceed out's bound. */
int aud_report_html(aud_report *r, int64_t as_of, cm_buf *out);
/* Whether everything verified (the trail, and the state when one was given). */
bool aud_report_verified(const aud_report *r);
#endif
