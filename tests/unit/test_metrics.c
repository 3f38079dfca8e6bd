/* stm_metrics: what a scrape renders from the counters, and the listen address. */
#include <stdlib.h>
#include <unistd.h>

#include "stream/metrics.h"
#include "tests/unit/t.h"

static bool has_line(const cm_buf *b, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = b->p; p && (p = strstr(p, line)); p += n)
        if ((p == b->p || p[-1] == '\n') && p[n] == '\n')
            return true;
    return false;
}

static void finding(aud_decision *d, aud_rec *r, const char *rule, bool unknown)
{
    aud_finding *f = aud_rec_finding(d, r);
    f->rule = aud_decision_str(d, rule);
    f->unknown = unknown;
}

static void test_render(void)
{
    stm_metrics *m = stm_metrics_new();
    aud_decision d = {0};
    d.outcome = AUD_DENIED;
    aud_rec *r = aud_decision_add(&d, "s");
    finding(&d, r, "CMK-TENANT", false);
    finding(&d, r, "CMK-KEY-EXPIRED", true);
    finding(&d, aud_decision_add(&d, "fan-out"), "CMK-TENANT", false);
    stm_metrics_decision(m, &d);
    aud_decision_clear(&d);
    d.outcome = AUD_ALLOWED;
    finding(&d, aud_decision_add(&d, "s"), "odd \"id\" \\ with\nnewline", false);
    stm_metrics_decision(m, &d);
    aud_decision_clear(&d);
    stm_metrics_add(m, STM_EVENTS, 2);
    stm_metrics_add(m, STM_RELOAD_FAILURES, 1);
    stm_metrics_set(m, STM_BACKLOG, 7);
    stm_metrics_latency(m, 0.0003);
    stm_metrics_latency(m, 0.02);
    stm_metrics_latency(m, 60);
    CHECK(stm_metrics_get(m, STM_EVENTS) == 2);

    cm_buf b;
    cm_buf_init(&b, 0);
    CHECK(stm_metrics_render(m, &b) == 0);
    CHECK(has_line(&b, "cmkguard_build_info{version=\"" CM_VERSION "\"} 1"));
    CHECK(has_line(&b, "cmkguard_events_consumed_total 2"));
    CHECK(has_line(&b, "cmkguard_decisions_total{outcome=\"denied\"} 1"));
    CHECK(has_line(&b, "cmkguard_decisions_total{outcome=\"allowed\"} 1"));
    CHECK(has_line(&b, "cmkguard_decisions_total{outcome=\"failed\"} 0"));
    CHECK(has_line(&b, "cmkguard_findings_total{rule=\"CMK-TENANT\",result=\"match\"} 2"));
    CHECK(has_line(&b, "cmkguard_findings_total{rule=\"CMK-KEY-EXPIRED\",result=\"unknown\"} 1"));
    CHECK(has_line(&b, "cmkguard_findings_total{rule=\"odd \\\"id\\\" \\\\ with\\nnewline\","
                       "result=\"match\"} 1"));
    CHECK(has_line(&b, "cmkguard_rule_reloads_total{result=\"failed\"} 1"));
    CHECK(has_line(&b, "cmkguard_audit_backlog 7"));
    CHECK(has_line(&b, "cmkguard_event_processing_seconds_bucket{le=\"0.0001\"} 0"));
    CHECK(has_line(&b, "cmkguard_event_processing_seconds_bucket{le=\"0.0005\"} 1"));
    CHECK(has_line(&b, "cmkguard_event_processing_seconds_bucket{le=\"0.025\"} 2"));
    CHECK(has_line(&b, "cmkguard_event_processing_seconds_bucket{le=\"2.5\"} 2"));
    CHECK(has_line(&b, "cmkguard_event_processing_seconds_bucket{le=\"+Inf\"} 3"));
    CHECK(has_line(&b, "cmkguard_event_processing_seconds_count 3"));
    /* Every sample belongs to a family announced with HELP and TYPE. */
    const char *fams[] = {"cmkguard_build_info",
                          "cmkguard_events_consumed_total",
                          "cmkguard_decisions_total",
                          "cmkguard_findings_total",
                          "cmkguard_event_processing_seconds",
                          "cmkguard_audit_records_total",
                          "cmkguard_audit_records_delivered_total",
                          "cmkguard_dead_letters_total",
                          "cmkguard_rule_reloads_total",
                          "cmkguard_rules_last_load_timestamp_seconds",
                          "cmkguard_consumer_lag",
                          "cmkguard_audit_backlog",
                          "cmkguard_consumption_paused",
                          "cmkguard_assigned_partitions"};
    for (size_t i = 0; i < CM_ARRAY_LEN(fams); i++) {
        char help[128], type[128];
        snprintf(help, sizeof help, "# HELP %s ", fams[i]);
        snprintf(type, sizeof type, "# TYPE %s ", fams[i]);
        CHECK(strstr(b.p, help) && strstr(b.p, type));
    }
    /* A bounded buffer that fills up fails, and says so. */
    cm_buf small;
    cm_buf_init(&small, 64);
    CHECK(stm_metrics_render(m, &small) < 0);
    cm_buf_free(&small);
    cm_buf_free(&b);
    stm_metrics_free(m);
    stm_metrics_free(NULL);
}

static void test_listen(void)
{
    const char *bad[] = {"127.0.0.1",       ":9100",          "127.0.0.1:",      "127.0.0.1:x",
                         "127.0.0.1:70000", "localhost:9100", "::1:9100",        "[::1:9100",
                         "[::1]9100",       "[]:9100",        "[127.0.0.1]:9100"};
    for (size_t i = 0; i < CM_ARRAY_LEN(bad); i++) {
        stm_metrics *m = stm_metrics_new();
        cm_err err;
        cm_err_clear(&err);
        CHECK(stm_metrics_listen(m, bad[i], 5, &err) < 0);
        CHECK(!strcmp(err.where, "config") && strstr(err.msg, "metrics.listen"));
        stm_metrics_free(m);
    }
    stm_metrics *m = stm_metrics_new();
    cm_err err;
    CHECK(stm_metrics_listen(m, "127.0.0.1:0", 5, &err) == 0);
    stm_metrics_free(m);
    if (access("/proc/net/if_inet6", R_OK) == 0) { /* the host has IPv6 */
        m = stm_metrics_new();
        CHECK(stm_metrics_listen(m, "[::1]:0", 5, &err) == 0);
        stm_metrics_free(m);
    }
}

int main(void)
{
    test_render();
    test_listen();
    T_DONE();
}
