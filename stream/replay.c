#include "stream/replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

struct stm_reader {
    FILE *f;
    bool own;
    char *name;
    size_t max, lineno;
    cm_buf line;
};

stm_reader *stm_reader_open(const char *path, size_t max, cm_err *err)
{
    stm_reader *r = cm_xcalloc(1, sizeof *r);
    if (!strcmp(path, "-")) {
        r->f = stdin;
        r->name = cm_strdup("stdin");
    } else {
        r->f = fopen(path, "rb");
        r->own = true;
        r->name = cm_strdup(path);
        if (!r->f) {
            cm_err_set(err, path, 0, 0, "cannot open events: %s", strerror(errno));
            stm_reader_free(r);
            return NULL;
        }
    }
    r->max = max;
    cm_buf_init(&r->line, max + 1);
    return r;
}

void stm_reader_free(stm_reader *r)
{
    if (!r)
        return;
    if (r->own && r->f)
        fclose(r->f);
    cm_buf_free(&r->line);
    free(r->name);
    free(r);
}

const char *stm_reader_name(const stm_reader *r)
{
    return r->name;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

int stm_reader_next(stm_reader *r, const char **line, size_t *n, size_t *lineno, cm_err *err)
{
    char chunk[65536];
    for (;;) {
        cm_buf_reset(&r->line);
        size_t total = 0;
        bool got = false;
        while (fgets(chunk, sizeof chunk, r->f)) {
            got = true;
            size_t len = strlen(chunk);
            bool eol = len && chunk[len - 1] == '\n';
            size_t keep = eol ? len - 1 : len;
            /* A NUL byte cuts fgets' view of the line; the decoder reports the JSON error. */
            if (total + keep <= r->max)
                cm_buf_add(&r->line, chunk, keep);
            total += keep;
            if (eol)
                break;
        }
        if (ferror(r->f)) {
            cm_err_set(err, r->name, (int)r->lineno + 1, 0, "read error: %s", strerror(errno));
            return -1;
        }
        if (!got)
            return 0;
        r->lineno++;
        if (total <= r->max && r->line.len && r->line.p[r->line.len - 1] == '\r')
            r->line.len--, total--;
        if (total <= r->max && blank(r->line.p ? r->line.p : "", r->line.len))
            continue;
        *line = r->line.p ? r->line.p : "";
        *n = total;
        *lineno = r->lineno;
        return 1;
    }
}
