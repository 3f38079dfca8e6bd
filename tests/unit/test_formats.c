/* Reports for CI: formats by name, XML escaping in JUnit, error kinds and URIs in SARIF. */
#include <stdlib.h>

#include "policy/report.h"
#include "t.h"

/* What a writer put in a temporary file, as a new string. */
static char *captured(FILE *f)
{
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    fclose(f);
    return s;
}

static void test_formats(void)
{
    CHECK(pol_format_parse("text") == POL_FMT_TEXT);
    CHECK(pol_format_parse("json") == POL_FMT_JSON);
    CHECK(pol_format_parse("sarif") == POL_FMT_SARIF);
    CHECK(pol_format_parse("junit") == POL_FMT_JUNIT);
    CHECK(pol_format_parse("JSON") == -1);
    CHECK(pol_format_parse("") == -1);
    CHECK(pol_format_parse(NULL) == -1);
}

static void test_junit_escaping(void)
{
    pol_ruletest_case cases[] = {
        {.name = "a<b>&\"c\"", .detail = "x'y\nz\001", .line = 3, .status = POL_CASE_FAIL},
        {.name = "ok", .detail = "allowed []", .line = 4, .status = POL_CASE_PASS},
        {.name = "later", .detail = "<why>", .line = 5, .status = POL_CASE_SKIP},
    };
    pol_ruletest_suite suite = {.file = "dir/x&y.test.yaml", .title = "t<1>", .n = 3};
    pol_ruletest_report r = {.cases = cases, .ncases = 3, .suites = &suite, .nsuites = 1};
    FILE *f = tmpfile();
    CHECK(f && pol_ruletest_write(f, POL_FMT_JUNIT, &r, NULL) == 0);
    char *x = f ? captured(f) : NULL;
    CHECK(x && strstr(x, "tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
    CHECK(x && strstr(x, "<testcase name=\"a&lt;b&gt;&amp;&quot;c&quot; (line 3)\" "
                         "classname=\"dir.x&amp;y\""));
    CHECK(x && strstr(x, "<failure message=\"x&apos;y&#10;z?\""));
    CHECK(x && strstr(x, "<skipped message=\"&lt;why&gt;\"/>"));
    CHECK(x && strstr(x, "value=\"t&lt;1&gt;\""));
    CHECK(x && !strchr(x, '\001'));
    free(x);
}

static void test_sarif(void)
{
    cm_err e;
    cm_err_set(&e, "a b/r.yaml", 7, 32, "cannot compare %s", "x");
    const char *paths[] = {"a b"};
    FILE *f = tmpfile();
    CHECK(f && pol_check_write(f, POL_FMT_SARIF, paths, 1, NULL, &e) == 0);
    char *s = f ? captured(f) : NULL;
    CHECK(s && strstr(s, "\"version\": \"2.1.0\""));
    CHECK(s && strstr(s, "\"ruleId\": \"CG10\""));
    CHECK(s && strstr(s, "\"uri\": \"a%20b/r.yaml\""));
    CHECK(s && strstr(s, "\"startLine\": 7, \"startColumn\": 32"));
    free(s);
    cm_err_set(&e, "/abs/r.yaml", 0, 0, "cannot read rule file: %s", "denied");
    f = tmpfile();
    CHECK(f && pol_check_write(f, POL_FMT_JSON, paths, 1, NULL, &e) == 0);
    s = f ? captured(f) : NULL;
    CHECK(s && strstr(s, "{\"type\":\"error\",\"file\":\"/abs/r.yaml\",\"line\":0,\"col\":0,"
                         "\"kind\":\"unreadable\""));
    CHECK(s && strstr(s, "\"ok\":false"));
    free(s);
}

int main(void)
{
    test_formats();
    test_junit_escaping();
    test_sarif();
    T_DONE();
}
