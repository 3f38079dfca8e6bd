/* The embedded broker and partition reading. */
#include "stream/kafka.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "stream/kafka_internal.h"

static const struct {
    const char *name;
    int16_t key;
} apis[] = {{"produce", 0},      {"fetch", 1},       {"listoffsets", 2},      {"metadata", 3},
            {"offsetcommit", 8}, {"offsetfetch", 9}, {"findcoordinator", 10}, {"joingroup", 11},
            {"heartbeat", 12},   {"syncgroup", 14},  {"initproducerid", 22}};

static int api_key(const char *name)
{
    for (size_t i = 0; i < CM_ARRAY_LEN(apis); i++)
        if (!strcmp(apis[i].name, name))
            return apis[i].key;
    return -1;
}

static void control(rd_kafka_mock_cluster_t *mc, char *line)
{
    char cmd[32] = "", a[256] = "", b[64] = "", c[64] = "";
    int n = sscanf(line, "%31s %255s %63s %63s", cmd, a, b, c);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (n >= 2 && !strcmp(cmd, "down"))
        e = rd_kafka_mock_broker_set_down(mc, atoi_checked(a));
    else if (n >= 2 && !strcmp(cmd, "up"))
        e = rd_kafka_mock_broker_set_up(mc, atoi_checked(a));
    else if (n >= 3 && !strcmp(cmd, "rtt"))
        e = rd_kafka_mock_broker_set_rtt(mc, atoi_checked(a), atoi_checked(b));
    else if (n >= 4 && !strcmp(cmd, "error") && api_key(a) >= 0) {
        int cnt = atoi_checked(b);
        if (cnt < 1 || cnt > 1000000) {
            printf("error: count must be 1..1000000\n");
            fflush(stdout);
            return;
        }
        rd_kafka_resp_err_t *codes = cm_xcalloc((size_t)cnt, sizeof *codes);
        for (int i = 0; i < cnt; i++)
            codes[i] = (rd_kafka_resp_err_t)atoi_checked(c);
        rd_kafka_mock_push_request_errors_array(mc, api_key(a), (size_t)cnt, codes);
        free(codes);
    } else if (n >= 2 && !strcmp(cmd, "clear-errors") && api_key(a) >= 0)
        rd_kafka_mock_clear_request_errors(mc, api_key(a));
    else if (n >= 3 && !strcmp(cmd, "topic-error"))
        rd_kafka_mock_topic_set_error(mc, a, (rd_kafka_resp_err_t)atoi_checked(b));
    else if (n >= 3 && !strcmp(cmd, "topic"))
        e = rd_kafka_mock_topic_create(mc, a, atoi_checked(b), 1);
    else {
        printf("error: unknown command '%s'\n", cmd);
        fflush(stdout);
        return;
    }
    if (e)
        printf("error: %s\n", rd_kafka_err2str(e));
    else
        printf("ok\n");
    fflush(stdout);
}

int atoi_checked(const char *s)
{
    int64_t v = 0;
    return cm_parse_i64(s, &v) && v >= INT32_MIN && v <= INT32_MAX ? (int)v : -1;
}

