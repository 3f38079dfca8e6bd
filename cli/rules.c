#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "policy/policy.h"
#include "policy/report.h"
#include "policy/ruletest.h"
#include "policy/schema.h"

/* Reads leading --format F (or --format=F) and, where allowed, --require-all; returns
 * the index of the first PATH, or -1 after a usage error. */
static int flags(int argc, char **argv, const char *cmd, const char *formats, bool *require_all,
                 enum pol_format *fmt)
{
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--format")) {
            if (++i == argc) {
                cli_usage_error(cmd, "--format needs one of %s", formats);
                return -1;
            }
            v = argv[i];
        } else if (!strncmp(argv[i], "--format=", 9)) {
            v = argv[i] + 9;
        } else if (require_all && !strcmp(argv[i], "--require-all")) {
            *require_all = true;
            continue;
        } else if (!strcmp(argv[i], "--")) {
            return i + 1;
        } else {
            cli_usage_error(cmd, "unknown option '%s'", argv[i]);
            return -1;
        }
        int f = pol_format_parse(v);
        char want[40], all[40];
        snprintf(want, sizeof want, "|%s|", v);
        snprintf(all, sizeof all, "|%s|", formats);
        if (f < 0 || !strstr(all, want)) {
            cli_usage_error(cmd, "--format is one of %s, not '%s'", formats, v);
            return -1;
        }
        *fmt = (enum pol_format)f;
    }
    return i;
}

static int check(int argc, char **argv)
{
    enum pol_format fmt = POL_FMT_TEXT;
    int first = flags(argc, argv, "rules check", "text|json|sarif", NULL, &fmt);
    if (first < 0)
        return EXIT_USAGE;
    /* PATH... [--exemptions PATH]...: the rules, then exemption files checked against them. */
    const char **rules = cm_xcalloc(2 * (size_t)argc + 2, sizeof *rules);
    const char **exemptions = rules + argc + 1;
    size_t nrules = 0, nexemptions = 0;
    for (int i = first; i < argc; i++) {
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
    cm_err_clear(&err);
    pol_ruleset *rs = pol_ruleset_load_ex(rules, nrules, exemptions, nexemptions, &err);
    int rc = rs ? EXIT_OK : EXIT_USAGE;
    if (!rs)
        cm_err_print(&err);
    if (fmt != POL_FMT_TEXT) {
        if (pol_check_write(stdout, fmt, rules, nrules, rs, &err) < 0) {
            fprintf(stderr, "cmkguard: stdout: cannot write the report\n");
            rc = EXIT_RUNTIME;
        }
    } else if (rs && nexemptions) {
        printf("{\"exemptions\":%zu,\"rules\":%zu,\"rules_hash\":\"%s\"}\n",
               pol_ruleset_exemptions(rs), pol_ruleset_count(rs), pol_ruleset_hash(rs));
    } else if (rs) {
        printf("{\"rules\":%zu,\"rules_hash\":\"%s\"}\n", pol_ruleset_count(rs),
               pol_ruleset_hash(rs));
    }
    pol_ruleset_free(rs);
    free(rules);
    return rc;
}

static int test(int argc, char **argv)
{
    pol_ruletest_report rep = {0};
    pol_ruletest_opts o = {0};
    enum pol_format fmt = POL_FMT_TEXT;
    int first = flags(argc, argv, "rules test", "text|json|junit", &o.require_all, &fmt);
    if (first < 0)
        return EXIT_USAGE;
    if (first >= argc)
        return cli_usage_error("rules test", "needs one or more PATHs");
    if (fmt != POL_FMT_TEXT)
        o.report = &rep;
    cm_err err;
    cm_err_clear(&err);
    int failed = pol_ruletest_run((const char *const *)argv + first, (size_t)(argc - first), &o,
                                  fmt == POL_FMT_TEXT ? stdout : NULL, &err);
    if (failed < 0)
        cm_err_print(&err);
    int rc = failed < 0 ? EXIT_USAGE : failed ? EXIT_CHECK : EXIT_OK;
    if (fmt != POL_FMT_TEXT &&
        pol_ruletest_write(stdout, fmt, &rep, failed < 0 ? &err : NULL) < 0) {
        fprintf(stderr, "cmkguard: stdout: cannot write the report\n");
        rc = EXIT_RUNTIME;
    }
    pol_ruletest_report_free(&rep);
    return rc;
}

/* The JSON Schema of rule, exemption and rule-test files, exactly as committed. */
static int schema(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        return cli_usage_error("rules schema", "takes no arguments");
    if (fwrite(pol_schema_json, 1, pol_schema_json_len, stdout) != pol_schema_json_len ||
        fflush(stdout) != 0) {
        fprintf(stderr, "cmkguard: stdout: cannot write the schema\n");
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

int cmd_rules(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "check"))
        return check(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "test"))
        return test(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "schema"))
        return schema(argc - 1, argv + 1);
    return cli_usage_error("rules", "expected 'check', 'test' or 'schema'");
}
