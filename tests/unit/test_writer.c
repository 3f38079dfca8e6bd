/* The writer's asynchronous mode against its inline mode: for the same decisions the
 * sink receives the same bytes, in the same calls, and the chain's head, seq and last
 * signed record read the same wherever they are read; checkpoints, a resumed chain, a
 * record over the bound and a sink that fails mid-stream included. Enough records of
 * varied sizes that batches are handed over by their count and by their bytes. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "audit/audit.h"
#include "tests/unit/t.h"

#define N 3000

struct out {
    cm_buf lines;     /* every record, with its subject, as the sink received them */
    unsigned calls;   /* sink calls so far */
    unsigned fail_at; /* the call that fails (ENOSPC), and every one after; 0: none */
};

static int sink(void *arg, const char *subject, const char *line, size_t n)
{
    struct out *o = arg;
    if (o->fail_at && ++o->calls >= o->fail_at) {
        errno = ENOSPC;
        return -1;
    }
    cm_buf_addf(&o->lines, "%s\t", subject ? subject : "-");
    cm_buf_add(&o->lines, line, n);
    cm_buf_addc(&o->lines, '\n');
    return 0;
}

/* Decision i: one record, or two (a fan-out with subjects); now and then a long message
 * (a batch fills by its bytes), once a message over the bound (refused). */
static void decision(aud_decision *d, int i, size_t over)
{
    char s[160];
    aud_decision_reset(d);
    d->outcome = i % 3 ? AUD_ALLOWED : AUD_DENIED;
    snprintf(s, sizeof s, "e%d", i);
    d->cause = aud_decision_str(d, s);
    d->event_type = aud_decision_str(d, "resource.cmk.enabled");
    snprintf(s, sizeof s, "2026-11-22T10:%02d:%02dZ", i / 60 % 60, i % 60);
    d->time = aud_decision_str(d, s);
    snprintf(s, sizeof s, "f.jsonl:%d", i + 1);
    d->input = aud_decision_str(d, s);
    size_t len = i % 97 == 5 ? 6000 : (size_t)(i % 13) * 7;
    if ((size_t)i == over)
        len = 9000;
    char *m = cm_xmalloc(len + 1);
    memset(m, 'a' + i % 26, len);
    m[len] = '\0';
    int nrecs = i % 4 == 1 ? 2 : 1;
    for (int k = 0; k < nrecs; k++) {
        snprintf(s, sizeof s, "/subscriptions/s%d/r%d", i % 7, k);
        aud_rec *r = aud_decision_add(d, k ? s : NULL);
        aud_finding *f = aud_rec_finding(d, r);
        f->rule = aud_decision_str(d, "R1");
        f->action = "deny";
        f->severity = "high";
        f->message = aud_decision_str(d, k ? "fan-out" : m);
        aud_action *a = aud_rec_action(d, r);
        a->op = "rewrap";
        a->from = aud_decision_str(d, "mmk");
        a->ok = i % 5 != 0;
    }
    free(m);
}

/* The chain as the writer tells it: seq, head, the last signed record. */
static void trace_chain(cm_buf *trace, aud_writer *w)
{
    cm_buf_addf(trace, "seq %llu head %s signed %llu\n", (unsigned long long)aud_writer_seq(w),
                aud_writer_head(w), (unsigned long long)aud_writer_last_signed(w));
}

struct scenario {
    const char *name;
    bool sign;
    unsigned checkpoint;
    bool resume;
    unsigned fail_at; /* the sink call that fails; 0: none */
    size_t bound;     /* 0: the default */
    size_t over;      /* the decision over the bound; N: none */
};

/* Runs s through one writer; what the sink received in *o, and in trace every error and
 * the chain as read after every 250 decisions and at the end. */
