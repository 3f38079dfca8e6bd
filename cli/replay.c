#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "policy/engine.h"
#include "stream/decode.h"
#include "stream/replay.h"

static int file_sink(void *arg, const char *subject, const char *line, size_t n)
{
    (void)subject;
    FILE *f = arg;
    if (fwrite(line, 1, n, f) != n || fputc('\n', f) == EOF)
        return -1;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rules", required_argument, NULL, 'r'},     {"state", required_argument, NULL, 's'},
        {"sign-key", required_argument, NULL, 'k'},  {"checkpoint", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},       {"clock", required_argument, NULL, 'C'},
        {"max-message", required_argument, NULL, 'm'}, {"master-key", required_argument, NULL, 'M'},
        {"chain", required_argument, NULL, 'n'},     {"progress", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    const char **rules = cm_xcalloc((size_t)argc + 1, sizeof *rules);
    size_t nrules = 0;
    const char *state = NULL, *sign_key = NULL, *out = NULL, *master = NULL, *chain = "main";
    int64_t checkpoint = 0, max_message = (int64_t)STM_MAX_MESSAGE_DEFAULT;
    enum aud_clock clk = AUD_CLOCK_EVENT;
    bool progress = isatty(2);
    int c, rc = EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': rules[nrules++] = optarg; break;
        case 's': state = optarg; break;
        case 'k': sign_key = optarg; break;
        case 'o': out = optarg; break;
        case 'M': master = optarg; break;
        case 'n': chain = optarg; break;
        case 'p': progress = true; break;
        case 'c':
            if (!cm_parse_i64(optarg, &checkpoint) || checkpoint < 0 || checkpoint > 100000000) {
                free(rules);
                return cli_usage_error("replay", "--checkpoint needs a whole number >= 0");
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
        default: free(rules); return cli_usage_error("replay", "unknown option");
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
    cm_err err;
    cm_err_clear(&err);
    pol_ruleset *rs = nrules ? pol_ruleset_load(rules, nrules, &err) : pol_ruleset_empty();
    free(rules);
    cry_signer *signer = NULL;
    vlt_state *st = NULL;
    stm_reader *rd = NULL;
    FILE *of = stdout;
    pol_engine *eng = NULL;
    aud_writer *w = NULL;
    if (!rs) {
        cm_err_print(&err);
        return EXIT_USAGE;
    }
    if (sign_key && !(signer = cry_signer_load(sign_key, &err))) {
        cm_err_print(&err);
        goto out_free;
    }
    rc = EXIT_RUNTIME;
    if (!(st = vlt_state_open(state, master, &err))) {
        cm_err_print(&err);
        goto out_free;
    }
    if (!(rd = stm_reader_open(argv[optind], (size_t)max_message, &err))) {
        cm_err_print(&err);
        rc = EXIT_USAGE;
        goto out_free;
    }
    if (out && !(of = fopen(out, "w"))) {
        cm_log("%s: cannot write audit records", out);
        goto out_free;
    }
    eng = pol_engine_new(rs, st, (size_t)max_message);
    w = aud_writer_new(chain, signer, (unsigned)checkpoint, clk, file_sink, of);
    uint64_t seq;
    char head[65];
    if (vlt_state_chain_get(st, chain, &seq, head))
        aud_writer_resume(w, seq, head);
    aud_decision d = {0};
    const char *line;
    size_t n, lineno, events = 0;
    char input[4200];
    double t0 = now_s(), last = t0;
    int r;
    while ((r = stm_reader_next(rd, &line, &n, &lineno, &err)) == 1) {
        snprintf(input, sizeof input, "%s:%zu", stm_reader_name(rd), lineno);
        pol_engine_process(eng, line, n, input, &d);
        if (aud_writer_emit(w, &d, pol_ruleset_hash(rs), &err) < 0) {
            cm_err_print(&err);
            goto out_decision;
        }
        if (d.outcome == AUD_REJECTED && d.reason)
            cm_log("%s: event rejected: %s", input, d.reason);
        events++;
        if (state && events % 1000 == 0) {
            vlt_state_chain_set(st, chain, aud_writer_seq(w), aud_writer_head(w));
            if (vlt_state_flush(st, &err) < 0) {
                cm_err_print(&err);
                goto out_decision;
            }
        }
        if (progress && (events & 1023) == 0) {
            double t = now_s();
            if (t - last >= 2.0) {
                cm_log("replay: %zu events, %.0f events/s", events, (double)events / (t - t0));
                last = t;
            }
        }
    }
    if (r < 0) {
        cm_err_print(&err);
        goto out_decision;
    }
    if (aud_writer_finish(w, &err) < 0) {
        cm_err_print(&err);
        goto out_decision;
    }
    vlt_state_chain_set(st, chain, aud_writer_seq(w), aud_writer_head(w));
    if (vlt_state_flush(st, &err) < 0) {
        cm_err_print(&err);
        goto out_decision;
    }
    if (fflush(of) != 0) {
        cm_log("%s: cannot write audit records", out ? out : "stdout");
        goto out_decision;
    }
    if (progress)
        cm_log("replay: %zu events, %llu records", events,
               (unsigned long long)aud_writer_seq(w));
    rc = EXIT_OK;
out_decision:
    aud_decision_clear(&d);
out_free:
    aud_writer_free(w);
    pol_engine_free(eng);
    if (of && of != stdout)
        fclose(of);
    stm_reader_free(rd);
    vlt_state_free(st);
    cry_signer_free(signer);
    pol_ruleset_free(rs);
    return rc;
}
