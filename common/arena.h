/* cm_arena: memory for one unit of work (an event's decision), handed out by moving a
 * pointer through a chunk and given back all at once by cm_arena_reset. A reset keeps
 * the memory: when a unit needed more than one chunk, the next starts with one chunk as
 * large as the whole unit needed (up to CM_ARENA_KEEP), so that in steady state a unit
 * costs no call to malloc at all.
 *
 * The struct is a value type: zero bytes are an empty arena, callers embed it and call
 * cm_arena_free when done. Memory comes from cm_xmalloc: running out stops the process
 * (cm_oom), as every allocation of the house does; what bounds an arena is what its
 * user puts in it. Not for secrets: nothing is wiped. */
#ifndef CM_ARENA_H
#define CM_ARENA_H
#include <stddef.h>

/* The most a reset keeps for the next unit; a larger unit frees what it used. */
#define CM_ARENA_KEEP ((size_t)1 << 20)

typedef struct cm_arena_chunk cm_arena_chunk;

typedef struct cm_arena {
    cm_arena_chunk *chunk; /* the chunk in use; earlier ones linked behind it */
    size_t used;           /* bytes handed out of chunk */
    size_t total;          /* bytes handed out since the last reset, every chunk */
    size_t next;           /* size of the next chunk made; 0: the default */
} cm_arena;

/* n bytes (n may be 0), aligned for any type, uninitialised; valid until reset or free. */
void *cm_arena_alloc(cm_arena *a, size_t n);
/* n elements of size bytes, zeroed; cm_oom when n * size overflows. */
void *cm_arena_calloc(cm_arena *a, size_t n, size_t size);
/* p (old bytes, from this arena, or NULL with old 0) made n bytes long, its first
 * min(old, n) bytes kept: in place when p is the last allocation and its chunk has room,
 * else copied. For arrays that grow while a unit is built. */
void *cm_arena_grow(cm_arena *a, void *p, size_t old, size_t n);
/* Copies of s into the arena; NULL in, NULL out. */
char *cm_arena_strdup(cm_arena *a, const char *s);
char *cm_arena_strndup(cm_arena *a, const char *s, size_t n);
/* Everything handed out goes back at once; the memory stays for the next unit. */
void cm_arena_reset(cm_arena *a);
/* How many chunks the arena holds now (0 when empty): a unit that fits needs one. */
size_t cm_arena_chunks(const cm_arena *a);
/* Frees every chunk; a is an empty arena again. */
void cm_arena_free(cm_arena *a);
#endif
