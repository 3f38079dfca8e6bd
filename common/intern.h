/* cm_intern: strings stored once, each named by a small integer handle.
 *
 * A pool keeps every string it is given, once, in chunks that never move, and hands
 * out a handle (1, 2, 3… in the order strings arrive, a forgotten string's handle
 * given first; 0 is "none") and a pointer to
 * its copy that stays valid until the pool is freed or the string forgotten. A string
 * is forgotten only when asked (cm_intern_forget: the ids of deleted resources): its
 * handle is given again to the next new string, and its bytes are reused by a later
 * string of about its length.
 *
 * cm_itab is a dense table of values indexed by one pool's handles: a lookup by string
 * hashes it once to find its handle, a lookup by handle hashes nothing. */
#ifndef CM_INTERN_H
#define CM_INTERN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cm_intern cm_intern;

cm_intern *cm_intern_new(void);
void cm_intern_free(cm_intern *p); /* NULL is a no-op */
/* The handle of s, added when new. */
uint32_t cm_intern_add(cm_intern *p, const char *s);
/* The handle of s, or 0 when the pool does not hold it. */
uint32_t cm_intern_find(const cm_intern *p, const char *s);
/* The pool's copy of handle h (NULL for 0 or a handle it never gave). */
const char *cm_intern_str(const cm_intern *p, uint32_t h);
/* The pool's copy of s (added when new); NULL for NULL. */
const char *cm_intern_copy(cm_intern *p, const char *s);
/* The handle of a string a pool returned (from cm_intern_copy or cm_intern_str). */
uint32_t cm_intern_handle(const char *interned);
/* The highest handle given so far: handles are 1..cm_intern_count, less those forgotten
 * and not given again. */
uint32_t cm_intern_count(const cm_intern *p);
/* Removes handle h's string (nothing for a handle the pool does not hold): its copy
 * must no longer be used (the caller holds it nowhere), and h is given again. */
void cm_intern_forget(cm_intern *p, uint32_t h);

typedef struct cm_itab {
    cm_intern *pool; /* borrowed: several tables may share one pool */
    void **v;        /* v[h]: the value under handle h, or NULL */
    uint32_t cap;    /* entries of v */
    size_t len;      /* non-NULL values */
} cm_itab;

void cm_itab_init(cm_itab *t, cm_intern *pool);
void cm_itab_free(cm_itab *t); /* the table, not its values */
void *cm_itab_get(const cm_itab *t, const char *key);
void *cm_itab_at(const cm_itab *t, uint32_t h);
/* Puts val (non-NULL) under key, interning it; returns the pool's copy of key. The
 * value it replaces is the caller's to free (ask with cm_itab_get first). */
const char *cm_itab_put(cm_itab *t, const char *key, void *val);
void cm_itab_put_at(cm_itab *t, uint32_t h, void *val);
/* Removes key's value and returns it (NULL when none). */
void *cm_itab_del(cm_itab *t, const char *key);
static inline size_t cm_itab_len(const cm_itab *t)
{
    return t->len;
}
/* Iterates in handle order: *it starts at 0; false at the end. */
bool cm_itab_next(const cm_itab *t, uint32_t *it, const char **key, void **val);
/* Keys with a value, in byte order: a new array of the pool's copies. */
const char **cm_itab_sorted_keys(const cm_itab *t, size_t *n);

/* A set of handles that remembers the order they were added in (what a flush must
 * write): adding one already in it does nothing. */
typedef struct cm_hset {
    uint32_t *h;
    size_t n, cap;
    uint8_t *in; /* in[h]: h is in the set */
    size_t incap;
} cm_hset;
void cm_hset_add(cm_hset *s, uint32_t h);
void cm_hset_clear(cm_hset *s);
void cm_hset_free(cm_hset *s);
#endif
