/* The audit topic verified by the changelog (stream/kverify.c): a handover from one owner
 * to the next verifies; a zombie's records (fenced, or past the head) interleaved at
 * random are ignored and counted; byte-identical repeats count once; a trimmed changelog
 * head still verifies; a committed record lost, a fork, and a changelog record altered
 * fail. Split points, batch sizes and interleavings are random: the seed is printed and
 * SEED=N repeats it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "stream/kverify.h"
#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"

#define CHAIN "cmk.events/0" /* TOPIC/0: the chain of state partition 0 */
#define TOPIC "cmk.events"
#include "tests/unit/t_clog.h"

static cry_verifier *pub; /* the owners' signer's */

/* ---------- the audit topic ---------- */

struct topic {
    stm_kv_msg *m; /* partition 0, offsets 0, 1, 2… */
    size_t n, cap;
};

static void topic_add(struct topic *t, const char *p, size_t n)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->m = realloc(t->m, t->cap * sizeof *t->m);
    }
    char *c = malloc(n + 1);
    memcpy(c, p, n);
    c[n] = '\0';
    t->m[t->n] = (stm_kv_msg){0, (int64_t)t->n, c, n};
    t->n++;
}

/* Each line of p[0..n) as a message. */
static size_t topic_lines(struct topic *t, const char *p, size_t n)
{
    size_t k = 0;
    for (const char *e; n && (e = memchr(p, '\n', n)); k++) {
        topic_add(t, p, (size_t)(e - p));
        n -= (size_t)(e - p) + 1;
        p = e + 1;
    }
    return k;
}

static void topic_copy(struct topic *d, const struct topic *t, size_t from, size_t to)
{
    for (size_t i = from; i < to && i < t->n; i++)
        topic_add(d, t->m[i].value, t->m[i].len);
}

static void topic_free(struct topic *t)
{
    for (size_t i = 0; i < t->n; i++)
        free((char *)t->m[i].value);
    free(t->m);
    *t = (struct topic){0};
}

/* a's and b's messages after d's, interleaved at random, each in its order */
static void topic_mix(struct topic *d, const struct topic *a, const struct topic *b)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        if (j == b->n || (i < a->n && t_rand() % 2))
            topic_copy(d, a, i, i + 1), i++;
        else
            topic_copy(d, b, j, j + 1), j++;
    }
}

static void log_mix(struct log *d, const struct log *a, const struct log *b)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        if (j == b->n || (i < a->n && t_rand() % 2))
            log_copy(d, a, i, i + 1), i++;
        else
            log_copy(d, b, j, j + 1), j++;
    }
}

/* ---------- owners ---------- */

/* An owner of epoch, from the state the log's first upto records restore. */
static void owner_restored(struct owner *o, const struct log *l, size_t upto, uint64_t epoch)
{
    cm_err err;
    stm_cl_restored res;
    stm_clog *c = stm_clog_new(master, 0, &err);
    int rc = stm_clog_restore(c, master, l->m, upto, 4, &res, &err);
    if (rc < 0)
        fprintf(stderr, "  restore: %s\n", err.msg);
    CHECK(rc == 0);
    stm_clog_free(c);
    owner_open(o, res.state, &res.point, epoch, rand_max());
    res.state = NULL;
    stm_cl_restored_clear(&res);
}

/* Lines [from, to) in random batches: the changelog to l, the records to t once their
 * batch committed; a snapshot after the first batch when asked (*snap_at: where it
 * begins in l). The records written. */
static size_t run_batches(struct owner *o, char **lines, size_t from, size_t to, struct log *l,
                          struct topic *t, size_t *snap_at)
{
    size_t recs = 0;
    for (size_t at = from, b = 0; at < to; b++) {
        size_t k = 1 + t_rand() % 5, had = o->all.len;
        if (at + k > to)
            k = to - at;
        batch(o, lines, at, at + k, l, NULL);
        recs += topic_lines(t, o->all.p + had, o->all.len - had);
        at += k;
        if (b == 0 && snap_at) {
            *snap_at = l->n;
            snapshot(o, l);
        }
    }
    return recs;
}

