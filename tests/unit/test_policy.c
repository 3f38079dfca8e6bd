#include <stdlib.h>

#include "policy/internal.h"
#include "tests/unit/t.h"

static pol_ruleset *rs;
static cm_err err;

static node *compile(const char *text)
{
    return pol_compile(rs, text, "t.yaml", 1, 1, &err);
}

static enum pol_tri run(const char *text, const pol_ctx *c)
{
    node *n = compile(text);
    if (!n) {
        fprintf(stderr, "  compile '%s': %s\n", text, err.msg);
        return (enum pol_tri) - 1;
    }
    pol_rule r = {.when = n};
    return pol_rule_eval(&r, c);
}

static void setb(pol_ctx *c, int f, bool b)
{
    c->v[f] = (pol_val){.t = PV_BOOL, .b = b};
}

static void test_kleene(void)
{
    pol_ctx c;
    memset(&c, 0, sizeof c);
    setb(&c, PF_RES_IDENTITY, true); /* T */
    setb(&c, PF_RES_LOCKED, false);  /* F */
    /* key.enabled absent: U */
    CHECK(run("resource.identity and key.enabled", &c) == POL_UNKNOWN);
    CHECK(run("resource.locked and key.enabled", &c) == POL_FALSE);
    CHECK(run("key.enabled and resource.locked", &c) == POL_FALSE);
    CHECK(run("resource.identity or key.enabled", &c) == POL_TRUE);
    CHECK(run("key.enabled or resource.identity", &c) == POL_TRUE);
    CHECK(run("resource.locked or key.enabled", &c) == POL_UNKNOWN);
    CHECK(run("not key.enabled", &c) == POL_UNKNOWN);
    CHECK(run("not resource.locked", &c) == POL_TRUE);
    CHECK(run("key.enabled exists", &c) == POL_FALSE);
    CHECK(run("not (key.enabled exists)", &c) == POL_TRUE);
    CHECK(run("key.kty == \"RSA\"", &c) == POL_UNKNOWN);
    CHECK(run("key.kty != \"RSA\"", &c) == POL_UNKNOWN);
    CHECK(run("key.kty in (\"RSA\", \"EC\")", &c) == POL_UNKNOWN);
}

static void test_ops(void)
{
    pol_ctx c;
    memset(&c, 0, sizeof c);
    c.v[PF_KEY_KTY] = (pol_val){.t = PV_STR, .s = "RSA-HSM"};
    c.v[PF_KEY_SIZE] = (pol_val){.t = PV_INT, .i = 2048};
    c.v[PF__COUNT + PF_KEY_SIZE] = (pol_val){.t = PV_INT, .i = 3072};
    c.v[PF_RES_KEY_URI] = (pol_val){.t = PV_STR, .s = "https://kv1.vault.azure.net/keys/k/v1"};
    CHECK(run("key.size == 2048", &c) == POL_TRUE);
    CHECK(run("key.size < prior.key.size", &c) == POL_TRUE);
    CHECK(run("key.size >= 4096", &c) == POL_FALSE);
    CHECK(run("key.kty in (\"RSA\", \"RSA-HSM\")", &c) == POL_TRUE);
    CHECK(run("key.kty startswith \"RSA\" and key.kty endswith \"HSM\"", &c) == POL_TRUE);
    CHECK(run("key.kty contains \"A-H\"", &c) == POL_TRUE);
    CHECK(run("resource.key_uri matches \"/keys/[a-z]+/v[0-9]+$\"", &c) == POL_TRUE);
    CHECK(run("resource.key_uri matches \"^/keys\"", &c) == POL_FALSE);
    CHECK(run("resource.key_uri matches \"(?i)KV1\"", &c) == POL_TRUE);
    CHECK(run("not not (key.size == 2048)", &c) == POL_TRUE);
    /* catastrophic backtracking hits the match limit: unknown, never a hang */
    char *aaa = cm_xmalloc(40000);
    memset(aaa, 'a', 39998);
    aaa[39998] = 'b';
    aaa[39999] = '\0';
    c.v[PF_KEY_NAME] = (pol_val){.t = PV_STR, .s = aaa};
    CHECK(run("key.name matches \"^(a+)+$\"", &c) == POL_UNKNOWN);
    free(aaa);
}

static void bad(const char *text, const char *want, int col)
{
    cm_err_clear(&err);
    CHECK(compile(text) == NULL);
    if (!strstr(err.msg, want) || (col && err.col != col))
        fprintf(stderr, "  '%s': got %d '%s', want %d '%s'\n", text, err.col, err.msg, col, want);
    CHECK(strstr(err.msg, want) != NULL);
    CHECK(!col || err.col == col);
}

static void test_errors(void)
{
    bad("", "empty condition", 0);
    bad("key.size == \"x\"", "cannot compare key.size (integer) with literal (string)", 10);
    bad("key.kty < \"b\"", "compare integers", 9);
    bad("key.colour == 1", "unknown field 'key.colour'", 1);
    bad("key.kty", "key.kty is a string, not a condition", 1);
    bad("key.size == 1 and", "condition ends too early", 18);
    bad("(key.enabled", "expected ')'", 13);
    bad("key.enabled )", "unexpected ')' after the condition", 13);
    bad("key.kty = \"x\"", "did you mean", 9);
    bad("key.kty matches \"(\"", "bad regular expression", 0);
    bad("key.kty in nolist", "unknown list 'nolist'", 12);
    bad("nomacro", "unknown macro or field 'nomacro'", 1);
    bad("key.kty == \"unterminated", "unterminated string", 12);
    bad("key.size in (1, \"two\")", "'in' list holds a string", 17);
    char deep[300];
    size_t i = 0;
    for (; i < 100; i++)
        deep[i] = '(';
    memcpy(deep + i, "key.enabled", 12);
    bad(deep, "nested deeper than 64", 0);
}

static void test_template(void)
{
    tpl_part *p;
    size_t n;
    CHECK(pol_template_compile("vault {vault.uri} in {vault.tenant}!", &p, &n, "f", 1, 1, &err) ==
          0);
    pol_rule r = {.msg = p, .nmsg = n};
    pol_ctx c;
    memset(&c, 0, sizeof c);
    c.v[PF_VAULT_URI] = (pol_val){.t = PV_STR, .s = "https://kv1.vault.azure.net"};
    cm_buf b;
    cm_buf_init(&b, 0);
    pol_rule_message(&r, &c, &b);
    CHECK_STR(b.p, "vault https://kv1.vault.azure.net in <unknown>!");
    cm_buf_free(&b);
    for (size_t i = 0; i < n; i++)
        free(p[i].text);
    free(p);
    CHECK(pol_template_compile("bad {vault.colour}", &p, &n, "f", 1, 1, &err) < 0);
    CHECK(strstr(err.msg, "unknown field 'vault.colour' in message") != NULL);
}

int main(void)
{
    rs = pol_ruleset_empty();
    pol_list *l = cm_xcalloc(1, sizeof *l);
    l->items = cm_xcalloc(2, sizeof *l->items);
    l->items[0] = cm_strdup("RSA");
    l->n = 1;
    cm_map_put(rs->lists, "rsa", l);
    test_kleene();
    test_ops();
    test_errors();
    test_template();
    pol_ruleset_free(rs);
    T_DONE();
}
