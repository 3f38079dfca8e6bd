#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "stream/replay.h"

#define MAX_RECORD ((size_t)16 << 20)

static int keygen(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    const char *prefix = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'o')
            return cli_usage_error("audit keygen", "unknown option");
        prefix = optarg;
    }
    if (!prefix || optind != argc)
        return cli_usage_error("audit keygen", "needs --out PREFIX");
    cm_err err;
    char kid[17];
    if (cry_keygen_ed25519(prefix, kid, &err) < 0) {
        cm_err_print(&err);
        return EXIT_RUNTIME;
    }
    cm_buf b;
    cm_buf_init(&b, 0);
    cm_buf_adds(&b, "{\"kid\":");
    cm_json_cstr(&b, kid);
    cm_buf_addf(&b, ",\"private\":");
    char path[4200];
    snprintf(path, sizeof path, "%s.key", prefix);
    cm_json_cstr(&b, path);
    snprintf(path, sizeof path, "%s.pub", prefix);
    cm_buf_addf(&b, ",\"public\":");
    cm_json_cstr(&b, path);
    cm_buf_addc(&b, '}');
    puts(b.p);
    cm_buf_free(&b);
    return EXIT_OK;
}

static int verify(int argc, char **argv)
{
    static const struct option opts[] = {{"pubkey", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    const char *pub = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'p')
            return cli_usage_error("audit verify", "unknown option");
        pub = optarg;
    }
    if (!pub)
        return cli_usage_error("audit verify", "needs --pubkey PUB");
    cm_err err;
    cry_verifier *key = cry_verifier_load(pub, &err);
    if (!key) {
        cm_err_print(&err);
        return EXIT_USAGE;
    }
    aud_verifier *v = aud_verifier_new(key);
    int rc = EXIT_OK;
    char *stdin_only[] = {"-"};
    char **files = optind < argc ? argv + optind : stdin_only;
    int nfiles = optind < argc ? argc - optind : 1;
    for (int i = 0; rc == EXIT_OK && i < nfiles; i++) {
        stm_reader *rd = stm_reader_open(files[i], MAX_RECORD, &err);
        if (!rd) {
            cm_err_print(&err);
            rc = EXIT_USAGE;
            break;
        }
        const char *line;
        size_t n, lineno;
        int r;
        char where[4200];
        while (rc == EXIT_OK && (r = stm_reader_next(rd, &line, &n, &lineno, &err)) == 1) {
            snprintf(where, sizeof where, "%s:%zu", stm_reader_name(rd), lineno);
            if (n > MAX_RECORD) {
                cm_err_set(&err, where, 0, 0, "record larger than 16 MiB");
                cm_err_print(&err);
                rc = EXIT_CHECK;
            } else if (aud_verifier_line(v, where, line, n, &err) < 0) {
                cm_err_print(&err);
                rc = EXIT_CHECK;
            }
        }
        if (rc == EXIT_OK && r < 0) {
            cm_err_print(&err);
            rc = EXIT_RUNTIME;
        }
        stm_reader_free(rd);
    }
    if (rc == EXIT_OK) {
        cm_buf sum;
        cm_buf_init(&sum, 0);
        if (aud_verifier_end(v, &sum, &err) < 0) {
            cm_err_print(&err);
            rc = EXIT_CHECK;
        } else {
            puts(sum.p);
        }
        cm_buf_free(&sum);
    }
    aud_verifier_free(v);
    cry_verifier_free(key);
    return rc;
}

int cmd_audit(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "keygen"))
        return keygen(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "verify"))
        return verify(argc - 1, argv + 1);
    return cli_usage_error("audit", "expected 'keygen' or 'verify'");
}