/* A world: the state partition and the audit topic, as two owners left them. */
struct world {
    struct log l;
    struct topic t;
    size_t records; /* on the committed chain */
    size_t a_cut;   /* records of l before A's last batch */
    size_t a_lines; /* lines A decided */
    size_t snap_at; /* where B's snapshot begins in l */
    size_t b_claim; /* where B's claim is in l */
    struct owner b; /* left open, to go on */
};

static void world_free(struct world *w)
{
    log_free(&w->l);
    topic_free(&w->t);
    owner_close(&w->b);
}

/* A claims and decides lines [0, split); B claims, restores, decides the rest. */
static void handover(char **lines, size_t n, struct world *w)
{
    cm_err err;
    memset(w, 0, sizeof *w);
    struct owner a;
    owner_open(&a, vlt_state_new_mem(master, &err), NULL, 1, rand_max());
    claim(&a, "a", &w->l);
    size_t split = 2 + t_rand() % (n - 4);
    w->a_lines = split;
    w->records = run_batches(&a, lines, 0, split - 1, &w->l, &w->t, NULL);
    w->a_cut = w->l.n;
    w->records += run_batches(&a, lines, split - 1, split, &w->l, &w->t, NULL);
    owner_close(&a);
    owner_restored(&w->b, &w->l, w->l.n, 2);
    w->b_claim = w->l.n;
    claim(&w->b, "b", &w->l);
    w->records += run_batches(&w->b, lines, split, n, &w->l, &w->t, &w->snap_at);
}

/* ---------- verification ---------- */

/* Verifies t by l (none: no state topic); the summary into sum. */
static int verify(const struct log *l, const struct topic *t, cm_buf *sum, cm_err *err)
{
    stm_kverify *k = stm_kverify_new(master, TOPIC, "cmk.state", "cmk.audit");
    aud_verifier *v = aud_verifier_new(pub);
    int rc = l ? stm_kverify_state(k, 0, l->m, l->n, err) : 0;
    cm_buf_reset(sum);
    if (rc == 0)
        rc = stm_kverify_audit(k, v, t->m, t->n, sum, err);
    aud_verifier_free(v);
    stm_kverify_free(k);
    return rc;
}

/* The summary says key:value (a number). */
static bool says(const cm_buf *sum, const char *key, size_t value)
{
    char want[128];
    snprintf(want, sizeof want, "\"%s\":%zu", key, value);
    return sum->p && strstr(sum->p, want) != NULL;
}

static bool verified(int rc, const cm_buf *sum, const cm_err *err, const char *what)
{
    if (rc < 0)
        fprintf(stderr, "  %s: %s: %s\n", what, err->where, err->msg);
    return rc == 0 && sum->p && strstr(sum->p, "\"verified\":true");
}

static bool failed(int rc, const cm_err *err, const char *what, const char *needle)
{
    bool ok = rc == CM_ECHECK && strstr(err->msg, needle);
    if (!ok)
        fprintf(stderr, "  %s: rc %d, not '%s': %s: %s\n", what, rc, needle, rc ? err->where : "",
                rc ? err->msg : "verified");
    return ok;
}

