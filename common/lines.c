#include "common/lines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"

#include "common/fault.h"

#define READ_CHUNK (256 * 1024)

/* Lines come out of a read buffer by memchr, so NUL bytes are line content like any
 * other and a line inside the buffer is handed out without a copy. */
struct cm_lines {
    FILE *f;
    bool own, eof;
    char *name;
    size_t max, lineno;
    char *buf;
    size_t start, end; /* unread bytes: buf[start, end) */
    cm_buf line;       /* a line that spans reads */
};

cm_lines *cm_lines_open(const char *path, size_t max, cm_err *err)
{
    cm_lines *r = cm_xcalloc(1, sizeof *r);
    if (!strcmp(path, "-")) {
        r->f = stdin;
        r->name = cm_strdup("stdin");
    } else {
        r->f = fopen(path, "rb");
        r->own = true;
        r->name = cm_strdup(path);
        if (!r->f) {
            cm_err_set(err, path, 0, 0, "cannot open events: %s", strerror(errno));
            cm_lines_free(r);
            return NULL;
        }
    }
    r->max = max;
    r->buf = cm_xmalloc(READ_CHUNK);
    cm_buf_init(&r->line, max + 1);
    return r;
}

void cm_lines_free(cm_lines *r)
{
    if (!r)
        return;
    if (r->own && r->f)
        fclose(r->f);
    cm_buf_free(&r->line);
    free(r->buf);
    free(r->name);
    free(r);
}

const char *cm_lines_name(const cm_lines *r)
{
    return r->name;
}

bool cm_lines_regular(const cm_lines *r)
{
    struct stat st;
    return fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Refills the buffer with what the input has (a pipe gives lines as they come):
 * 1 with more bytes, 0 at the end, -1 on a read error. */
static int refill(cm_lines *r, cm_err *err)
{
    r->start = r->end = 0;
    if (r->eof)
        return 0;
    ssize_t got;
    do {
        if (CM_FAULT(CM_FAULT_IO, "event read")) {
            errno = EIO;
            got = -1;
            break;
        }
        got = read(fileno(r->f), r->buf, READ_CHUNK);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        cm_err_set(err, r->name, (int)r->lineno + 1, 0, "read error: %s", strerror(errno));
        return -1;
    }
    if (got == 0) {
        r->eof = true;
        return 0;
    }
    r->end = (size_t)got;
    return 1;
}

int cm_lines_next(cm_lines *r, const char **line, size_t *n, size_t *lineno, cm_err *err)
{
    for (;;) {
        cm_buf_reset(&r->line);
        char *p = NULL;
        size_t total = 0;
        bool got = false, spans = false;
        for (;;) {
            if (r->start == r->end) {
                int rc = refill(r, err);
                if (rc < 0)
                    return -1;
                if (rc == 0)
                    break;
            }
            got = true;
            char *from = r->buf + r->start;
            size_t avail = r->end - r->start;
            char *nl = memchr(from, '\n', avail);
            size_t keep = nl ? (size_t)(nl - from) : avail;
            if (nl && !spans) {
                p = from; /* the whole line is in the buffer */
                *nl = '\0';
            } else if (total + keep <= r->max) {
                cm_buf_add(&r->line, from, keep);
                spans = true;
            } else {
                spans = true; /* oversized: its bytes are counted, not kept */
            }
            total += keep;
            r->start += keep + (nl ? 1 : 0);
            if (nl)
                break;
        }
        if (!got)
            return 0;
        r->lineno++;
        if (spans)
            p = r->line.p ? r->line.p : "";
        if (total <= r->max && total && p[total - 1] == '\r')
            p[--total] = '\0';
        /* A UTF-8 byte-order mark opens files saved by some editors: not content. */
        if (r->lineno == 1 && total >= 3 && total <= r->max && !memcmp(p, "\xEF\xBB\xBF", 3)) {
            p += 3;
            total -= 3;
        }
        if (total <= r->max && blank(p, total))
            continue;
        *line = p;
        *n = total;
        *lineno = r->lineno;
        return 1;
    }
}
