/* cm_u64map: a hash map from non-zero 64-bit keys (two 32-bit handles, say) to 32-bit
 * values, 16 bytes a slot, open addressing with backward-shift deletion (no tombstones). */
#ifndef CM_U64MAP_H
#define CM_U64MAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cm_u64map {
    struct cm_u64slot *s;
    size_t cap, len;
} cm_u64map;

static inline uint64_t cm_u64_pair(uint32_t hi, uint32_t lo)
{
    return (uint64_t)hi << 32 | lo;
}

void cm_u64map_free(cm_u64map *m); /* leaves it empty and usable */
/* The value under key into *val (when non-NULL); false when there is none. */
bool cm_u64map_get(const cm_u64map *m, uint64_t key, uint32_t *val);
void cm_u64map_put(cm_u64map *m, uint64_t key, uint32_t val); /* key != 0; replaces */
bool cm_u64map_del(cm_u64map *m, uint64_t key);               /* false: it was not there */
void cm_u64map_clear(cm_u64map *m);                           /* empties it, keeping its room */
static inline size_t cm_u64map_len(const cm_u64map *m)
{
    return m->len;
}
/* Bytes the map holds from the heap. */
size_t cm_u64map_bytes(const cm_u64map *m);
/* Iterates: *it starts at 0; false at the end. Not across a put or a del. */
bool cm_u64map_next(const cm_u64map *m, size_t *it, uint64_t *key, uint32_t *val);
#endif
