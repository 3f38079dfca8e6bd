#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "policy/policy.h"
#include "policy/ruletest.h"
#include "policy/schema.h"

static int check(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("rules check", "needs one or more PATHs");
    cm_err err;
    pol_ruleset *rs = pol_ruleset_load((const char *const *)argv + 1, (size_t)argc - 1, &err);
    if (!rs) {
        cm_err_print(&err);
        return EXIT_USAGE;
    }
    printf("{\"rules\":%zu,\"rules_hash\":\"%s\"}\n", pol_ruleset_count(rs), pol_ruleset_hash(rs));
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
