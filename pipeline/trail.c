/* A trail: the file `replay --out` writes records to (or stdout), continued, resumed
 * or refused so that a record the state counts as committed is never cut (SPEC §6). */
#include "pipeline/trail.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "common/fault.h"

/* Where records go. A resumed replay first produces again the records an interrupted run
 * wrote after its last commit: each must equal the one the file holds (same events, same
 * rules, same key, the event clock: the same bytes), and is not written twice; only after
 * them does the trail grow. So a resume never cuts a record, and a file holding records
 * this replay does not reproduce (a state older than its trail) is refused. */
struct pip_trail {
    FILE *f;      /* the record file, or stdout */
    FILE *ahead;  /* resuming: reads the records after the last commit; NULL after */
    off_t torn;   /* resuming: where a torn last line starts (-1: none) */
    uint64_t seq; /* the record being compared */
    const char *path;
    char *line;
    size_t cap;
    bool diverged;
};

/* The records after the last commit are used up: the trail grows from its end, less a
 * torn last line (a record never completely written, so never committed). */
static int trail_grow(struct pip_trail *t)
{
    fclose(t->ahead);
    t->ahead = NULL;
    if ((t->torn >= 0 && ftruncate(fileno(t->f), t->torn) < 0) || fseeko(t->f, 0, SEEK_END) < 0)
        return -1;
    return 0;
}

int pip_trail_write(void *arg, const char *subject, const char *line, size_t n)
{
    (void)subject;
    struct pip_trail *t = arg;
    t->seq++;
    if (t->ahead) {
        ssize_t len = getline(&t->line, &t->cap, t->ahead);
        if (len > 0 && t->line[len - 1] == '\n') {
            if ((size_t)len - 1 == n && !memcmp(t->line, line, n))
                return 0; /* written by the interrupted run, the same bytes */
            t->diverged = true;
            errno = EEXIST;
            return -1;
        }
        if (trail_grow(t) < 0)
            return -1;
    }
    if (CM_FAULT(CM_FAULT_IO, "audit write")) {
        fwrite(line, 1, n, t->f); /* a short write, as on a full disk */
        errno = ENOSPC;
        return -1;
    }
    if (fwrite(line, 1, n, t->f) != n || fputc('\n', t->f) == EOF)
        return -1;
    return 0;
}

/* At the end of a resumed replay: 0 when every record after the last commit was
 * produced again (a torn last line is cut), -1 when the file holds more. */
int pip_trail_end(struct pip_trail *t)
{
    if (!t->ahead)
        return 0;
    ssize_t len = getline(&t->line, &t->cap, t->ahead);
    if (len > 0 && t->line[len - 1] == '\n') {
        t->seq++;
        t->diverged = true;
        return -1;
    }
    return trail_grow(t);
}

/* Prints why writing records failed: a trail that is not this replay's own, or err. */
void pip_trail_fail(const struct pip_trail *t, const char *chain, const cm_err *err)
{
    if (t->diverged)
        cm_log("%s: record %llu of chain %s is not one this replay produces from the same "
               "input: the trail holds records its state does not know (an older copy of the "
               "state?); refusing to write, the trail is left as it was",
               t->path, (unsigned long long)t->seq, chain);
    else
        cm_err_print(err);
}

/* Reopens the record file of an interrupted replay after the last committed record
 * (seq, with hash head) of chain; the records after it are compared, not cut. */
static int open_resumed(struct pip_trail *t, const char *path, const char *chain, uint64_t seq,
                        const char *head, cm_err *err)
{
    FILE *f = fopen(path, "r+");
    if (!f) {
        cm_err_set(err, path, 0, 0, "cannot reopen to resume the replay: %s", strerror(errno));
        return -1;
    }
    char *line = NULL, ch[256], h[65];
    size_t cap = 0;
    ssize_t len;
    off_t end = -1, last_nl = 0;
    unsigned long long s;
    while (seq > 0 && (len = getline(&line, &cap, f)) > 0) {
        if (aud_record_peek(line, (size_t)len, ch, sizeof ch, &s, h) && !strcmp(ch, chain) &&
            s == seq) {
            if (!strcmp(h, head))
                end = ftello(f);
            break;
        }
    }
    if (seq == 0)
        end = 0;
    /* Where the last complete line ends: a torn one after it is no record. */
    if (end >= 0 && fseeko(f, end, SEEK_SET) == 0) {
        last_nl = end;
        while ((len = getline(&line, &cap, f)) > 0)
            if (line[len - 1] == '\n')
                last_nl = ftello(f);
    }
    free(line);
    FILE *ahead = end >= 0 ? fopen(path, "r") : NULL;
    if (end < 0 || !ahead || fseeko(ahead, end, SEEK_SET) < 0 || fseeko(f, 0, SEEK_END) < 0) {
        cm_err_set(err, path, 0, 0,
                   "does not hold record %llu of chain %s as the state committed it: cannot "
                   "resume (replay into a fresh state to start over)",
                   (unsigned long long)seq, chain);
        if (ahead)
            fclose(ahead);
        fclose(f);
        return -1;
    }
    t->f = f;
    t->ahead = ahead;
    t->torn = ftello(f) > last_nl ? last_nl : -1;
    t->seq = seq;
    return 0;
}

