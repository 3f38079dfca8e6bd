/* The rule loader fed bytes: the same checks, errors and hash as the same bytes in a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/unit/t.h"

static const char good[] = "rules:\n"
                           "  - id: R1\n"
                           "    title: t\n"
                           "    on: [resource.cmk.enabled]\n"
                           "    when: not resource.identity\n"
                           "    action: deny\n"
                           "    severity: high\n"
                           "    message: \"no identity on {resource.id}\"\n";

static char dir[64];

/* Writes text to a file under a fresh folder; returns its path (static storage). */
static const char *write_tmp(const char *name, const char *text)
{
    static char path[128];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/cmkguard-unit-load.XXXXXX");
        if (!mkdtemp(dir))
            return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

/* err as the CLI prints it, with the file's folder cut off so both forms compare. */
static void where(const cm_err *e, char *out, size_t n)
{
    cm_err ce = *e;
    const char *slash = strrchr(ce.where, '/');
    if (slash)
        memmove(ce.where, slash + 1, strlen(slash + 1) + 1);
    cm_err_format(&ce, out, n);
}

static void test_good(void)
{
    cm_err err;
    pol_ruleset *rs = pol_ruleset_load_mem("mem.yaml", good, strlen(good), &err);
    CHECK(rs != NULL);
    if (!rs)
        return;
    CHECK(pol_ruleset_count(rs) == 1);
    CHECK(pol_ruleset_find(rs, "R1") != NULL);
    size_t n = 9;
    CHECK(pol_ruleset_for(rs, VLT_EV_RES_CMK_ENABLED, &n) != NULL && n == 1);
    /* the hash is the file's: the same bytes read from a path hash the same */
    const char *path = write_tmp("good.yaml", good);
    CHECK(path != NULL);
    const char *paths[] = {path};
    pol_ruleset *fs = path ? pol_ruleset_load(paths, 1, &err) : NULL;
    CHECK(fs != NULL);
    if (fs)
        CHECK_STR(pol_ruleset_hash(rs), pol_ruleset_hash(fs));
    /* other bytes hash otherwise */
    pol_ruleset *other = pol_ruleset_load_mem("mem.yaml", good, strlen(good) - 1, &err);
    CHECK(other != NULL);
    if (other)
        CHECK(strcmp(pol_ruleset_hash(rs), pol_ruleset_hash(other)) != 0);
    pol_ruleset_free(other);
    pol_ruleset_free(fs);
    pol_ruleset_free(rs);
}

/* Each broken file is refused with the same FILE:LINE:COL whether read or given. */
static void test_errors(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"rules:\n  - id: R1\n    title: [\n", "bad.yaml:4:1: YAML: "},
        {"rule:\n  - id: R1\n", "bad.yaml:1:1: unknown field 'rule' in a rule file"},
        {"rules:\n  - id: R1\n    title: t\n    on: [nope]\n    when: key.enabled\n"
         "    action: deny\n    severity: low\n    message: m\n",
         "bad.yaml:4:10: unknown event type 'nope'"},
        {"a: 1\n---\nb: 2\n", "bad.yaml:2:1: one YAML document per rule file"},
        {"rules:\n  - id: R1\n    title: t\n    on: [key.created]\n    when: key.nope\n"
         "    action: alert\n    severity: low\n    message: m\n",
         "bad.yaml:5:11: "},
    };
    for (size_t i = 0; i < CM_ARRAY_LEN(cases); i++) {
        cm_err merr, ferr;
        char m[1400], f[1400];
        cm_err_clear(&merr);
        cm_err_clear(&ferr);
        pol_ruleset *rs =
            pol_ruleset_load_mem("bad.yaml", cases[i].text, strlen(cases[i].text), &merr);
        CHECK(rs == NULL);
        pol_ruleset_free(rs);
        const char *path = write_tmp("bad.yaml", cases[i].text);
        const char *paths[] = {path};
        rs = path ? pol_ruleset_load(paths, 1, &ferr) : NULL;
        CHECK(rs == NULL);
        pol_ruleset_free(rs);
        where(&merr, m, sizeof m);
        where(&ferr, f, sizeof f);
        if (strncmp(m, cases[i].want, strlen(cases[i].want)) != 0)
            fprintf(stderr, "  case %zu: got '%s', want '%s...'\n", i, m, cases[i].want);
        CHECK(strncmp(m, cases[i].want, strlen(cases[i].want)) == 0);
        CHECK_STR(m, f);
        CHECK(merr.code == CM_EINPUT && ferr.code == CM_EINPUT); /* bad input, not env */
    }
    /* NUL bytes and the size bound hold for bytes as for files */
    cm_err err;
    CHECK(pol_ruleset_load_mem("nul.yaml", "rules:\0x", 8, &err) == NULL);
    CHECK_STR(err.where, "nul.yaml");
    size_t big = (4u << 20) + 1;
    char *huge = calloc(1, big);
    if (huge) {
        memset(huge, '#', big);
        CHECK(pol_ruleset_load_mem("big.yaml", huge, big, &err) == NULL);
        CHECK_STR(err.msg, "rule file larger than 4 MiB");
        free(huge);
    }
    CHECK(pol_ruleset_load_mem_ex(NULL, 0, NULL, 0, &err) == NULL);
    CHECK_STR(err.msg, "no rule files found");
}

