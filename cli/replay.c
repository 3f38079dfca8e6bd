#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "common/fault.h"
#include "policy/engine.h"
#include "decode/decode.h"
#include "common/lines.h"

/* Where records go. A resumed replay first produces again the records an interrupted run
 * wrote after its last commit: each must equal the one the file holds (same events, same
 * rules, same key, the event clock: the same bytes), and is not written twice; only after
 * them does the trail grow. So a resume never cuts a record, and a file holding records
 * this replay does not reproduce (a state older than its trail) is refused. */
struct trail {
    FILE *f;         /* the record file, or stdout */
    FILE *ahead;     /* resuming: reads the records after the last commit; NULL after */
    off_t torn;      /* resuming: where a torn last line starts (-1: none) */
    uint64_t seq;    /* the record being compared */
    const char *path;
    char *line;
    size_t cap;
    bool diverged;
};

/* The records after the last commit are used up: the trail grows from its end, less a
 * torn last line (a record never completely written, so never committed). */
static int trail_grow(struct trail *t)
{
    fclose(t->ahead);
    t->ahead = NULL;
    if ((t->torn >= 0 && ftruncate(fileno(t->f), t->torn) < 0) || fseeko(t->f, 0, SEEK_END) < 0)
        return -1;
    return 0;
}

static int file_sink(void *arg, const char *subject, const char *line, size_t n)
{
    (void)subject;
    struct trail *t = arg;
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
static int trail_end(struct trail *t)
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
static void trail_fail(const struct trail *t, const char *chain, const cm_err *err)
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
static int open_resumed(struct trail *t, const char *path, const char *chain, uint64_t seq,
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

struct replay {
    vlt_state *st;
    aud_writer *w;
    FILE *of;
    const char *out, *chain, *input;
};

/* Makes everything so far durable: records reach the file before the state that
 * counts them commits, so the file always holds at least what the state says. */
static int commit(struct replay *r, int64_t lines, cm_err *err)
{
    if (aud_writer_drain(r->w, err) < 0)
        return -1;
    if (fflush(r->of) != 0) {
        cm_err_set(err, r->out ? r->out : "stdout", 0, 0, "cannot write audit records: %s",
                   strerror(errno));
        return -1;
    }
    vlt_state_chain_set(r->st, r->chain, aud_writer_seq(r->w), aud_writer_head(r->w));
    vlt_replay_pos p = {.lines = lines, .last_signed = aud_writer_last_signed(r->w)};
    snprintf(p.input, sizeof p.input, "%s", r->input);
    snprintf(p.time, sizeof p.time, "%s", aud_writer_last_time(r->w));
    vlt_state_replay_set(r->st, r->chain, &p);
    return vlt_state_flush(r->st, err);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        {"rules", required_argument, NULL, 'r'},     {"state", required_argument, NULL, 's'},
        {"sign-key", required_argument, NULL, 'k'},  {"checkpoint", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},       {"clock", required_argument, NULL, 'C'},
        {"max-message", required_argument, NULL, 'm'}, {"master-key", required_argument, NULL, 'M'},
        {"chain", required_argument, NULL, 'n'},     {"progress", no_argument, NULL, 'p'},
        {"commit-every", required_argument, NULL, 'e'}, {"exemptions", required_argument, NULL, 'x'},
        {NULL, 0, NULL, 0}};
    /* One allocation for both lists of paths: rules first, exemptions after. */
    const char **rules = cm_xcalloc(2 * ((size_t)argc + 1), sizeof *rules);
    const char **exemptions = rules + argc + 1;
    size_t nrules = 0, nexemptions = 0;
    const char *state = NULL, *sign_key = NULL, *out = NULL, *master = NULL, *chain = "main";
    int64_t checkpoint = 0, commit_every = 1000, max_message = (int64_t)DEC_MAX_MESSAGE_DEFAULT;
    enum aud_clock clk = AUD_CLOCK_EVENT;
    bool progress = isatty(2);
    int c, rc = EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': rules[nrules++] = optarg; break;
        case 'x': exemptions[nexemptions++] = optarg; break;
        case 's': state = optarg; break;
        case 'k': sign_key = optarg; break;
        case 'o': out = optarg; break;
        case 'M': master = optarg; break;
        case 'n': chain = optarg; break;
        case 'p': progress = true; break;
        case 'c':
            if (!cm_parse_i64(optarg, &checkpoint) || checkpoint < 0 || checkpoint > 100000000) {
                free(rules);
                return cli_usage_error("replay", "--checkpoint needs a whole number >= 0");
            }
            break;
        case 'e':
            if (!cm_parse_i64(optarg, &commit_every) || commit_every < 1) {
                free(rules);
                return cli_usage_error("replay", "--commit-every needs a whole number >= 1");
            }
            break;
        case 'm':
            if (!cm_parse_i64(optarg, &max_message) || max_message < 64 ||
                max_message > (1 << 30)) {
                free(rules);
                return cli_usage_error("replay", "--max-message needs 64..1073741824 bytes");
            }
            break;
        case 'C':
            if (!strcmp(optarg, "event"))
                clk = AUD_CLOCK_EVENT;
            else if (!strcmp(optarg, "wall"))
                clk = AUD_CLOCK_WALL;
            else {
                free(rules);
                return cli_usage_error("replay", "--clock is event or wall");
            }
            break;
        default: free(rules); return cli_usage_error("replay", "unknown option");
        }
    }
    if (optind != argc - 1) {
        free(rules);
        return cli_usage_error("replay", "needs exactly one EVENTS.jsonl or -");
    }
    if (checkpoint && !sign_key) {
        free(rules);
        return cli_usage_error("replay", "--checkpoint needs --sign-key");
    }
    cm_err err;
    cm_err_clear(&err);
    if (nexemptions && !nrules) {
        free(rules);
        return cli_usage_error("replay", "--exemptions needs --rules");
    }
    pol_ruleset *rs = nrules ? pol_ruleset_load_ex(rules, nrules, exemptions, nexemptions, &err)
                             : pol_ruleset_empty();
    free(rules);
    cry_signer *signer = NULL;
    vlt_state *st = NULL;
    cm_lines *rd = NULL;
    FILE *of = stdout;
    struct trail trail = {.f = stdout, .torn = -1, .path = out ? out : "stdout"};
    pol_engine *eng = NULL;
    aud_writer *w = NULL;
    if (!rs) {
        cm_err_print(&err);
        return err.code == CM_EENV ? EXIT_RUNTIME : EXIT_USAGE;
    }
    if (sign_key && !(signer = cry_signer_load(sign_key, &err))) {
        cm_err_print(&err);
        goto out_free;
    }
    rc = EXIT_RUNTIME;
    if (!(st = vlt_state_open(state, master, &err))) {
        cm_err_print(&err);
        goto out_free;
    }
    if (!(rd = cm_lines_open(argv[optind], (size_t)max_message, &err))) {
        cm_err_print(&err);
        rc = EXIT_USAGE;
        goto out_free;
    }
    uint64_t seq = 0;
    char head[65];
    vlt_replay_pos pos = {.lines = -1};
    bool chained = vlt_state_chain_get(st, chain, &seq, head);
    if (chained && vlt_state_replay_get(st, chain, &pos) && pos.lines >= 0 &&
        strcmp(pos.input, cm_lines_name(rd)) != 0) {
        cm_log("%s: warning: the replay of %s into chain %s stopped after line %lld; this "
               "replay continues the chain from there", state, pos.input, chain,
               (long long)pos.lines);
        pos.lines = -1;
    }
    bool resume = chained && pos.lines >= 0;
    if (out && (resume ? open_resumed(&trail, out, chain, seq, head, &err) < 0
                       : !(trail.f = open_trail(out, chain, chained, seq, head, &err)))) {
        cm_err_print(&err);
        goto out_free;
    }
    of = trail.f;
    trail.seq = chained ? seq : 0;
    eng = pol_engine_new(rs, st, (size_t)max_message);
    w = aud_writer_new(chain, signer, (unsigned)checkpoint, clk, file_sink, &trail);
    if (chained)
        aud_writer_resume(w, seq, head);
    /* Signing every record: sign on the other core while this one decides. (Fault
     * injection stays on one thread, so that "the Nth call" means one thing.) */
    if (signer && checkpoint == 0 && !cm_fault_armed && aud_writer_async(w) < 0) {
        cm_log("replay: cannot start the signing thread");
        goto out_free;
    }
    if (resume) {
        aud_writer_restore(w, pos.last_signed, pos.time);
        cm_log("%s: resuming the interrupted replay of %s after line %lld (record %llu)",
               state, pos.input, (long long)pos.lines, (unsigned long long)seq);
    }
    struct replay rp = {st, w, of, out, chain, cm_lines_name(rd)};
    /* The state learns of this replay before its first record is written, so that a
     * run stopped before its first commit resumes (and cuts back only what it wrote
     * itself) instead of finding records it cannot account for. */
    if (state && !resume && commit(&rp, 0, &err) < 0) {
        cm_err_print(&err);
        goto out_free;
    }
    aud_decision d = {0};
    const char *line;
    size_t n, lineno = 0, events = 0;
    char input[4200];
    double t0 = now_s(), last = t0;
    int r;
    while ((r = cm_lines_next(rd, &line, &n, &lineno, &err)) == 1) {
        if (resume && (int64_t)lineno <= pos.lines)
            continue; /* applied and committed by the interrupted run */
        snprintf(input, sizeof input, "%s:%zu", cm_lines_name(rd), lineno);
        pol_engine_process(eng, line, n, input, &d);
        do { /* an Azure message may hold several decisions */
            if (d.fatal) {
                cm_log("%s: cannot process the event: %s; stopping: nothing after the last "
                       "commit is kept, and a rerun resumes there", input, d.reason);
                goto out_decision;
            }
            if (aud_writer_emit(w, &d, pol_ruleset_hash(rs), &err) < 0) {
                trail_fail(&trail, chain, &err);
                goto out_decision;
            }
            if (d.outcome == AUD_REJECTED && d.reason)
                cm_log("%s: event rejected: %s", input, d.reason);
        } while (pol_engine_more(eng, &d));
        events++;
        if (state && events % (size_t)commit_every == 0 && commit(&rp, (int64_t)lineno, &err) < 0) {
            trail_fail(&trail, chain, &err);
            goto out_decision;
        }
        if (progress && (events & 1023) == 0) {
            double t = now_s();
            if (t - last >= 2.0) {
                cm_log("replay: %zu events, %.0f events/s", events, (double)events / (t - t0));
                last = t;
            }
        }
    }
    if (r < 0) {
        cm_err_print(&err);
        goto out_decision;
    }
    if (aud_writer_finish(w, &err) < 0 || aud_writer_drain(w, &err) < 0 ||
        trail_end(&trail) < 0) {
        trail_fail(&trail, chain, &err);
        goto out_decision;
    }
    if (state ? commit(&rp, -1, &err) < 0 : fflush(of) != 0) {
        if (state)
            cm_err_print(&err);
        else
            cm_log("%s: cannot write audit records: %s", out ? out : "stdout", strerror(errno));
        goto out_decision;
    }
    if (progress)
        cm_log("replay: %zu events, %llu records", events,
               (unsigned long long)aud_writer_seq(w));
    rc = EXIT_OK;
out_decision:
    aud_decision_clear(&d);
out_free:
    aud_writer_free(w);
    pol_engine_free(eng);
    if (trail.ahead)
        fclose(trail.ahead);
    free(trail.line);
    if (of && of != stdout)
        fclose(of);
    cm_lines_free(rd);
    vlt_state_free(st);
    cry_signer_free(signer);
    pol_ruleset_free(rs);
    return rc;
}
