/* cm_strset: a set of strings built to hold millions: the strings sit back to back in
 * one arena and the table holds 8 bytes per slot (a hash fragment and an offset), so
 * an event id costs its length plus about a dozen bytes. Insert-only. */
#ifndef CM_STRSET_H
#define CM_STRSET_H
#include <stdbool.h>
#include <stddef.h>

typedef struct cm_strset cm_strset;

cm_strset *cm_strset_new(void);
void cm_strset_free(cm_strset *s);
bool cm_strset_has(const cm_strset *s, const char *str);
/* Adds str; false when it was there already. */
bool cm_strset_add(cm_strset *s, const char *str);
size_t cm_strset_len(const cm_strset *s);
/* Bytes the set holds from the heap. */
size_t cm_strset_bytes(const cm_strset *s);
/* Calls fn for every string, in the order they were added. */
void cm_strset_each(const cm_strset *s, void (*fn)(void *arg, const char *str), void *arg);
#endif