/* Several sources in order; exemptions given as bytes are checked against the rules. */
static void test_exemptions(void)
{
    static const char ex[] = "exemptions:\n"
                             "  - id: EX-1\n"
                             "    rules: [R1]\n"
                             "    resources: [\"/subscriptions/s1/*\"]\n"
                             "    category: waiver\n"
                             "    expires: 2027-03-31T00:00:00Z\n"
                             "    reason: approved\n";
    static const char bad_ex[] = "exemptions:\n"
                                 "  - id: EX-1\n"
                                 "    rules: [R2]\n";
    static const char second[] = "rules:\n"
                                 "  - id: R1\n"
                                 "    title: again\n"
                                 "    on: [resource.created]\n"
                                 "    when: key.enabled\n"
                                 "    action: alert\n"
                                 "    severity: low\n"
                                 "    message: m\n";
    cm_err err;
    pol_source rules[] = {{"a.yaml", good, strlen(good)}};
    pol_source xs[] = {{"x.yaml", ex, strlen(ex)}};
    pol_ruleset *plain = pol_ruleset_load_mem("a.yaml", good, strlen(good), &err);
    pol_ruleset *rs = pol_ruleset_load_mem_ex(rules, 1, xs, 1, &err);
    CHECK(plain != NULL && rs != NULL);
    if (plain && rs) {
        CHECK(pol_ruleset_exemptions(rs) == 1);
        CHECK(strcmp(pol_ruleset_hash(rs), pol_ruleset_hash(plain)) != 0);
        const pol_rule *r = pol_ruleset_find(rs, "R1");
        CHECK_STR(pol_ruleset_exempted(rs, r, "/subscriptions/s1/x", 0), "EX-1");
        CHECK(pol_ruleset_exempted(rs, r, "/subscriptions/s2/x", 0) == NULL);
    }
    pol_ruleset_free(plain);
    pol_ruleset_free(rs);
    pol_source bx[] = {{"x.yaml", bad_ex, strlen(bad_ex)}};
    CHECK(pol_ruleset_load_mem_ex(rules, 1, bx, 1, &err) == NULL);
    char m[1400];
    cm_err_format(&err, m, sizeof m);
    CHECK_STR(m, "x.yaml:3:13: unknown rule id 'R2'");
    /* a duplicate id across two sources names both */
    pol_source two[] = {{"a.yaml", good, strlen(good)}, {"b.yaml", second, strlen(second)}};
    CHECK(pol_ruleset_load_mem_ex(two, 2, NULL, 0, &err) == NULL);
    CHECK_STR(err.where, "b.yaml");
    CHECK(strstr(err.msg, "(first at a.yaml:2:") != NULL);
    /* an empty source is an empty file: no rules, no error */
    rs = pol_ruleset_load_mem("empty.yaml", "", 0, &err);
    CHECK(rs != NULL && pol_ruleset_count(rs) == 0);
    pol_ruleset_free(rs);
}

int main(void)
{
    test_good();
    test_errors();
    test_exemptions();
    if (dir[0]) {
        char p[128];
        snprintf(p, sizeof p, "%s/good.yaml", dir);
        unlink(p);
        snprintf(p, sizeof p, "%s/bad.yaml", dir);
        unlink(p);
        CHECK(rmdir(dir) == 0);
    }
    T_DONE();
}
