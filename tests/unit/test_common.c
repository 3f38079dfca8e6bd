#include "common/arena.h"
#include "common/strset.h"
#include "common/util.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"

/* The set behind duplicate detection: exact, through growth, for many ids. */
static void test_strset(void)
{
    cm_strset *s = cm_strset_new();
    char id[32];
    int added = 0, again = 0;
    for (int i = 0; i < 200000; i++) {
        snprintf(id, sizeof id, "b-%d", i);
        added += cm_strset_add(s, id);
    }
    for (int i = 0; i < 200000; i += 7) {
        snprintf(id, sizeof id, "b-%d", i);
        again += cm_strset_add(s, id);
    }
    CHECK(added == 200000);
    CHECK(again == 0);
    CHECK(cm_strset_len(s) == 200000);
    CHECK(cm_strset_has(s, "b-0"));
    CHECK(cm_strset_has(s, "b-199999"));
    CHECK(!cm_strset_has(s, "b-200000"));
    CHECK(!cm_strset_has(s, "b-1 "));
    CHECK(!cm_strset_has(s, ""));
    CHECK(cm_strset_add(s, ""));
    CHECK(cm_strset_has(s, ""));
    /* a prefix or an extension of a stored id is another id */
    CHECK(!cm_strset_has(s, "b-"));
    CHECK(!cm_strset_has(s, "b-1999990"));
    CHECK(cm_strset_add(s, "x"));
    CHECK(!cm_strset_has(s, "xx"));
    cm_strset_free(s);
}

/* Joined text: whole when it fits, visibly cut when not, never half a character. */
static void test_join(void)
{
    char b[16];
    const char *p[] = {"get", "wrapKey", "unwrapKey"};
    CHECK(cm_join(b, sizeof b, ",", p, 2) && t_streq(b, "get,wrapKey"));
    CHECK(cm_join(b, sizeof b, ",", p, 0) && t_streq(b, ""));
    CHECK(cm_join(b, sizeof b, ", ", p, 1) && t_streq(b, "get"));
    CHECK(!cm_join(b, sizeof b, ",", p, 3) && t_streq(b, "get,wrapKey,..."));
    CHECK(strlen(b) == sizeof b - 1);
    char e[6];
    const char *x[] = {"ab", "cde"};
    CHECK(cm_join(e, sizeof e, "", x, 2) && t_streq(e, "abcde"));
    CHECK(!cm_join(e, sizeof e, "-", x, 2) && t_streq(e, "ab..."));
    const char *u[] = {"a\xc3\xa9\xc3\xa9\xc3\xa9"}; /* a, e-acute three times: 7 bytes */
    CHECK(!cm_join(e, sizeof e, "", u, 1) && t_streq(e, "a..."));
    const char *w[] = {"\xc3\xa9z"};
    CHECK(cm_join(e, sizeof e, "", w, 1) && t_streq(e, "\xc3\xa9z"));
    CHECK(!cm_join(e, 5, "", u, 1) && t_streq(e, "a..."));
    CHECK(!cm_join(e, 4, "", u, 1) && t_streq(e, "..."));
}

/* One unit of work: allocations of random sizes, each filled with its own byte and
 * checked once the unit is built (nothing handed out overlaps or moves). */
static bool arena_unit(cm_arena *a, size_t count, size_t most)
{
    unsigned char **p = calloc(count, sizeof *p);
    size_t *n = calloc(count, sizeof *n);
    bool ok = p && n;
    for (size_t i = 0; ok && i < count; i++) {
        n[i] = (size_t)(t_rand() % most);
        p[i] = cm_arena_alloc(a, n[i]);
        ok = (uintptr_t)p[i] % alignof(max_align_t) == 0;
        memset(p[i], (int)(i & 0xff), n[i]);
    }
    for (size_t i = 0; ok && i < count; i++)
        for (size_t k = 0; ok && k < n[i]; k++)
            ok = p[i][k] == (unsigned char)(i & 0xff);
    free(p);
    free(n);
    return ok;
}

/* The per-event arena: aligned, stable memory; arrays grown in place when they can be;
 * a reset keeps one chunk as large as the unit, so the same unit again allocates none. */
static void test_arena(void)
{
    t_seed();
    cm_arena a = {0};
    CHECK(cm_arena_strdup(&a, NULL) == NULL);
    CHECK(a.chunk == NULL); /* nothing asked, nothing made */
    char *s = cm_arena_strdup(&a, "abc");
    CHECK_STR(s, "abc");
    CHECK_STR(cm_arena_strndup(&a, "abcdef", 2), "ab");
    CHECK_STR(cm_arena_strndup(&a, "", 0), "");
    /* growth: in place when last, copied when not, the old bytes kept either way */
    int *v = cm_arena_grow(&a, NULL, 0, 2 * sizeof *v);
    v[0] = 7;
    v[1] = 8;
    int *w = cm_arena_grow(&a, v, 2 * sizeof *v, 64 * sizeof *v);
    CHECK(w == v && w[0] == 7 && w[1] == 8);
    char *mark = cm_arena_alloc(&a, 1);
    int *x = cm_arena_grow(&a, w, 64 * sizeof *w, 128 * sizeof *w);
    CHECK(x != w && x[0] == 7 && x[1] == 8 && mark != NULL);
    int *z = cm_arena_calloc(&a, 1000, sizeof *z);
    bool zero = true;
    for (int i = 0; i < 1000; i++)
        zero = zero && z[i] == 0;
    CHECK(zero);
    CHECK_STR(s, "abc"); /* earlier allocations stay where they were */
    /* a unit of many chunks; after a reset the same unit fits in one */
    cm_arena_reset(&a);
    uint64_t again = t_rng_state;
    CHECK(arena_unit(&a, 2000, 300));
    CHECK(cm_arena_chunks(&a) > 1);
    cm_arena_reset(&a);
    CHECK(cm_arena_chunks(&a) == 0 && a.next > 0);
    t_rng_state = again;
    CHECK(arena_unit(&a, 2000, 300));
    CHECK(cm_arena_chunks(&a) == 1);
    cm_arena_chunk *kept = a.chunk;
    for (int i = 0; i < 5; i++) {
        cm_arena_reset(&a);
        CHECK(arena_unit(&a, 1000, 300));
    }
    CHECK(a.chunk == kept && cm_arena_chunks(&a) == 1); /* steady state: no malloc */
    /* a unit past the keep gives its memory back */
    cm_arena_reset(&a);
    CHECK(cm_arena_alloc(&a, CM_ARENA_KEEP + 1) != NULL);
    cm_arena_reset(&a);
    CHECK(cm_arena_chunks(&a) == 0 && a.next == CM_ARENA_KEEP);
    CHECK(arena_unit(&a, 100, 5000));
    cm_arena_free(&a);
    CHECK(a.chunk == NULL && a.total == 0);
    cm_arena_free(&a); /* twice is harmless */
}

int main(void)
{
    test_arena();
    test_strset();
    test_join();
    T_DONE();
}
