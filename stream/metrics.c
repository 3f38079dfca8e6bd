/* The counters of `run` and their Prometheus endpoint; see metrics.h.
 *
 * The endpoint is GNU libmicrohttpd with its own polling thread and non-blocking
 * sockets: a client that sends nothing, sends its request a byte at a time or never
 * reads its answer holds one connection and nothing else. Connections are bounded in
 * number, per client address and in memory, and one idle for the configured timeout is
 * closed. Only GET /metrics is served: 404 for any other path, 405 for other methods.
 * The exposition holds counts and rule ids, never an event's content or a key. */
#include "stream/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/map.h"

#define NOUTCOMES (AUD_FAILED + 1)
#define MAX_CONNECTIONS 64u     /* open connections in all */
#define MAX_PER_ADDRESS 16u     /* of which from one client address */
#define CONNECTION_MEMORY 16384 /* bytes a connection's request may use */
#define MAX_FINDING_SERIES 4096 /* rule x result pairs counted; later pairs are not */
#define MAX_BODY ((size_t)4 << 20)

/* Upper bounds of the latency histogram's buckets, in seconds (+Inf is implied). */
static const double bucket_le[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                   0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])

typedef struct finding_series {
    char *rule;
    const char *result; /* static name */
    uint64_t n;
} finding_series;

struct stm_metrics {
    _Atomic uint64_t counter[STM__COUNTERS];
    _Atomic uint64_t outcome[NOUTCOMES];
    _Atomic int64_t gauge[STM__GAUGES];
    pthread_mutex_t lock; /* guards what follows */
    cm_map *findings;     /* "result\x1frule" -> finding_series */
    uint64_t bucket[NBUCKETS + 1], nlatency;
    double latency_sum;
    struct MHD_Daemon *httpd;
};

stm_metrics *stm_metrics_new(void)
{
    stm_metrics *m = cm_xcalloc(1, sizeof *m);
    for (int i = 0; i < STM__COUNTERS; i++)
        atomic_init(&m->counter[i], 0);
    for (int i = 0; i < NOUTCOMES; i++)
        atomic_init(&m->outcome[i], 0);
    for (int i = 0; i < STM__GAUGES; i++)
        atomic_init(&m->gauge[i], 0);
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    m->findings = cm_map_new();
    return m;
}

void stm_metrics_free(stm_metrics *m)
{
    if (!m)
        return;
    if (m->httpd) /* joins the endpoint's thread: nothing reads m after this */
        MHD_stop_daemon(m->httpd);
    size_t it = 0;
    void *v;
    while (cm_map_next(m->findings, &it, NULL, &v)) {
        free(((finding_series *)v)->rule);
        free(v);
    }
    cm_map_free(m->findings);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void stm_metrics_add(stm_metrics *m, enum stm_counter c, uint64_t n)
{
    atomic_fetch_add_explicit(&m->counter[c], n, memory_order_relaxed);
}

uint64_t stm_metrics_get(const stm_metrics *m, enum stm_counter c)
{
    return atomic_load_explicit(&((stm_metrics *)m)->counter[c], memory_order_relaxed);
}

void stm_metrics_set(stm_metrics *m, enum stm_gauge g, int64_t v)
{
    atomic_store_explicit(&m->gauge[g], v, memory_order_relaxed);
}

/* The result of a finding as its audit record names it (audit/writer.c). */
static const char *finding_result(const aud_finding *f)
{
    return aud_finding_result(f);
}

void stm_metrics_decision(stm_metrics *m, const aud_decision *d)
{
    if ((unsigned)d->outcome < NOUTCOMES)
        atomic_fetch_add_explicit(&m->outcome[d->outcome], 1, memory_order_relaxed);
    char key[600];
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < d->nrecs; i++)
        for (size_t j = 0; j < d->recs[i].nf; j++) {
            const aud_finding *f = &d->recs[i].f[j];
            const char *result = finding_result(f), *rule = f->rule ? f->rule : "";
            if ((size_t)snprintf(key, sizeof key, "%s\x1f%s", result, rule) >= sizeof key)
                continue; /* a rule id this long is not counted */
            finding_series *s = cm_map_get(m->findings, key);
            if (!s) {
                if (cm_map_len(m->findings) >= MAX_FINDING_SERIES)
                    continue;
                s = cm_xcalloc(1, sizeof *s);
                s->rule = cm_strdup(rule);
                s->result = result;
                cm_map_put(m->findings, key, s);
            }
            s->n++;
        }
    pthread_mutex_unlock(&m->lock);
}

