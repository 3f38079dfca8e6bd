/* The changelog of a partition's state (SPEC §7a): the records an owner appends to its
 * partition of the `state` topic, and the restore that reads them back.
 *
 * Four kinds of record, each authenticated under a key derived from the shared master
 * key for this partition alone:
 *   CLAIM     epoch, owner: an owner takes the partition
 *   CHANGES   epoch, batch seq, chunk index, entries: what a batch changed in the state
 *             (vault/delta.h) and the audit records it produced (its outbox)
 *   COMMIT    epoch, batch seq, chunks, outbox size, where the partition stands (the
 *             last input offset, the chain head): the batch counts from here on
 *   SNAPSHOT  epoch, as of a commit, chunk index and count, entries: the whole state
 * The entries are the vault's and those of the state's chain heads (pipeline/chains.h)
 * and input offsets (stream/outbox.h): the changelog attaches both to every state it
 * writes from or restores into.
 * Reading keeps the highest epoch read so far: a CLAIM is valid above it, any other
 * record at or above it, and a valid record raises it to its own. On a whole log, a
 * record counts only when its epoch is that of the latest valid CLAIM before it, and a
 * claim only when its epoch is greater than every claim before it: what an owner that
 * lost the partition still writes is ignored by every reader. The layout is
 * in stream/changelog.c; docs/ARCHITECTURE.md tells the protocol. Kafka-agnostic:
 * records go out through a callback and come back as (offset, bytes). */
#ifndef STM_CHANGELOG_H
#define STM_CHANGELOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "crypto/crypto.h"
#include "stream/outbox.h"
#include "vault/state.h"

enum stm_cl_kind {
    STM_CL_CLAIM = 'C',
    STM_CL_CHANGES = 'D',
    STM_CL_COMMIT = 'K',
    STM_CL_SNAPSHOT = 'S',
};

/* The smallest message bound records can be cut to, and a bound that fits Kafka's
 * default message.max.bytes (1 MB) with room for the message's own framing. */
#define STM_CL_MIN_MESSAGE 16384
#define STM_CL_DEFAULT_MESSAGE (900u * 1024)

/* Where a partition stands after a commit: carried by COMMIT and SNAPSHOT. */
typedef struct stm_cl_point {
    uint64_t seq;      /* batches committed on the partition, across owners (0: none yet) */
    int64_t offset;    /* the last input offset applied (-1: none): resume at offset + 1 */
    char chain[256];   /* the partition's audit chain ("" before its first record) */
    uint64_t head_seq; /* and its head: seq, hash (64 hex digits; zeros before the first) */
    char head_hash[65];
} stm_cl_point;

/* One record, decoded and authenticated: owner and entries borrowed from its bytes. */
typedef struct stm_cl_rec {
    int kind;
    uint64_t epoch;
    const char *owner; /* CLAIM */
    size_t owner_len;
    uint64_t seq;         /* CHANGES, COMMIT, SNAPSHOT: the batch (as of which, for SNAPSHOT) */
    uint32_t index;       /* CHANGES, SNAPSHOT: the chunk */
    uint32_t count;       /* SNAPSHOT: its chunks; COMMIT: the batch's CHANGES chunks */
    uint32_t nout;        /* COMMIT: the batch's outbox messages */
    stm_cl_point point;   /* COMMIT, SNAPSHOT */
    const uint8_t *items; /* CHANGES, SNAPSHOT: nitems entries and outbox messages */
    size_t items_len;
    uint32_t nitems;
    uint8_t mac[CRY_MAC_LEN];
} stm_cl_rec;

/* A partition's codec: its key, derived from master (borrowed) and bound to the
 * partition. NULL with err (CM_EENV) when the crypto library fails. */
typedef struct stm_clog stm_clog;
stm_clog *stm_clog_new(const cry_secret *master, int32_t partition, cm_err *err);
void stm_clog_free(stm_clog *c);

/* Receives each record made (bytes borrowed until it returns); a negative return stops
 * the writer and is returned. */
typedef int (*stm_cl_emit)(void *arg, const void *p, size_t n);

/* A CLAIM for epoch (> 0) by owner (up to 255 bytes). 0, CM_EINPUT (a bad argument),
 * CM_EENV (the library), or emit's return. */
int stm_clog_claim(stm_clog *c, uint64_t epoch, const char *owner, stm_cl_emit emit, void *arg,
                   cm_err *err);
/* A batch: what s tracked as changed (vault/delta.h) and the batch's outbox (out[0..nout),
 * borrowed) as CHANGES records of at most max bytes each, then its COMMIT at pt (pt->seq is
 * the batch's seq: the last committed + 1). The changes stay tracked: clear them (flush,
 * or vlt_state_changes_clear) once the records are durable. Codes as stm_clog_claim;
 * CM_EENV when one entry cannot fit max. */
int stm_clog_batch(stm_clog *c, vlt_state *s, uint64_t epoch, const stm_cl_point *pt,
                   const stm_outmsg *out, size_t nout, size_t max, stm_cl_emit emit, void *arg,
                   cm_err *err);
/* A SNAPSHOT of s as of the commit at pt, in chunks of at most max bytes, with the
 * outbox messages not yet known delivered (pending[0..npending)), which a restore gives
 * back as that commit's outbox. Codes as stm_clog_batch. Write its chunks back to back,
 * after the commit at pt and before the next batch. */