int stm_broker_run(int brokers, int partitions, const char *const *topics, size_t ntopics,
                   FILE *ctl, volatile sig_atomic_t *stop, cm_err *err)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        cm_err_set(err, "broker", 0, 0, "%s", errstr);
        return -1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        cm_err_set(err, "broker", 0, 0, "cannot start the mock cluster");
        rd_kafka_destroy(rk);
        return -1;
    }
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_mock_topic_create(mc, topics[i], partitions, brokers < 3 ? brokers : 3);
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    int fd = ctl ? fileno(ctl) : -1;
    char line[512];
    size_t used = 0;
    while (!*stop) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = fd >= 0 ? poll(&p, 1, 200) : (usleep(200000), 0);
        if (r <= 0 || !(p.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t got = read(fd, line + used, sizeof line - 1 - used);
        if (got <= 0) {
            fd = -1; /* control input closed: keep serving until a signal */
            continue;
        }
        used += (size_t)got;
        line[used] = '\0';
        char *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            if (*line)
                control(mc, line);
            used -= (size_t)(nl + 1 - line);
            memmove(line, nl + 1, used + 1);
        }
        if (used == sizeof line - 1)
            used = 0;
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

/* ---------- configuration shared by clients ---------- */

static bool consumer_only(const char *k)
{
    static const char *const keys[] = {"group.id",
                                       "auto.offset.reset",
                                       "enable.auto.commit",
                                       "session.timeout.ms",
                                       "enable.auto.offset.store",
                                       "partition.assignment.strategy",
                                       "max.poll.interval.ms",
                                       "group.instance.id",
                                       "heartbeat.interval.ms",
                                       "fetch.min.bytes",
                                       "fetch.wait.max.ms",
                                       "queued.min.messages",
                                       "isolation.level"};
    for (size_t i = 0; i < CM_ARRAY_LEN(keys); i++)
        if (!strcmp(keys[i], k))
            return true;
    return false;
}

static bool producer_only(const char *k)
{
    static const char *const keys[] = {"acks",
                                       "enable.idempotence",
                                       "linger.ms",
                                       "message.timeout.ms",
                                       "delivery.timeout.ms",
                                       "compression.type",
                                       "batch.num.messages",
                                       "queue.buffering.max.ms",
                                       "transactional.id"};
    for (size_t i = 0; i < CM_ARRAY_LEN(keys); i++)
        if (!strcmp(keys[i], k))
            return true;
    return false;
}

rd_kafka_conf_t *stm_conf(const stm_config *cfg, bool producer, cm_err *err)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < cfg->nkafka; i++) {
        const char *k = cfg->kafka_keys[i];
        if (producer ? consumer_only(k) : producer_only(k))
            continue;
        if (rd_kafka_conf_set(conf, k, cfg->kafka_vals[i], errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            cm_err_set(err, "config", 0, 0, "kafka.%s: %s", k, errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

int stm_set(rd_kafka_conf_t *conf, const char *k, const char *v, cm_err *err)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        cm_err_set(err, "config", 0, 0, "kafka.%s: %s", k, errstr);
        return -1;
    }
    return 0;
}

/* ---------- reading a topic ---------- */

int stm_partition_count(rd_kafka_t *rk, const char *topic, cm_err *err)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    for (int attempt = 0; attempt < 20 && n <= 0; attempt++) {
        if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                n = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (n <= 0)
            usleep(100000); /* a topic being created: ask again */
    }
    rd_kafka_topic_destroy(t);
    if (n <= 0)
        cm_err_set(err, topic, 0, 0, "cannot read the topic's metadata (broker unreachable?)");
    return n;
}

int stm_read_range(rd_kafka_t *rk, const char *topic, int32_t part, int64_t from, int64_t to,
                   stm_msg_fn fn, void *arg, cm_err *err)
{
    if (from >= to)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, part)->offset = from;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t next = from;
    int rc = 0, idle = 0;
    while (rc == 0 && next < to) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m) {
            if (++idle > 120) {
                cm_err_set(err, topic, 0, 0, "partition %d: timed out reading offsets %lld..%lld",
                           (int)part, (long long)next, (long long)to);
                rc = -1;
            }
            continue;
        }
        idle = 0;
        if (m->err) {
            /* The client retries fetches itself: what it reports while it does (a broker
             * down, a leader moving) is waited out, bounded by the idle limit above; an
             * offset gone from the partition is not. */
            if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
                m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                cm_err_set(err, topic, 0, 0, "partition %d: %s", (int)part,
                           rd_kafka_message_errstr(m));
                rc = -1;
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                cm_log("%s partition %d: %s (retrying)", topic, (int)part,
                       rd_kafka_message_errstr(m));
            }
        } else if (m->partition == part && m->offset >= next) {
            next = m->offset + 1;
            rc = fn(arg, m->partition, m->offset, m->payload, m->len);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(rk, NULL);
    return rc;
}

rd_kafka_t *stm_reader_new(const stm_config *cfg, cm_err *err)
{
    rd_kafka_conf_t *conf = stm_conf(cfg, false, err);
    char group[64], errstr[512];
    snprintf(group, sizeof group, "cmkguard-reader-%d", (int)getpid());
    if (!conf || stm_set(conf, "group.id", group, err) < 0 ||
        stm_set(conf, "enable.auto.commit", "false", err) < 0 ||
        stm_set(conf, "enable.partition.eof", "false", err) < 0 ||
        /* a reader reads what is there: no waiting for more at the end of a range */
        stm_set(conf, "fetch.wait.max.ms", "20", err) < 0) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk)
        cm_err_set(err, "kafka", 0, 0, "%s", errstr);
    return rk;
}

int stm_kafka_read_topic(const stm_config *cfg, const char *topic, stm_msg_fn fn, void *arg,
                         cm_err *err)
{
    rd_kafka_t *rk = stm_reader_new(cfg, err);
    if (!rk)
        return -1;
    int n = stm_partition_count(rk, topic, err), rc = n > 0 ? 0 : -1;
    for (int32_t p = 0; rc == 0 && p < n; p++) {
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (e) {
            cm_err_set(err, topic, 0, 0, "partition %d: %s", (int)p, rd_kafka_err2str(e));
            rc = -1;
            break;
        }
        rc = stm_read_range(rk, topic, p, lo, hi, fn, arg, err);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
