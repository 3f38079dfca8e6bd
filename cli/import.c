#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azure/azure.h"
#include "cli/cli.h"

#define IMPORT_MAX_FILE ((size_t)256 << 20)

static int read_all(const char *path, cm_buf *b)
{
    if (strcmp(path, "-") != 0)
        return cm_read_file(path, IMPORT_MAX_FILE, b);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (cm_buf_add(b, chunk, got) < 0) {
            errno = EFBIG;
            return -1;
        }
    return ferror(stdin) ? -1 : 0;
}

/* cmkguard import [--time RFC3339] FILE|-... : ARM bodies -> cmkguard events on stdout. */
int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {{"time", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    const char *time = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 't')
            return cli_usage_error("import", "unknown option");
        time = optarg;
        if (!cm_rfc3339_valid(time, strlen(time)))
            return cli_usage_error("import", "--time needs an RFC 3339 time, not '%s'", time);
    }
    if (optind >= argc)
        return cli_usage_error("import", "needs at least one FILE or -");
    az_import *im = az_import_new(time);
    cm_buf in, out;
    cm_buf_init(&in, IMPORT_MAX_FILE);
    cm_buf_init(&out, 0);
    cm_err err;
    cm_err_clear(&err);
    int rc = EXIT_USAGE;
    for (int i = optind; i < argc; i++) {
        const char *name = strcmp(argv[i], "-") ? argv[i] : "stdin";
        cm_buf_reset(&in);
        if (read_all(argv[i], &in) < 0) {
            cm_log("%s: cannot read: %s", name, strerror(errno));
            goto out_free;
        }
        if (az_import_add(im, in.p ? in.p : "", in.len, name, &err) < 0) {
            cm_err_print(&err);
            goto out_free;
        }
    }
    if (az_import_write(im, &out, &err) < 0) {
        cm_err_print(&err);
        goto out_free;
    }
    rc = EXIT_RUNTIME;
    if (out.len && fwrite(out.p, 1, out.len, stdout) != out.len)
        goto out_write;
    if (fflush(stdout) != 0)
        goto out_write;
    rc = EXIT_OK;
    goto out_free;
out_write:
    cm_log("stdout: cannot write events: %s", strerror(errno));
out_free:
    cm_buf_free(&in);
    cm_buf_free(&out);
    az_import_free(im);
    return rc;
}
