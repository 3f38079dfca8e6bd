/* `cmkguard report`: verifies audit files as `audit verify` does, reads the state (when
 * given) through the vault API, and writes one self-contained HTML page. Exit 0 when
 * everything verified, 1 when the page reports a failed verification. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/report.h"
#include "cli/cli.h"
#include "common/timestamp.h"
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
        const vlt_res_view *x = vlt_resource_view(vlt_state_resource(st, ids[i]), &xv);
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
    vlt_state_chain_each(st, state_chain, rep);
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

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"pubkey", required_argument, NULL, 'p'},     {"out", required_argument, NULL, 'o'},
        {"state", required_argument, NULL, 's'},      {"master-key", required_argument, NULL, 'M'},
        {"as-of", required_argument, NULL, 'a'},      {"rules", required_argument, NULL, 'r'},
        {"exemptions", required_argument, NULL, 'x'}, {NULL, 0, NULL, 0}};
    const char *pub = NULL, *out = NULL, *state = NULL, *master = NULL, *as_of_s = NULL;
    const char **rules = cm_xcalloc(2 * (size_t)argc + 2, sizeof *rules);
    const char **xpaths = rules + argc + 1;
    size_t nrules = 0, nx = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            pub = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 's':
            state = optarg;
            break;
        case 'M':
            master = optarg;
            break;
        case 'a':
            as_of_s = optarg;
            break;
        case 'r':
            rules[nrules++] = optarg;
            break;
        case 'x':
            xpaths[nx++] = optarg;
            break;
        default:
            free(rules);
            return cli_usage_error("report", "unknown option");
        }
    }
    const char *usage = !pub || !out     ? "needs --pubkey PUB and --out FILE.html"
                        : optind >= argc ? "needs at least one AUDIT file (- for stdin)"
                        : nx && !nrules  ? "--exemptions needs --rules (exemptions name rules)"
                        : nrules && !nx  ? "--rules is only read with --exemptions"
                                         : NULL;
    int64_t as_of = (int64_t)time(NULL);
    if (!usage && as_of_s && !cm_ts_parse(as_of_s, strlen(as_of_s), &as_of))
        usage = "--as-of takes an RFC 3339 time";
    if (usage) {
        free(rules);
        return cli_usage_error("report", "%s", usage);
    }
    cm_err err;
    cm_err_clear(&err);
    /* Exemption files, checked against the rules they name, for their expiry. */
    pol_ruleset *rs = nx ? pol_ruleset_load_ex(rules, nrules, xpaths, nx, &err) : NULL;
    free(rules);
    if (nx && !rs) {
        cm_err_print(&err);
        return EXIT_USAGE;
    }
    cry_verifier *key = cry_verifier_load(pub, &err);
    if (!key) {
        cm_err_print(&err);
        pol_ruleset_free(rs);
        return EXIT_USAGE;
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
    aud_report_key(rep, pub, cry_verifier_kid(key));
    for (int i = optind; i < argc; i++)
        aud_report_input(rep, strcmp(argv[i], "-") ? argv[i] : "stdin");
    /* The state first: its chain heads are matched against the records as they pass. */
    if (state)
        read_state(rep, state, master);
    aud_verifier *v = aud_verifier_new(key);
    aud_verifier_on_record(v, aud_report_record, rep);
    cm_buf sum;
    cm_buf_init(&sum, 0);
    int rc = cli_exit(aud_verify_files(v, (const char *const *)argv + optind,
                                       (size_t)(argc - optind), &sum, &err));
    cm_buf_free(&sum);
    if (rc == EXIT_USAGE || rc == EXIT_RUNTIME) {
        /* an input that could not be read: no report at all */
        cm_err_print(&err);
        goto out_free;
    }
    char failure[1400] = "";
    if (rc == EXIT_CHECK) {
        cm_err_print(&err);
        cm_err_format(&err, failure, sizeof failure);
    }
    aud_report_trail(rep, v, rc == EXIT_CHECK ? failure : NULL);
    cm_buf page;
    cm_buf_init(&page, MAX_PAGE);
    if (aud_report_html(rep, as_of, &page) < 0) {
        cm_log("%s: the report would exceed %zu MiB", out, MAX_PAGE >> 20);
        rc = EXIT_RUNTIME;
    } else if (write_page(out, &page) < 0) {
        rc = EXIT_RUNTIME;
    } else if (!aud_report_verified(rep)) {
        if (rc == EXIT_OK)
            cm_log("%s: the state failed verification; the report says so", state);
        rc = EXIT_CHECK;
    }
    cm_buf_free(&page);
out_free:
    aud_verifier_free(v);
    aud_report_free(rep);
    cry_verifier_free(key);
    return rc;
}
