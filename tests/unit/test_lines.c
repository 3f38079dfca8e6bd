/* cm_lines over files: a byte-order mark, CRLF, blank lines, a last line with no newline,
 * NUL bytes, and oversized lines drained and reported, inside one read and across many. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/lines.h"
#include "tests/unit/t.h"

static char dir[] = "/tmp/cmkguard-unit-lines.XXXXXX";
static char path[128];

static void write_file(const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* The next line must be want (length n) on line lineno. */
static bool next_is(cm_lines *r, const char *want, size_t n, size_t lineno)
{
    const char *line;
    size_t len, no;
    cm_err err;
    int rc = cm_lines_next(r, &line, &len, &no, &err);
    bool ok = rc == 1 && len == n && no == lineno && !memcmp(line, want, n);
    if (!ok)
        fprintf(stderr, "  rc %d, line %zu (want %zu), length %zu (want %zu)\n", rc, no, lineno,
                len, n);
    return ok;
}

static bool at_end(cm_lines *r)
{
    const char *line;
    size_t len, no;
    cm_err err;
    return cm_lines_next(r, &line, &len, &no, &err) == 0;
}

#define LIT(s) s, sizeof(s) - 1

static void test_shapes(void)
{
    static const char data[] = "\xEF\xBB\xBF{\"a\":1}\r\n"
                               "\n"
                               "  \t \r\n"
                               "{\"b\":2}\n"
                               "x\0y\n"
                               "\xEF\xBB\xBFz\n"
                               "last";
    write_file(data, sizeof data - 1);
    cm_err err;
    cm_lines *r = cm_lines_open(path, 64, &err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK_STR(cm_lines_name(r), path);
    CHECK(next_is(r, LIT("{\"a\":1}"), 1));     /* the mark and the CR go */
    CHECK(next_is(r, LIT("{\"b\":2}"), 4));     /* blank lines count, not shown */
    CHECK(next_is(r, LIT("x\0y"), 5));          /* NUL is content */
    CHECK(next_is(r, LIT("\xEF\xBB\xBFz"), 6)); /* a mark past line 1 is content */
    CHECK(next_is(r, LIT("last"), 7));          /* no newline at the end */
    CHECK(at_end(r));
    CHECK(at_end(r));
    cm_lines_free(r);
    cm_lines_free(NULL);

    write_file("", 0);
    r = cm_lines_open(path, 64, &err);
    CHECK(r && at_end(r));
    cm_lines_free(r);
    write_file(LIT("\n\r\n \n"));
    r = cm_lines_open(path, 64, &err);
    CHECK(r && at_end(r));
    cm_lines_free(r);
}

/* A line longer than max is reported with its full length and the reader goes on. */
static void test_oversized(void)
{
    enum { MAX = 16 };
    cm_err err;
    /* within one read */
    write_file(LIT("short\n0123456789abcdefX\n0123456789abcdef\nafter\n"));
    cm_lines *r = cm_lines_open(path, MAX, &err);
    CHECK(r != NULL);
    if (!r)
        return;
    const char *line;
    size_t n, no;
    CHECK(next_is(r, LIT("short"), 1));
    CHECK(cm_lines_next(r, &line, &n, &no, &err) == 1 && n == MAX + 1 && no == 2);
    CHECK(next_is(r, LIT("0123456789abcdef"), 3)); /* exactly max fits */
    CHECK(next_is(r, LIT("after"), 4));
    CHECK(at_end(r));
    cm_lines_free(r);

    /* across many reads: 1 MiB in one line, drained, then the lines after it */
    size_t big = 1u << 20;
    char *data = malloc(big + 32);
    CHECK(data != NULL);
    if (!data)
        return;
    memcpy(data, "first\n", 6);
    memset(data + 6, 'x', big);
    memcpy(data + 6 + big, "\nnext\r\nend", 10);
    write_file(data, big + 16);
    free(data);
    r = cm_lines_open(path, MAX, &err);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK(next_is(r, LIT("first"), 1));
    CHECK(cm_lines_next(r, &line, &n, &no, &err) == 1 && n == big && no == 2);
    CHECK(next_is(r, LIT("next"), 3));
    CHECK(next_is(r, LIT("end"), 4));
    CHECK(at_end(r));
    cm_lines_free(r);

    /* a line that spans reads and fits is kept whole */
    size_t mid = 300 * 1024;
    data = malloc(mid + 2);
    CHECK(data != NULL);
    if (!data)
        return;
    memset(data, 'y', mid);
    memcpy(data + mid, "\n", 1);
    write_file(data, mid + 1);
    r = cm_lines_open(path, mid, &err);
    CHECK(r && next_is(r, data, mid, 1) && at_end(r));
    cm_lines_free(r);
    free(data);
}

static void test_open_error(void)
{
    cm_err err;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.jsonl", dir);
    CHECK(cm_lines_open(missing, 64, &err) == NULL);
    CHECK_STR(err.where, missing);
    CHECK_STR(err.msg, "cannot open events: No such file or directory");
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    test_shapes();
    test_oversized();
    test_open_error();
    unlink(path);
    CHECK(rmdir(dir) == 0);
    T_DONE();
}
