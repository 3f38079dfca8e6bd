/* Verification of the audit topic (audit verify --kafka). */
#ifndef STM_VERIFY_H
#define STM_VERIFY_H
#include "audit/audit.h"

/* Reads every record of the audit topic named by the run config at path, in chain order,
 * through v, and the summary into summary. 0; CM_EINPUT for a bad config, CM_EENV when
 * the topic cannot be read, CM_ECHECK when a record fails (err names it). */
int stm_verify_audit_topic(aud_verifier *v, const char *config, cm_buf *summary, cm_err *err);
#endif
