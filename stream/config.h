/* The `run` configuration file (SPEC §7), loaded strictly like the rules. */
#ifndef STM_CONFIG_H
#define STM_CONFIG_H
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

typedef struct stm_config {
    char **kafka_keys, **kafka_vals; /* passed to librdkafka as is */
    size_t nkafka;
    char *topic_events, *topic_audit, *topic_dead;
    /* Several instances (SPEC §7a): the changelog topic, one partition per events
     * partition (NULL: one instance, its state in one file), and the catalog topic
     * (NULL: none). With topic_state, `state` is a directory of local caches. */
    char *topic_state, *topic_catalog;
    char **rules; /* resolved against the config file's folder */
    size_t nrules;
    char **exemptions; /* the same; none by default */
    size_t nexemptions;
    char *state, *master_key;
    char *sign_key;
    int64_t checkpoint;
    char *clock; /* "wall" (default) or "event" */
    char *metrics_listen;
    int64_t metrics_timeout; /* seconds an idle metrics connection is kept */
    int64_t max_message, status_interval, backlog, batch;
    /* With topic_state: a partition's changelog gets a snapshot once this many bytes were
     * appended since the last (the embedded broker keeps 5 MiB of a partition). */
    int64_t snapshot_bytes;
} stm_config;

stm_config *stm_config_load(const char *path, cm_err *err);
/* The same from n bytes of YAML (borrowed, at most 1 MiB): path names them in errors, and
 * relative paths in them resolve against its folder. */
stm_config *stm_config_load_mem(const char *path, const char *yaml, size_t n, cm_err *err);
void stm_config_free(stm_config *c);
#endif
