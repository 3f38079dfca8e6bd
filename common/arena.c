#include "common/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define ALIGN alignof(max_align_t)
#define FIRST ((size_t)4096)

struct cm_arena_chunk {
    cm_arena_chunk *prev;
    size_t size; /* bytes of data */
    alignas(max_align_t) unsigned char data[];
};

static size_t round_up(size_t n)
{
    if (n > SIZE_MAX - (ALIGN - 1))
        cm_oom(n);
    return (n + ALIGN - 1) & ~(ALIGN - 1);
}

/* A new chunk with room for at least n bytes, in front of the others. */
static void new_chunk(cm_arena *a, size_t n)
{
    size_t size = a->next ? a->next : FIRST;
    if (a->chunk && a->chunk->size > size / 2)
        size = a->chunk->size <= SIZE_MAX / 2 ? a->chunk->size * 2 : SIZE_MAX;
    if (size < n)
        size = n;
    if (size > SIZE_MAX - sizeof(cm_arena_chunk))
        cm_oom(size);
    cm_arena_chunk *c = cm_xmalloc(sizeof *c + size);
    c->prev = a->chunk;
    c->size = size;
    a->chunk = c;
    a->used = 0;
}

void *cm_arena_alloc(cm_arena *a, size_t n)
{
    n = round_up(n);
    if (!a->chunk || a->chunk->size - a->used < n)
        new_chunk(a, n);
    void *p = a->chunk->data + a->used;
    a->used += n;
    a->total += n;
    return p;
}

void *cm_arena_calloc(cm_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        cm_oom(SIZE_MAX);
    void *p = cm_arena_alloc(a, n * size);
    memset(p, 0, n * size);
    return p;
}

void *cm_arena_grow(cm_arena *a, void *p, size_t old, size_t n)
{
    size_t ro = round_up(old);
    if (p && a->chunk && ro <= a->used && (unsigned char *)p == a->chunk->data + a->used - ro) {
        size_t rn = round_up(n);
        if (a->chunk->size - (a->used - ro) >= rn) {
            a->used = a->used - ro + rn;
            a->total = a->total - ro + rn;
            return p;
        }
    }
    void *q = cm_arena_alloc(a, n);
    if (p)
        memcpy(q, p, old < n ? old : n);
    return q;
}

char *cm_arena_strndup(cm_arena *a, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = cm_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cm_arena_strdup(cm_arena *a, const char *s)
{
    return s ? cm_arena_strndup(a, s, strlen(s)) : NULL;
}

static void free_chunks(cm_arena *a)
{
    for (cm_arena_chunk *c = a->chunk, *prev; c; c = prev) {
        prev = c->prev;
        free(c);
    }
    a->chunk = NULL;
    a->used = 0;
}

void cm_arena_reset(cm_arena *a)
{
    if (a->chunk && (a->chunk->prev || a->chunk->size > CM_ARENA_KEEP)) {
        /* The unit outgrew one chunk: the next gets one as large, within the keep. */
        size_t want = a->total < CM_ARENA_KEEP ? a->total : CM_ARENA_KEEP;
        free_chunks(a);
        a->next = want > FIRST ? want : 0;
    }
    a->used = 0;
    a->total = 0;
}

size_t cm_arena_chunks(const cm_arena *a)
{
    size_t n = 0;
    for (const cm_arena_chunk *c = a->chunk; c; c = c->prev)
        n++;
    return n;
}

void cm_arena_free(cm_arena *a)
{
    free_chunks(a);
    a->total = 0;
    a->next = 0;
}
