/* `cmkguard report`: its flags; the report itself is pipeline/report.c. Exit 0 when
 * everything verified, 1 when the page reports a failed verification. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/timestamp.h"
#include "common/util.h"
#include "pipeline/report.h"

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
    pip_report_opts o = {.pub = pub,
                         .out = out,
                         .files = (const char *const *)argv + optind,
                         .nfiles = (size_t)(argc - optind),
                         .state = state,
                         .master = master,
                         .rules = rules,
                         .xpaths = xpaths,
                         .nrules = nrules,
                         .nx = nx,
                         .as_of = as_of};
    int rc = pip_report(&o);
    free(rules);
    return cli_exit(rc);
}
