/* Minimal unit-test harness: CHECK counts, the runner reads the closing line. */
#ifndef T_H
#define T_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
/* A new temporary directory from the template in dir (ending XXXXXX), and the paths of a
 * state file and its master key inside it: 0, or -1 when the directory cannot be made. */
static inline int t_state_paths(char *dir, char *db, size_t dbn, char *mk, size_t mkn)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(db, dbn, "%s/state.db", dir);
    snprintf(mk, mkn, "%s/master.key", dir);
    return 0;
}
/* Removes a state file made in a test's temporary directory: the file, its master key,
 * SQLite's -wal and -shm beside it; the directory itself must then be empty. */
static inline int t_rm_state(const char *dir, const char *db, const char *mk)
{
    char side[512];
    unlink(db);
    unlink(mk);
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
    return rmdir(dir);
}
#define T_DONE()                                                                                   \
    do {                                                                                           \
        printf("%s: %d passed, %d failed\n", __FILE__, t_pass, t_fail);                            \
        return t_fail ? 1 : 0;                                                                     \
    } while (0)

/* t_read_lines: the non-empty lines of a file (up to 64 KiB each), *n of them; the
 * caller frees each and the array. */
static inline char **t_read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char **v = NULL, buf[65536];
    *n = 0;
    while (f && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = '\0';
        if (!*buf)
            continue;
        v = realloc(v, (*n + 1) * sizeof *v);
        v[(*n)++] = strdup(buf);
    }
    if (f)
        fclose(f);
    return v;
}

#endif