static void test_handover(char **lines, size_t n)
{
    cm_err err;
    cm_buf sum;
    cm_buf_init(&sum, 0);
    struct world w;
    handover(lines, n, &w);
    int rc = verify(&w.l, &w.t, &sum, &err);
    CHECK(verified(rc, &sum, &err, "handover"));
    CHECK(says(&sum, "last_seq", w.records) && says(&sum, "records", w.records));
    CHECK(says(&sum, "fenced", 0) && says(&sum, "uncommitted", 0) && says(&sum, "repeats", 0));
    CHECK(sum.p && strstr(sum.p, "\"claims\":[{\"epoch\":1,\"owner\":\"a\",\"offset\":0},"
                                 "{\"epoch\":2,\"owner\":\"b\","));
    /* without the state topic: verified as before, with today's summary */
    rc = verify(NULL, &w.t, &sum, &err);
    CHECK(verified(rc, &sum, &err, "handover, no changelog") && !strstr(sum.p, "claims"));
    /* byte-identical repeats of random records: counted once */
    size_t reps = 1 + t_rand() % 5;
    for (size_t i = 0; i < reps; i++) {
        size_t q = t_rand() % w.t.n;
        topic_copy(&w.t, &w.t, q, q + 1);
    }
    rc = verify(&w.l, &w.t, &sum, &err);
    CHECK(verified(rc, &sum, &err, "repeats") && says(&sum, "repeats", reps) &&
          says(&sum, "records", w.records) && says(&sum, "fenced", 0));
    /* a batch B wrote whose commit never landed: its records are past the head */
    size_t had = w.b.all.len;
    batch(&w.b, lines, n - 2, n, &w.l, emit_no_commit);
    size_t past = topic_lines(&w.t, w.b.all.p + had, w.b.all.len - had);
    rc = verify(&w.l, &w.t, &sum, &err);
    CHECK(past > 0 && verified(rc, &sum, &err, "past the head") &&
          says(&sum, "uncommitted", past) && says(&sum, "last_seq", w.records) &&
          says(&sum, "repeats", reps));
    world_free(&w);
    cm_buf_free(&sum);
}

/* With KVERIFY_DUMP=DIR, a world for tests/cli: each changelog record as a file
 * (DIR/state/NNNNN), the audit records (DIR/audit.jsonl), the master key, and what
 * verification says of them (DIR/expect: records, fenced + uncommitted). */
static void dump(const struct world *w, size_t ignored)
{
    const char *dir = getenv("KVERIFY_DUMP");
    static bool done;
    if (!dir || done)
        return;
    done = true;
    char path[4200];
    snprintf(path, sizeof path, "%s/state", dir);
    CHECK(mkdir(path, 0700) == 0);
    for (size_t i = 0; i < w->l.n; i++) {
        snprintf(path, sizeof path, "%s/state/%05zu", dir, i);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(w->l.m[i].p, 1, w->l.m[i].n, f) == w->l.m[i].n && fclose(f) == 0);
    }
    snprintf(path, sizeof path, "%s/audit.jsonl", dir);
    FILE *f = fopen(path, "w");
    for (size_t i = 0; f && i < w->t.n; i++)
        fprintf(f, "%s\n", w->t.m[i].value);
    CHECK(f && fclose(f) == 0);
    snprintf(path, sizeof path, "%s/master.key", dir);
    f = fopen(path, "wb");
    CHECK(f && fwrite(master->b, 1, master->len, f) == master->len && fclose(f) == 0);
    snprintf(path, sizeof path, "%s/expect", dir);
    f = fopen(path, "w");
    CHECK(f && fprintf(f, "%zu %zu\n", w->records, ignored) > 0 && fclose(f) == 0);
}

/* A zombie: A's state after it stopped, still deciding at epoch 1 after B's claim (other
 * events: its records differ from B's), its changelog and its records interleaved at
 * random with B's. */
