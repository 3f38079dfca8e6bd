/* Seeded randomness for unit tests: the seed comes from the environment's SEED, or from
 * the clock when SEED is unset, and is printed, so that a failing run can be repeated:
 * SEED=N ./build/tests/test_NAME. */
#ifndef T_SEED_H
#define T_SEED_H
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t t_rng_state;

static inline uint64_t t_seed(void)
{
    const char *s = getenv("SEED");
    uint64_t seed;
    if (s && *s) {
        seed = strtoull(s, NULL, 10);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
        seed %= 2147483647u;
    }
    printf("seed: %" PRIu64 " (SEED=%" PRIu64 " repeats this run's random choices)\n", seed, seed);
    t_rng_state = seed;
    return seed;
}

/* splitmix64: the next pseudo-random number of the seeded sequence. */
static inline uint64_t t_rand(void)
{
    uint64_t z = (t_rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
#endif
