/* The catalog (SPEC §7a): the public facts of the vaults and keys every partition holds,
 * which one tenant's events may need from another tenant's partition (a resource bound
 * to a key in another tenant's vault, for CMK-TENANT).
 *
 * The owner of a partition produces a catalog record for each vault and key a batch
 * changed, in the batch's outbox (so a commit's records survive a crash with it): key the
 * URI, value its facts as JSON (no key material, no secret), with the partition that
 * produced it. Every instance reads the whole catalog topic into one table, the last
 * record per URI winning, and a partition's state consults it, read-only, for a vault or
 * key it does not hold (vlt_state_set_foreign). docs/ARCHITECTURE.md tells what it leaves
 * out. */
#ifndef STM_CATALOG_H
#define STM_CATALOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"
#include "stream/config.h"
#include "stream/outbox.h"
#include "vault/state.h"

typedef struct stm_catalog stm_catalog;

/* A new, empty table (no Kafka): stm_catalog_free frees it; NULL is a no-op. */
stm_catalog *stm_catalog_new(void);
void stm_catalog_free(stm_catalog *c);
/* Takes one catalog record's value (borrowed): the last one per URI wins; a record that
 * says the object is gone removes it. 0, or CM_EINPUT with err when it is not a catalog
 * record (the table is unchanged). */
int stm_catalog_put(stm_catalog *c, const char *value, size_t len, cm_err *err);
/* URIs the table holds. */
size_t stm_catalog_len(const stm_catalog *c);

/* What a partition's state is given as its foreign lookup (vlt_foreign_fn, arg a
 * stm_catalog_ref): the table's facts of a vault or key, but never those its own
 * partition published (the state holds what it holds: one it no longer holds is gone). */
typedef struct stm_catalog_ref {
    stm_catalog *cat; /* borrowed */
    int32_t self;     /* the partition whose state asks */
} stm_catalog_ref;
bool stm_catalog_foreign(void *arg, const char *uri, bool key, vlt_foreign *out);

/* The catalog value of the vault (key false) or versionless key URI uri as st holds it
 * (gone when it holds none), produced by partition part, appended to out: 0, or -1 when
 * out hit its bound. */
int stm_catalog_value(vlt_state *st, bool key, const char *uri, int32_t part, cm_buf *out);
/* Queues into ob a catalog record (to topic, partitioned by its key) for each vault and
 * key that st's tracked changes name, as st now holds it. Call it before the batch's
 * outbox is taken. 0, or -1 with err. */
int stm_catalog_outbox(vlt_state *st, stm_outbox *ob, const char *topic, int32_t part, cm_err *err);

/* Kafka: an assign-only reader of every partition of cfg's catalog topic from its
 * beginning: 0, or -1 with err. */
int stm_catalog_open(stm_catalog *c, const stm_config *cfg, cm_err *err);
/* Takes the records that have arrived, at most max, without waiting: how many were
 * read (malformed ones are logged and skipped). */
size_t stm_catalog_poll(stm_catalog *c, size_t max);
#endif
