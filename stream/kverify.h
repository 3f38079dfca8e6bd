/* The audit topic verified by the changelogs of the state topic (SPEC §7a): `audit
 * verify --kafka` when the config names a state topic. Kafka-agnostic: the caller reads
 * both topics (stream/verify.c) and hands their messages here.
 *
 * The chain "EVENTS/P" (EVENTS the events topic) has its changelog in partition P of the
 * state topic. Its head is the last valid commit's (seq, hash), read with the fencing of
 * stream/changelog.h from the earliest valid CLAIM or SNAPSHOT on (before it, in a head
 * trimmed away, what is fenced cannot be known). The chain as verification sees it is
 * the path walked back from that head through `prevhash` over the records the audit
 * topic holds for it, down to seq 1 or the earliest record there; that path is verified
 * as a file is (audit/audit.h: aud_verifier), a byte-identical repeat counted once. A
 * record off the path at or below the head is a fenced write (a zombie's, or a crashed
 * session's copy in flight), one above it uncommitted: both are ignored, counted and
 * logged, and fail nothing. Verification fails when a valid commit's record is not on
 * the audit topic or is there with other bytes, the path has a gap, two valid commits
 * hold different records for one seq (a fork), a changelog record does not authenticate,
 * or a commit does not continue the chain from the head before it (across a claim too).
 * A chain with no changelog (an empty partition, or a name not of that form) is
 * verified as before: every record, in seq order. */
#ifndef STM_KVERIFY_H
#define STM_KVERIFY_H
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "stream/changelog.h"

/* A message of the audit topic as read: value borrowed. */
typedef struct stm_kv_msg {
    int32_t partition;
    int64_t offset;
    const char *value;
    size_t len;
} stm_kv_msg;

typedef struct stm_kverify stm_kverify;

/* A new verification; master and the topic names are borrowed for its life. */
stm_kverify *stm_kverify_new(const cry_secret *master, const char *events_topic,
                             const char *state_topic, const char *audit_topic);
void stm_kverify_free(stm_kverify *k);

/* Reads partition part of the state topic (log[0..n), in offset order, borrowed for the
 * call): what its valid commits hold for the chain EVENTS/part, and its claims. 0; with
 * err naming the state topic's offset: CM_ECHECK (a record that does not authenticate, a
 * fork, a commit that does not continue the chain, batches missing), CM_EINPUT (a
 * malformed record), CM_EENV (the library). An empty log: no changelog, 0. */
int stm_kverify_state(stm_kverify *k, int32_t part, const stm_cl_msg *log, size_t n, cm_err *err);

/* Verifies the audit topic's records (recs[0..n), in any order, borrowed) through v,
 * by the changelogs read so far, and writes the summary: today's, with each chain that
 * has a changelog also giving its claims (epoch, owner, offset) and the fenced,
 * uncommitted and repeated records ignored. 0, or CM_ECHECK with err naming the record
 * (AUDIT/PARTITION/OFFSET) or the changelog's offset. */
int stm_kverify_audit(stm_kverify *k, aud_verifier *v, const stm_kv_msg *recs, size_t n,
                      cm_buf *summary, cm_err *err);
#endif
