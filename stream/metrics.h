/* Counters of `run`, and a Prometheus text endpoint served from the run loop. */
#ifndef STM_METRICS_H
#define STM_METRICS_H
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

typedef struct stm_metrics {
    uint64_t events, records, records_delivered, dead_letters, reloads, reload_failures;
    uint64_t outcomes[5];
    int64_t lag, backlog;
    int partitions;
    bool paused;
    int fd; /* listening socket, -1 when off */
} stm_metrics;

void stm_metrics_init(stm_metrics *m);
/* listen is "HOST:PORT" (loopback or any address the operator chooses). */
int stm_metrics_listen(stm_metrics *m, const char *listen, cm_err *err);
/* Answers the connections waiting now; never blocks. */
void stm_metrics_serve(stm_metrics *m);
void stm_metrics_close(stm_metrics *m);
#endif