int stm_clog_snapshot(stm_clog *c, vlt_state *s, uint64_t epoch, const stm_cl_point *pt,
                      const stm_outmsg *pending, size_t npending, size_t max, stm_cl_emit emit,
                      void *arg, cm_err *err);

/* Decodes one record (p borrowed for as long as r is used): 0; CM_EINPUT when it is not
 * a changelog record of this version or is malformed, CM_ECHECK when it does not
 * authenticate (altered, another partition's, or another master key's). */
int stm_clog_decode(stm_clog *c, const void *p, size_t n, stm_cl_rec *r, cm_err *err);

/* A record of the log as read: its offset in the partition and its bytes (borrowed). */
typedef struct stm_cl_msg {
    int64_t offset;
    const void *p;
    size_t n;
} stm_cl_msg;

/* The outbox of one commit: its audit records, to reconcile with the audit topic. */
typedef struct stm_cl_outbox {
    uint64_t seq;
    stm_outmsg *m;
    size_t n;
} stm_cl_outbox;

typedef struct stm_cl_restored {
    vlt_state *state;      /* new, in memory, under the master key: the caller takes it */
    stm_cl_point point;    /* where the partition stands */
    uint64_t epoch;        /* the current epoch (0: none): claim above it to own */
    char owner[256];       /* its claim's owner ("" when the claim was trimmed away) */
    int64_t claim_offset;  /* and where that claim is (-1: not in the log read) */
    int64_t snapshot_at;   /* the offset of the snapshot's first chunk (-1: none used) */
    size_t batches;        /* batches applied after it */
    size_t ignored;        /* records ignored: fenced, duplicated, uncommitted, superseded */
    stm_cl_outbox *outbox; /* the outboxes of the last commits, oldest first */
    size_t noutbox, keep;  /* how many, and how many at most */
    int64_t resume_at;     /* read on from here (after the last record that counted) */
} stm_cl_restored;

/* Restores a partition from its log (log[0..n), in offset order): the latest complete
 * valid SNAPSHOT, then every batch committed after it, in order; a batch without its
 * COMMIT, and every record fenced by a later claim, are ignored. The outboxes of the
 * last `keep` commits are kept in out. 0; or with err and nothing in out: CM_EINPUT (a
 * malformed record, a batch that cannot apply), CM_ECHECK (a record that does not
 * authenticate, a gap in the batches: the log was cut before a complete snapshot),
 * CM_EENV (the library). */
int stm_clog_restore(stm_clog *c, const cry_secret *master, const stm_cl_msg *log, size_t n,
                     size_t keep, stm_cl_restored *out, cm_err *err);
/* Goes on from a restore with the records from r->resume_at on (tail[0..n), in offset
 * order): later claims fence as they would have, and each batch committed in the tail is
 * applied to r->state, which must be as the log left it at r->point (a restore's, or a
 * local cache's with its point, epoch and resume_at filled in by the caller). Snapshots
 * in the tail are not needed and are ignored. Codes as stm_clog_restore; on failure r is
 * cleared (its state freed): restore from the start. With a state that has a file, the
 * entries applied stay tracked for its flush. */
int stm_clog_restore_more(stm_clog *c, const stm_cl_msg *tail, size_t n, stm_cl_restored *r,
                          cm_err *err);
/* What a scan finds in a log, in offset order: a valid claim, a valid commit with its
 * batch's outbox, or a complete valid snapshot. Borrowed for the callback. */
typedef struct stm_cl_seen {
    int kind;       /* STM_CL_CLAIM, STM_CL_COMMIT or STM_CL_SNAPSHOT */
    int64_t offset; /* the claim's, the commit's, the snapshot's first chunk's */
    uint64_t epoch;
    const char *owner; /* CLAIM: owner_len bytes */
    size_t owner_len;
    stm_cl_point point;    /* COMMIT, SNAPSHOT (point.seq: the batch, as of which) */
    bool complete;         /* COMMIT: every chunk of its batch was read (else no outbox:
                            * the head was trimmed inside the batch) */
    const stm_outmsg *out; /* COMMIT: the batch's outbox messages, in order */
    size_t nout;
} stm_cl_seen;

/* Receives what a scan finds; a negative return (with err) stops the scan and is returned. */
typedef int (*stm_cl_scan_fn)(void *arg, const stm_cl_seen *s, cm_err *err);

/* Reads a log (log[0..n), in offset order) as a restore does, without a state: every
 * record decoded and authenticated, fenced, producers' duplicates dropped; fn gets each
 * valid CLAIM, each valid COMMIT with the outbox of its batch (its CHANGES, of the same
 * epoch and seq, read before it since the last claim), and each complete valid SNAPSHOT
 * (at its final chunk). It checks no order between batches: the caller does. 0; with
 * err: CM_EINPUT (a malformed record or outbox), CM_ECHECK (a record that does not
 * authenticate), CM_EENV (the library), or fn's return. */
int stm_clog_scan(stm_clog *c, const stm_cl_msg *log, size_t n, stm_cl_scan_fn fn, void *arg,
                  cm_err *err);
/* Frees what a restore left in r (the state too, unless taken: set r->state NULL). */
void stm_cl_restored_clear(stm_cl_restored *r);
#endif
