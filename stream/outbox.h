/* The outbox and the input offsets of `run`, owned by stream/: messages that must reach
 * Kafka, durable with the state, and the offsets applied. Their tables (outbox_batches:
 * one row per commit; outbox: format 2's rows, one per message, still read and deleted;
 * offsets) live in the state's store, written by the same transaction as the state
 * (store/store.h): the outbox is a part of that store, attached by stm_outbox_open. */
#ifndef STM_OUTBOX_H
#define STM_OUTBOX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "vault/state.h"

typedef struct stm_outbox stm_outbox;

typedef struct stm_outmsg {
    int64_t id; /* row id once durable */
    char *topic;
    int32_t partition;
    char *chain; /* NULL for dead letters */
    uint64_t seq;
    char *key, *value, *reason, *input;
    size_t keylen, len;
    char *headers; /* more Kafka headers, packed by the sender (NULL: none stored) */
    size_t hlen;
} stm_outmsg;

/* The outbox of st (borrowed: it goes with the state), its tables declared and where
 * they stand read; NULL with err when a row fails its check. */
stm_outbox *stm_outbox_open(vlt_state *st, cm_err *err);
/* Queues a copy of m; it becomes durable with the next vlt_state_flush. */
void stm_outbox_add(stm_outbox *ob, const stm_outmsg *m);
/* The messages queued since the last flush or take, taken out (the caller frees them):
 * for a state without a file, whose batches a changelog makes durable (SPEC §7a). */
stm_outmsg *stm_outbox_take(stm_outbox *ob, size_t *n);
/* Messages the last successful flush made durable, with ids; the caller takes them. */
stm_outmsg *stm_outbox_flushed(stm_outbox *ob, size_t *n);
/* Every durable message not yet marked sent, in id order, into *out (the caller frees
 * it with stm_outmsg_free). -1 (err) when the outbox cannot be read or fails its check. */
int stm_outbox_pending(stm_outbox *ob, stm_outmsg **out, size_t *n, cm_err *err);
/* Delivered: the messages leave the outbox with the next vlt_state_flush (or when the
 * state is freed), not in a transaction of their own; until then a restart finds them
 * in the outbox and resends what the audit topic lacks. */
int stm_outbox_sent(stm_outbox *ob, const int64_t *ids, size_t n, cm_err *err);
void stm_outmsg_free(stm_outmsg *m, size_t n);
/* Input offsets applied (the next message to read is offset + 1), committed with the
 * next flush. */
void stm_offset_set(stm_outbox *ob, const char *topic, int32_t part, int64_t off);
bool stm_offset_get(stm_outbox *ob, const char *topic, int32_t part, int64_t *off);
/* An input offset as a changelog's entry (vault/delta.h): name "TOPIC\x1fPARTITION",
 * value the offset, i64 little-endian. */
#define STM_E_OFFSET 'o'
#endif
