/* A partition's state moved through the snapshot seam, for make bench: replays the
 * events in memory (the shipped rules, no trail), then snapshots the state and restores
 * it, and prints `name value` lines:
 *   snapshot_resources  resources in the state
 *   snapshot_bytes      the snapshot's size
 *   snapshot_s          the time to write it
 *   restore_s           the time to restore it (authenticated, then loaded)
 * usage: bench-snapshot --rules DIR EVENTS.jsonl */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/lines.h"
#include "pipeline/pipeline.h"
#include "policy/policy.h"
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
    aud_decision_clear(&d);
    aud_writer_free(w);
    pol_engine_free(eng);
    cm_lines_free(rd);
    vlt_state_free(st);
    pol_ruleset_free(rs);
    return 0;
}
