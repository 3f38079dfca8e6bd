/* Helpers shared by the files of stream/ that speak librdkafka. */
#ifndef STM_KAFKA_INTERNAL_H
#define STM_KAFKA_INTERNAL_H
#include <librdkafka/rdkafka.h>

#include "stream/kafka.h"

int atoi_checked(const char *s);
/* A client configuration from the config's kafka map (without the other side's keys). */
rd_kafka_conf_t *stm_conf(const stm_config *cfg, bool producer, cm_err *err);
int stm_set(rd_kafka_conf_t *conf, const char *k, const char *v, cm_err *err);
int stm_partition_count(rd_kafka_t *rk, const char *topic, cm_err *err);
/* Reads offsets [from, to) of one partition with an assign-only consumer. */
int stm_read_range(rd_kafka_t *rk, const char *topic, int32_t part, int64_t from, int64_t to,
                   stm_msg_fn fn, void *arg, cm_err *err);
rd_kafka_t *stm_reader_new(const stm_config *cfg, cm_err *err);
#endif
