/* Reading verified audit records (SPEC §5) from their parsed trees: the members that
 * export and report use, each lookup NULL-safe so that a record missing a member reads
 * as absent rather than failing. Internal to audit/. */
#ifndef AUD_RECORD_H
#define AUD_RECORD_H
#include <stdbool.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "common/buf.h"

/* Member k of object o of any type; NULL when o is not an object or has no k. */
yajl_val aud_rec_get(yajl_val o, const char *k);
/* Member k as a string / as an integer / as a boolean; NULL / false when it is not one. */
const char *aud_rec_str(yajl_val o, const char *k);
bool aud_rec_int(yajl_val o, const char *k, long long *out);
bool aud_rec_true(yajl_val o, const char *k);
/* An RFC 3339 time as milliseconds since the epoch (the fraction kept to the ms). */
bool aud_rec_time_ms(const char *s, int64_t *out);
/* v as JSON (RFC 8785, as the verifier hashes it) appended to b; -1 when it has none. */
int aud_rec_json(cm_buf *b, yajl_val v);
#endif
