/* Reports for pipelines and CI: JSON lines, SARIF 2.1.0 (rule checks), JUnit XML (rule
 * tests). Each report is built whole in memory and written at once: a report that hit
 * its bound is never written in part. */
#include "policy/report.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"

/* ---------- a report under construction: append freely, check once ---------- */

typedef struct rpt {
    cm_buf b;
    bool bad; /* an append failed: the report is not written */
} rpt;

static void put(rpt *o, const char *s)
{
    if (cm_buf_adds(&o->b, s) < 0)
        o->bad = true;
}

__attribute__((format(printf, 2, 3))) static void putf(rpt *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (cm_buf_vaddf(&o->b, fmt, ap) < 0)
        o->bad = true;
    va_end(ap);
}

/* s as a JSON string; NULL as null. */
static void put_json(rpt *o, const char *s)
{
    if (cm_json_cstr(&o->b, s) < 0)
        o->bad = true;
}

/* s as XML character data or an attribute value: markup characters as entities, line
 * breaks and tabs as character references (so attributes keep them), and the control
 * characters XML 1.0 cannot carry as '?'. */
static void put_xml(rpt *o, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            put(o, "&amp;");
            break;
        case '<':
            put(o, "&lt;");
            break;
        case '>':
            put(o, "&gt;");
            break;
        case '"':
            put(o, "&quot;");
            break;
        case '\'':
            put(o, "&apos;");
            break;
        case '\n':
            put(o, "&#10;");
            break;
        case '\r':
            put(o, "&#13;");
            break;
        case '\t':
            put(o, "&#9;");
            break;
        default:
            if (cm_buf_addc(&o->b, c < 0x20 || c == 0x7f ? '?' : (char)c) < 0)
                o->bad = true;
        }
    }
}

static int finish(rpt *o, FILE *out)
{
    int rc = -1;
    if (!o->bad && fwrite(o->b.p ? o->b.p : "", 1, o->b.len, out) == o->b.len && fflush(out) == 0)
        rc = 0;
    cm_buf_free(&o->b);
    return rc;
}

int pol_format_parse(const char *s)
{
    static const char *const names[] = {"text", "json", "sarif", "junit"};
    for (size_t i = 0; s && i < CM_ARRAY_LEN(names); i++)
        if (!strcmp(names[i], s))
            return (int)i;
    return -1;
}

/* ---------- rules check ---------- */

/* The kinds of rule-file error, from the loader's messages: SARIF rules. The first
 * kind with a matching phrase wins; the last one takes the rest. */
static const struct kind {
    const char *id, *name, *text;
    const char *phrase[8];
} KINDS[] = {
    {"CG01",
     "unreadable",
     "A rule file or folder cannot be read, or holds no rule file.",
     {"cannot read", "no rule files", "cannot hash"}},
    {"CG02",
     "limit",
     "A rule set goes past one of its bounds (size, depth, count, length).",
     {"more than ", "larger than", "longer than", "deeper than", "too long", "out of range"}},
    {"CG03",
     "yaml",
     "The file is not well-formed YAML for a rule file (syntax, duplicate keys).",
     {"YAML", "duplicate key", "keys in ", "has no value", "NUL character"}},
    {"CG04",
     "unknown-field",
     "A field the rule format does not have, in a file or a condition.",
     {"unknown field"}},
    {"CG05",
     "missing-field",
     "A rule lacks a required field (id, on, when, action, severity).",
     {"is missing '"}},
    {"CG06",
     "duplicate",
     "A rule id, list or macro is defined twice.",
     {"duplicate rule id", "defined twice"}},
    {"CG07",
     "unknown-name",
     "A condition or 'on' names a list or macro that does not exist.",
     {"unknown list", "unknown macro", "refers to itself"}},
    {"CG08",
     "deny-on-fact",
     "'deny' on an event type that reports a fact, not a request.",
     {"'deny' cannot apply"}},
    {"CG09",
     "bad-regex",
     "A 'matches' pattern is not a valid PCRE2 regular expression.",
     {"regular expression"}},
    {"CG10",
     "type-mismatch",
     "A value or comparison has the wrong type.",
     {"must be a ", "cannot compare", "compare integers", "holds a ", "needs a ", "not a condition",
      "is not an integer", "need strings"}},
    {"CG11",
     "bad-value",
     "A field holds a value it cannot take (action, severity, id, event type).",
     {"is not deny", "is not low", "true or false", "must be letters", "event type",
      "not an RFC 3339"}},
    {"CG12",
     "condition-syntax",
     "A condition does not parse.",
     {"expected", "unexpected", "unterminated", "escape", "condition"}},
    {"CG13", "invalid", "Any other reason a rule set does not load.", {NULL}},
};

