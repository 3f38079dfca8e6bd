/* `report`: one self-contained HTML compliance report from verified audit files. */
#ifndef PIP_REPORT_H
#define PIP_REPORT_H
#include <stddef.h>
#include <stdint.h>

typedef struct pip_report_opts {
    const char *pub, *out;    /* the public key; the page's path */
    const char *const *files; /* audit files ("-": stdin) */
    size_t nfiles;
    const char *state, *master;               /* NULL: no state */
    const char *const *rules, *const *xpaths; /* exemption files and the rules they name */
    size_t nrules, nx;
    int64_t as_of; /* what "expires within 30 days" counts from */
} pip_report_opts;

/* Writes the page; errors are printed. 0 when everything verified; CM_ECHECK when the
 * page (written) reports a failed verification; CM_EINPUT for a bad key, exemption file
 * or an unreadable input (no page); CM_EENV when the page cannot be written. */
int pip_report(const pip_report_opts *o);
#endif
