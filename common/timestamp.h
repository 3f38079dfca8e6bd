/* RFC 3339 instants as seconds since the Unix epoch (UTC), and back as the one canonical
 * spelling cmkguard shows: YYYY-MM-DDTHH:MM:SSZ. Canonical spellings of years 0000-9999
 * sort as strings in the order of the instants they name. */
#ifndef CM_TIMESTAMP_H
#define CM_TIMESTAMP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the canonical spelling, and the buffer that holds it with its NUL. */
#define CM_TS_LEN 20
#define CM_TS_SIZE (CM_TS_LEN + 1)

/* Parses an RFC 3339 date-time (with 'T', seconds, an optional fraction, Z or an offset)
 * that is a real calendar instant (no February 30) into whole seconds since the epoch:
 * the fraction is dropped, the offset applied, a leap second 23:59:60 counts as the next
 * second. False for anything else, or when the instant in UTC falls outside the years
 * 0000-9999 that the canonical spelling can write. */
bool cm_ts_parse(const char *s, size_t n, int64_t *out);
/* Writes the canonical spelling of t (within the range cm_ts_parse accepts) into out. */
void cm_ts_format(int64_t t, char out[CM_TS_SIZE]);
#endif
