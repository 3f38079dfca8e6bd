/* cm_idset: the set of event ids seen from each source (SPEC §2: a source and id pair is
 * remembered forever to reject duplicates), exact and insert-only, built to hold many
 * millions.
 *
 * An element is (src, id): src a non-zero handle the caller gives its sources, id a
 * string. Ids come in three forms, decided by the id alone:
 *
 *   - a prefix then a decimal number written canonically (no leading zero, at most 18
 *     digits), as "b-1041" or "evt-7": the number goes into a compressed bitmap under
 *     the class (src, prefix): containers of 2^16 numbers, each a sorted array of 16-bit
 *     values up to 4096 of them and an 8 KiB bitmap past that. A class numbered in
 *     sequence costs about a bit per id;
 *   - a UUID written canonically (8-4-4-4-12 hex digits, its letters all lower or all
 *     upper case, as Event Grid and Azure write them): its 16 bytes and the source,
 *     20 bytes in chunks, found through an open-addressing table of 4-byte positions;
 *     about 28 bytes an id where a string costs about 67;
 *   - any other id: its bytes back to back in one arena, found through an
 *     open-addressing table of 8-byte slots (a hash fragment and the id's offset).
 *
 * A class whose numbers turn out sparse (fewer than 2.5 a container once it holds 1 024)
 * costs more as containers than as strings: its ids move to the second form, and every
 * later id of it goes there. Which form holds an id depends on the id and on its
 * class's state, which changes once at most, moving every id with it: no two forms
 * ever hold the same id, so the set is exact. */
#ifndef CM_IDSET_H
#define CM_IDSET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cm_idset cm_idset;

cm_idset *cm_idset_new(void);
void cm_idset_free(cm_idset *s); /* NULL is a no-op */
/* Whether (src, id) is in the set; src != 0. */
bool cm_idset_has(cm_idset *s, uint32_t src, const char *id); /* not const: a lookup cache */
/* Adds (src, id); false when it was there already. */
bool cm_idset_add(cm_idset *s, uint32_t src, const char *id);
size_t cm_idset_len(const cm_idset *s);
/* Calls fn for every element: the ids of the second form in the order they were added,
 * the UUIDs in the order they were added, then the numbered ones by class and number. id is valid
 * during the call only. */
void cm_idset_each(const cm_idset *s, void (*fn)(void *arg, uint32_t src, const char *id),
                   void *arg);
/* Bytes the set holds from the heap (for measurements and tests). */
size_t cm_idset_bytes(const cm_idset *s);
#endif
