#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "policy/policy.h"
#include "policy/ruletest.h"

static int check(int argc, char **argv)
{
    /* PATH... [--exemptions PATH]...: the rules, then the exemption files checked against them. */
    const char **rules = cm_xcalloc(2 * (size_t)argc + 2, sizeof *rules);
    const char **exemptions = rules + argc + 1;
    size_t nrules = 0, nexemptions = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--exemptions") && i + 1 < argc)
            exemptions[nexemptions++] = argv[++i];
        else
            rules[nrules++] = argv[i];
    }
    if (!nrules) {
        free(rules);
        return cli_usage_error("rules check", "needs one or more PATHs");
    }
    cm_err err;
    pol_ruleset *rs = pol_ruleset_load_ex(rules, nrules, exemptions, nexemptions, &err);
    free(rules);
    if (!rs) {
        cm_err_print(&err);
        return EXIT_USAGE;
    }
    if (nexemptions)
        printf("{\"exemptions\":%zu,\"rules\":%zu,\"rules_hash\":\"%s\"}\n",
               pol_ruleset_exemptions(rs), pol_ruleset_count(rs), pol_ruleset_hash(rs));
    else
        printf("{\"rules\":%zu,\"rules_hash\":\"%s\"}\n", pol_ruleset_count(rs),
               pol_ruleset_hash(rs));
    pol_ruleset_free(rs);
    return EXIT_OK;
}

static int test(int argc, char **argv)
{
    pol_ruletest_opts o = {0};
    int first = 1;
    if (argc > 1 && !strcmp(argv[1], "--require-all")) {
        o.require_all = true;
        first = 2;
    }
    if (argc <= first)
        return cli_usage_error("rules test", "needs one or more PATHs");
    cm_err err;
    int failed = pol_ruletest_run((const char *const *)argv + first, (size_t)(argc - first), &o,
                                  stdout, &err);
    if (failed < 0) {
        cm_err_print(&err);
        return EXIT_USAGE;
    }
    return failed ? EXIT_CHECK : EXIT_OK;
}

int cmd_rules(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "check"))
        return check(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "test"))
        return test(argc - 1, argv + 1);
    return cli_usage_error("rules", "expected 'check' or 'test'");
}
