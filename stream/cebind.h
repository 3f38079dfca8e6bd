/* The CloudEvents Kafka protocol binding (SPEC §7), without Kafka: headers in, headers out.
 *
 * Input: a message is in binary mode when it has a ce_* header and its content-type is
 * not application/cloudevents…; the attributes are then in ce_* headers and the value is
 * `data`. stm_ce_from_binary writes the same event in structured mode, so the decoder
 * and everything after it decide one form only. Output: stm_ce_read takes the attributes
 * of a structured-mode event (an audit record) for the ce_* headers. */
#ifndef STM_CEBIND_H
#define STM_CEBIND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The attributes carried as headers on the way out, in header order. */
enum stm_ce_attr {
    STM_CE_SPECVERSION,
    STM_CE_ID,
    STM_CE_SOURCE,
    STM_CE_TYPE,
    STM_CE_TIME,
    STM_CE_SUBJECT,
    STM_CE__COUNT
};

#define STM_CE_STRUCTURED "application/cloudevents+json; charset=UTF-8"
#define STM_CE_DEAD_LETTER_TYPE "cmkguard.deadletter"

/* One Kafka header as librdkafka hands it over: value is raw bytes, not NUL-terminated,
 * NULL for a header without a value. */
typedef struct stm_header {
    const char *name;
    const char *value;
    size_t len;
} stm_header;

/* Attribute values: NUL-terminated UTF-8 strings owned by the struct, NULL when absent.
 * Start it zeroed ({0}); stm_ce_attrs_clear frees what it holds. */
typedef struct stm_ce_attrs {
    char *v[STM_CE__COUNT];
} stm_ce_attrs;

/* "ce_specversion", "ce_id", … */
const char *stm_ce_header_name(enum stm_ce_attr a);
void stm_ce_attrs_clear(stm_ce_attrs *a);
/* The four attributes CloudEvents requires are all there. */
bool stm_ce_attrs_complete(const stm_ce_attrs *a);

/* Whether the headers put the message in binary mode. */
bool stm_ce_is_binary(const stm_header *h, size_t n);

/* Binary mode to structured mode: appends to out the event as one JSON object (the
 * attributes from the headers, escaped; `data` the value, which must be one JSON
 * value; no `data` for an empty value), never more than max bytes. Returns 0, or -1
 * with a reason when the message is bad input. Either way a (cleared first) receives
 * the attributes that are valid UTF-8, so a rejection can name the event. Borrows h
 * and value. */
int stm_ce_from_binary(const stm_header *h, size_t n, const char *value, size_t len, size_t max,
                       cm_buf *out, stm_ce_attrs *a, char *reason, size_t reason_len);

/* Whether v is exactly one JSON value. */
bool stm_ce_is_json(const char *v, size_t n);

/* Reads the top-level string attributes of a structured-mode event (a is cleared first).
 * Returns true when json is exactly one JSON object with no attribute given twice; an
 * attribute that is not a non-empty string without NUL is left NULL. */
bool stm_ce_read(const char *json, size_t n, stm_ce_attrs *a);

/* The same attributes of one of cmkguard's own audit records (chain, seq), read without
 * parsing it: a record is written in canonical (JCS) member order, so its source and
 * specversion sit side by side and its subject, time and type are its last members.
 * Falls back to stm_ce_read whenever the record does not have that exact shape, so the
 * result is always stm_ce_read's. */
bool stm_ce_read_record(const char *json, size_t n, const char *chain, uint64_t seq,
                        stm_ce_attrs *a);

/* Header lists kept as bytes (name NUL value NUL …), so that they can be stored with
 * the message they belong to. Names and values must not hold NUL. */
int stm_ce_pack(cm_buf *b, const char *name, const char *value);
/* Steps through a packed list from *off (start at 0); false at the end. The strings
 * point into p. */
bool stm_ce_unpack(const char *p, size_t n, size_t *off, const char **name, const char **value);
#endif
