/* cm_intern, cm_itab and cm_hset: handles in arrival order, copies that never move,
 * lookups that do not add, long strings, growth; a table, forgetting and a handle set
 * against a seeded random model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/intern.h"
#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"

#define V(i) ((void *)(uintptr_t)((i) + 1))

static void key(char *b, size_t n, int i)
{
    snprintf(b, n, "/subscriptions/s/resourceGroups/rg/providers/P/k-%d", i);
}

static void test_pool(void)
{
    enum { N = 200000 };
    cm_intern *p = cm_intern_new();
    char k[96];
    CHECK(cm_intern_count(p) == 0 && cm_intern_find(p, "x") == 0 && cm_intern_str(p, 0) == NULL);
    CHECK(cm_intern_find(p, NULL) == 0 && cm_intern_copy(p, NULL) == NULL);
    const char **first = calloc(N, sizeof *first);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        key(k, sizeof k, i);
        uint32_t h = cm_intern_add(p, k);
        bad += h != (uint32_t)i + 1; /* handles in arrival order */
        first[i] = cm_intern_str(p, h);
    }
    CHECK(bad == 0 && cm_intern_count(p) == N);
    for (int i = 0; i < N; i++) {
        key(k, sizeof k, i);
        /* the same copy, however often asked, after every growth */
        bad += cm_intern_copy(p, k) != first[i] || cm_intern_find(p, k) != (uint32_t)i + 1 ||
               strcmp(first[i], k) != 0 || cm_intern_handle(first[i]) != (uint32_t)i + 1;
    }
    CHECK(bad == 0 && cm_intern_count(p) == N);
    CHECK(cm_intern_find(p, "/subscriptions/s/k-none") == 0 && cm_intern_count(p) == N);
    CHECK(cm_intern_str(p, N + 1) == NULL);
    /* a string longer than a chunk, and the empty string */
    size_t big = 200000;
    char *b = malloc(big + 1);
    memset(b, 'a', big);
    b[big] = '\0';
    const char *bc = cm_intern_copy(p, b);
    CHECK(bc && strlen(bc) == big && cm_intern_handle(bc) == N + 1);
    const char *e = cm_intern_copy(p, "");
    CHECK(e && *e == '\0' && cm_intern_find(p, "") == N + 2);
    CHECK(cm_intern_str(p, N) == first[N - 1]);
    free(b);
    free(first);
    cm_intern_free(p);
    cm_intern_free(NULL);
}

static void test_table(void)
{
    enum { KEYS = 3000, OPS = 300000 };
    t_seed();
    cm_intern *p = cm_intern_new();
    cm_itab t;
    cm_itab_init(&t, p);
    void **model = calloc(KEYS, sizeof *model);
    size_t live = 0;
    int bad = 0;
    char k[96];
    CHECK(cm_itab_get(&t, "x") == NULL && cm_itab_at(&t, 7) == NULL &&
          cm_itab_del(&t, "x") == NULL && cm_itab_get(&t, NULL) == NULL);
    for (int op = 0; op < OPS; op++) {
        uint64_t r = t_rand();
        int i = (int)(r % KEYS);
        key(k, sizeof k, i);
        switch (r >> 32 & 3) {
        case 0:
        case 1: {
            live += model[i] == NULL;
            model[i] = V(op);
            const char *c = cm_itab_put(&t, k, V(op));
            bad += strcmp(c, k) != 0 || c != cm_intern_copy(p, k);
            break;
        }
        case 2:
            bad += cm_itab_del(&t, k) != model[i];
            live -= model[i] != NULL;
            model[i] = NULL;
            break;
        default:
            bad += cm_itab_get(&t, k) != model[i];
        }
        bad += cm_itab_len(&t) != live;
    }
    CHECK(bad == 0);
    /* iteration sees every value once; sorted keys are in byte order */
    uint32_t it = 0;
    const char *kk;
    void *v;
    size_t seen = 0;
    while (cm_itab_next(&t, &it, &kk, &v)) {
        seen++;
        bad += cm_itab_get(&t, kk) != v;
    }
    CHECK(bad == 0 && seen == live);
    size_t n;
    const char **sk = cm_itab_sorted_keys(&t, &n);
    CHECK(n == live);
    for (size_t i = 1; i < n; i++)
        bad += strcmp(sk[i - 1], sk[i]) >= 0;
    CHECK(bad == 0);
    free(sk);
    free(model);
    cm_itab_free(&t);
    cm_intern_free(p);
}

