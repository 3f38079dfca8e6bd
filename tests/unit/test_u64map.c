/* cm_u64map: put, get, del (backward shift) and next against a seeded random model over
 * a key space small enough to collide, and keys whose hashes share low bits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/u64map.h"
#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"

static void test_random(void)
{
    enum { KEYS = 5000, OPS = 400000 };
    t_seed();
    cm_u64map m = {0};
    uint32_t *model = calloc(KEYS, sizeof *model); /* 0: absent */
    size_t live = 0;
    int bad = 0;
    uint32_t v;
    CHECK(!cm_u64map_get(&m, 5, &v) && !cm_u64map_del(&m, 5) && cm_u64map_len(&m) == 0);
    for (int op = 0; op < OPS; op++) {
        uint64_t r = t_rand();
        uint32_t i = (uint32_t)(r % KEYS);
        uint64_t key = cm_u64_pair(i % 7 + 1, i); /* never 0 */
        switch (r >> 32 & 3) {
        case 0:
        case 1:
            live += model[i] == 0;
            model[i] = (uint32_t)op + 1;
            cm_u64map_put(&m, key, (uint32_t)op + 1);
            break;
        case 2:
            bad += cm_u64map_del(&m, key) != (model[i] != 0);
            live -= model[i] != 0;
            model[i] = 0;
            break;
        default: {
            bool has = cm_u64map_get(&m, key, &v);
            bad += has != (model[i] != 0) || (has && v != model[i]);
        }
        }
        bad += cm_u64map_len(&m) != live;
    }
    for (uint32_t i = 0; i < KEYS; i++) {
        bool has = cm_u64map_get(&m, cm_u64_pair(i % 7 + 1, i), &v);
        bad += has != (model[i] != 0) || (has && v != model[i]);
    }
    CHECK(bad == 0);
    size_t it = 0, n = 0;
    uint64_t k;
    while (cm_u64map_next(&m, &it, &k, &v)) {
        n++;
        bad += model[(uint32_t)k] != v;
    }
    CHECK(bad == 0 && n == live);
    cm_u64map_clear(&m);
    CHECK(cm_u64map_len(&m) == 0 && !cm_u64map_get(&m, cm_u64_pair(1, 7), NULL));
    cm_u64map_put(&m, cm_u64_pair(1, 7), 3);
    CHECK(cm_u64map_get(&m, cm_u64_pair(1, 7), &v) && v == 3);
    cm_u64map_free(&m);
    CHECK(m.cap == 0 && m.len == 0);
    free(model);
}

int main(void)
{
    test_random();
    T_DONE();
}
