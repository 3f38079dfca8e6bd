/* The changelog of a partition's state (stream/changelog.c): records that round-trip; a
 * restore from any prefix of a log equals the state that wrote it (the state's canonical
 * snapshot byte for byte) and decides the rest of the events with byte-identical
 * records; a zombie's late writes, a batch never committed and a producer's duplicates
 * are ignored; every altered, cut, moved or foreign record is refused. Batch sizes,
 * snapshot points, chunk sizes and interleavings are random: the seed is printed and
 * SEED=N repeats it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/chains.h"
#include "pipeline/pipeline.h"
#include "policy/policy.h"
#include "stream/changelog.h"
#include "stream/outbox.h"
#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"
#include "vault/delta.h"

#define CHAIN "cmk"
#define TOPIC "events"
#include "tests/unit/t_clog.h"

#define BIG ((size_t)64 << 20)

static int emit_fail(void *arg, const void *p, size_t n)
{
    (void)arg;
    (void)p;
    (void)n;
    return CM_EENV;
}

/* The canonical bytes of a state: its snapshot in one record, under fixed stamps. */
static int canon_emit(void *arg, const void *p, size_t n)
{
    cm_buf_add(arg, p, n);
    return 0;
}

static char *canon(vlt_state *st, size_t *len)
{
    cm_err err;
    cm_buf b;
    cm_buf_init(&b, BIG);
    stm_clog *c = stm_clog_new(master, 0, &err);
    stm_cl_point pt = {.seq = 1, .offset = -1};
    CHECK(stm_clog_snapshot(c, st, 1, &pt, NULL, 0, BIG / 2, canon_emit, &b, &err) == 0);
    stm_clog_free(c);
    *len = b.len;
    return cm_buf_take(&b);
}

static bool same_canon(vlt_state *a, vlt_state *b)
{
    size_t na, nb;
    char *ca = canon(a, &na), *cb = canon(b, &nb);
    bool same = na == nb && !memcmp(ca, cb, na);
    free(ca);
    free(cb);
    return same;
}

static bool same_show(vlt_state *a, vlt_state *b)
{
    cm_err err;
    cm_buf x, y;
    cm_buf_init(&x, BIG);
    cm_buf_init(&y, BIG);
    bool same = vlt_state_show(a, NULL, &x, &err) == 0 && vlt_state_show(b, NULL, &y, &err) == 0 &&
                x.len == y.len && !memcmp(x.p, y.p, x.len);
    cm_buf_free(&x);
    cm_buf_free(&y);
    return same;
}

static bool same_point(const stm_cl_point *a, const stm_cl_point *b)
{
    return a->seq == b->seq && a->offset == b->offset && !strcmp(a->chain, b->chain) &&
           a->head_seq == b->head_seq && !strcmp(a->head_hash, b->head_hash);
}

static int restore(const struct log *l, stm_cl_restored *r, cm_err *err)
{
    stm_clog *c = stm_clog_new(master, 0, err);
    int rc = stm_clog_restore(c, master, l->m, l->n, 4, r, err);
    stm_clog_free(c);
    return rc;
}

/* ---------- the codec ---------- */