static size_t kind_of(const char *msg)
{
    size_t last = CM_ARRAY_LEN(KINDS) - 1;
    for (size_t k = 0; k < last; k++)
        for (size_t i = 0; i < CM_ARRAY_LEN(KINDS[k].phrase) && KINDS[k].phrase[i]; i++)
            if (strstr(msg, KINDS[k].phrase[i]))
                return k;
    return last;
}

/* A path as a URI reference: relative stays relative, absolute becomes file://;
 * anything but unreserved characters and '/' is percent-encoded. */
static void put_uri(rpt *o, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    cm_buf u;
    cm_buf_init(&u, 0);
    bool bad = path[0] == '/' && cm_buf_adds(&u, "file://") < 0;
    for (const unsigned char *p = (const unsigned char *)path; *p && !bad; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            bad = cm_buf_addc(&u, (char)*p) < 0;
        else
            bad = cm_buf_addc(&u, '%') < 0 || cm_buf_addc(&u, hex[*p >> 4]) < 0 ||
                  cm_buf_addc(&u, hex[*p & 15]) < 0;
    }
    if (bad)
        o->bad = true;
    else
        put_json(o, u.p ? u.p : "");
    cm_buf_free(&u);
}

static void check_json(rpt *o, const char *const *paths, size_t n, const pol_ruleset *rs,
                       const cm_err *err)
{
    if (!rs) {
        put(o, "{\"type\":\"error\",\"file\":");
        put_json(o, err->where);
        putf(o, ",\"line\":%d,\"col\":%d,\"kind\":", err->line, err->col);
        put_json(o, KINDS[kind_of(err->msg)].name);
        put(o, ",\"message\":");
        put_json(o, err->msg);
        put(o, "}\n");
    }
    putf(o, "{\"type\":\"summary\",\"ok\":%s,\"paths\":[", rs ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(o, ",");
        put_json(o, paths[i]);
    }
    if (rs)
        putf(o, "],\"rules\":%zu,\"rules_hash\":\"%s\",\"errors\":0}\n", pol_ruleset_count(rs),
             pol_ruleset_hash(rs));
    else
        put(o, "],\"rules\":null,\"rules_hash\":null,\"errors\":1}\n");
}

static void check_sarif(rpt *o, const pol_ruleset *rs, const cm_err *err)
{
    put(o, "{\n  \"$schema\": \"" SARIF_SCHEMA "\",\n  \"version\": \"2.1.0\",\n  \"runs\": [\n"
           "    {\n      \"tool\": {\n        \"driver\": {\n"
           "          \"name\": \"cmkguard\",\n          \"fullName\": \"cmkguard rules check\",\n"
           "          \"version\": \"" CM_VERSION "\",\n"
           "          \"semanticVersion\": \"" CM_VERSION "\",\n          \"rules\": [\n");
    for (size_t k = 0; k < CM_ARRAY_LEN(KINDS); k++) {
        putf(o, "            {\"id\": \"%s\", \"name\": \"%s\", \"shortDescription\": {\"text\": ",
             KINDS[k].id, KINDS[k].name);
        put_json(o, KINDS[k].text);
        putf(o, "}, \"defaultConfiguration\": {\"level\": \"error\"}}%s\n",
             k + 1 < CM_ARRAY_LEN(KINDS) ? "," : "");
    }
    put(o, "          ]\n        }\n      },\n      \"columnKind\": \"unicodeCodePoints\",\n"
           "      \"invocations\": [{\"executionSuccessful\": true}],\n      \"results\": [");
    if (!rs) {
        size_t k = kind_of(err->msg);
        putf(o,
             "\n        {\n          \"ruleId\": \"%s\",\n          \"ruleIndex\": %zu,\n"
             "          \"level\": \"error\",\n          \"message\": {\"text\": ",
             KINDS[k].id, k);
        put_json(o, err->msg);
        put(o, "}");
        if (err->where[0]) {
            put(o, ",\n          \"locations\": [\n            {\n              "
                   "\"physicalLocation\": {\n"
                   "                \"artifactLocation\": {\"uri\": ");
            put_uri(o, err->where);
            put(o, "}");
            if (err->line > 0) {
                putf(o, ",\n                \"region\": {\"startLine\": %d", err->line);
                if (err->col > 0)
                    putf(o, ", \"startColumn\": %d", err->col);
                put(o, "}");
            }
            put(o, "\n              }\n            }\n          ]");
        }
        put(o, "\n        }\n      ");
    }
    put(o, "],\n      \"properties\": {");
    if (rs)
        putf(o, "\"rules\": %zu, \"rules_hash\": \"%s\"", pol_ruleset_count(rs),
             pol_ruleset_hash(rs));
    put(o, "}\n    }\n  ]\n}\n");
}

