#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "stream/kafka.h"

/* Signal handlers only set these flags; the loops read them. */
static volatile sig_atomic_t stop_flag, reload_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_reload(int sig)
{
    (void)sig;
    reload_flag = 1;
}

static void handle(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"state", required_argument, NULL, 's'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *state = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c')
            config = optarg;
        else if (c == 's')
            state = optarg;
        else
            return cli_usage_error("run", "unknown option");
    }
    if (!config || optind != argc)
        return cli_usage_error("run", "needs --config FILE");
    cm_err err;
    stm_config *cfg = stm_config_load(config, &err);
    if (!cfg) {
        cm_err_print(&err);
        return EXIT_USAGE;
    }
    if (state) { /* SPEC §7a: one config, a state of its own per instance */
        free(cfg->state);
        cfg->state = cm_strdup(state);
    }
    handle(SIGINT, on_stop);
    handle(SIGTERM, on_stop);
    handle(SIGHUP, on_reload);
    signal(SIGPIPE, SIG_IGN);
    stm_signals sig = {.stop = &stop_flag, .reload = &reload_flag};
    int rc = stm_run(cfg, &sig);
    stm_config_free(cfg);
    return cli_exit(rc);
}

int cmd_broker(int argc, char **argv)
{
    static const struct option opts[] = {{"brokers", required_argument, NULL, 'b'},
                                         {"partitions", required_argument, NULL, 'p'},
                                         {"topic", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    int64_t brokers = 1, partitions = 4;
    const char **topics = calloc((size_t)argc + 6, sizeof *topics);
    size_t nt = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (!cm_parse_i64(optarg, &brokers) || brokers < 1 || brokers > 16) {
                free(topics);
                return cli_usage_error("broker", "--brokers takes 1..16");
            }
            break;
        case 'p':
            if (!cm_parse_i64(optarg, &partitions) || partitions < 1 || partitions > 256) {
                free(topics);
                return cli_usage_error("broker", "--partitions takes 1..256");
            }
            break;
        case 't':
            topics[nt++] = optarg;
            break;
        default:
            free(topics);
            return cli_usage_error("broker", "unknown option");
        }
    }
    if (optind != argc) {
        free(topics);
        return cli_usage_error("broker", "takes no arguments");
    }
    if (!nt) { /* the topics the default config names */
        topics[nt++] = "cmk.events";
        topics[nt++] = "cmk.audit";
        topics[nt++] = "cmk.dead";
        topics[nt++] = "cmk.state"; /* SPEC §7a: enough for several instances */
        topics[nt++] = "cmk.catalog";
    }
    handle(SIGINT, on_stop);
    handle(SIGTERM, on_stop);
    signal(SIGPIPE, SIG_IGN);
    cm_err err;
    int rc = stm_broker_run((int)brokers, (int)partitions, topics, nt, stdin, &stop_flag, &err);
    free(topics);
    if (rc < 0) {
        cm_err_print(&err);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}
