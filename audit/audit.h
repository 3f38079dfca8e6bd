/* audit: records as RFC 8785 canonical JSON, SHA-256 hash chain, Ed25519 signatures,
 * checkpoints, and verification (SPEC §5). */
#ifndef AUD_AUDIT_H
#define AUD_AUDIT_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/decision.h"
#include "common/util.h"
#include "crypto/crypto.h"

#define AUD_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* Where records go: one call per record; line has no trailing newline. */
typedef int (*aud_sink_fn)(void *arg, const char *subject, const char *line, size_t n);

enum aud_clock { AUD_CLOCK_EVENT, AUD_CLOCK_WALL };

typedef struct aud_writer aud_writer;

/* signer may be NULL (chained, unsigned). checkpoint 0 signs every record. Borrows signer. */
aud_writer *aud_writer_new(const char *chain, cry_signer *signer, unsigned checkpoint,
                           enum aud_clock clock, aud_sink_fn sink, void *arg);
void aud_writer_free(aud_writer *w);
/* Bounds each record at max bytes (0: CM_BUF_MAX_DEFAULT, the default). A record that
 * would be larger is refused with an error: never written cut, never chained. */
void aud_writer_bound(aud_writer *w, size_t max);
/* Continues a chain from its head (before aud_writer_async, or right after a drain). */
void aud_writer_resume(aud_writer *w, uint64_t seq, const char hash[65]);
/* After resume, within one interrupted run: the last signed seq and the last record's
 * time, so checkpoints come out as if the run had never stopped. */
void aud_writer_restore(aud_writer *w, uint64_t last_signed, const char *time);
uint64_t aud_writer_last_signed(aud_writer *w);
const char *aud_writer_last_time(const aud_writer *w);
/* Writes the decision record and its fan-out records. */
int aud_writer_emit(aud_writer *w, const aud_decision *d, const char *rules_hash, cm_err *err);
/* From now on the calling thread only lays records out; a worker thread chains, hashes
 * and signs them and hands them to the sink, one at a time and in order. A record over
 * its bound is still refused by emit; a sink or signing failure is reported by the next
 * emit, finish or drain, and every record after it is refused with the same error. A
 * sink that is not the calling thread's alone must not be used asynchronously. -1 when
 * the thread cannot start. */
int aud_writer_async(aud_writer *w);
/* Waits until every record emitted so far reached the sink; -1 with err if one failed. */
int aud_writer_drain(aud_writer *w, cm_err *err);
/* Checkpoint mode: the final signed checkpoint record (no-op otherwise). */
int aud_writer_finish(aud_writer *w, cm_err *err);
/* The last record that reached the sink and its hash (asynchronously: once every record
 * emitted so far did; a failure is left for the next emit or drain to report). */
uint64_t aud_writer_seq(aud_writer *w);
const char *aud_writer_head(aud_writer *w);

/* Reads chain, seq and (when hash is not NULL) hash off a record as the writer lays it
 * out, without parsing it whole: for finding a chain's tail. False when it does not fit. */
bool aud_record_peek(const char *line, size_t n, char *chain, size_t chain_len,
                     unsigned long long *seq, char hash[65]);

/* The largest record a verifier reads. */
#define AUD_MAX_RECORD ((size_t)16 << 20)

/* Verification of a record stream, line by line. */
typedef struct aud_verifier aud_verifier;
aud_verifier *aud_verifier_new(cry_verifier *key);
void aud_verifier_free(aud_verifier *v);
/* A record that passed every check, as a parsed tree (yajl's, borrowed for the call),
 * for readers of verified trails (export, report). where names it ("FILE:LINE").
 * -1 with err stops the verification there. */
struct yajl_val_s;
typedef int (*aud_record_fn)(void *arg, const char *where, const struct yajl_val_s *rec,
                             cm_err *err);
/* Calls fn (NULL: nobody) with every record once it verified. */
void aud_verifier_on_record(aud_verifier *v, aud_record_fn fn, void *arg);
/* What verification found of one chain, in first-seen order (i < count). */
typedef struct aud_chain_info {
    const char *chain; /* borrowed from the verifier */
    uint64_t first, last, last_signed, records;
    bool failed;      /* verification stopped at a record of this chain */
    const char *head; /* the last record's hash */
} aud_chain_info;
size_t aud_verifier_chain_count(const aud_verifier *v);
void aud_verifier_chain(const aud_verifier *v, size_t i, aud_chain_info *out);
/* Checks one record; where names it for errors ("FILE:LINE"). -1 with err on the first problem. */
int aud_verifier_line(aud_verifier *v, const char *where, const char *line, size_t n, cm_err *err);
/* After the last record: unsigned tails. Fills summary JSON on success. */
int aud_verifier_end(aud_verifier *v, cm_buf *summary, cm_err *err);
/* Verifies the record files (none: stdin; "-" is stdin) in order through v, then its
 * summary into summary. 0; CM_EINPUT when a file cannot be opened, CM_EENV on a read
 * error, CM_ECHECK when a record fails (err names it). */
int aud_verify_files(aud_verifier *v, const char *const *files, size_t nfiles, cm_buf *summary,
                     cm_err *err);
#endif