static void test_zombie(char **lines, size_t n)
{
    cm_err err;
    cm_buf sum;
    cm_buf_init(&sum, 0);
    struct world w;
    memset(&w, 0, sizeof w);
    struct owner a, z;
    owner_open(&a, vlt_state_new_mem(master, &err), NULL, 1, rand_max());
    claim(&a, "a", &w.l);
    size_t split = 2 + t_rand() % (n - 4);
    w.records = run_batches(&a, lines, 0, split, &w.l, &w.t, NULL);
    owner_close(&a);
    owner_restored(&z, &w.l, w.l.n, 1);
    owner_restored(&w.b, &w.l, w.l.n, 2);
    claim(&w.b, "b", &w.l);
    struct log zl = {0}, bl = {0};
    struct topic zt = {0}, bt = {0};
    size_t zrecs = run_batches(&z, lines, split + 1, n, &zl, &zt, NULL);
    w.records += run_batches(&w.b, lines, split, n, &bl, &bt, NULL);
    log_mix(&w.l, &zl, &bl);
    topic_mix(&w.t, &zt, &bt);
    int rc = verify(&w.l, &w.t, &sum, &err);
    CHECK(verified(rc, &sum, &err, "zombie") && says(&sum, "last_seq", w.records) &&
          says(&sum, "records", w.records));
    /* the zombie's first record is at a seq B holds: fenced; the rest fenced or past */
    const char *f = sum.p ? strstr(sum.p, "\"fenced\":") : NULL;
    const char *u = sum.p ? strstr(sum.p, "\"uncommitted\":") : NULL;
    size_t nf = f ? strtoull(f + 9, NULL, 10) : 0, nu = u ? strtoull(u + 14, NULL, 10) : 0;
    CHECK(nf >= 1 && nf + nu == zrecs);
    dump(&w, zrecs);
    /* without the changelog, the zombie's records break the chain */
    CHECK(verify(NULL, &w.t, &sum, &err) == CM_ECHECK);
    log_free(&zl);
    log_free(&bl);
    topic_free(&zt);
    topic_free(&bt);
    owner_close(&z);
    world_free(&w);
    cm_buf_free(&sum);
}

/* A committed record dropped from the topic (the head, and others at random): a decision
 * lost. */
static void test_lost(char **lines, size_t n)
{
    cm_err err;
    cm_buf sum;
    cm_buf_init(&sum, 0);
    struct world w;
    handover(lines, n, &w);
    size_t missed = 0;
    for (size_t i = 0; i < 16; i++) {
        size_t q = i == 0 ? w.t.n - 1 : t_rand() % w.t.n; /* the head, and others */
        struct topic t = {0};
        topic_copy(&t, &w.t, 0, q);
        topic_copy(&t, &w.t, q + 1, w.t.n);
        missed += !failed(verify(&w.l, &t, &sum, &err), &err, "lost", "committed decision lost");
        topic_free(&t);
    }
    CHECK(missed == 0);
    /* one with other bytes (the same hash, written otherwise) */
    size_t q = t_rand() % w.t.n;
    struct topic t = {0};
    topic_copy(&t, &w.t, 0, w.t.n);
    char *alt = malloc(w.t.m[q].len + 2);
    memcpy(alt, w.t.m[q].value, w.t.m[q].len - 1);
    memcpy(alt + w.t.m[q].len - 1, " }", 2);
    free((char *)t.m[q].value);
    t.m[q].value = alt;
    t.m[q].len++;
    CHECK(failed(verify(&w.l, &t, &sum, &err), &err, "other bytes", "other bytes"));
    topic_free(&t);
    world_free(&w);
    cm_buf_free(&sum);
}

/* B restored from a log that lacks A's last batch, claims after it, and decides other
 * events: both commits are valid and hold different records for the same seqs. And a B
 * whose chain does not go on from A's head. */
static void test_fork(char **lines, size_t n)
{
    cm_err err;
    cm_buf sum;
    cm_buf_init(&sum, 0);
    struct world w;
    handover(lines, n, &w);
    struct world f;
    memset(&f, 0, sizeof f);
    log_copy(&f.l, &w.l, 0, w.b_claim); /* A's whole log */
    topic_copy(&f.t, &w.t, 0, w.t.n);
    owner_restored(&f.b, &f.l, w.a_cut, 2); /* stale: without A's last batch */
    claim(&f.b, "b", &f.l);
    run_batches(&f.b, lines, w.a_lines, n, &f.l, &f.t, NULL);
    CHECK(failed(verify(&f.l, &f.t, &sum, &err), &err, "fork", "a fork"));
    world_free(&f);
    /* B restored from all of it, its chain resumed one seq past the head: no fork, but the
     * claim boundary is broken */
    memset(&f, 0, sizeof f);
    log_copy(&f.l, &w.l, 0, w.b_claim);
    topic_copy(&f.t, &w.t, 0, w.t.n);
    owner_restored(&f.b, &f.l, f.l.n, 2);
    claim(&f.b, "b", &f.l);
    char skip[65];
    memset(skip, 'e', 64);
    skip[64] = '\0';
    f.b.pt.head_seq++;
    aud_writer_resume(f.b.w, f.b.pt.head_seq, skip);
    run_batches(&f.b, lines, w.a_lines, n, &f.l, &f.t, NULL);
    CHECK(failed(verify(&f.l, &f.t, &sum, &err), &err, "boundary", "after the claim at offset"));
    world_free(&f);
    world_free(&w);
    cm_buf_free(&sum);
}

