/* `audit export`: verified records as OCSF Compliance Findings on stdout. */
#ifndef PIP_EXPORT_H
#define PIP_EXPORT_H
#include <stddef.h>

/* Verifies the files (none: stdin) with the public key at pub, then writes one finding
 * per line; errors are printed. 0; CM_EINPUT for a bad key or an unreadable input,
 * CM_ECHECK when a record fails (nothing is written), CM_EENV when writing fails. */
int pip_export_ocsf(const char *pub, const char *const *files, size_t nfiles);
#endif
