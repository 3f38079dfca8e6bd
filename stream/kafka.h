/* Kafka through librdkafka: the embedded broker, reading partitions, and `run`. */
#ifndef STM_KAFKA_H
#define STM_KAFKA_H
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/util.h"
#include "stream/config.h"

/* Runs librdkafka's mock cluster on loopback until *stop. Prints the bootstrap list as
 * the first stdout line, then reads control commands from ctl (one per line):
 *   down ID | up ID | rtt ID MS | error API COUNT CODE | topic-error TOPIC CODE |
 *   clear-errors API | topic NAME PARTITIONS
 * and answers each with "ok" or "error: ..." on stdout. */
int stm_broker_run(int brokers, int partitions, const char *const *topics, size_t ntopics,
                   FILE *ctl, volatile sig_atomic_t *stop, cm_err *err);

/* Calls fn for every message of every partition of topic, from the low to the high
 * watermark at the time of the call. */
typedef int (*stm_msg_fn)(void *arg, int32_t partition, int64_t offset, const char *value,
                          size_t len);
int stm_kafka_read_topic(const stm_config *cfg, const char *topic, stm_msg_fn fn, void *arg,
                         cm_err *err);

typedef struct stm_signals {
    volatile sig_atomic_t *stop;
    volatile sig_atomic_t *reload;
} stm_signals;

/* `run`: consume events, decide, and get every record to the audit topic exactly once.
 * Returns 0 after a clean stop, CM_EINPUT for bad config or rules, CM_EENV when the
 * environment failed (the state, the broker); the error is printed. */
int stm_run(const stm_config *cfg, const stm_signals *sig);
#endif