static void test_codec(void)
{
    cm_err err;
    struct log l = {0};
    stm_clog *c = stm_clog_new(master, 3, &err), *c0 = stm_clog_new(master, 0, &err);
    CHECK(stm_clog_claim(c, 7, "host-a:1234", log_emit, &l, &err) == 0);
    stm_cl_rec r;
    CHECK(stm_clog_decode(c, l.m[0].p, l.m[0].n, &r, &err) == 0);
    CHECK(r.kind == STM_CL_CLAIM && r.epoch == 7 && r.owner_len == 11 &&
          !memcmp(r.owner, "host-a:1234", 11));
    /* another partition's record, or another master key's, does not authenticate */
    CHECK(stm_clog_decode(c0, l.m[0].p, l.m[0].n, &r, &err) == CM_ECHECK);
    cry_secret *other = cry_secret_random(CRY_DEK_LEN);
    stm_clog *co = stm_clog_new(other, 3, &err);
    CHECK(stm_clog_decode(co, l.m[0].p, l.m[0].n, &r, &err) == CM_ECHECK &&
          strstr(err.msg, "authenticate"));
    stm_clog_free(co);
    cry_secret_free(other);
    CHECK(stm_clog_claim(c, 0, "x", log_emit, &l, &err) == CM_EINPUT);
    CHECK(stm_clog_claim(c, 1, "", log_emit, &l, &err) == CM_EINPUT);
    CHECK(stm_clog_decode(c, "nothing", 7, &r, &err) == CM_EINPUT);
    uint8_t junk[200] = "CMKL\x02";
    CHECK(stm_clog_decode(c, junk, sizeof junk, &r, &err) == CM_EINPUT &&
          strstr(err.msg, "version"));
    /* a batch and a snapshot of a state round-trip through their records */
    vlt_state *st = vlt_state_new_mem(master, &err);
    vlt_state_track(st, true);
    vlt_state_mark_seen(st, "src", "e-1");
    offset_set(st, 3, 41);
    char hash[65];
    memset(hash, '0', 64);
    hash[0] = 'a';
    hash[64] = '\0';
    pip_chain_set(st, CHAIN, 2, hash);
    stm_cl_point pt = {.seq = 5, .offset = 41, .chain = CHAIN, .head_seq = 2};
    memcpy(pt.head_hash, hash, sizeof hash);
    stm_outmsg m = {
        .topic = "audit", .partition = 3, .chain = CHAIN, .seq = 2, .value = "{}", .len = 2};
    size_t before = l.n;
    CHECK(stm_clog_batch(c, st, 7, &pt, &m, 1, STM_CL_MIN_MESSAGE, log_emit, &l, &err) == 0);
    CHECK(l.n == before + 2);
    CHECK(stm_clog_decode(c, l.m[before].p, l.m[before].n, &r, &err) == 0 &&
          r.kind == STM_CL_CHANGES && r.epoch == 7 && r.seq == 5 && r.index == 0 &&
          r.nitems == 4); /* seen, chain, offset, outbox */
    CHECK(stm_clog_decode(c, l.m[before + 1].p, l.m[before + 1].n, &r, &err) == 0 &&
          r.kind == STM_CL_COMMIT && r.seq == 5 && r.count == 1 && r.nout == 1 &&
          same_point(&r.point, &pt));
    before = l.n;
    CHECK(stm_clog_snapshot(c, st, 7, &pt, &m, 1, STM_CL_MIN_MESSAGE, log_emit, &l, &err) == 0);
    CHECK(l.n == before + 1);
    CHECK(stm_clog_decode(c, l.m[before].p, l.m[before].n, &r, &err) == 0 &&
          r.kind == STM_CL_SNAPSHOT && r.index == 0 && r.count == 1 && same_point(&r.point, &pt));
    /* restored: the state, the point, the pending outbox as the snapshot's commit's */
    stm_cl_restored res;
    CHECK(stm_clog_restore(c, master, l.m, l.n, 4, &res, &err) == 0);
    CHECK(res.state && same_canon(res.state, st) && same_point(&res.point, &pt));
    CHECK(res.epoch == 7 && !strcmp(res.owner, "host-a:1234") && res.claim_offset == 0);
    CHECK(res.noutbox == 1 && res.outbox[0].seq == 5 && res.outbox[0].n == 1 &&
          res.outbox[0].m[0].len == 2 && !memcmp(res.outbox[0].m[0].value, "{}", 2) &&
          res.outbox[0].m[0].partition == 3 && !res.outbox[0].m[0].headers);
    stm_cl_restored_clear(&res);
    /* bad arguments are refused, nothing written */
    before = l.n;
    CHECK(stm_clog_batch(c, st, 0, &pt, NULL, 0, STM_CL_MIN_MESSAGE, log_emit, &l, &err) ==
          CM_EINPUT);
    CHECK(stm_clog_batch(c, st, 7, &pt, NULL, 0, 100, log_emit, &l, &err) == CM_EINPUT);
    stm_cl_point badpt = pt;
    snprintf(badpt.head_hash, sizeof badpt.head_hash, "not hex");
    CHECK(stm_clog_batch(c, st, 7, &badpt, NULL, 0, STM_CL_MIN_MESSAGE, log_emit, &l, &err) ==
          CM_EINPUT);
    CHECK(l.n == before);
    /* a record that cannot be written fails the batch with the writer's code */
    CHECK(stm_clog_batch(c, st, 7, &pt, NULL, 0, STM_CL_MIN_MESSAGE, emit_fail, NULL, &err) ==
              CM_EENV &&
          err.code == CM_EENV && strstr(err.msg, "written"));
    /* an entry that cannot fit the bound fails the batch */
    char *big = malloc(STM_CL_MIN_MESSAGE + 1);
    memset(big, 'x', STM_CL_MIN_MESSAGE);
    big[STM_CL_MIN_MESSAGE] = '\0';
    vlt_state_mark_seen(st, "src", big);
    CHECK(stm_clog_batch(c, st, 7, &pt, NULL, 0, STM_CL_MIN_MESSAGE, log_emit, &l, &err) ==
              CM_EENV &&
          strstr(err.msg, "cannot fit"));
    free(big);
    vlt_state_free(st);
    stm_clog_free(c);
    stm_clog_free(c0);
    log_free(&l);
}