/* Forgetting: against a seeded model of which strings the pool holds, with keys of
 * varied lengths (so blocks of several sizes are reused) and a table that must keep
 * finding every string it holds while others leave from the middle of its runs. */
static void test_forget(void)
{
    enum { KEYS = 5000, OPS = 400000 };
    cm_intern *p = cm_intern_new();
    uint32_t *model = calloc(KEYS, sizeof *model); /* key i's handle, 0: not held */
    char **keys = calloc(KEYS, sizeof *keys);
    int bad = 0;
    size_t held = 0, forgotten = 0;
    for (int i = 0; i < KEYS; i++) {
        char k[160];
        int pad = (int)(t_rand() % 90);
        snprintf(k, sizeof k, "/subscriptions/s/k-%d-%.*s", i, pad,
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                 "xxxxxxxx");
        keys[i] = strdup(k);
    }
    for (int op = 0; op < OPS; op++) {
        uint64_t r = t_rand();
        int i = (int)(r % KEYS);
        switch (r >> 32 & 3) {
        case 0:
        case 1: {
            uint32_t h = cm_intern_add(p, keys[i]);
            bad += model[i] && h != model[i]; /* a held string keeps its handle */
            held += !model[i];
            model[i] = h;
            bad += strcmp(cm_intern_str(p, h), keys[i]) != 0 ||
                   cm_intern_handle(cm_intern_str(p, h)) != h;
            break;
        }
        case 2:
            if (model[i]) {
                cm_intern_forget(p, model[i]);
                bad += cm_intern_str(p, model[i]) != NULL;
                model[i] = 0;
                held--;
                forgotten++;
            }
            cm_intern_forget(p, 0); /* nothing */
            break;
        default:
            bad += cm_intern_find(p, keys[i]) != model[i];
        }
    }
    CHECK(bad == 0);
    CHECK(forgotten > 0);
    /* every held string found with its handle; handles given again: no more than ever
     * held at once were made */
    uint32_t most = 0;
    for (int i = 0; i < KEYS; i++) {
        bad += cm_intern_find(p, keys[i]) != model[i];
        bad += model[i] && strcmp(cm_intern_str(p, model[i]), keys[i]) != 0;
        if (model[i] > most)
            most = model[i];
    }
    CHECK(bad == 0);
    CHECK(cm_intern_count(p) <= KEYS && most <= cm_intern_count(p));
    for (int i = 0; i < KEYS; i++)
        free(keys[i]);
    free(keys);
    free(model);
    cm_intern_free(p);
}

static void test_hset(void)
{
    cm_hset s = {0};
    cm_hset_add(&s, 5);
    cm_hset_add(&s, 100000);
    cm_hset_add(&s, 5); /* already in: nothing */
    cm_hset_add(&s, 1);
    CHECK(s.n == 3 && s.h[0] == 5 && s.h[1] == 100000 && s.h[2] == 1);
    cm_hset_clear(&s);
    CHECK(s.n == 0);
    cm_hset_add(&s, 100000); /* cleared: it can come back */
    CHECK(s.n == 1 && s.h[0] == 100000);
    cm_hset_free(&s);
    CHECK(s.n == 0 && s.h == NULL);
}

int main(void)
{
    test_pool();
    test_table();
    test_forget();
    test_hset();
    T_DONE();
}
