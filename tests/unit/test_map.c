/* cm_map: put, get, del and next through growth and tombstones, for many keys, and a
 * seeded random walk checked against a plain array. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/map.h"
#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"

#define V(i) ((void *)(uintptr_t)((i) + 1))

static void key(char *b, size_t n, int i)
{
    snprintf(b, n, "/subscriptions/s/k-%d", i);
}

/* The number a key was made from, or -1. */
static int index_of(const char *k)
{
    const char *d = strrchr(k, '-');
    char *end;
    long i = d ? strtol(d + 1, &end, 10) : -1;
    return d && *end == '\0' ? (int)i : -1;
}

static void test_many(void)
{
    enum { N = 100000 };
    cm_map *m = cm_map_new();
    char k[64];
    CHECK(cm_map_len(m) == 0 && cm_map_get(m, "x") == NULL && cm_map_del(m, "x") == NULL);
    for (int i = 0; i < N; i++) {
        key(k, sizeof k, i);
        cm_map_put(m, k, V(i));
    }
    CHECK(cm_map_len(m) == N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        key(k, sizeof k, i);
        bad += cm_map_get(m, k) != V(i);
    }
    CHECK(bad == 0);
    key(k, sizeof k, N);
    CHECK(cm_map_get(m, k) == NULL);
    CHECK(cm_map_get(m, "/subscriptions/s/k-") == NULL);
    /* replacing keeps the count */
    cm_map_put(m, "/subscriptions/s/k-7", V(999999));
    CHECK(cm_map_len(m) == N && cm_map_get(m, "/subscriptions/s/k-7") == V(999999));
    cm_map_put(m, "/subscriptions/s/k-7", V(7));
    /* deleting every other key */
    bad = 0;
    for (int i = 0; i < N; i += 2) {
        key(k, sizeof k, i);
        bad += cm_map_del(m, k) != V(i);
    }
    CHECK(bad == 0 && cm_map_len(m) == N / 2);
    bad = 0;
    for (int i = 0; i < N; i++) {
        key(k, sizeof k, i);
        bad += cm_map_get(m, k) != (i % 2 ? V(i) : NULL);
    }
    CHECK(bad == 0);
    key(k, sizeof k, 0);
    CHECK(cm_map_del(m, k) == NULL); /* already gone */
    /* next visits each live key once, with its value */
    char *seen = calloc(N, 1);
    size_t it = 0, visits = 0;
    const char *kk;
    void *v;
    bad = 0;
    while (cm_map_next(m, &it, &kk, &v)) {
        int i = index_of(kk);
        visits++;
        if (i < 0 || i >= N || seen[i] || v != V(i))
            bad++;
        else
            seen[i] = 1;
    }
    CHECK(bad == 0 && visits == N / 2);
    free(seen);
    /* sorted keys: byte order, every live key */
    size_t n = 0;
    const char **sk = cm_map_sorted_keys(m, &n);
    CHECK(n == N / 2);
    bad = 0;
    for (size_t i = 1; i < n; i++)
        bad += strcmp(sk[i - 1], sk[i]) >= 0;
    CHECK(bad == 0);
    free(sk);
    cm_map_clear(m);
    CHECK(cm_map_len(m) == 0);
    key(k, sizeof k, 1);
    CHECK(cm_map_get(m, k) == NULL);
    it = 0;
    CHECK(!cm_map_next(m, &it, NULL, NULL));
    cm_map_put(m, k, V(1));
    CHECK(cm_map_get(m, k) == V(1) && cm_map_len(m) == 1);
    cm_map_free(m);
    cm_map_free(NULL);
}

/* Endless churn of fresh keys in a small map: tombstones are swept, lookups end. */
static void test_churn(void)
{
    cm_map *m = cm_map_new();
    char k[64];
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        key(k, sizeof k, i);
        cm_map_put(m, k, V(i));
        if (i >= 5) {
            key(k, sizeof k, i - 5);
            bad += cm_map_del(m, k) != V(i - 5);
        }
    }
    CHECK(bad == 0 && cm_map_len(m) == 5);
    CHECK(cm_map_get(m, "absent") == NULL);
    cm_map_put(m, "", V(0)); /* the empty key is a key */
    CHECK(cm_map_get(m, "") == V(0) && cm_map_len(m) == 6);
    cm_map_free(m);
}

/* Random puts, deletes and gets over a small key space, against an array model. */
static void test_random(void)
{
    enum { KEYS = 3000, OPS = 300000 };
    t_seed();
    cm_map *m = cm_map_new();
    void **model = calloc(KEYS, sizeof *model);
    size_t live = 0;
    int bad = 0;
    char k[64];
    for (int op = 0; op < OPS; op++) {
        uint64_t r = t_rand();
        int i = (int)(r % KEYS);
        key(k, sizeof k, i);
        switch (r >> 32 & 3) {
        case 0:
        case 1:
            live += model[i] == NULL;
            model[i] = V(op);
            cm_map_put(m, k, V(op));
            break;
        case 2:
            bad += cm_map_del(m, k) != model[i];
            live -= model[i] != NULL;
            model[i] = NULL;
            break;
        default:
            bad += cm_map_get(m, k) != model[i];
        }
        bad += cm_map_len(m) != live;
    }
    for (int i = 0; i < KEYS; i++) {
        key(k, sizeof k, i);
        bad += cm_map_get(m, k) != model[i];
    }
    CHECK(bad == 0);
    free(model);
    cm_map_free(m);
}

int main(void)
{
    test_many();
    test_churn();
    test_random();
    T_DONE();
}
