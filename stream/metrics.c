#include "stream/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit/decision.h"
#include "common/buf.h"

void stm_metrics_init(stm_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->fd = -1;
}

int stm_metrics_listen(stm_metrics *m, const char *listen_at, cm_err *err)
{
    char host[128];
    int port;
    const char *colon = strrchr(listen_at, ':');
    if (!colon || colon == listen_at || (size_t)(colon - listen_at) >= sizeof host ||
        sscanf(colon + 1, "%d", &port) != 1 || port < 0 || port > 65535) {
        cm_err_set(err, "config", 0, 0, "metrics.listen '%s' is not HOST:PORT", listen_at);
        return -1;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen_at), listen_at);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        cm_err_set(err, "config", 0, 0, "metrics.listen: '%s' is not an IPv4 address", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0) {
        cm_err_set(err, "config", 0, 0, "metrics.listen %s: %s", listen_at, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    m->fd = fd;
    return 0;
}

static void body(const stm_metrics *m, cm_buf *b)
{
    cm_buf_addf(b, "# HELP cmkguard_events_total Input events decided.\n"
                   "# TYPE cmkguard_events_total counter\n");
    for (int o = 0; o < 5; o++)
        cm_buf_addf(b, "cmkguard_events_total{outcome=\"%s\"} %llu\n",
                    aud_outcome_name((enum aud_outcome)o), (unsigned long long)m->outcomes[o]);
    cm_buf_addf(b,
                "# TYPE cmkguard_audit_records_total counter\ncmkguard_audit_records_total %llu\n"
                "# TYPE cmkguard_audit_records_delivered_total counter\n"
                "cmkguard_audit_records_delivered_total %llu\n"
                "# TYPE cmkguard_dead_letters_total counter\ncmkguard_dead_letters_total %llu\n"
                "# TYPE cmkguard_rule_reloads_total counter\n"
                "cmkguard_rule_reloads_total{result=\"ok\"} %llu\n"
                "cmkguard_rule_reloads_total{result=\"failed\"} %llu\n"
                "# TYPE cmkguard_consumer_lag gauge\ncmkguard_consumer_lag %lld\n"
                "# TYPE cmkguard_audit_backlog gauge\ncmkguard_audit_backlog %lld\n"
                "# TYPE cmkguard_consumption_paused gauge\ncmkguard_consumption_paused %d\n"
                "# TYPE cmkguard_assigned_partitions gauge\ncmkguard_assigned_partitions %d\n",
                (unsigned long long)m->records, (unsigned long long)m->records_delivered,
                (unsigned long long)m->dead_letters, (unsigned long long)m->reloads,
                (unsigned long long)m->reload_failures, (long long)m->lag, (long long)m->backlog,
                m->paused ? 1 : 0, m->partitions);
}

void stm_metrics_serve(stm_metrics *m)
{
    if (m->fd < 0)
        return;
    for (int i = 0; i < 8; i++) {
        int c = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            return;
        char req[1024];
        struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = read(c, req, sizeof req - 1); /* the request line is all we need */
        cm_buf b, out;
        cm_buf_init(&b, 0);
        cm_buf_init(&out, 0);
        bool ok = n > 0 && (!strncmp(req, "GET /metrics", 12) || !strncmp(req, "GET / ", 6));
        if (ok)
            body(m, &b);
        else
            cm_buf_adds(&b, "not found\n");
        cm_buf_addf(&out, "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                    ok ? "200 OK" : "404 Not Found", b.len);
        cm_buf_add(&out, b.p, b.len);
        ssize_t w = write(c, out.p, out.len);
        (void)w;
        close(c);
        cm_buf_free(&b);
        cm_buf_free(&out);
    }
}

void stm_metrics_close(stm_metrics *m)
{
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}
