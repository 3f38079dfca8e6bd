/* cm_map: string-keyed hash map (open addressing). Keys are copied; values are
 * borrowed pointers the caller owns. */
#ifndef CM_MAP_H
#define CM_MAP_H
#include <stdbool.h>
#include <stddef.h>

typedef struct cm_map cm_map;

cm_map *cm_map_new(void);
void cm_map_free(cm_map *m);  /* frees keys, not values; NULL is a no-op */
void cm_map_clear(cm_map *m); /* empties it (frees keys, not values), allocating nothing */
void *cm_map_get(const cm_map *m, const char *key);
void cm_map_put(cm_map *m, const char *key, void *val); /* replaces */
void *cm_map_del(cm_map *m, const char *key);           /* returns the old value */
size_t cm_map_len(const cm_map *m);
/* Iterates: *it starts at 0; returns false at the end. */
bool cm_map_next(const cm_map *m, size_t *it, const char **key, void **val);
/* Keys in byte order: a new array of borrowed key pointers; the caller frees the array. */
const char **cm_map_sorted_keys(const cm_map *m, size_t *n);
#endif
