#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/ocsf.h"
#include "cli/cli.h"
#include "common/json.h"
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

static int to_file(void *arg, const char *subject, const char *line, size_t n)
{
    FILE *f = arg;
    (void)subject; /* one stream for every subject */
    return fwrite(line, 1, n, f) == n && putc('\n', f) != EOF ? 0 : -1;
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
    cm_err err;
    cry_verifier *key = cry_verifier_load(pub, &err);
    if (!key) {
        cm_err_print(&err);
        return EXIT_USAGE;
    }
    int rc = EXIT_RUNTIME;
    FILE *tmp = tmpfile();
    if (!tmp) {
        cm_log("cannot create a temporary file for the export: %s", strerror(errno));
        goto out_free_key;
    }
    aud_ocsf *x = aud_ocsf_new(to_file, tmp);
    aud_verifier *v = aud_verifier_new(key);
    aud_verifier_on_record(v, aud_ocsf_record, x);
    cm_buf sum;
    cm_buf_init(&sum, 0);
    rc = cli_exit(aud_verify_files(v, (const char *const *)argv + optind, (size_t)(argc - optind),
                                   &sum, &err));
    if (rc != EXIT_OK) {
        cm_err_print(&err);
        goto out_free;
    }
    if (fflush(tmp) != 0 || fseek(tmp, 0, SEEK_SET) != 0) {
        cm_log("cannot read back the export: %s", strerror(errno));
        rc = EXIT_RUNTIME;
        goto out_free;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, tmp)) > 0)
        if (fwrite(chunk, 1, n, stdout) != n)
            break;
    if (ferror(tmp) || fflush(stdout) != 0 || ferror(stdout)) {
        cm_log("cannot write the export: %s", strerror(errno));
        rc = EXIT_RUNTIME;
    }
out_free:
    cm_buf_free(&sum);
    aud_verifier_free(v);
    aud_ocsf_free(x);
    fclose(tmp);
out_free_key:
    cry_verifier_free(key);
    return rc;
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
