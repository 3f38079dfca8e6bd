/* The pipeline (STYLE.md): a source's message is decoded and translated, decided,
 * applied and recorded, and its records go to the chain's sink. Drivers own their
 * source and sink and call this core: `replay` (pipeline/replay.c: a file in, a trail
 * out) and `run` (stream/run.c: Kafka in, the state's outbox and Kafka out).
 *
 *   pip_message   one message: every decision it yields, recorded in order
 *   pip_commit    one batch: records durable first, then the state that counts them
 */
#ifndef PIP_PIPELINE_H
#define PIP_PIPELINE_H
#include <stddef.h>

#include "audit/audit.h"
#include "policy/engine.h"
#include "vault/state.h"

/* Told of each decision once its records reached the sink, or, with an asynchronous
 * writer (aud_writer_async), once they were queued for it (d and input borrowed). */
typedef void (*pip_decided_fn)(void *arg, const aud_decision *d, const char *input);

/* Records d, the message's first decision, then every further one the engine has for it
 * (eng NULL: d is the only one), each written by w and then passed to fn (may be NULL).
 * 0; or CM_EENV with err when the message cannot be kept (a fatal decision: the crypto
 * library failed; or a record the sink refused): nothing after the last commit may be
 * kept then, and a rerun redoes it. d is the caller's and reused. */
int pip_record(pol_engine *eng, const char *rules_hash, aud_writer *w, const char *input,
               aud_decision *d, pip_decided_fn fn, void *arg, cm_err *err);
/* pol_engine_process, then pip_record. */
int pip_message(pol_engine *eng, const char *rules_hash, aud_writer *w, const char *msg, size_t n,
                const char *input, aud_decision *d, pip_decided_fn fn, void *arg, cm_err *err);

/* A chain the batch wrote to. */
typedef struct pip_chain {
    const char *name;
    aud_writer *w;
} pip_chain;

/* Makes a batch durable: every writer's records reach its sink, flush (may be NULL)
 * makes the sink durable (a file), and only then do the chain heads, with whatever else
 * the driver put in the state (input positions, the outbox), commit in one transaction:
 * the sink always holds at least what the state counts. 0, or CM_EENV with err. */
int pip_commit(vlt_state *st, const pip_chain *chains, size_t n,
               int (*flush)(void *arg, cm_err *err), void *arg, cm_err *err);
#endif
