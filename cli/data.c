#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "vault/state.h"

#define MAX_DATA ((size_t)64 << 20)

struct data_opts {
    const char *state, *master, *resource;
    enum vlt_class cls;
    bool sealed;
};

static int parse(const char *cmd, int argc, char **argv, struct data_opts *o, bool allow_sealed,
                 bool need_resource)
{
    static const struct option opts[] = {{"state", required_argument, NULL, 's'},
                                         {"class", required_argument, NULL, 'c'},
                                         {"sealed", no_argument, NULL, 'x'},
                                         {"master-key", required_argument, NULL, 'M'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    memset(o, 0, sizeof *o);
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->state = optarg;
            break;
        case 'M':
            o->master = optarg;
            break;
        case 'x':
            if (!allow_sealed)
                return cli_usage_error(cmd, "--sealed goes with 'data get'");
            o->sealed = true;
            break;
        case 'c':
            if (strcmp(optarg, "blocklist-name") != 0)
                return cli_usage_error(cmd, "--class takes blocklist-name");
            o->cls = VLT_CLASS_BLOCKLIST;
            break;
        default:
            return cli_usage_error(cmd, "unknown option");
        }
    }
    if (!o->state)
        return cli_usage_error(cmd, "needs --state DB");
    if (access(o->state, R_OK) != 0) {
        fprintf(stderr, "cmkguard: %s: no such state store\n", o->state);
        return EXIT_USAGE;
    }
    if (optind < argc)
        o->resource = argv[optind++];
    if ((need_resource && !o->resource) || optind != argc)
        return cli_usage_error(cmd, need_resource ? "needs one RESOURCE" : "takes one RESOURCE");
    return EXIT_OK;
}

/* Parses the flags and opens the state they name: EXIT_OK with *st, or the exit code. */
static int open_state(const char *cmd, int argc, char **argv, struct data_opts *o,
                      bool allow_sealed, bool need_resource, vlt_state **st, cm_err *err)
{
    int rc = parse(cmd, argc, argv, o, allow_sealed, need_resource);
    if (rc != EXIT_OK)
        return rc;
    *st = vlt_state_open(o->state, o->master, err);
    if (!*st) {
        cm_err_print(err);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "put") && strcmp(argv[1], "get")))
        return cli_usage_error("data", "expected 'put' or 'get'");
    bool put = !strcmp(argv[1], "put");
    struct data_opts o;
    cm_err err;
    vlt_state *st = NULL;
    int rc =
        open_state(put ? "data put" : "data get", argc - 1, argv + 1, &o, !put, true, &st, &err);
    if (rc != EXIT_OK)
        return rc;
    cm_buf b;
    cm_buf_init_secret(&b, MAX_DATA + 1);
    int code = EXIT_OK;
    if (put) {
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
            if (cm_buf_add(&b, chunk, n) < 0) {
                cm_log("%s: data larger than 64 MiB", o.resource);
                code = EXIT_USAGE;
                break;
            }
        cm_wipe(chunk, sizeof chunk);
        rc = code ? 0 : vlt_data_put(st, o.resource, o.cls, b.p ? b.p : "", b.len, &err);
        if (rc < 0) {
            cm_err_print(&err);
            code = cli_exit(rc);
        }
    } else {
        rc = vlt_data_get(st, o.resource, o.cls, o.sealed, &b, &err);
        if (rc < 0) {
            cm_err_print(&err);
            code = cli_exit(rc);
        } else if (fwrite(b.p ? b.p : "", 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
            code = EXIT_RUNTIME;
        }
    }
    cm_buf_free(&b);
    vlt_state_free(st);
    return code;
}

static void report_bad(void *arg, const char *what)
{
    const char *path = arg;
    fprintf(stderr, "cmkguard: %s: %s\n", path, what);
}

/* `state verify`: every stored record and the head; exit 1 naming each bad record. */
static int state_verify(int argc, char **argv)
{
    struct data_opts o;
    int rc = parse("state verify", argc, argv, &o, false, false);
    if (rc != EXIT_OK)
        return rc;
    if (o.resource)
        return cli_usage_error("state verify", "takes no RESOURCE");
    cm_err err;
    cm_err_clear(&err);
    int bad = vlt_state_verify(o.state, o.master, report_bad, (void *)o.state, &err);
    if (bad < 0) {
        cm_err_print(&err);
        return EXIT_RUNTIME;
    }
    cm_buf b;
    cm_buf_init(&b, 0);
    cm_jw j;
    cm_jw_init(&j, &b);
    cm_jw_obj_begin(&j);
    cm_jw_kint(&j, "bad", bad);
    cm_jw_kstr(&j, "state", o.state);
    cm_jw_kbool(&j, "verified", !bad);
    cm_jw_obj_end(&j);
    rc = cm_jw_done(&j) < 0 ? EXIT_RUNTIME : bad ? EXIT_CHECK : EXIT_OK;
    if (rc != EXIT_RUNTIME)
        puts(b.p);
    cm_buf_free(&b);
    return rc;
}

/* `state migrate --state DB`: the one explicit upgrade of an older build's state. */
static int state_migrate(int argc, char **argv)
{
    struct data_opts o;
    int rc = parse("state migrate", argc, argv, &o, false, false);
    if (rc != EXIT_OK)
        return rc;
    if (o.resource)
        return cli_usage_error("state migrate", "takes no RESOURCE");
    cm_err err;
    vlt_migrate_report r;
    rc = vlt_state_migrate(o.state, o.master, &r, &err);
    if (rc < 0) {
        cm_err_print(&err);
        return EXIT_RUNTIME;
    }
    if (rc == 1) {
        printf("%s: already at format %d: nothing to migrate\n", o.state, r.to);
        return EXIT_OK;
    }
    printf("%s: migrated from format %d to %d: %zu vaults, %zu keys (%zu key versions "
           "re-sealed), %zu resources, %zu access entries made canonical; %zu event ids kept "
           "as seen from every source\n",
           o.state, r.from, r.to, r.vaults, r.keys, r.resealed, r.resources, r.access, r.seen);
    return EXIT_OK;
}

int cmd_state(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "verify"))
        return state_verify(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "migrate"))
        return state_migrate(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "show") != 0)
        return cli_usage_error("state", "expected 'show', 'verify' or 'migrate'");
    struct data_opts o;
    cm_err err;
    vlt_state *st = NULL;
    int rc = open_state("state show", argc - 1, argv + 1, &o, false, false, &st, &err);
    if (rc != EXIT_OK)
        return rc;
    cm_buf b;
    cm_buf_init(&b, 0);
    if (vlt_state_show(st, o.resource, &b, &err) < 0) {
        cm_err_print(&err);
        rc = EXIT_CHECK;
    } else {
        puts(b.p);
    }
    cm_buf_free(&b);
    vlt_state_free(st);
    return rc;
}