/* A byte of a changelog record flipped (past its magic and version): it does not
 * authenticate, and verification fails naming the state partition. */
static void test_damage(char **lines, size_t n)
{
    cm_err err;
    cm_buf sum;
    cm_buf_init(&sum, 0);
    struct world w;
    handover(lines, n, &w);
    int missed = 0;
    for (int i = 0; i < 20; i++) {
        size_t q = t_rand() % w.l.n;
        uint8_t *p = (uint8_t *)w.l.m[q].p, bit = (uint8_t)(1u << (t_rand() % 8));
        size_t k = 5 + t_rand() % (w.l.m[q].n - 5);
        p[k] ^= bit;
        int rc = verify(&w.l, &w.t, &sum, &err);
        missed += !failed(rc, &err, "flipped", "authenticate") || !strstr(err.where, "cmk.state/0");
        p[k] ^= bit;
    }
    CHECK(missed == 0);
    world_free(&w);
    cm_buf_free(&sum);
}

/* The changelog's head trimmed up to B's snapshot (both claims gone): the committed head
 * is the same; the records before it are accepted by the walk back. */
static void test_trimmed(char **lines, size_t n)
{
    cm_err err;
    cm_buf sum;
    cm_buf_init(&sum, 0);
    struct world w;
    handover(lines, n, &w);
    struct log t = {0};
    log_copy(&t, &w.l, w.snap_at, w.l.n);
    int rc = verify(&t, &w.t, &sum, &err);
    CHECK(verified(rc, &sum, &err, "trimmed") && says(&sum, "last_seq", w.records) &&
          says(&sum, "records", w.records) && strstr(sum.p, "\"claims\":[]"));
    /* trimmed inside a batch, before any claim or snapshot: the batches before B's
     * snapshot are read past */
    log_free(&t);
    log_copy(&t, &w.l, 2, w.l.n);
    rc = verify(&t, &w.t, &sum, &err);
    CHECK(verified(rc, &sum, &err, "trimmed before a claim") && says(&sum, "last_seq", w.records));
    log_free(&t);
    world_free(&w);
    cm_buf_free(&sum);
}

int main(void)
{
    cm_err err;
    t_seed();
    const char *rules[] = {"rules/cmk.yaml"};
    rs = pol_ruleset_load(rules, 1, &err);
    master = cry_secret_random(CRY_DEK_LEN);
    signer = cry_signer_load("tests/golden/test-signing.key", &err);
    pub = cry_verifier_load("tests/golden/test-signing.pub", &err);
    CHECK(rs != NULL && signer && pub);
    if (!rs || !signer || !pub) {
        fprintf(stderr, "rules: %s\n", err.msg);
        T_DONE();
    }
    size_t n;
    char **lines = t_read_lines("examples/story.jsonl", &n);
    CHECK(n > 10);
    for (int rep = 0; rep < 2; rep++) {
        if (getenv("KVERIFY_DUMP")) { /* the world for tests/cli alone */
            test_zombie(lines, n);
            break;
        }
        test_handover(lines, n);
        test_zombie(lines, n);
        test_lost(lines, n);
        test_fork(lines, n);
        test_damage(lines, n);
        test_trimmed(lines, n);
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    cry_signer_free(signer);
    cry_verifier_free(pub);
    cry_secret_free(master);
    pol_ruleset_free(rs);
    T_DONE();
}