int pol_check_write(FILE *out, enum pol_format fmt, const char *const *paths, size_t n,
                    const pol_ruleset *rs, const cm_err *err)
{
    rpt o = {.bad = false};
    cm_buf_init(&o.b, 0);
    if (fmt == POL_FMT_SARIF)
        check_sarif(&o, rs, err);
    else
        check_json(&o, paths, n, rs, err);
    return finish(&o, out);
}

/* ---------- rules test ---------- */

static const char *status_name(enum pol_case_status st)
{
    static const char *const n[] = {"pass", "fail", "skip"};
    return n[st];
}

/* Cases of a status, the rule-hit checks of --require-all included. */
static int count(const pol_ruletest_report *r, enum pol_case_status st)
{
    int n = 0;
    for (size_t i = 0; i < r->ncases; i++)
        n += r->cases[i].status == st;
    return n;
}

static void test_json(rpt *o, const pol_ruletest_report *r, const cm_err *err)
{
    for (size_t si = 0; si < r->nsuites; si++) {
        const pol_ruletest_suite *su = &r->suites[si];
        for (size_t i = su->first; i < su->first + su->n; i++) {
            const pol_ruletest_case *c = &r->cases[i];
            put(o, "{\"type\":\"case\",\"file\":");
            put_json(o, su->file);
            putf(o, ",\"line\":%d,\"name\":", c->line);
            put_json(o, c->name);
            putf(o, ",\"status\":\"%s\",\"detail\":", status_name(c->status));
            put_json(o, c->detail);
            putf(o, ",\"seconds\":%.6f}\n", c->seconds);
        }
    }
    if (err) {
        put(o, "{\"type\":\"error\",\"file\":");
        put_json(o, err->where);
        putf(o, ",\"line\":%d,\"col\":%d,\"message\":", err->line, err->col);
        put_json(o, err->msg);
        put(o, "}\n");
    }
    putf(o,
         "{\"type\":\"summary\",\"ok\":%s,\"passed\":%d,\"failed\":%d,\"skipped\":%d,"
         "\"errors\":%d,\"hits\":{",
         !err && !r->failed ? "true" : "false", count(r, POL_CASE_PASS), count(r, POL_CASE_FAIL),
         count(r, POL_CASE_SKIP), err ? 1 : 0);
    for (size_t i = 0; i < r->nrules; i++) {
        if (i)
            put(o, ",");
        put_json(o, r->rules[i]);
        putf(o, ":%ld", r->hits[i]);
    }
    put(o, "}}\n");
}

/* A test file's path as a JUnit class name: no extension, folders joined with '.'. */
static void put_classname(rpt *o, const char *file)
{
    char *c = cm_strdup(file);
    size_t len = strlen(c);
    if (cm_endswith(c, ".test.yaml"))
        c[len - strlen(".test.yaml")] = '\0';
    else if (cm_endswith(c, ".test.yml"))
        c[len - strlen(".test.yml")] = '\0';
    char *p = c;
    while (*p == '.' || *p == '/')
        p++;
    for (char *q = p; *q; q++)
        if (*q == '/')
            *q = '.';
    put_xml(o, *p ? p : file);
    free(c);
}

