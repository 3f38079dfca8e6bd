/* The snapshot seam: a state snapshotted after any prefix of a log and restored elsewhere
 * decides the rest of the log exactly as the state it came from does (byte-identical
 * records, the same final state), and a snapshot that is cut, altered or made under
 * another master key is refused before anything of it is read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/chains.h"
#include "pipeline/pipeline.h"
#include "policy/policy.h"
#include "tests/unit/t.h"
#include "vault/internal.h" /* white-box: the state's master key, to restore under it */

#define CHAIN "cmk"

static pol_ruleset *rs;

struct run {
    vlt_state *st;
    pol_engine *eng;
    aud_writer *w;
    cm_buf out; /* the records of this run */
};

static int sink(void *arg, const char *subject, const char *line, size_t n)
{
    (void)subject;
    cm_buf *b = arg;
    cm_buf_add(b, line, n);
    cm_buf_addc(b, '\n');
    return 0;
}

static void run_open(struct run *r, vlt_state *st)
{
    r->st = st;
    r->eng = pol_engine_new(rs, st, 1 << 20);
    cm_buf_init(&r->out, 0);
    r->w = aud_writer_new(CHAIN, NULL, 0, AUD_CLOCK_EVENT, sink, &r->out);
    uint64_t seq;
    char head[65];
    pip_replay_pos pos;
    if (pip_chain_get(st, CHAIN, &seq, head))
        aud_writer_resume(r->w, seq, head);
    if (pip_replay_get(st, CHAIN, &pos)) /* the clock goes on from the last record */
        aud_writer_restore(r->w, pos.last_signed, pos.time);
}

static void run_close(struct run *r)
{
    aud_writer_free(r->w);
    pol_engine_free(r->eng);
    vlt_state_free(r->st);
    cm_buf_free(&r->out);
}

/* Lines [from, to) of the log through the pipeline, then a commit (chain head saved). */
static int feed(struct run *r, char **lines, size_t from, size_t to)
{
    cm_err err;
    aud_decision d = {0};
    int rc = 0;
    for (size_t i = from; rc == 0 && i < to; i++) {
        char input[32];
        snprintf(input, sizeof input, "log:%zu", i + 1);
        rc = pip_message(r->eng, pol_ruleset_hash(rs), r->w, lines[i], strlen(lines[i]), input, &d,
                         NULL, NULL, &err);
    }
    aud_decision_clear(&d);
    /* as a driver does: where the chain stands is committed with its head */
    pip_replay_pos pos = {.lines = (int64_t)to, .last_signed = aud_writer_last_signed(r->w)};
    snprintf(pos.input, sizeof pos.input, "log");
    snprintf(pos.time, sizeof pos.time, "%s", aud_writer_last_time(r->w));
    if (rc == 0 && aud_writer_seq(r->w) > 0)
        pip_replay_set(r->st, CHAIN, &pos);
    pip_chain c = {CHAIN, r->w};
    if (rc == 0)
        rc = pip_commit(r->st, &c, 1, NULL, NULL, &err);
    return rc;
}

static char *show(vlt_state *st)
{
    cm_buf b;
    cm_err err;
    cm_buf_init(&b, 0);
    if (vlt_state_show(st, NULL, &b, &err) < 0)
        return strdup("(show failed)");
    char *s = strdup(b.p);
    cm_buf_free(&b);
    return s;
}

/* Splits the log at k: one run goes on, another restored from the snapshot at k goes on
 * beside it; the records after k and the final states must be the same. */