static int count_entry(void *arg, const vlt_entry *e)
{
    (void)e;
    ++*(size_t *)arg;
    return 0;
}

/* A state with a store (a local cache) tracks its changes for its flush; the changelog
 * reads the same tracking, and the flush clears it. */
static void test_store(void)
{
    cm_err err;
    char dir[] = "/tmp/cmkguard-clog-XXXXXX", db[256], mk[256];
    CHECK(t_state_paths(dir, db, sizeof db, mk, sizeof mk) == 0);
    vlt_state *st = vlt_state_open(db, mk, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    vlt_state_mark_seen(st, "src", "e-1");
    offset_set(st, 0, 9);
    size_t n = 0;
    CHECK(vlt_state_changes(st, count_entry, &n, &err) == 0 && n == 2);
    vlt_state_changes_clear(st); /* not for a state with a store: its flush does it */
    n = 0;
    CHECK(vlt_state_changes(st, count_entry, &n, &err) == 0 && n == 2);
    CHECK(vlt_state_flush(st, &err) == 0);
    n = 0;
    CHECK(vlt_state_changes(st, count_entry, &n, &err) == 0 && n == 0);
    n = 0;
    CHECK(vlt_state_entries(st, count_entry, &n, &err) == 0 && n == 2);
    vlt_state_free(st);
    CHECK(t_rm_state(dir, db, mk) == 0);
}

/* Chain heads and input offsets are their owners' entries: applied through the store
 * to the part of their kind once it is attached, refused when malformed or of a kind no
 * part takes; a state restored from a snapshot lists them once the changelog attaches
 * the parts that its records were carried for. */
static void test_parts(void)
{
    cm_err err;
    vlt_state *st = vlt_state_new_mem(master, &err);
    char name[32];
    snprintf(name, sizeof name, "%s%c3", TOPIC, 0x1f);
    uint8_t off[8] = {41};
    vlt_entry e = {STM_E_OFFSET, name, strlen(name), off, sizeof off};
    CHECK(vlt_state_entry_apply(st, &e, &err) == CM_EINPUT && strstr(err.msg, "unknown kind"));
    stm_outbox *ob = stm_outbox_open(st, &err);
    CHECK(ob != NULL && vlt_state_entry_apply(st, &e, &err) == 0);
    int64_t got = 0;
    CHECK(ob && stm_offset_get(ob, TOPIC, 3, &got) && got == 41);
    e.vlen = 7;
    CHECK(vlt_state_entry_apply(st, &e, &err) == CM_EINPUT &&
          strstr(err.msg, "not an input offset"));
    e = (vlt_entry){'z', "x", 1, "", 0};
    CHECK(vlt_state_entry_apply(st, &e, &err) == CM_EINPUT && strstr(err.msg, "unknown kind"));
    /* a head without a replay position: seq, 64 hex digits, no position */
    uint8_t head[8 + 64 + 1] = {2};
    memset(head + 8, 'b', 64);
    e = (vlt_entry){PIP_E_CHAIN, CHAIN, strlen(CHAIN), head, sizeof head};
    CHECK(pip_chains_open(st, &err) == 0 && vlt_state_entry_apply(st, &e, &err) == 0);
    uint64_t seq = 0;
    char hash[65];
    CHECK(pip_chain_get(st, CHAIN, &seq, hash) && seq == 2 && hash[0] == 'b' && !hash[64]);
    head[8] = 'g';
    CHECK(vlt_state_entry_apply(st, &e, &err) == CM_EINPUT && strstr(err.msg, "not a chain head"));
    cm_buf b;
    cm_buf_init(&b, BIG);
    CHECK(vlt_state_snapshot(st, &b, &err) == 0);
    vlt_state *back = vlt_state_restore(b.p, b.len, master, &err);
    CHECK(back != NULL);
    if (back) {
        size_t n = 0;
        CHECK(vlt_state_entries(back, count_entry, &n, &err) == 0 && n == 0); /* carried */
        CHECK(same_canon(back, st));
        n = 0;
        CHECK(vlt_state_entries(back, count_entry, &n, &err) == 0 && n == 2);
    }
    vlt_state_free(back);
    cm_buf_free(&b);
    vlt_state_free(st);
}

/* ---------- one owner: restore from any prefix ---------- */

struct run {
    struct log l;
    size_t nb;    /* batches */
    size_t *cut;  /* cut[b]: records in the log after batch b */
    size_t *line; /* line[b]: lines of the events after batch b */
    size_t *rec;  /* rec[b]: bytes of records the owner wrote by batch b */
    char **canon; /* canon[b]: the owner's state after batch b */
    size_t *canon_len;
    stm_cl_point *pt;
};

static void run_free(struct run *r)
{
    for (size_t b = 0; b <= r->nb; b++)
        free(r->canon[b]);
    free(r->canon);
    free(r->canon_len);
    free(r->cut);
    free(r->line);
    free(r->rec);
    free(r->pt);
    log_free(&r->l);
}

/* A owns the partition from the start and writes the whole log in random batches, with
 * snapshots now and then. */
static void run_owner(char **lines, size_t n, struct run *r, struct owner *a)
{
    cm_err err;
    memset(r, 0, sizeof *r);
    r->cut = calloc(n + 2, sizeof *r->cut);
    r->line = calloc(n + 2, sizeof *r->line);
    r->rec = calloc(n + 2, sizeof *r->rec);
    r->canon = calloc(n + 2, sizeof *r->canon);
    r->canon_len = calloc(n + 2, sizeof *r->canon_len);
    r->pt = calloc(n + 2, sizeof *r->pt);
    owner_open(a, vlt_state_new_mem(master, &err), NULL, 1, rand_max());
    claim(a, "a", &r->l);
    r->cut[0] = r->l.n;
    r->canon[0] = canon(a->st, &r->canon_len[0]);
    r->pt[0] = a->pt;
    size_t at = 0, b = 0;
    while (at < n) {
        size_t k = 1 + t_rand() % 6;
        if (at + k > n)
            k = n - at;
        batch(a, lines, at, at + k, &r->l, NULL);
        at += k;
        if (t_rand() % 3 == 0) {
            a->max = rand_max();
            snapshot(a, &r->l);
        }
        b++;
        r->cut[b] = r->l.n;
        r->line[b] = at;
        r->rec[b] = a->all.len;
        r->canon[b] = canon(a->st, &r->canon_len[b]);
        r->pt[b] = a->pt;
    }
    r->nb = b;
}

static bool canon_is(vlt_state *st, const struct run *r, size_t b)
{
    size_t n;
    char *c = canon(st, &n);
    bool same = n == r->canon_len[b] && !memcmp(c, r->canon[b], n);
    free(c);
    return same;
}

static void test_prefixes(char **lines, size_t n, const char *name)
{
    cm_err err;
    struct run r;
    struct owner a;
    run_owner(lines, n, &r, &a);
    for (size_t b = 0; b <= r.nb; b++) {
        struct log pre = {0};
        log_copy(&pre, &r.l, 0, r.cut[b]);
        stm_cl_restored res;
        int rc = restore(&pre, &res, &err);
        if (rc < 0)
            fprintf(stderr, "  %s after batch %zu: %s\n", name, b, err.msg);
        CHECK(rc == 0);
        bool same = rc == 0 && canon_is(res.state, &r, b) && same_point(&res.point, &r.pt[b]);
        if (!same)
            fprintf(stderr, "  %s after batch %zu: the restored state differs\n", name, b);
        CHECK(same);
        /* restored from a part of it, then the rest from where that one stopped */
        size_t q = (size_t)(t_rand() % (pre.n + 1));
        stm_cl_restored part;
        struct log head = {0};
        log_copy(&head, &pre, 0, q);
        rc = restore(&head, &part, &err);
        CHECK(rc == 0 && part.resume_at >= 0 && (size_t)part.resume_at <= q);
        if (rc == 0) {
            stm_clog *c = stm_clog_new(master, 0, &err);
            size_t from = (size_t)part.resume_at;
            rc = stm_clog_restore_more(c, pre.m + from, pre.n - from, &part, &err);
            if (rc < 0)
                fprintf(stderr, "  %s after batch %zu, in two from %zu: %s\n", name, b, q, err.msg);
            CHECK(rc == 0 && canon_is(part.state, &r, b));
            CHECK(rc == 0 && same_point(&part.point, &r.pt[b]) && part.epoch == res.epoch);
            /* a snapshot ends what a restore counts; the tail reads past snapshots */
            CHECK(rc == 0 && part.resume_at <= res.resume_at);
            stm_clog_free(c);
        }
        stm_cl_restored_clear(&part);
        log_free(&head);
        /* the same log with every record twice (a producer's retries) restores the same */
        struct log dup = {0};
        for (size_t i = 0; i < pre.n; i++) {
            log_copy(&dup, &pre, i, i + 1);
            log_copy(&dup, &pre, i, i + 1);
        }
        stm_cl_restored res2;
        CHECK(restore(&dup, &res2, &err) == 0 && same_canon(res2.state, res.state) &&
              same_point(&res2.point, &res.point));
        stm_cl_restored_clear(&res2);
        log_free(&dup);
        /* the last batch's commit lost: the state before it */
        if (b > 0 && kind_of(&pre.m[r.cut[b] - 1]) == STM_CL_COMMIT) {
            struct log cut = {0};
            log_copy(&cut, &pre, 0, r.cut[b] - 1);
            CHECK(restore(&cut, &res2, &err) == 0 && canon_is(res2.state, &r, b - 1) &&
                  res2.ignored > 0);
            stm_cl_restored_clear(&res2);
            log_free(&cut);
        }
        stm_cl_restored_clear(&res);
        log_free(&pre);
    }
    owner_close(&a);
    run_free(&r);
}

/* ---------- a new owner: restored at a split, it decides the rest as A does ---------- */

static void test_takeover(char **lines, size_t n, const char *name)
{
    cm_err err;
    struct run r;
    struct owner a;
    run_owner(lines, n, &r, &a);
    size_t j = t_rand() % (r.nb + 1); /* A stops after batch j */
    struct log l = {0};
    log_copy(&l, &r.l, 0, r.cut[j]);
    /* A crashed in its next batch: its changes written, not its commit */
    stm_cl_restored res;
    if (j < r.nb) {
        struct owner x;
        CHECK(restore(&l, &res, &err) == 0);
        owner_open(&x, res.state, &res.point, 1, rand_max());
        res.state = NULL;
        stm_cl_restored_clear(&res);
        batch(&x, lines, r.line[j], r.line[j + 1], &l, emit_no_commit);
        owner_close(&x);
    }
    /* B claims, reads the log up to its claim, restores, goes on with the same batches */
    struct owner b;
    stm_clog *c = stm_clog_new(master, 0, &err);
    CHECK(stm_clog_claim(c, 2, "b", log_emit, &l, &err) == 0);
    CHECK(restore(&l, &res, &err) == 0 && res.epoch == 2 && !strcmp(res.owner, "b"));
    CHECK(canon_is(res.state, &r, j) && same_point(&res.point, &r.pt[j]));
    owner_open(&b, res.state, &res.point, res.epoch, rand_max());
    res.state = NULL;
    stm_cl_restored_clear(&res);
    for (size_t k = j + 1; k <= r.nb; k++) {
        batch(&b, lines, r.line[k - 1], r.line[k], &l, NULL);
        if (t_rand() % 4 == 0)
            snapshot(&b, &l);
    }
    /* its records are A's after the split, byte for byte, and its state A's */
    size_t from = r.rec[j];
    bool same = b.all.len == r.rec[r.nb] - from &&
                (!b.all.len || !memcmp(b.all.p, a.all.p + from, b.all.len));
    if (!same)
        fprintf(stderr, "  %s taken over after batch %zu: the records differ\n", name, j);
    CHECK(same);
    /* and its state A's (new data keys are random: compared as `state show` says it) */
    CHECK(same_show(b.st, a.st));
    /* and the log restores to B's state, byte for byte */
    CHECK(restore(&l, &res, &err) == 0 && same_canon(res.state, b.st) &&
          same_point(&res.point, &b.pt));
    stm_cl_restored_clear(&res);
    stm_clog_free(c);
    owner_close(&b);
    owner_close(&a);
    log_free(&l);
    run_free(&r);
}

/* ---------- a zombie: A goes on writing after B took the partition ---------- */

static void test_zombie(char **lines, size_t n, const char *name)
{
    cm_err err;
    struct run r;
    struct owner a;
    run_owner(lines, n, &r, &a); /* A's own log: the truth if nobody had claimed */
    size_t j = t_rand() % r.nb;  /* B claims after batch j (A still has batches to go) */
    struct owner z, b;
    /* the zombie: A's state after batch j, restored from A's log, stamped epoch 1 */
    struct log pre = {0}, zl = {0}, bl = {0}, l = {0};
    log_copy(&pre, &r.l, 0, r.cut[j]);
    stm_cl_restored res;
    CHECK(restore(&pre, &res, &err) == 0);
    owner_open(&z, res.state, &res.point, 1, rand_max());
    res.state = NULL;
    stm_cl_restored_clear(&res);
    /* its first late batch's changes land before B's claim, the rest after it */
    size_t k0 = j + 1;
    struct log zfirst = {0};
    batch(&z, lines, r.line[k0 - 1], r.line[k0], &zfirst, NULL);
    log_copy(&l, &r.l, 0, r.cut[j]);
    log_copy(&l, &zfirst, 0, zfirst.n - 1); /* its CHANGES */
    stm_clog *c = stm_clog_new(master, 0, &err);
    CHECK(stm_clog_claim(c, 2, "b", log_emit, &l, &err) == 0);
    log_copy(&zl, &zfirst, zfirst.n - 1, zfirst.n); /* its COMMIT, late */
    CHECK(restore(&l, &res, &err) == 0 && res.epoch == 2 && canon_is(res.state, &r, j));
    owner_open(&b, res.state, &res.point, 2, rand_max());
    res.state = NULL;
    stm_cl_restored_clear(&res);
    /* both go on: B with the events, the zombie with other batches of its own, a
     * snapshot, and a claim that does not outrank B's */
    for (size_t k = k0 + 1; k <= r.nb; k++)
        batch(&z, lines, r.line[k - 1], r.line[k], &zl, NULL);
    snapshot(&z, &zl);
    CHECK(stm_clog_claim(z.c, 2, "a", log_emit, &zl, &err) == 0);
    CHECK(stm_clog_claim(z.c, 1, "a", log_emit, &zl, &err) == 0);
    for (size_t k = j + 1; k <= r.nb; k++) {
        batch(&b, lines, r.line[k - 1], r.line[k], &bl, NULL);
        if (t_rand() % 4 == 0)
            snapshot(&b, &bl);
    }
    /* their records interleaved at random */
    size_t zi = 0, bi = 0;
    while (zi < zl.n || bi < bl.n) {
        bool takez = bi == bl.n || (zi < zl.n && t_rand() % 2);
        if (takez)
            log_copy(&l, &zl, zi, zi + 1), zi++;
        else
            log_copy(&l, &bl, bi, bi + 1), bi++;
    }
    int rc = restore(&l, &res, &err);
    if (rc < 0)
        fprintf(stderr, "  %s zombie after batch %zu: %s\n", name, j, err.msg);
    bool same = rc == 0 && same_canon(res.state, b.st) && same_point(&res.point, &b.pt) &&
                same_show(res.state, a.st);
    if (!same)
        fprintf(stderr, "  %s zombie after batch %zu: the restore is not B's state\n", name, j);
    CHECK(same);
    CHECK(rc == 0 && res.epoch == 2 && !strcmp(res.owner, "b") && res.ignored >= zl.n);
    /* the head trimmed up to B's latest snapshot (B's claim gone): the same, the zombie's
     * writes after it still ignored */
    if (rc == 0 && res.snapshot_at > (int64_t)r.cut[j]) {
        struct log t = {0};
        log_copy(&t, &l, (size_t)res.snapshot_at, l.n);
        stm_cl_restored res2;
        CHECK(restore(&t, &res2, &err) == 0 && same_canon(res2.state, b.st) &&
              same_point(&res2.point, &b.pt) && res2.epoch == 2);
        stm_cl_restored_clear(&res2);
        log_free(&t);
    }
    stm_cl_restored_clear(&res);
    stm_clog_free(c);
    owner_close(&z);
    owner_close(&b);
    owner_close(&a);
    log_free(&pre);
    log_free(&zfirst);
    log_free(&zl);
    log_free(&bl);
    log_free(&l);
    run_free(&r);
}

/* ---------- damage ---------- */

static void test_damage(char **lines, size_t n)
{
    cm_err err;
    struct run r;
    struct owner a;
    run_owner(lines, n, &r, &a);
    stm_cl_restored res;
    /* every record, each byte of it flipped (sampled) or cut short: the restore refuses */
    int missed = 0, tries = 0;
    for (size_t i = 0; i < r.l.n; i++) {
        uint8_t *p = (uint8_t *)r.l.m[i].p;
        size_t len = r.l.m[i].n;
        for (size_t k = 0; k < len; k += 1 + len / 23) {
            p[k] ^= 0x01;
            missed += restore(&r.l, &res, &err) == 0;
            stm_cl_restored_clear(&res);
            p[k] ^= 0x01;
            tries++;
        }
        r.l.m[i].n = len - 1 - t_rand() % len;
        missed += restore(&r.l, &res, &err) == 0;
        stm_cl_restored_clear(&res);
        r.l.m[i].n = len;
        if (i == 0)
            CHECK(strstr(err.msg, "offset 0"));
    }
    CHECK(missed == 0 && tries > 0);
    /* under another master key, or as another partition: nothing authenticates */
    cry_secret *other = cry_secret_random(CRY_DEK_LEN);
    stm_clog *co = stm_clog_new(other, 0, &err), *c1 = stm_clog_new(master, 1, &err);
    CHECK(stm_clog_restore(co, other, r.l.m, r.l.n, 4, &res, &err) == CM_ECHECK);
    CHECK(stm_clog_restore(c1, master, r.l.m, r.l.n, 4, &res, &err) == CM_ECHECK);
    stm_clog_free(co);
    stm_clog_free(c1);
    cry_secret_free(other);
    /* a committed batch's record missing: refused, never a state with a hole */
    int refused = 0, dropped = 0;
    for (size_t i = 1; i + 1 < r.l.n; i++) {
        int k = kind_of(&r.l.m[i]);
        if (k != STM_CL_CHANGES && k != STM_CL_COMMIT)
            continue;
        /* only when no complete snapshot after it stands in for it */
        bool later_snap = false;
        for (size_t q = i + 1; q < r.l.n; q++)
            later_snap |= kind_of(&r.l.m[q]) == STM_CL_SNAPSHOT;
        if (later_snap)
            continue;
        bool last_commit = true;
        for (size_t q = i + 1; q < r.l.n; q++)
            last_commit &= kind_of(&r.l.m[q]) != STM_CL_COMMIT;
        if (last_commit && k == STM_CL_COMMIT)
            continue; /* that is a batch never committed */
        struct log h = {0};
        log_copy(&h, &r.l, 0, i);
        log_copy(&h, &r.l, i + 1, r.l.n);
        refused += restore(&h, &res, &err) == CM_ECHECK;
        dropped++;
        log_free(&h);
    }
    CHECK(refused == dropped);
    /* the head cut away: fine past a complete snapshot, refused before any */
    size_t first_snap = r.l.n;
    for (size_t i = 0; i < r.l.n && first_snap == r.l.n; i++)
        if (kind_of(&r.l.m[i]) == STM_CL_SNAPSHOT)
            first_snap = i;
    struct log h = {0};
    log_copy(&h, &r.l, first_snap < r.l.n ? first_snap : r.l.n, r.l.n); /* the claim too */
    if (first_snap < r.l.n) {
        CHECK(restore(&h, &res, &err) == 0 && canon_is(res.state, &r, r.nb) && res.epoch == 1 &&
              !res.owner[0] && res.claim_offset == -1);
        stm_cl_restored_clear(&res);
    }
    log_free(&h);
    if (r.nb >= 2 && r.cut[1] < r.cut[r.nb]) {
        log_copy(&h, &r.l, r.cut[1], r.l.n);
        bool snap_left = false;
        for (size_t i = 0; i < h.n; i++)
            snap_left |= kind_of(&h.m[i]) == STM_CL_SNAPSHOT;
        int rc = restore(&h, &res, &err);
        CHECK(snap_left ? rc == 0 : rc == CM_ECHECK && strstr(err.msg, "lacks"));
        stm_cl_restored_clear(&res);
        log_free(&h);
    }
    /* a snapshot that never finished (by a new owner, in small chunks): the restore
     * reads past it from the one before */
    struct owner *o = &a;
    o->max = STM_CL_MIN_MESSAGE;
    o->epoch = 2;
    struct log s = {0};
    claim(o, "a2", &s);
    snapshot(o, &s);
    if (s.n > 2) {
        log_copy(&h, &r.l, 0, r.l.n);
        log_copy(&h, &s, 0, s.n - 1);
        CHECK(restore(&h, &res, &err) == 0 && canon_is(res.state, &r, r.nb) &&
              res.snapshot_at < (int64_t)r.l.n);
        stm_cl_restored_clear(&res);
        log_free(&h);
        log_copy(&h, &r.l, 0, r.l.n);
        log_copy(&h, &s, 0, s.n);
        CHECK(restore(&h, &res, &err) == 0 && canon_is(res.state, &r, r.nb) &&
              res.snapshot_at == (int64_t)r.l.n + 1);
        stm_cl_restored_clear(&res);
        log_free(&h);
    }
    log_free(&s);
    owner_close(&a);
    run_free(&r);
}

int main(void)
{
    cm_err err;
    t_seed();
    const char *rules[] = {"rules/cmk.yaml"};
    rs = pol_ruleset_load(rules, 1, &err);
    master = cry_secret_random(CRY_DEK_LEN);
    CHECK(rs != NULL);
    if (!rs) {
        fprintf(stderr, "rules: %s\n", err.msg);
        T_DONE();
    }
    test_codec();
    test_store();
    test_parts();
    const char *logs[] = {"examples/story.jsonl", "examples/azure-estate/events/stream.jsonl"};
    for (size_t l = 0; l < 2; l++) {
        size_t n;
        char **lines = t_read_lines(logs[l], &n);
        CHECK(n > 10);
        for (int rep = 0; rep < 2; rep++) {
            test_prefixes(lines, n, logs[l]);
            test_takeover(lines, n, logs[l]);
            test_zombie(lines, n, logs[l]);
        }
        test_damage(lines, n);
        for (size_t i = 0; i < n; i++)
            free(lines[i]);
        free(lines);
    }
    cry_secret_free(master);
    pol_ruleset_free(rs);
    T_DONE();
}
