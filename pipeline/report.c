/* `report`: verifies audit files as `audit verify` does, reads the state (when given)
 * through the vault API and the exemption files (when given) through the rule loader,
 * and writes one self-contained HTML page (audit/report.c draws it). */
#include "pipeline/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/report.h"
#include "common/timestamp.h"
#include "pipeline/chains.h"
#include "policy/policy.h"
#include "vault/state.h"

#define MAX_PAGE ((size_t)256 << 20)

static void state_chain(void *arg, const char *chain, uint64_t seq, const char *hash)
{
    aud_report_state_chain(arg, chain, seq, hash);
}

/* Reads the state into the report; a state that fails its checks is reported as such
 * and nothing of it is used. */
static void read_state(aud_report *rep, const char *path, const char *master)
{
    cm_err err;
    cm_err_clear(&err);
    struct stat sb;
    if (access(path, R_OK) != 0 || stat(path, &sb) != 0) {
        char why[600];
        snprintf(why, sizeof why, "cannot read it: %s", strerror(errno));
        aud_report_state(rep, path, why);
        return;
    }
    if (sb.st_size == 0) { /* opening it would make it a new state */
        aud_report_state(rep, path, "an empty file, not a state");
        return;
    }
    vlt_state *st = vlt_state_open(path, master, &err);
    if (st && pip_chains_open(st, &err) < 0) {
        vlt_state_free(st);
        st = NULL;
    }
    if (!st) {
        char why[1400];
        cm_err_format(&err, why, sizeof why);
        aud_report_state(rep, path, why);
        return;
    }
    aud_report_state(rep, path, NULL);
    size_t n;
    const char **ids = vlt_state_resource_ids(st, &n);
    for (size_t i = 0; i < n; i++) {
        vlt_res_view xv;
        const vlt_res_view *x = vlt_res_view_of(vlt_state_resource(st, ids[i]), &xv);
        aud_report_resource r = {.id = x->id,
                                 .key_uri = x->cmk ? x->key_uri : NULL,
                                 .cmk = x->cmk,
                                 .locked = x->locked,
                                 .lost = x->lost,
                                 .reasons = x->reasons,
                                 .nreasons = x->nreasons};
        aud_report_state_resource(rep, &r);
    }
    free(ids);
    pip_chain_each(st, state_chain, rep);
    vlt_state_free(st);
}

/* Writes the page next to its destination and renames it into place. */
static int write_page(const char *path, const cm_buf *page)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        cm_log("%s: cannot write the report: %s", tmp, strerror(errno));
        return -1;
    }
    bool ok = fwrite(page->p, 1, page->len, f) == page->len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        cm_log("%s: cannot write the report: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int pip_report(const pip_report_opts *o)
{
    cm_err err;
    cm_err_clear(&err);
    /* Exemption files, checked against the rules they name, for their expiry. */
    pol_ruleset *rs =
        o->nx ? pol_ruleset_load_ex(o->rules, o->nrules, o->xpaths, o->nx, &err) : NULL;
    if (o->nx && !rs) {
        cm_err_print(&err);
        return CM_EINPUT;
    }
    cry_verifier *key = cry_verifier_load(o->pub, &err);
    if (!key) {
        cm_err_print(&err);
        pol_ruleset_free(rs);
        return CM_EINPUT;
    }
    aud_report *rep = aud_report_new();
    for (size_t i = 0; rs && i < pol_ruleset_exemptions(rs); i++) {
        pol_exemption_info x;
        pol_ruleset_exemption(rs, i, &x);
        char expires[CM_TS_SIZE], names[1024];
        cm_ts_format(x.expires, expires);
        cm_join(names, sizeof names, ", ", x.rules, x.nrules);
        aud_report_exemption(rep, x.id, x.category, expires, x.reason, x.ticket, names);
    }
    pol_ruleset_free(rs);
    aud_report_key(rep, o->pub, cry_verifier_kid(key));
    for (size_t i = 0; i < o->nfiles; i++)
        aud_report_input(rep, strcmp(o->files[i], "-") ? o->files[i] : "stdin");
    /* The state first: its chain heads are matched against the records as they pass. */
    if (o->state)
        read_state(rep, o->state, o->master);
    aud_verifier *v = aud_verifier_new(key);
    aud_verifier_on_record(v, aud_report_record, rep);
    cm_buf sum;
    cm_buf_init(&sum, 0);
    int rc = aud_verify_files(v, o->files, o->nfiles, &sum, &err);
    cm_buf_free(&sum);
    if (rc == CM_EINPUT || rc == CM_EENV) {
        /* an input that could not be read: no report at all */
        cm_err_print(&err);
        goto out_free;
    }
    char failure[1400] = "";
    if (rc == CM_ECHECK) {
        cm_err_print(&err);
        cm_err_format(&err, failure, sizeof failure);
    }
    aud_report_trail(rep, v, rc == CM_ECHECK ? failure : NULL);
    cm_buf page;
    cm_buf_init(&page, MAX_PAGE);
    if (aud_report_html(rep, o->as_of, &page) < 0) {
        cm_log("%s: the report would exceed %zu MiB", o->out, MAX_PAGE >> 20);
        rc = CM_EENV;
    } else if (write_page(o->out, &page) < 0) {
        rc = CM_EENV;
    } else if (!aud_report_verified(rep)) {
        if (rc == 0)
            cm_log("%s: the state failed verification; the report says so", o->state);
        rc = CM_ECHECK;
    }
    cm_buf_free(&page);
out_free:
    aud_verifier_free(v);
    aud_report_free(rep);
    cry_verifier_free(key);
    return rc;
}
