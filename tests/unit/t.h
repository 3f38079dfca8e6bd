/* Minimal unit-test harness: CHECK counts, the runner reads the closing line. */
#ifndef T_H
#define T_H
#include <stdio.h>
#include <string.h>
static int t_pass, t_fail;
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (c)                                                                                     \
            t_pass++;                                                                              \
        else {                                                                                     \
            t_fail++;                                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
        }                                                                                          \
    } while (0)
static inline int t_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}
#define CHECK_STR(a, b) CHECK(t_streq((a), (b)))
#define T_DONE()                                                                                   \
    do {                                                                                           \
        printf("%s: %d passed, %d failed\n", __FILE__, t_pass, t_fail);                            \
        return t_fail ? 1 : 0;                                                                     \
    } while (0)
#endif
