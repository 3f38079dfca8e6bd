#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fault.h"
#include "common/util.h"

static const char USAGE[] =
    "usage: cmkguard COMMAND [ARGS]\n"
    "\n"
    "  replay [--rules PATH]... [--exemptions PATH]... [--state DB] [--sign-key KEY]\n"
    "         [--checkpoint N] [--out FILE] [--clock event|wall] [--max-message BYTES]\n"
    "         [--commit-every N] EVENTS.jsonl|-\n"
    "  import [--time RFC3339] FILE|-...\n"
    "                                ARM bodies (az show/list, Resource Graph) -> events\n"
    "  rules check [--format text|json|sarif] PATH... [--exemptions PATH]...\n"
    "                                load and type-check rule and exemption files\n"
    "  rules test [--format text|json|junit] [--require-all] PATH...\n"
    "                                run rule tests (*.test.yaml)\n"
    "  rules schema                  JSON Schema of rule, exemption and rule-test files\n"
    "  audit keygen --out PREFIX     write PREFIX.key (0600) and PREFIX.pub\n"
    "  audit verify --pubkey PUB [FILE|-]...\n"
    "  audit export --format ocsf --pubkey PUB [FILE|-]...\n"
    "                                verified records -> OCSF Compliance Findings\n"
    "  report --pubkey PUB --out FILE.html [--state DB] [--as-of RFC3339]\n"
    "         [--rules PATH... --exemptions PATH...] AUDIT...\n"
    "                                self-contained HTML compliance report\n"
    "  data put --state DB RESOURCE [--class blocklist-name] < FILE\n"
    "  data get --state DB RESOURCE [--class blocklist-name] [--sealed]\n"
    "  state show --state DB [RESOURCE]\n"
    "  state verify --state DB\n"
    "  state migrate --state DB\n"
    "  run --config FILE [--state PATH]\n"
    "                                consume Kafka, audit exactly once, dead-letter bad input\n"
    "  broker [--brokers N] [--partitions N] [--topic NAME]...\n"
    "                                embedded Kafka (mock cluster) on loopback\n"
    "  audit verify --pubkey PUB --kafka CONFIG   verify every chain in the audit topic\n"
    "\n"
    "exit codes: 0 ok, 1 a check failed, 2 bad usage/rules/config, 3 runtime failure\n";

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "-h")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        puts("cmkguard " CM_VERSION);
        return EXIT_OK;
    }
    if (cm_fault_setup() < 0)
        return EXIT_USAGE;
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"replay", cmd_replay}, {"rules", cmd_rules},   {"audit", cmd_audit},
                {"data", cmd_data},     {"state", cmd_state},   {"run", cmd_run},
                {"broker", cmd_broker}, {"import", cmd_import}, {"report", cmd_report}};
    for (size_t i = 0; i < CM_ARRAY_LEN(cmds); i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "cmkguard: unknown command '%s'\n%s", argv[1], USAGE);
    return EXIT_USAGE;
}