void stm_metrics_latency(stm_metrics *m, double seconds)
{
    size_t b = 0;
    while (b < NBUCKETS && seconds > bucket_le[b])
        b++;
    pthread_mutex_lock(&m->lock);
    m->bucket[b]++;
    m->nlatency++;
    m->latency_sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

/* ---------- the exposition ---------- */

/* A label value, escaped as the text format wants: backslash, quote and newline. */
static void label_value(cm_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            cm_buf_adds(b, "\\\\");
        else if (*s == '"')
            cm_buf_adds(b, "\\\"");
        else if (*s == '\n')
            cm_buf_adds(b, "\\n");
        else
            cm_buf_addc(b, *s);
    }
}

static void family(cm_buf *b, const char *name, const char *type, const char *help)
{
    cm_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(cm_buf *b, const stm_metrics *m, const char *name, enum stm_counter c,
                    const char *help)
{
    family(b, name, "counter", help);
    cm_buf_addf(b, "%s %llu\n", name, (unsigned long long)stm_metrics_get(m, c));
}

static void gauge(cm_buf *b, stm_metrics *m, const char *name, enum stm_gauge g, const char *help)
{
    family(b, name, "gauge", help);
    cm_buf_addf(b, "%s %lld\n", name,
                (long long)atomic_load_explicit(&m->gauge[g], memory_order_relaxed));
}

int stm_metrics_render(stm_metrics *m, cm_buf *b)
{
    family(b, "cmkguard_build_info", "gauge", "The version of this build; always 1.");
    cm_buf_adds(b, "cmkguard_build_info{version=\"");
    label_value(b, CM_VERSION);
    cm_buf_adds(b, "\"} 1\n");
    counter(b, m, "cmkguard_events_consumed_total", STM_EVENTS,
            "Input messages taken from the events topic and decided.");
    family(b, "cmkguard_decisions_total", "counter",
           "Decisions by outcome; an Azure message may hold several.");
    for (int o = 0; o < NOUTCOMES; o++)
        cm_buf_addf(b, "cmkguard_decisions_total{outcome=\"%s\"} %llu\n",
                    aud_outcome_name((enum aud_outcome)o),
                    (unsigned long long)atomic_load_explicit(&m->outcome[o], memory_order_relaxed));
    family(b, "cmkguard_findings_total", "counter",
           "Rule findings in audit records, by rule and result.");
    pthread_mutex_lock(&m->lock);
    size_t n;
    const char **keys = cm_map_sorted_keys(m->findings, &n);
    for (size_t i = 0; i < n; i++) {
        const finding_series *s = cm_map_get(m->findings, keys[i]);
        cm_buf_adds(b, "cmkguard_findings_total{rule=\"");
        label_value(b, s->rule);
        cm_buf_addf(b, "\",result=\"%s\"} %llu\n", s->result, (unsigned long long)s->n);
    }
    free(keys);
    family(b, "cmkguard_event_processing_seconds", "histogram",
           "Time to decide one input message and write its records to the outbox.");
    uint64_t cum = 0;
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += m->bucket[i];
        cm_buf_addf(b, "cmkguard_event_processing_seconds_bucket{le=\"%g\"} %llu\n", bucket_le[i],
                    (unsigned long long)cum);
    }
    cm_buf_addf(b,
                "cmkguard_event_processing_seconds_bucket{le=\"+Inf\"} %llu\n"
                "cmkguard_event_processing_seconds_sum %.9f\n"
                "cmkguard_event_processing_seconds_count %llu\n",
                (unsigned long long)m->nlatency, m->latency_sum, (unsigned long long)m->nlatency);
    pthread_mutex_unlock(&m->lock);
    counter(b, m, "cmkguard_audit_records_total", STM_RECORDS,
            "Audit records written to the outbox.");
    counter(b, m, "cmkguard_audit_records_delivered_total", STM_DELIVERED,
            "Outbox messages (audit records and dead letters) the broker confirmed.");
    counter(b, m, "cmkguard_dead_letters_total", STM_DEAD_LETTERS,
            "Input messages sent to the dead-letter topic.");
    family(b, "cmkguard_rule_reloads_total", "counter",
           "Rule set reloads (SIGHUP) that took (ok) or kept the loaded set (failed).");
    cm_buf_addf(b,
                "cmkguard_rule_reloads_total{result=\"ok\"} %llu\n"
                "cmkguard_rule_reloads_total{result=\"failed\"} %llu\n",
                (unsigned long long)stm_metrics_get(m, STM_RELOADS),
                (unsigned long long)stm_metrics_get(m, STM_RELOAD_FAILURES));
    gauge(b, m, "cmkguard_rules_last_load_timestamp_seconds", STM_RULES_LOADED,
          "Unix time at which the rule set in use was loaded.");
    gauge(b, m, "cmkguard_consumer_lag", STM_LAG,
          "Messages in the assigned events partitions not yet read.");
    gauge(b, m, "cmkguard_audit_backlog", STM_BACKLOG,
          "Outbox messages produced and not yet confirmed by the broker.");
    gauge(b, m, "cmkguard_consumption_paused", STM_PAUSED,
          "1 while reading events is paused because the audit backlog is full.");
    gauge(b, m, "cmkguard_assigned_partitions", STM_PARTITIONS,
          "Events partitions this instance is assigned.");
    return cm_buf_ok(b) && b->p ? 0 : -1; /* the one check: a cut page is never served */
}

