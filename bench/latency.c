/* Produce-to-audit latency for make bench: produces events to the events topic at a
 * fixed rate, reads the audit topic, and reports p50/p99/max from the moment each event
 * was handed to the producer to the moment its decision record was read.
 * usage: bench-latency --brokers B [--rate N] [--seconds S] [--tenants N]
 *                      [--events-topic T] [--audit-topic T] */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double *sent, *lat;
static long total;
static atomic_long seen_n;
static atomic_int stop;
static rd_kafka_t *cons;

static void *consume(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 100);
        if (!m)
            continue;
        double t = now();
        if (!m->err && m->payload) {
            const char *p = memmem(m->payload, m->len, "\"cause\":\"lat-", 13);
            if (p) {
                long i = strtol(p + 13, NULL, 10);
                if (i >= 0 && i < total && sent[i] > 0 && lat[i] < 0) {
                    lat[i] = t - sent[i];
                    atomic_fetch_add(&seen_n, 1);
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static rd_kafka_conf_t *conf(const char *brokers)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char e[256];
    rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof e);
    return c;
}

int main(int argc, char **argv)
{
    const char *brokers = NULL;
    double rate = 5000, secs = 10;
    int tenants = 16;
    const char *events_topic = "cmk.events", *audit_topic = "cmk.audit";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--brokers"))
            brokers = argv[i + 1];
        else if (!strcmp(argv[i], "--rate"))
            rate = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--seconds"))
            secs = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--tenants")) {
            int64_t n;
            tenants = cm_parse_i64(argv[i + 1], &n) && n > 0 && n <= 1 << 20 ? (int)n : 0;
        } else if (!strcmp(argv[i], "--events-topic"))
            events_topic = argv[i + 1];
        else if (!strcmp(argv[i], "--audit-topic"))
            audit_topic = argv[i + 1];
    }
    if (!brokers || rate <= 0 || secs <= 0 || tenants < 1) {
        fprintf(stderr,
                "usage: bench-latency --brokers B [--rate N] [--seconds S] [--tenants N]\n");
        return 2;
    }
    total = (long)(rate * secs);
    sent = calloc((size_t)total, sizeof *sent);
    lat = malloc((size_t)total * sizeof *lat);
    for (long i = 0; i < total; i++)
        lat[i] = -1;
    char e[512];
    rd_kafka_conf_t *cc = conf(brokers);
    char gid[64];
    snprintf(gid, sizeof gid, "bench-latency-%ld", (long)time(NULL));
    rd_kafka_conf_set(cc, "group.id", gid, e, sizeof e);
    rd_kafka_conf_set(cc, "enable.auto.commit", "false", e, sizeof e);
    rd_kafka_conf_set(cc, "fetch.wait.max.ms", "1", e, sizeof e);
    rd_kafka_conf_set(cc, "fetch.error.backoff.ms", "1", e, sizeof e);
    cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof e);
    rd_kafka_poll_set_consumer(cons);
    /* No group: the audit partitions are assigned directly at their current ends, so
     * no rebalance can pause the reading mid-run. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *at = rd_kafka_topic_new(cons, audit_topic, NULL);
    if (rd_kafka_metadata(cons, 0, at, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt < 1 || md->topics[0].partition_cnt < 1) {
        fprintf(stderr, "bench-latency: no metadata for %s\n", audit_topic);
        return 1;
    }
    int nparts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(at);
    rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(cons, audit_topic, p, &lo, &hi, 10000)) {
            fprintf(stderr, "bench-latency: no offsets for %s/%d\n", audit_topic, p);
            return 1;
        }
        rd_kafka_topic_partition_list_add(as, audit_topic, p)->offset = hi;
    }
    rd_kafka_assign(cons, as);
    rd_kafka_topic_partition_list_destroy(as);
    pthread_t th;
    pthread_create(&th, NULL, consume, NULL);
    rd_kafka_conf_t *pc = conf(brokers);
    rd_kafka_conf_set(pc, "linger.ms", "0", e, sizeof e);
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof e);
    /* Connected, with the topic's metadata, before the clock starts. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, events_topic, NULL);
    md = NULL;
    if (rd_kafka_metadata(prod, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    static const char R[] =
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts";
    double start = now() + 0.5;
    for (long i = 0; i < total; i++) {
        double due = start + (double)i / rate;
        while (now() < due) {
            rd_kafka_poll(prod, 0);
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
        char key[16], msg[600];
        int t = (int)(i % tenants);
        snprintf(key, sizeof key, "lt%d", t);
        int n = snprintf(msg, sizeof msg,
                         "{\"specversion\":\"1.0\",\"id\":\"lat-%ld\",\"source\":\"/bench\","
                         "\"type\":\"resource.created\",\"subject\":\"%s/lat%ld\",\"time\":"
                         "\"2026-11-23T10:00:00Z\",\"data\":{\"kind\":\"Face\",\"tenant\":\"lt%d\","
                         "\"region\":\"westeurope\",\"subscription\":\"s\"}}",
                         i, R, i, t);
        sent[i] = now();
        while (rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(events_topic),
                                 RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(msg, (size_t)n),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(prod, 1);
    }
    double produced = now() - start;
    rd_kafka_flush(prod, 30000);
    double wait0 = now();
    while (atomic_load(&seen_n) < total && now() - wait0 < 60) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    long n = 0;
    for (long i = 0; i < total; i++)
        if (lat[i] >= 0)
            lat[n++] = lat[i];
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("latency_offered_per_s %.0f\nlatency_achieved_per_s %.0f\nlatency_events %ld\n"
           "latency_records %ld\n",
           rate, (double)total / produced, total, n);
    if (n) {
        printf("latency_p50_ms %.2f\nlatency_p99_ms %.2f\nlatency_max_ms %.2f\n", lat[n / 2] * 1e3,
               lat[(size_t)((double)n * 0.99)] * 1e3, lat[n - 1] * 1e3);
    }
    rd_kafka_assign(cons, NULL);
    rd_kafka_destroy(cons);
    rd_kafka_destroy(prod);
    free(sent);
    free(lat);
    return n == total ? 0 : 1;
}
