/* A partition's state moved through the snapshot seam, for make bench: replays the
 * events in memory (the shipped rules, no trail), then snapshots the state and restores
 * it, and prints `name value` lines:
 *   snapshot_resources  resources in the state
 *   snapshot_bytes      the snapshot's size
 *   snapshot_s          the time to write it
 *   restore_s           the time to restore it (authenticated, then loaded)
 * and the same through the changelog (stream/changelog.c): the state as SNAPSHOT records
 * of at most STM_CL_DEFAULT_MESSAGE bytes, then restored from them as a new owner would:
 *   changelog_snapshot_bytes, changelog_snapshot_records, changelog_snapshot_s,
 *   changelog_restore_s, and changelog_entry_bytes_KIND for each kind of entry
 * usage: bench-snapshot --rules DIR EVENTS.jsonl */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/lines.h"
#include "pipeline/pipeline.h"
#include "policy/policy.h"
#include "stream/changelog.h"
#include "vault/delta.h"
#include "vault/internal.h" /* the state's master key, to restore under it */

static int sink(void *arg, const char *subject, const char *line, size_t n)
{
    (void)arg;
    (void)subject;
    (void)line;
    (void)n;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct clog_out {
    stm_cl_msg *m;
    size_t n, cap, bytes;
};

static int clog_emit(void *arg, const void *p, size_t n)
{
    struct clog_out *o = arg;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 256;
        o->m = realloc(o->m, o->cap * sizeof *o->m);
    }
    void *c = malloc(n);
    memcpy(c, p, n);
    o->m[o->n] = (stm_cl_msg){(int64_t)o->n, c, n};
    o->n++;
    o->bytes += n;
    return 0;
}

static int entry_bytes(void *arg, const vlt_entry *e)
{
    size_t *by = arg;
    by[(unsigned char)e->kind] += 10 + e->nlen + e->vlen;
    return 0;
}

/* The state through the changelog: SNAPSHOT records, then a restore from them. */
static int changelog(vlt_state *st, cm_err *err)
{
    struct clog_out o = {0};
    stm_clog *c = stm_clog_new(st->master, 0, err);
    if (!c)
        return -1;
    stm_cl_point pt = {.seq = 1, .offset = -1};
    int rc = stm_clog_claim(c, 1, "bench", clog_emit, &o, err);
    double t0 = now();
    if (rc == 0)
        rc = stm_clog_snapshot(c, st, 1, &pt, NULL, 0, STM_CL_DEFAULT_MESSAGE, clog_emit, &o, err);
    double t1 = now();
    stm_cl_restored r;
    if (rc == 0)
        rc = stm_clog_restore(c, st->master, o.m, o.n, 1, &r, err);
    double t2 = now();
    if (rc == 0) {
        printf("changelog_snapshot_bytes %zu\nchangelog_snapshot_records %zu\n"
               "changelog_snapshot_s %.3f\nchangelog_restore_s %.3f\n",
               o.bytes, o.n - 1, t1 - t0, t2 - t1);
        stm_cl_restored_clear(&r);
        size_t by[256] = {0};
        rc = vlt_state_entries(st, entry_bytes, by, err);
        for (int k = 0; rc == 0 && k < 256; k++)
            if (by[k])
                printf("changelog_entry_bytes_%c %zu\n", k, by[k]);
    }
    for (size_t i = 0; i < o.n; i++)
        free((void *)o.m[i].p);
    free(o.m);
    stm_clog_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[1], "--rules") != 0) {
        fprintf(stderr, "usage: bench-snapshot --rules DIR EVENTS.jsonl\n");
        return 2;
    }
    cm_err err;
    const char *rules[] = {argv[2]};
    pol_ruleset *rs = pol_ruleset_load(rules, 1, &err);
    vlt_state *st = rs ? vlt_state_open(NULL, NULL, &err) : NULL;
    cm_lines *rd = st ? cm_lines_open(argv[3], 1 << 20, &err) : NULL;
    if (!rd) {
        fprintf(stderr, "bench-snapshot: %s\n", err.msg);
        return 1;
    }
    pol_engine *eng = pol_engine_new(rs, st, 1 << 20);
    aud_writer *w = aud_writer_new("bench", NULL, 0, AUD_CLOCK_EVENT, sink, NULL);
    aud_decision d = {0};
    const char *line;
    size_t n, lineno;
    int rc;
    while ((rc = cm_lines_next(rd, &line, &n, &lineno, &err)) > 0)
        if (n <= (1 << 20) &&
            pip_message(eng, pol_ruleset_hash(rs), w, line, n, "bench", &d, NULL, NULL, &err) < 0) {
            rc = -1; /* a fatal decision: the crypto library failed */
            break;
        }
    pip_chain c = {"bench", w};
    if (rc < 0 || pip_commit(st, &c, 1, NULL, NULL, &err) < 0) {
        fprintf(stderr, "bench-snapshot: %s\n", err.msg);
        return 1;
    }
    size_t nres;
    free((void *)vlt_state_resource_ids(st, &nres));
    cm_buf b;
    cm_buf_init(&b, (size_t)1 << 34);
    double t0 = now();
    rc = vlt_state_snapshot(st, &b, &err);
    double t1 = now();
    vlt_state *back = rc == 0 ? vlt_state_restore(b.p, b.len, st->master, &err) : NULL;
    double t2 = now();
    if (!back) {
        fprintf(stderr, "bench-snapshot: %s\n", err.msg);
        return 1;
    }
    printf("snapshot_resources %zu\nsnapshot_bytes %zu\nsnapshot_s %.3f\nrestore_s %.3f\n", nres,
           b.len, t1 - t0, t2 - t1);
    vlt_state_free(back);
    cm_buf_free(&b);
    if (changelog(st, &err) < 0) {
        fprintf(stderr, "bench-snapshot: changelog: %s\n", err.msg);
        return 1;
    }
    aud_decision_clear(&d);
    aud_writer_free(w);
    pol_engine_free(eng);
    cm_lines_free(rd);
    vlt_state_free(st);
    pol_ruleset_free(rs);
    return 0;
}