static void split_at(char **lines, size_t n, size_t k, const char *name)
{
    cm_err err;
    struct run a, b;
    run_open(&a, vlt_state_open(NULL, NULL, &err));
    CHECK(feed(&a, lines, 0, k) == 0);
    cm_buf snap;
    cm_buf_init(&snap, (size_t)256 << 20);
    CHECK(vlt_state_snapshot(a.st, &snap, &err) == 0);
    vlt_state *restored = vlt_state_restore(snap.p, snap.len, a.st->master, &err);
    CHECK(restored != NULL);
    if (!restored) {
        fprintf(stderr, "  %s at %zu: %s\n", name, k, err.msg);
        cm_buf_free(&snap);
        run_close(&a);
        return;
    }
    run_open(&b, restored);
    cm_buf_reset(&a.out);
    CHECK(feed(&a, lines, k, n) == 0 && feed(&b, lines, k, n) == 0);
    bool same = a.out.len == b.out.len && (!a.out.len || !memcmp(a.out.p, b.out.p, a.out.len));
    if (!same)
        fprintf(stderr, "  %s split at %zu: the records after it differ\n", name, k);
    CHECK(same);
    char *sa = show(a.st), *sb = show(b.st);
    if (strcmp(sa, sb) != 0)
        fprintf(stderr, "  %s split at %zu: the final states differ\n", name, k);
    CHECK(!strcmp(sa, sb));
    /* a snapshot of the restored state restores to the same state again */
    cm_buf again;
    cm_buf_init(&again, (size_t)256 << 20);
    CHECK(vlt_state_snapshot(b.st, &again, &err) == 0);
    vlt_state *twice = vlt_state_restore(again.p, again.len, a.st->master, &err);
    char *st2 = twice ? show(twice) : strdup("");
    CHECK(twice && !strcmp(st2, sb));
    vlt_state_free(twice);
    free(st2);
    free(sa);
    free(sb);
    cm_buf_free(&again);
    cm_buf_free(&snap);
    run_close(&a);
    run_close(&b);
}

static void test_refused(char **lines, size_t n)
{
    cm_err err;
    vlt_state *st = vlt_state_open(NULL, NULL, &err);
    struct run a;
    run_open(&a, st);
    CHECK(feed(&a, lines, 0, n / 2) == 0);
    cm_buf snap;
    cm_buf_init(&snap, (size_t)256 << 20);
    CHECK(vlt_state_snapshot(st, &snap, &err) == 0);
    const cry_secret *m = st->master;
    vlt_state *ok = vlt_state_restore(snap.p, snap.len, m, &err);
    CHECK(ok != NULL);
    vlt_state_free(ok);
    /* every byte flipped in turn (sampled) is caught */
    int missed = 0;
    for (size_t i = 0; i < snap.len; i += 1 + snap.len / 97) {
        snap.p[i] ^= 0x20;
        vlt_state *bad = vlt_state_restore(snap.p, snap.len, m, &err);
        missed += bad != NULL;
        vlt_state_free(bad);
        snap.p[i] ^= 0x20;
    }
    CHECK(missed == 0);
    vlt_state *cut = vlt_state_restore(snap.p, snap.len - 1, m, &err);
    CHECK(cut == NULL && err.code == CM_EINPUT);
    cry_secret *other = cry_secret_random(CRY_DEK_LEN);
    vlt_state *wrong = vlt_state_restore(snap.p, snap.len, other, &err);
    CHECK(wrong == NULL && err.code == CM_ECHECK && strstr(err.msg, "authenticate"));
    cry_secret_free(other);
    CHECK(vlt_state_restore("nothing", 7, m, &err) == NULL && err.code == CM_EINPUT);
    cm_buf_free(&snap);
    run_close(&a);
}

int main(void)
{
    cm_err err;
    const char *rules[] = {"rules/cmk.yaml"};
    rs = pol_ruleset_load(rules, 1, &err);
    CHECK(rs != NULL);
    if (!rs) {
        fprintf(stderr, "rules: %s\n", err.msg);
        T_DONE();
    }
    const char *logs[] = {"examples/story.jsonl", "examples/azure-estate/events/stream.jsonl"};
    for (size_t l = 0; l < 2; l++) {
        size_t n;
        char **lines = t_read_lines(logs[l], &n);
        CHECK(n > 10);
        for (size_t k = 0; k <= n; k += n / 4 ? n / 4 : 1)
            split_at(lines, n, k, logs[l]);
        split_at(lines, n, n, logs[l]);
        if (l == 0)
            test_refused(lines, n);
        for (size_t i = 0; i < n; i++)
            free(lines[i]);
        free(lines);
    }
    pol_ruleset_free(rs);
    T_DONE();
}
