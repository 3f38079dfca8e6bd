#include "common/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct slot {
    uint32_t hash; /* the hash's upper half: most misses end here */
    uint32_t off;  /* arena offset + 1; 0 is empty */
};

struct cm_strset {
    struct slot *t;
    size_t cap, len;
    char *arena;
    size_t used, size;
};

cm_strset *cm_strset_new(void)
{
    cm_strset *s = cm_xcalloc(1, sizeof *s);
    s->cap = 1024;
    s->t = cm_xcalloc(s->cap, sizeof *s->t);
    return s;
}

void cm_strset_free(cm_strset *s)
{
    if (!s)
        return;
    free(s->t);
    free(s->arena);
    free(s);
}

size_t cm_strset_len(const cm_strset *s)
{
    return s->len;
}

size_t cm_strset_bytes(const cm_strset *s)
{
    return sizeof *s + s->cap * sizeof *s->t + s->size;
}

/* The slot holding str, or the empty slot where it would go. */
static struct slot *find(const cm_strset *s, const char *str, size_t n, uint64_t h)
{
    size_t i = (size_t)h & (s->cap - 1);
    uint32_t hi = (uint32_t)(h >> 32);
    for (;;) {
        struct slot *sl = &s->t[i];
        if (!sl->off)
            return sl;
        if (sl->hash == hi && !memcmp(s->arena + sl->off - 1, str, n + 1))
            return sl;
        i = (i + 1) & (s->cap - 1);
    }
}

bool cm_strset_has(const cm_strset *s, const char *str)
{
    size_t n;
    uint64_t h = cm_strhash(str, &n);
    return find(s, str, n, h)->off != 0;
}

static void grow_table(cm_strset *s)
{
    struct slot *old = s->t;
    size_t ocap = s->cap;
    s->cap *= 2;
    s->t = cm_xcalloc(s->cap, sizeof *s->t);
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].off)
            continue;
        size_t n;
        uint64_t h = cm_strhash(s->arena + old[i].off - 1, &n);
        size_t j = (size_t)h & (s->cap - 1);
        while (s->t[j].off)
            j = (j + 1) & (s->cap - 1);
        s->t[j] = old[i];
    }
    free(old);
}

bool cm_strset_add(cm_strset *s, const char *str)
{
    size_t n;
    uint64_t h = cm_strhash(str, &n);
    struct slot *sl = find(s, str, n, h);
    if (sl->off)
        return false;
    if (s->used + n + 1 > s->size) {
        size_t size = s->size ? s->size : 1 << 16;
        while (s->used + n + 1 > size)
            size *= 2;
        if (size > UINT32_MAX)
            cm_oom(size); /* offsets are 32-bit: 4 GiB of ids */
        s->arena = cm_xrealloc(s->arena, size);
        s->size = size;
    }
    memcpy(s->arena + s->used, str, n + 1);
    sl->hash = (uint32_t)(h >> 32);
    sl->off = (uint32_t)(s->used + 1);
    s->used += n + 1;
    if (++s->len * 4 >= s->cap * 3)
        grow_table(s);
    return true;
}

void cm_strset_each(const cm_strset *s, void (*fn)(void *arg, const char *str), void *arg)
{
    for (size_t at = 0; at < s->used; at += strlen(s->arena + at) + 1)
        fn(arg, s->arena + at);
}