static void run(const struct scenario *s, cry_signer *signer, bool async, struct out *o,
                cm_buf *trace)
{
    static const char resumed[] =
        "1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    cm_buf_init(&o->lines, 0);
    cm_buf_init(trace, 0);
    o->calls = 0;
    o->fail_at = s->fail_at;
    aud_writer *w =
        aud_writer_new("c", s->sign ? signer : NULL, s->checkpoint, AUD_CLOCK_EVENT, sink, o);
    aud_writer_bound(w, s->bound);
    if (s->resume) {
        aud_writer_resume(w, 41, resumed);
        aud_writer_restore(w, 37, "2026-11-21T09:00:00Z");
    }
    CHECK(!async || aud_writer_async(w) == 0);
    aud_decision d = {0};
    cm_err err;
    bool failed = false;
    for (int i = 0; i < N && !failed; i++) {
        decision(&d, i, s->over);
        if (aud_writer_emit(w, &d, "abc", &err) < 0) {
            cm_buf_addf(trace, "error: %s\n", err.msg);
            /* a record over the bound is refused alone; a sink failure stops the chain */
            failed = strstr(err.msg, "larger than") == NULL;
        }
        /* Read as they are (asynchronously, the reads wait for the worker), and at
         * drains, where a failure the worker met is reported as emit reports it. */
        if (!failed && !s->fail_at && i % 250 == 124)
            trace_chain(trace, w);
        if (!failed && i % 250 == 249) {
            if (aud_writer_drain(w, &err) < 0) {
                cm_buf_addf(trace, "error: %s\n", err.msg);
                failed = true;
            } else {
                trace_chain(trace, w);
            }
        }
    }
    if (!failed && (aud_writer_finish(w, &err) < 0 || aud_writer_drain(w, &err) < 0))
        cm_buf_addf(trace, "error: %s\n", err.msg);
    trace_chain(trace, w);
    aud_decision_clear(&d);
    aud_writer_free(w);
}

static void compare(const struct scenario *s, cry_signer *signer)
{
    struct out inline_out, async_out;
    cm_buf inline_trace, async_trace;
    run(s, signer, false, &inline_out, &inline_trace);
    run(s, signer, true, &async_out, &async_trace);
    CHECK(inline_out.lines.len > 0 && !cm_buf_failed(&inline_out.lines));
    CHECK(inline_out.lines.len == async_out.lines.len &&
          !memcmp(inline_out.lines.p, async_out.lines.p, inline_out.lines.len));
    CHECK_STR(inline_trace.p, async_trace.p);
    if (strcmp(inline_trace.p, async_trace.p) != 0)
        fprintf(stderr, "%s:\ninline:\n%s\nasync:\n%s\n", s->name, inline_trace.p, async_trace.p);
    /* What each scenario is there to show happened in it. */
    if (s->fail_at)
        CHECK(strstr(inline_trace.p, "No space left on device") != NULL);
    if (s->over < N)
        CHECK(strstr(inline_trace.p, "larger than") != NULL);
    if (s->sign && s->checkpoint && !s->fail_at)
        CHECK(strstr(inline_out.lines.p, "cmkguard.audit.checkpoint") != NULL);
    cm_buf_free(&inline_out.lines);
    cm_buf_free(&async_out.lines);
    cm_buf_free(&inline_trace);
    cm_buf_free(&async_trace);
}

int main(void)
{
    char dir[] = "/tmp/cmkg-wrXXXXXX", prefix[128], path[160], kid[17];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(prefix, sizeof prefix, "%s/k", dir);
    cm_err err;
    CHECK(cry_keygen_ed25519(prefix, kid, &err) == 0);
    snprintf(path, sizeof path, "%s.key", prefix);
    cry_signer *signer = cry_signer_load(path, &err);
    CHECK(signer != NULL);
    static const struct scenario scenarios[] = {
        {.name = "unsigned", .over = N},
        {.name = "a signature per record", .sign = true, .over = N},
        {.name = "checkpoints", .sign = true, .checkpoint = 7, .over = N},
        {.name = "a resumed chain", .sign = true, .checkpoint = 7, .resume = true, .over = N},
        {.name = "a record over the bound",
         .sign = true,
         .checkpoint = 7,
         .bound = 8192,
         .over = 1234},
        {.name = "the sink fails mid-stream",
         .sign = true,
         .checkpoint = 7,
         .fail_at = 1500,
         .over = N},
        {.name = "the sink fails at once", .fail_at = 3, .over = N},
        {.name = "the sink fails signing each", .sign = true, .fail_at = 2222, .over = N},
    };
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        compare(&scenarios[i], signer);
    cry_signer_free(signer);
    unlink(path);
    snprintf(path, sizeof path, "%s.pub", prefix);
    unlink(path);
    rmdir(dir);
    T_DONE();
}
