/* `replay`: its flags; the replay itself is pipeline/replay.c. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "decode/decode.h"
#include "pipeline/replay.h"

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {{"rules", required_argument, NULL, 'r'},
                                         {"state", required_argument, NULL, 's'},
                                         {"sign-key", required_argument, NULL, 'k'},
                                         {"checkpoint", required_argument, NULL, 'c'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"clock", required_argument, NULL, 'C'},
                                         {"max-message", required_argument, NULL, 'm'},
                                         {"master-key", required_argument, NULL, 'M'},
                                         {"chain", required_argument, NULL, 'n'},
                                         {"progress", no_argument, NULL, 'p'},
                                         {"commit-every", required_argument, NULL, 'e'},
                                         {"exemptions", required_argument, NULL, 'x'},
                                         {NULL, 0, NULL, 0}};
    /* One allocation for both lists of paths: rules first, exemptions after. */
    const char **rules = cm_xcalloc(2 * ((size_t)argc + 1), sizeof *rules);
    const char **exemptions = rules + argc + 1;
    size_t nrules = 0, nexemptions = 0;
    const char *state = NULL, *sign_key = NULL, *out = NULL, *master = NULL, *chain = "main";
    int64_t checkpoint = 0, commit_every = 1000, max_message = (int64_t)DEC_MAX_MESSAGE_DEFAULT;
    enum aud_clock clk = AUD_CLOCK_EVENT;
    bool progress = isatty(2);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            rules[nrules++] = optarg;
            break;
        case 'x':
            exemptions[nexemptions++] = optarg;
            break;
        case 's':
            state = optarg;
            break;
        case 'k':
            sign_key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'M':
            master = optarg;
            break;
        case 'n':
            chain = optarg;
            break;
        case 'p':
            progress = true;
            break;
        case 'c':
            if (!cm_parse_i64(optarg, &checkpoint) || checkpoint < 0 || checkpoint > 100000000) {
                free(rules);
                return cli_usage_error("replay", "--checkpoint needs a whole number >= 0");
            }
            break;
        case 'e':
            if (!cm_parse_i64(optarg, &commit_every) || commit_every < 1) {
                free(rules);
                return cli_usage_error("replay", "--commit-every needs a whole number >= 1");
            }
            break;
        case 'm':
            if (!cm_parse_i64(optarg, &max_message) || max_message < 64 ||
                max_message > (1 << 30)) {
                free(rules);
                return cli_usage_error("replay", "--max-message needs 64..1073741824 bytes");
            }
            break;
        case 'C':
            if (!strcmp(optarg, "event"))
                clk = AUD_CLOCK_EVENT;
            else if (!strcmp(optarg, "wall"))
                clk = AUD_CLOCK_WALL;
            else {
                free(rules);
                return cli_usage_error("replay", "--clock is event or wall");
            }
            break;
        default:
            free(rules);
            return cli_usage_error("replay", "unknown option");
        }
    }
    if (optind != argc - 1) {
        free(rules);
        return cli_usage_error("replay", "needs exactly one EVENTS.jsonl or -");
    }
    if (checkpoint && !sign_key) {
        free(rules);
        return cli_usage_error("replay", "--checkpoint needs --sign-key");
    }
    if (nexemptions && !nrules) {
        free(rules);
        return cli_usage_error("replay", "--exemptions needs --rules");
    }
    pip_replay_opts o = {.rules = rules,
                         .nrules = nrules,
                         .exemptions = exemptions,
                         .nexemptions = nexemptions,
                         .events = argv[optind],
                         .state = state,
                         .master = master,
                         .sign_key = sign_key,
                         .out = out,
                         .chain = chain,
                         .checkpoint = checkpoint,
                         .commit_every = commit_every,
                         .max_message = max_message,
                         .clock = clk,
                         .progress = progress};
    int rc = pip_replay(&o);
    free(rules);
    return cli_exit(rc);
}