/* The last line of a record file, read backwards from its end into line (bounded):
 * 1 with it, 0 when the file does not end with a complete line, -1 on a read error. */
static int last_line(FILE *f, cm_buf *line)
{
    enum { CHUNK = 64 * 1024 };
    char chunk[CHUNK];
    if (fseeko(f, 0, SEEK_END) < 0)
        return -1;
    off_t end = ftello(f);
    if (end <= 0)
        return 0;
    if (fseeko(f, end - 1, SEEK_SET) < 0 || fgetc(f) != '\n')
        return 0; /* a torn last line: the file does not end at a record */
    end--;        /* the line without its newline */
    off_t pos = end;
    while (pos > 0) {
        size_t n = pos < CHUNK ? (size_t)pos : CHUNK;
        pos -= (off_t)n;
        if (fseeko(f, pos, SEEK_SET) < 0 || fread(chunk, 1, n, f) != n)
            return -1;
        const char *nl = memrchr(chunk, '\n', n);
        if (nl) {
            pos += nl + 1 - chunk;
            break;
        }
    }
    size_t len = (size_t)(end - pos);
    cm_buf_reset(line);
    if (fseeko(f, pos, SEEK_SET) < 0)
        return -1;
    while (len > 0) {
        size_t n = len < CHUNK ? len : CHUNK;
        if (fread(chunk, 1, n, f) != n || cm_buf_add(line, chunk, n) < 0)
            return -1;
        len -= n;
    }
    return 1;
}

/* Opens the record file of a replay that is not resuming. A missing or empty file (or
 * a device) is written from the start. An existing trail is continued only when it
 * ends exactly at the record the state committed last for this chain (the next batch
 * of events into the same trail); anything else is refused and the file left as it
 * is, so a committed record is never cut. */
static FILE *open_trail(const char *path, const char *chain, bool chained, uint64_t seq,
                        const char *head, cm_err *err)
{
    struct stat sb;
    if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0) {
        FILE *f = fopen(path, "w");
        if (!f)
            cm_err_set(err, path, 0, 0, "cannot write audit records: %s", strerror(errno));
        return f;
    }
    FILE *f = fopen(path, "r+");
    if (!f) {
        cm_err_set(err, path, 0, 0, "cannot open the audit trail: %s", strerror(errno));
        return NULL;
    }
    cm_buf line;
    cm_buf_init(&line, 64u << 20);
    char ch[256] = "", h[65] = "";
    unsigned long long s = 0;
    int r = last_line(f, &line);
    bool rec = r == 1 && aud_record_peek(line.p, line.len, ch, sizeof ch, &s, h);
    cm_buf_free(&line);
    if (r < 0) {
        cm_err_set(err, path, 0, 0, "cannot read the audit trail: %s", strerror(errno));
        goto out_refuse;
    }
    if (chained && rec && !strcmp(ch, chain) && s == seq && !strcmp(h, head)) {
        if (fseeko(f, 0, SEEK_END) < 0) {
            cm_err_set(err, path, 0, 0, "cannot append to the audit trail: %s", strerror(errno));
            goto out_refuse;
        }
        return f; /* the next batch continues the trail */
    }
    if (!rec)
        cm_err_set(err, path, 0, 0,
                   "does not end with a complete audit record; the state's chain %s is at "
                   "record %llu: refusing to write (a trail is never cut; a fresh trail is a "
                   "new file name)",
                   chain, (unsigned long long)(chained ? seq : 0));
    else if (!chained)
        cm_err_set(err, path, 0, 0,
                   "already holds audit records (the last is record %llu of chain %s) that "
                   "this state did not commit: refusing to write (a trail is never cut; a "
                   "fresh trail is a new file name)",
                   s, ch);
    else
        cm_err_set(err, path, 0, 0,
                   "ends at record %llu of chain %s, but the state's chain %s is at record "
                   "%llu%s: refusing to write (a trail is never cut; a fresh trail is a new "
                   "file name)",
                   s, ch, chain, (unsigned long long)seq,
                   strcmp(ch, chain) || s != seq ? "" : " with another hash");
out_refuse:
    fclose(f);
    return NULL;
}

pip_trail *pip_trail_open(const char *path, const char *chain, bool chained, bool resume,
                          uint64_t seq, const char *head, cm_err *err)
{
    pip_trail *t = cm_xcalloc(1, sizeof *t);
    t->f = stdout;
    t->torn = -1;
    t->path = path ? path : "stdout";
    if (path && (resume ? open_resumed(t, path, chain, seq, head, err) < 0
                        : !(t->f = open_trail(path, chain, chained, seq, head, err)))) {
        t->f = NULL;
        pip_trail_close(t);
        return NULL;
    }
    t->seq = chained ? seq : 0;
    return t;
}

int pip_trail_flush(void *arg, cm_err *err)
{
    pip_trail *t = arg;
    if (fflush(t->f) == 0)
        return 0;
    return cm_err_env(err, t->path, "cannot write audit records: %s", strerror(errno));
}

void pip_trail_close(pip_trail *t)
{
    if (!t)
        return;
    if (t->ahead)
        fclose(t->ahead);
    free(t->line);
    if (t->f && t->f != stdout)
        fclose(t->f);
    free(t);
}
