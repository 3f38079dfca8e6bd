/* The readers of verified records (OCSF export, HTML report) on records of odd shapes:
 * members missing or of the wrong type must read as absent, never crash, and every
 * string must come out escaped. Records are fed as parsed trees, past the verifier. */
#include <stdlib.h>

#include <yajl/yajl_tree.h>

#include "audit/ocsf.h"
#include "audit/report.h"
#include "tests/unit/t.h"

static cm_buf out;
static int nout;

static int sink(void *arg, const char *subject, const char *line, size_t n)
{
    (void)arg;
    (void)subject;
    cm_buf_add(&out, line, n);
    cm_buf_addc(&out, '\n');
    nout++;
    return 0;
}

static void feed(aud_ocsf *x, aud_report *r, const char *json)
{
    char eb[200];
    yajl_val v = yajl_tree_parse(json, eb, sizeof eb);
    CHECK(v != NULL);
    cm_err err;
    CHECK(aud_ocsf_record(x, "t:1", v, &err) == 0);
    CHECK(aud_report_record(r, "t:1", v, &err) == 0);
    yajl_tree_free(v);
}

static const char *const ODD[] = {
    "{}",
    "[]",
    "{\"type\":\"cmkguard.audit.decision\"}",
    "{\"type\":\"cmkguard.audit.decision\",\"data\":7}",
    "{\"type\":\"cmkguard.audit.decision\",\"data\":{\"findings\":{}}}",
    "{\"type\":\"cmkguard.audit.decision\",\"data\":{\"findings\":[1,\"x\",null,[]]}}",
    "{\"type\":\"cmkguard.audit.decision\",\"data\":{\"findings\":[{}]}}",
    "{\"type\":\"cmkguard.audit.decision\",\"chain\":\"c\",\"seq\":\"1\",\"time\":\"not a time\","
    "\"data\":{\"state\":[1],\"actions\":[{\"op\":\"lockout\"},7],\"findings\":[{\"rule\":5,"
    "\"severity\":[],\"result\":{},\"compliance\":[7,{\"standard\":1}],\"tags\":\"x\","
    "\"exemption\":{\"id\":\"EX<1>\",\"expires\":\"2026-12-10T00:00:00Z\"}}]}}",
    ("{\"type\":\"cmkguard.audit.checkpoint\",\"chain\":\"c\",\"seq\":2,\"data\":{\"findings\":"
     "[{\"rule\":\"R\"}]}}"),
};

int main(void)
{
    cm_buf_init(&out, 0);
    aud_ocsf *x = aud_ocsf_new(sink, NULL);
    aud_report *r = aud_report_new();
    for (size_t i = 0; i < sizeof ODD / sizeof *ODD; i++)
        feed(x, r, ODD[i]);
    /* a finding without rule, severity or result still becomes an event; checkpoint
     * records and findings that are not objects do not */
    CHECK(nout == 2);
    CHECK(aud_ocsf_count(x) == 2);
    CHECK(out.p && strstr(out.p, "\"severity_id\":0") && strstr(out.p, "\"(no rule)\""));
    CHECK(out.p && strstr(out.p, "\"standards\":[\"cmkguard rules\"]"));
    /* markup in every string the page shows */
    feed(x, r,
         "{\"type\":\"cmkguard.audit.decision\",\"chain\":\"<c>\",\"seq\":3,\"id\":\"<c>:3\","
         "\"time\":\"2026-11-22T10:00:00.250Z\",\"subject\":\"/s/<img>\",\"data\":{\"cause\":"
         "\"e\",\"input\":\"i\",\"outcome\":\"<o>\",\"state\":{\"key_source\":\"cmk\","
         "\"key_uri\":\"<k>\",\"locked\":true,\"lost\":false,\"lock_reasons\":[\"<r>\"]},"
         "\"actions\":[{\"op\":\"lockout\",\"status\":\"<s>\",\"error\":\"<e>\"}],"
         "\"findings\":[{\"rule\":\"<R>\",\"severity\":\"high\",\"result\":\"exempted\","
         "\"message\":\"<script>x</script>\",\"exemption\":\"<X>\",\"compliance\":"
         "[{\"standard\":\"<S>\",\"control\":\"<C>\"}]}]}}");
    CHECK(strstr(out.p, "\"time\":1795341600250") != NULL);   /* the fraction kept, in ms */
    CHECK(strstr(out.p, "\"status_id\":3,\"time\"") != NULL); /* exempted: Suppressed */
    aud_report_input(r, "<in>");
    cm_buf page;
    cm_buf_init(&page, 0);
    cm_err err;
    cm_err_set(&err, "t", 0, 0, "x");
    /* no verifier ran: the report reads its chains from one that read nothing */
    aud_verifier *v = aud_verifier_new(NULL);
    aud_report_trail(r, v, NULL);
    CHECK(aud_report_html(r, 1795341600, &page) == 0);
    CHECK(aud_report_verified(r));
    CHECK(page.p && strstr(page.p, "&lt;script&gt;x&lt;/script&gt;") != NULL);
    CHECK(page.p && strstr(page.p, "/s/&lt;img&gt;") != NULL);
    CHECK(page.p && strstr(page.p, "&lt;S&gt; &lt;C&gt;") != NULL);
    const char *body = page.p ? strstr(page.p, "<body>") : NULL;
    CHECK(body && !strstr(body, "<script") && !strstr(body, "<img") && !strstr(body, "<R>") &&
          !strstr(body, "<X>") && !strstr(body, "<in>") && !strstr(body, "<k>"));
    /* an exemption whose record carries its expiry: within 30 days of the page's time */
    CHECK(page.p && strstr(page.p, "data-exemption=\"EX&lt;1&gt;\"") &&
          strstr(page.p, "data-expiry=\"within 30 days\""));
    cm_buf_free(&page);
    aud_verifier_free(v);
    aud_report_free(r);
    aud_ocsf_free(x);
    aud_report_free(NULL);
    aud_ocsf_free(NULL);
    cm_buf_free(&out);
    T_DONE();
}
