/* A partition owned among several instances (SPEC §7a), over Kafka: its changelog in the
 * `state` topic read, claimed and appended to (stream/changelog.h makes and reads the
 * records), its state restored from it, and the outbox of its last commits reconciled
 * with the audit topic. docs/ARCHITECTURE.md tells the protocol; `run` (stream/run.c)
 * decides the partition's events on the state this gives it. */
#ifndef STM_OWNER_H
#define STM_OWNER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "stream/changelog.h"
#include "stream/config.h"
#include "stream/outbox.h"

/* What every owned partition of an instance shares. */
typedef struct stm_log_io {
    const stm_config *cfg;
    const cry_secret *master; /* borrowed: the shared master key */
    char who[256];            /* this instance, in its claims */
    size_t max;               /* the bound of one changelog record */
    rd_kafka_t *prod;         /* the changelog's producer: idempotent, acks=all */
    rd_kafka_t *reader;       /* an assign-only consumer, for reading partitions */
    int64_t inflight;         /* changelog records produced, not yet acknowledged */
    bool failed;              /* a record could not be delivered: stop */
    char failed_msg[512];
} stm_log_io;

/* Sets up io's producer and reader for cfg (io->master and io->who set by the caller):
 * 0, or -1 with err. */
int stm_log_io_open(stm_log_io *io, const stm_config *cfg, cm_err *err);
void stm_log_io_close(stm_log_io *io);

/* One partition this instance owns. */
typedef struct stm_owned {
    int32_t part;
    stm_clog *clog;
    uint64_t epoch;        /* this instance's claim */
    int64_t claim_offset;  /* and where it is in the state topic */
    stm_cl_point pt;       /* where the partition stands after the last commit */
    vlt_state *st;         /* in memory, tracking its changes */
    stm_cl_outbox *outbox; /* the outboxes of the commits since the last snapshot: to
                            * reconcile with the audit topic, then freed */
    size_t noutbox;
    size_t since_snapshot; /* bytes appended since the last snapshot */
    size_t commits;        /* commits since the last snapshot */
    double restore_s;      /* how long restoring and claiming took */
    bool cached;           /* restored from the local cache and the changelog after it */
    size_t restored_batches, ignored;
} stm_owned;

/* Restores partition part from its changelog, claims it above every claim read, and
 * reads on up to its own claim: the partition is owned once that claim is the current
 * one (another instance claiming at the same moment makes it claim again). 0, or -1
 * with err (a changelog record that does not authenticate or does not apply: damage is
 * never read as truth; the broker unreachable). */
int stm_owner_take(stm_log_io *io, int32_t part, stm_owned *o, cm_err *err);
/* Appends a batch: what o->st tracked as changed and the batch's outbox (out[0..n)), then
 * its COMMIT at pt; o->pt becomes pt and the changes are cleared. Not yet durable: see
 * stm_owner_sync. 0, or -1 with err. */
int stm_owner_batch(stm_log_io *io, stm_owned *o, const stm_cl_point *pt, const stm_outmsg *out,
                    size_t n, cm_err *err);
/* Appends a snapshot of o->st as of o->pt (call it only when the partition's audit records
 * are all delivered: a snapshot carries no outbox). 0, or -1 with err. */
int stm_owner_snapshot(stm_log_io *io, stm_owned *o, cm_err *err);
/* Waits until every changelog record appended is acknowledged: 0, or -1 with err when one
 * cannot be delivered. */
int stm_owner_sync(stm_log_io *io, cm_err *err);
/* The records of o->outbox that the audit topic (audit_part of it) lacks, each passed to
 * send in order; the dead letters are all passed (at least once). Frees o->outbox. 0, -1
 * with err (the audit topic unreadable), or send's negative return. */
typedef int (*stm_send_fn)(void *arg, const stm_outmsg *m);
int stm_owner_reconcile(stm_log_io *io, stm_owned *o, int32_t audit_part, stm_send_fn send,
                        void *arg, size_t *resent, cm_err *err);
/* Writes o's state, as of its last commit, to the local cache of its partition (in the
 * config's state directory), for the next owner on this machine: call it once the
 * partition's batches are all logged. 0, or -1 with err (nothing written). */
int stm_owner_save(stm_log_io *io, stm_owned *o, cm_err *err);
/* Frees what o holds (its state too, unless taken: set o->st NULL). */
void stm_owned_clear(stm_owned *o);
#endif
