#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "common/json.h"
#include "pipeline/export.h"
#include "stream/verify.h"

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
    cm_jw j;
    cm_jw_init(&j, &b);
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "kid", kid);
    char path[4200];
    snprintf(path, sizeof path, "%s.key", prefix);
    cm_jw_kstr(&j, "private", path);
    snprintf(path, sizeof path, "%s.pub", prefix);
    cm_jw_kstr(&j, "public", path);
    cm_jw_obj_end(&j);
    int rc = cm_jw_done(&j) == 0 ? EXIT_OK : EXIT_RUNTIME;
    if (rc == EXIT_OK)
        puts(b.p);
    cm_buf_free(&b);
    return rc;
}

static int verify(int argc, char **argv)
{
    static const struct option opts[] = {{"pubkey", required_argument, NULL, 'p'},
                                         {"kafka", required_argument, NULL, 'k'},
                                         {NULL, 0, NULL, 0}};
    const char *pub = NULL, *kafka = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'p')
            pub = optarg;
        else if (c == 'k')
            kafka = optarg;
        else
            return cli_usage_error("audit verify", "unknown option");
    }
    if (!pub)
        return cli_usage_error("audit verify", "needs --pubkey PUB");
    if (kafka && optind < argc)
        return cli_usage_error("audit verify", "--kafka reads the audit topic: no files");
    cm_err err;
    cry_verifier *key = cry_verifier_load(pub, &err);
    if (!key) {
        cm_err_print(&err);
        return EXIT_USAGE;
    }
    aud_verifier *v = aud_verifier_new(key);
    cm_buf sum;
    cm_buf_init(&sum, 0);
    int rc;
    if (kafka)
        rc = cli_exit(stm_verify_audit_topic(v, kafka, &sum, &err));
    else
        rc = cli_exit(aud_verify_files(v, (const char *const *)argv + optind,
                                       (size_t)(argc - optind), &sum, &err));
    if (rc != EXIT_OK)
        cm_err_print(&err);
    if (rc == EXIT_OK)
        puts(sum.p);
    cm_buf_free(&sum);
    aud_verifier_free(v);
    cry_verifier_free(key);
    return rc;
}

/* `audit export --format ocsf`: the whole input is verified before anything reaches
 * stdout. Findings wait in an unnamed temporary file, so a trail that fails (a record
 * altered, or an unsigned tail found only at its end) prints nothing. */
static int export(int argc, char **argv)
{
    static const struct option opts[] = {{"pubkey", required_argument, NULL, 'p'},
                                         {"format", required_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    const char *pub = NULL, *format = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'p')
            pub = optarg;
        else if (c == 'f')
            format = optarg;
        else
            return cli_usage_error("audit export", "unknown option");
    }
    if (!pub)
        return cli_usage_error("audit export", "needs --pubkey PUB");
    if (!format || strcmp(format, "ocsf") != 0)
        return cli_usage_error("audit export", "needs --format ocsf");
    return cli_exit(
        pip_export_ocsf(pub, (const char *const *)argv + optind, (size_t)(argc - optind)));
}

int cmd_audit(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "keygen"))
        return keygen(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "verify"))
        return verify(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "export"))
        return export(argc - 1, argv + 1);
    return cli_usage_error("audit", "expected 'keygen', 'verify' or 'export'");
}
