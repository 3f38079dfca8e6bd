#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/ocsf.h"
#include "cli/cli.h"
#include "stream/config.h"
#include "stream/kafka.h"
#include "common/json.h"
#include "common/lines.h"

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

/* Records read from Kafka, to be put in chain order. */
typedef struct krec {
    char chain[300];
    unsigned long long seq;
    int32_t part;
    int64_t off;
    char *value;
    size_t len;
} krec;

typedef struct kread {
    krec *r;
    size_t n, cap;
} kread;

static int collect(void *arg, int32_t part, int64_t off, const char *v, size_t len)
{
    kread *k = arg;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->r = cm_xrealloc(k->r, k->cap * sizeof *k->r);
    }
    krec *r = &k->r[k->n++];
    memset(r, 0, sizeof *r);
    r->part = part;
    r->off = off;
    r->value = cm_strndup(v ? v : "", len);
    r->len = len;
    if (!aud_record_peek(r->value, len, r->chain, sizeof r->chain, &r->seq, NULL))
        r->chain[0] = '\0'; /* the verifier will say what is wrong with it */
    return 0;
}

static int by_chain_seq(const void *a, const void *b)
{
    const krec *x = a, *y = b;
    int c = strcmp(x->chain, y->chain);
    if (c)
        return c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int verify_kafka(aud_verifier *v, const char *config, cm_err *err)
{
    stm_config *cfg = stm_config_load(config, err);
    if (!cfg)
        return EXIT_USAGE;
    kread k = {0};
    int rc = EXIT_OK;
    if (stm_kafka_read_topic(cfg, cfg->topic_audit, collect, &k, err) < 0) {
        cm_err_print(err);
        rc = EXIT_RUNTIME;
    }
    if (k.n)
        qsort(k.r, k.n, sizeof *k.r, by_chain_seq);
    char where[800];
    for (size_t i = 0; rc == EXIT_OK && i < k.n; i++) {
        snprintf(where, sizeof where, "%s/%d/%lld", cfg->topic_audit, (int)k.r[i].part,
                 (long long)k.r[i].off);
        if (aud_verifier_line(v, where, k.r[i].value, k.r[i].len, err) < 0) {
            cm_err_print(err);
            rc = EXIT_CHECK;
        }
    }
    for (size_t i = 0; i < k.n; i++)
        free(k.r[i].value);
    free(k.r);
    stm_config_free(cfg);
    return rc;
}

int cli_verify_inputs(aud_verifier *v, char **files, int nfiles, cm_buf *summary, cm_err *err)
{
    char *stdin_only[] = {"-"};
    if (nfiles < 1) {
        files = stdin_only;
        nfiles = 1;
    }
    int rc = EXIT_OK;
    for (int i = 0; rc == EXIT_OK && i < nfiles; i++) {
        cm_lines *rd = cm_lines_open(files[i], MAX_RECORD, err);
        if (!rd)
            return EXIT_USAGE;
        const char *line;
        size_t n, lineno;
        int r;
        char where[4200];
        while (rc == EXIT_OK && (r = cm_lines_next(rd, &line, &n, &lineno, err)) == 1) {
            snprintf(where, sizeof where, "%s:%zu", cm_lines_name(rd), lineno);
            if (n > MAX_RECORD) {
                cm_err_set(err, where, 0, 0, "record larger than 16 MiB");
                rc = EXIT_CHECK;
            } else if (aud_verifier_line(v, where, line, n, err) < 0) {
                rc = EXIT_CHECK;
            }
        }
        if (rc == EXIT_OK && r < 0)
            rc = EXIT_RUNTIME;
        cm_lines_free(rd);
    }
    if (rc == EXIT_OK && aud_verifier_end(v, summary, err) < 0)
        rc = EXIT_CHECK;
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
    if (kafka) {
        rc = verify_kafka(v, kafka, &err);
        if (rc == EXIT_OK && aud_verifier_end(v, &sum, &err) < 0) {
            cm_err_print(&err);
            rc = EXIT_CHECK;
        }
    } else {
        rc = cli_verify_inputs(v, argv + optind, argc - optind, &sum, &err);
        if (rc != EXIT_OK)
            cm_err_print(&err);
    }
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
    rc = cli_verify_inputs(v, argv + optind, argc - optind, &sum, &err);
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