/* ---------- the endpoint ---------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, char *body, size_t len,
                             const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (ok == MHD_YES && status == MHD_HTTP_METHOD_NOT_ALLOWED)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, MHD_HTTP_METHOD_GET);
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *msg)
{
    return reply(c, status, cm_strdup(msg), strlen(msg), "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req)
{
    (void)version;
    (void)upload;
    if (!*req) {  /* the headers are in; answer once the request is complete */
        *req = c; /* any mark that is not NULL */
        return MHD_YES;
    }
    if (*upload_size) { /* a body nobody asked for: read and dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics"))
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, MHD_HTTP_METHOD_GET))
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    cm_buf b;
    cm_buf_init(&b, MAX_BODY);
    if (stm_metrics_render(cls, &b) < 0) {
        cm_buf_free(&b);
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "too large\n");
    }
    size_t len = b.len;
    return reply(c, MHD_HTTP_OK, cm_buf_take(&b), len, "text/plain; version=0.0.4; charset=utf-8");
}

/* Parses "HOST:PORT" or "[HOST]:PORT" (numeric addresses only) into *sa. */
static int parse_listen(const char *s, struct sockaddr_storage *sa, socklen_t *salen, cm_err *err)
{
    char host[128];
    const char *colon = strrchr(s, ':'), *h = s;
    size_t hl = colon ? (size_t)(colon - s) : 0;
    if (*s == '[') { /* an IPv6 literal */
        const char *close = strchr(s, ']');
        if (!close || close + 1 != colon) {
            cm_err_set(err, "config", 0, 0, "metrics.listen '%s' is not [HOST]:PORT", s);
            return -1;
        }
        h = s + 1;
        hl = (size_t)(close - h);
    }
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || !hl || hl >= sizeof host || !colon[1] || *end || port < 0 || port > 65535) {
        cm_err_set(err, "config", 0, 0, "metrics.listen '%s' is not HOST:PORT", s);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
    if (*s != '[' && inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *salen = sizeof *a4;
        return 0;
    }
    if (*s == '[' && inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *salen = sizeof *a6;
        return 0;
    }
    cm_err_set(err, "config", 0, 0,
               "metrics.listen: '%s' is not an IPv4 address or a bracketed IPv6 one", host);
    return -1;
}

int stm_metrics_listen(stm_metrics *m, const char *listen_at, int timeout_s, cm_err *err)
{
    struct sockaddr_storage sa;
    socklen_t salen = 0;
    if (parse_listen(listen_at, &sa, &salen, err) < 0)
        return -1;
    /* Bound here, so that an address in use is reported as such, naming the config. */
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (sa.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
        bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, 64) < 0) {
        cm_err_set(err, "config", 0, 0, "metrics.listen %s: %s", listen_at, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->httpd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, MAX_PER_ADDRESS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
    if (!m->httpd) {
        cm_err_set(err, "config", 0, 0, "metrics.listen %s: cannot start the endpoint", listen_at);
        close(fd);
        return -1;
    }
    return 0;
}
