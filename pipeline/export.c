/* `audit export --format ocsf`: the whole input is verified before anything reaches
 * stdout. Findings wait in an unnamed temporary file, so a trail that fails (a record
 * altered, or an unsigned tail found only at its end) prints nothing. */
#include "pipeline/export.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/ocsf.h"

static int to_file(void *arg, const char *subject, const char *line, size_t n)
{
    FILE *f = arg;
    (void)subject; /* one stream for every subject */
    return fwrite(line, 1, n, f) == n && putc('\n', f) != EOF ? 0 : -1;
}

int pip_export_ocsf(const char *pub, const char *const *files, size_t nfiles)
{
    cm_err err;
    cry_verifier *key = cry_verifier_load(pub, &err);
    if (!key) {
        cm_err_print(&err);
        return CM_EINPUT;
    }
    int rc = CM_EENV;
    FILE *tmp = tmpfile();
    if (!tmp) {
        cm_log("cannot create a temporary file for the export: %s", strerror(errno));
        goto out_free_key;
    }
    aud_ocsf *x = aud_ocsf_new(to_file, tmp);
    aud_verifier *v = aud_verifier_new(key);
    aud_verifier_on_record(v, aud_ocsf_record, x);
    cm_buf sum;
    cm_buf_init(&sum, 0);
    rc = aud_verify_files(v, files, nfiles, &sum, &err);
    if (rc != 0) {
        cm_err_print(&err);
        goto out_free;
    }
    if (fflush(tmp) != 0 || fseek(tmp, 0, SEEK_SET) != 0) {
        cm_log("cannot read back the export: %s", strerror(errno));
        rc = CM_EENV;
        goto out_free;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, tmp)) > 0)
        if (fwrite(chunk, 1, n, stdout) != n)
            break;
    if (ferror(tmp) || fflush(stdout) != 0 || ferror(stdout)) {
        cm_log("cannot write the export: %s", strerror(errno));
        rc = CM_EENV;
    }
out_free:
    cm_buf_free(&sum);
    aud_verifier_free(v);
    aud_ocsf_free(x);
    fclose(tmp);
out_free_key:
    cry_verifier_free(key);
    return rc;
}