/* The test case a broken test file becomes: an error, with where it is broken. */
static void put_error_case(rpt *o, const char *file, const cm_err *err)
{
    char where[1400];
    cm_err_format(err, where, sizeof where);
    put(o, "    <testcase name=\"load\" classname=\"");
    put_classname(o, file);
    put(o, "\" time=\"0\">\n      <error message=\"");
    put_xml(o, err->msg);
    put(o, "\" type=\"broken-test-file\">");
    put_xml(o, where);
    put(o, "</error>\n    </testcase>\n");
}

static void test_junit(rpt *o, const pol_ruletest_report *r, const cm_err *err)
{
    bool reported = false;
    double total = 0;
    for (size_t i = 0; i < r->nsuites; i++)
        total += r->suites[i].seconds;
    put(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    putf(o,
         "<testsuites name=\"cmkguard rules test\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" "
         "skipped=\"%d\" time=\"%.6f\">\n",
         r->ncases + (err ? 1 : 0), count(r, POL_CASE_FAIL), err ? 1 : 0, count(r, POL_CASE_SKIP),
         total);
    for (size_t si = 0; si < r->nsuites; si++) {
        const pol_ruletest_suite *su = &r->suites[si];
        int failures = 0, skipped = 0;
        for (size_t i = su->first; i < su->first + su->n; i++) {
            failures += r->cases[i].status == POL_CASE_FAIL;
            skipped += r->cases[i].status == POL_CASE_SKIP;
        }
        /* The error that stopped the run belongs to the file it stopped at. */
        bool broken = err && su->broken;
        put(o, "  <testsuite name=\"");
        put_xml(o, su->file);
        putf(o, "\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.6f\">\n",
             su->n + broken, failures, broken ? 1 : 0, skipped, su->seconds);
        if (su->title) {
            put(o, "    <properties>\n      <property name=\"title\" value=\"");
            put_xml(o, su->title);
            put(o, "\"/>\n    </properties>\n");
        }
        for (size_t i = su->first; i < su->first + su->n; i++) {
            const pol_ruletest_case *c = &r->cases[i];
            put(o, "    <testcase name=\"");
            put_xml(o, c->name);
            if (c->line)
                putf(o, " (line %d)", c->line);
            put(o, "\" classname=\"");
            put_classname(o, su->file);
            putf(o, "\" time=\"%.6f\"", c->seconds);
            if (c->status == POL_CASE_PASS) {
                put(o, "/>\n");
                continue;
            }
            put(o, ">\n");
            if (c->status == POL_CASE_SKIP) {
                put(o, "      <skipped message=\"");
                put_xml(o, c->detail);
                put(o, "\"/>\n");
            } else {
                put(o, "      <failure message=\"");
                put_xml(o, c->detail);
                put(o, "\" type=\"expectation\">");
                put_xml(o, su->file);
                if (c->line)
                    putf(o, ":%d", c->line);
                put(o, ": ");
                put_xml(o, c->name);
                put(o, ": ");
                put_xml(o, c->detail);
                put(o, "</failure>\n");
            }
            put(o, "    </testcase>\n");
        }
        if (broken) {
            put_error_case(o, su->file, err);
            reported = true;
        }
        put(o, "  </testsuite>\n");
    }
    if (err && !reported) { /* no test file began: none found, or a path unreadable */
        put(o, "  <testsuite name=\"");
        put_xml(o, err->where);
        put(o, "\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" time=\"0\">\n");
        put_error_case(o, err->where, err);
        put(o, "  </testsuite>\n");
    }
    put(o, "</testsuites>\n");
}

int pol_ruletest_write(FILE *out, enum pol_format fmt, const pol_ruletest_report *r,
                       const cm_err *err)
{
    rpt o = {.bad = false};
    cm_buf_init(&o.b, 0);
    if (fmt == POL_FMT_JUNIT)
        test_junit(&o, r, err);
    else
        test_json(&o, r, err);
    return finish(&o, out);
}
