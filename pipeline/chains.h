/* The chain heads and replay positions a state keeps, owned by the pipeline: rows of
 * the store's meta table ("chain:NAME" -> "SEQ HASH", "replay:NAME" -> "LINES SIGNED
 * TIME INPUT"), held in memory as a part of the state's store (store/store.h), written
 * by the commit that makes their records durable, carried by a state's snapshot
 * (records tagged 'm') and by its changelog (entries of kind PIP_E_CHAIN, one per
 * chain; every chain's when any changed). */
#ifndef PIP_CHAINS_H
#define PIP_CHAINS_H
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "vault/state.h"

/* A chain head as a changelog's entry (vault/delta.h): name the chain; value, integers
 * little-endian: seq:u64, the head's hash (64 hex digits), has_pos:u8, and with a
 * replay position: lines:i64, last_signed:u64, then time and input each as length:u16
 * and bytes. */
#define PIP_E_CHAIN 'c'

/* Attaches the chain heads to st, read from its store: 0, or -1 with err when a row
 * fails its check. A driver calls it after opening the state (pip_commit does too);
 * the functions below see no chain while it has not succeeded. */
int pip_chains_open(vlt_state *st, cm_err *err);

/* Chain heads persist with the state so a chain continues across runs. */
bool pip_chain_get(vlt_state *st, const char *chain, uint64_t *seq, char hash[65]);
void pip_chain_set(vlt_state *st, const char *chain, uint64_t seq, const char hash[65]);
/* Calls fn for every chain head the state holds. */
void pip_chain_each(vlt_state *st,
                    void (*fn)(void *arg, const char *chain, uint64_t seq, const char *hash),
                    void *arg);

/* Where a replay into a chain stands, committed with its head: the input it reads and
 * the lines of it applied (-1 once that replay finished), the last signed seq and the
 * time of the last record, so an interrupted replay resumes exactly where it stopped. */
typedef struct pip_replay_pos {
    char input[512];
    int64_t lines;
    uint64_t last_signed;
    char time[64];
} pip_replay_pos;
bool pip_replay_get(vlt_state *st, const char *chain, pip_replay_pos *p);
/* Call after pip_chain_set for the same chain. */
void pip_replay_set(vlt_state *st, const char *chain, const pip_replay_pos *p);
#endif
