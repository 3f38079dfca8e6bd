/* stm_metrics: the counters of `run`, and a Prometheus text endpoint (GNU libmicrohttpd)
 * that serves them from its own thread, so that no client can stall the run loop.
 *
 * The run loop counts; the endpoint's thread reads. Scalar counters and gauges are C11
 * atomics; the labelled families (findings by rule and result, the latency histogram)
 * sit behind one mutex, taken once per decision or message. A scrape renders its answer
 * from these into a buffer of its own. */
#ifndef STM_METRICS_H
#define STM_METRICS_H
#include <stdbool.h>
#include <stdint.h>

#include "audit/decision.h"
#include "common/buf.h"
#include "common/util.h"

enum stm_counter {
    STM_EVENTS,          /* input messages decided */
    STM_RECORDS,         /* audit records written to the outbox */
    STM_DELIVERED,       /* outbox messages (records, dead letters) Kafka confirmed */
    STM_DEAD_LETTERS,    /* messages sent to the dead-letter topic */
    STM_RELOADS,         /* rule set reloads that took */
    STM_RELOAD_FAILURES, /* rule set reloads that kept the old set */
    STM__COUNTERS
};

enum stm_gauge {
    STM_LAG,          /* messages behind the events topic's high watermarks */
    STM_BACKLOG,      /* outbox messages produced, not yet confirmed */
    STM_PARTITIONS,   /* events partitions assigned */
    STM_PAUSED,       /* 1 while consumption is paused on the backlog */
    STM_RULES_LOADED, /* unix time of the last rule set that loaded */
    STM__GAUGES
};

typedef struct stm_metrics stm_metrics;

/* A new set of counters at zero, served nowhere yet; stm_metrics_free frees it. */
stm_metrics *stm_metrics_new(void);
/* Stops the endpoint (waiting for its thread) and frees everything; NULL is a no-op. */
void stm_metrics_free(stm_metrics *m);
/* Serves GET /metrics on listen, "HOST:PORT" or "[IPV6]:PORT", from a thread of its
 * own; a connection idle for timeout_s seconds is closed. 0, or -1 with err naming
 * the config field. */
int stm_metrics_listen(stm_metrics *m, const char *listen, int timeout_s, cm_err *err);

void stm_metrics_add(stm_metrics *m, enum stm_counter c, uint64_t n);
uint64_t stm_metrics_get(const stm_metrics *m, enum stm_counter c);
void stm_metrics_set(stm_metrics *m, enum stm_gauge g, int64_t v);
/* Counts one decision: its outcome, and the findings of each of its records (borrowed). */
void stm_metrics_decision(stm_metrics *m, const aud_decision *d);
/* One input message took seconds to decide and record. */
void stm_metrics_latency(stm_metrics *m, double seconds);

/* The Prometheus text exposition (format 0.0.4) of m, appended to b: 0, or -1 when b
 * hit its bound. */
int stm_metrics_render(stm_metrics *m, cm_buf *b);
#endif
