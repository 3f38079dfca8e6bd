/* Produce-to-audit latency for make bench: produces events to the events topic at a
 * fixed rate, reads the audit topic, and reports p50/p99/max from the moment each event
 * was handed to the producer to the moment its decision record was read (latency_*).
 * With --pass-events-topic and --pass-out-topic, the same probe (the same rate, events
 * and topic shape) runs first through a passthrough the caller runs between those two
 * topics (kcat -C | kcat -P), each event read back as itself (latency_pass_*), and the
 * ratio of the two p99s is printed (latency_p99_vs_pass).
 * usage: bench-latency --brokers B [--rate N] [--seconds S] [--tenants N]
 *                      [--events-topic T] [--audit-topic T]
 *                      [--pass-events-topic T --pass-out-topic T] */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
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

/* One probe: events produced at a fixed rate to one topic, each found again in another
 * by its id after `"FIELD":"` (an audit record's cause, or the event itself). */
struct probe {
    const char *brokers, *events_topic, *out_topic, *field;
    double rate, secs;
    int tenants;
    double *sent, *lat;
    long total;
    atomic_long seen_n;
    atomic_int stop;
    rd_kafka_t *cons;
};

static void *consume(void *arg)
{
    struct probe *p = arg;
    char pat[64];
    int pn = snprintf(pat, sizeof pat, "\"%s\":\"lat-", p->field);
    while (!atomic_load(&p->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p->cons, 100);
        if (!m)
            continue;
        double t = now();
        if (!m->err && m->payload) {
            const char *at = memmem(m->payload, m->len, pat, (size_t)pn);
            if (at) {
                long i = strtol(at + pn, NULL, 10);
                if (i >= 0 && i < p->total && p->sent[i] > 0 && p->lat[i] < 0) {
                    p->lat[i] = t - p->sent[i];
                    atomic_fetch_add(&p->seen_n, 1);
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

/* Runs the probe and prints its figures, each name starting with prefix. Returns the
 * p99 in ms (-1 when nothing came back); *complete says whether every event did. */
static double run_probe(struct probe *p, const char *prefix, bool *complete)
{
    p->total = (long)(p->rate * p->secs);
    p->sent = calloc((size_t)p->total, sizeof *p->sent);
    p->lat = malloc((size_t)p->total * sizeof *p->lat);
    for (long i = 0; i < p->total; i++)
        p->lat[i] = -1;
    atomic_store(&p->seen_n, 0);
    atomic_store(&p->stop, 0);
    char e[512];
    rd_kafka_conf_t *cc = conf(p->brokers);
    char gid[64];
    snprintf(gid, sizeof gid, "bench-latency-%ld", (long)time(NULL));
    rd_kafka_conf_set(cc, "group.id", gid, e, sizeof e);
    rd_kafka_conf_set(cc, "enable.auto.commit", "false", e, sizeof e);
    rd_kafka_conf_set(cc, "fetch.wait.max.ms", "1", e, sizeof e);
    rd_kafka_conf_set(cc, "fetch.error.backoff.ms", "1", e, sizeof e);
    p->cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof e);
    rd_kafka_poll_set_consumer(p->cons);
    /* No group: the output partitions are assigned directly at their current ends, so
     * no rebalance can pause the reading mid-run. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *at = rd_kafka_topic_new(p->cons, p->out_topic, NULL);
    if (rd_kafka_metadata(p->cons, 0, at, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt < 1 || md->topics[0].partition_cnt < 1) {
        fprintf(stderr, "bench-latency: no metadata for %s\n", p->out_topic);
        exit(1);
    }
    int nparts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(at);
    rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(nparts);
    for (int i = 0; i < nparts; i++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(p->cons, p->out_topic, i, &lo, &hi, 10000)) {
            fprintf(stderr, "bench-latency: no offsets for %s/%d\n", p->out_topic, i);
            exit(1);
        }
        rd_kafka_topic_partition_list_add(as, p->out_topic, i)->offset = hi;
    }
    rd_kafka_assign(p->cons, as);
    rd_kafka_topic_partition_list_destroy(as);
    pthread_t th;
    pthread_create(&th, NULL, consume, p);
    rd_kafka_conf_t *pc = conf(p->brokers);
    rd_kafka_conf_set(pc, "linger.ms", "0", e, sizeof e);
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof e);
    /* Connected, with the topic's metadata, before the clock starts. */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, p->events_topic, NULL);
    md = NULL;
    if (rd_kafka_metadata(prod, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    static const char R[] =
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts";
    double start = now() + 0.5;
    for (long i = 0; i < p->total; i++) {
        double due = start + (double)i / p->rate;
        while (now() < due) {
            rd_kafka_poll(prod, 0);
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
        char key[16], msg[2048];
        int t = (int)(i % p->tenants), pad = 1, n = 0;
        int kn = snprintf(key, sizeof key, "lt%d", t);
        /* kcat -P reads its input 1 KiB at a time (fread), so a line that does not end
         * on a 1 KiB boundary waits there for the next ones: an extension attribute
         * (accepted and ignored, SPEC §2) pads the event until the line kcat -C writes
         * (key, tab, event, newline) is 1 KiB, and the passthrough forwards each event
         * as it comes. Both probes send the same events. */
        for (int round = 0; round < 2; round++) {
            n = snprintf(msg, sizeof msg,
                         "{\"specversion\":\"1.0\",\"id\":\"lat-%ld\",\"source\":\"/bench\","
                         "\"type\":\"resource.created\",\"subject\":\"%s/lat%ld\",\"time\":"
                         "\"2026-11-23T10:00:00Z\",\"data\":{\"kind\":\"Face\",\"tenant\":\"lt%d\","
                         "\"region\":\"westeurope\",\"subscription\":\"s\"},\"benchpad\":\"%0*d\"}",
                         i, R, i, t, pad, 0);
            pad += (1024 - (kn + 1 + n + 1) % 1024) % 1024;
        }
        p->sent[i] = now();
        while (rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(p->events_topic),
                                 RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(msg, (size_t)n),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(prod, 1);
    }
    double produced = now() - start;
    rd_kafka_flush(prod, 30000);
    double wait0 = now();
    while (atomic_load(&p->seen_n) < p->total && now() - wait0 < 60) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&p->stop, 1);
    pthread_join(th, NULL);
    long n = 0;
    for (long i = 0; i < p->total; i++)
        if (p->lat[i] >= 0)
            p->lat[n++] = p->lat[i];
    qsort(p->lat, (size_t)n, sizeof *p->lat, cmp);
    printf("%s_offered_per_s %.0f\n%s_achieved_per_s %.0f\n%s_events %ld\n%s_records %ld\n", prefix,
           p->rate, prefix, (double)p->total / produced, prefix, p->total, prefix, n);
    double p99 = -1;
    if (n) {
        p99 = p->lat[(size_t)((double)n * 0.99)] * 1e3;
        printf("%s_p50_ms %.2f\n%s_p99_ms %.2f\n%s_max_ms %.2f\n", prefix, p->lat[n / 2] * 1e3,
               prefix, p99, prefix, p->lat[n - 1] * 1e3);
    }
    fflush(stdout);
    *complete = n == p->total;
    rd_kafka_assign(p->cons, NULL);
    rd_kafka_destroy(p->cons);
    rd_kafka_destroy(prod);
    free(p->sent);
    free(p->lat);
    return p99;
}

int main(int argc, char **argv)
{
    struct probe run = {.rate = 1000,
                        .secs = 10,
                        .tenants = 16,
                        .events_topic = "cmk.events",
                        .out_topic = "cmk.audit",
                        .field = "cause"};
    const char *pass_in = NULL, *pass_out = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--brokers"))
            run.brokers = argv[i + 1];
        else if (!strcmp(argv[i], "--rate"))
            run.rate = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--seconds"))
            run.secs = strtod(argv[i + 1], NULL);
        else if (!strcmp(argv[i], "--tenants")) {
            int64_t n;
            run.tenants = cm_parse_i64(argv[i + 1], &n) && n > 0 && n <= 1 << 20 ? (int)n : 0;
        } else if (!strcmp(argv[i], "--events-topic"))
            run.events_topic = argv[i + 1];
        else if (!strcmp(argv[i], "--audit-topic"))
            run.out_topic = argv[i + 1];
        else if (!strcmp(argv[i], "--pass-events-topic"))
            pass_in = argv[i + 1];
        else if (!strcmp(argv[i], "--pass-out-topic"))
            pass_out = argv[i + 1];
    }
    if (!run.brokers || run.rate <= 0 || run.secs <= 0 || run.tenants < 1 ||
        !pass_in != !pass_out) {
        fprintf(stderr, "usage: bench-latency --brokers B [--rate N] [--seconds S] [--tenants N]\n"
                        "                     [--events-topic T] [--audit-topic T]\n"
                        "                     [--pass-events-topic T --pass-out-topic T]\n");
        return 2;
    }
    bool complete = true, pass_complete = true;
    double pass_p99 = -1;
    if (pass_in) {
        /* The same probe through a passthrough: the events come back as they went. */
        struct probe pass = {.brokers = run.brokers,
                             .rate = run.rate,
                             .secs = run.secs,
                             .tenants = run.tenants,
                             .events_topic = pass_in,
                             .out_topic = pass_out,
                             .field = "id"};
        pass_p99 = run_probe(&pass, "latency_pass", &pass_complete);
    }
    double p99 = run_probe(&run, "latency", &complete);
    if (pass_p99 > 0 && p99 >= 0)
        printf("latency_p99_vs_pass %.3f\n", p99 / pass_p99);
    return complete && pass_complete ? 0 : 1;
}
