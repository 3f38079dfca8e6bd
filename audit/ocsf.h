/* Verified audit records as OCSF Compliance Findings (class 2003), one JSON object per
 * line: the mapping is docs/ocsf.md. */
#ifndef AUD_OCSF_H
#define AUD_OCSF_H
#include "audit/audit.h"

/* The OCSF schema version the output follows. */
#define AUD_OCSF_VERSION "1.3.0"

typedef struct aud_ocsf aud_ocsf;

/* Each finding goes to sink as one line (no newline). Borrows arg. */
aud_ocsf *aud_ocsf_new(aud_sink_fn sink, void *arg);
void aud_ocsf_free(aud_ocsf *x);
/* An aud_record_fn: pass with the aud_ocsf as arg to aud_verifier_on_record. */
int aud_ocsf_record(void *arg, const char *where, const struct yajl_val_s *rec, cm_err *err);
/* Findings written so far. */
uint64_t aud_ocsf_count(const aud_ocsf *x);
#endif
