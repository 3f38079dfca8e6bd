#include "common/strset.h"
#include "common/util.h"

#include <stdio.h>

#include "tests/unit/t.h"

/* The set behind duplicate detection: exact, through growth, for many ids. */
static void test_strset(void)
{
    cm_strset *s = cm_strset_new();
    char id[32];
    int added = 0, again = 0;
    for (int i = 0; i < 200000; i++) {
        snprintf(id, sizeof id, "b-%d", i);
        added += cm_strset_add(s, id);
    }
    for (int i = 0; i < 200000; i += 7) {
        snprintf(id, sizeof id, "b-%d", i);
        again += cm_strset_add(s, id);
    }
    CHECK(added == 200000);
    CHECK(again == 0);
    CHECK(cm_strset_len(s) == 200000);
    CHECK(cm_strset_has(s, "b-0"));
    CHECK(cm_strset_has(s, "b-199999"));
    CHECK(!cm_strset_has(s, "b-200000"));
    CHECK(!cm_strset_has(s, "b-1 "));
    CHECK(!cm_strset_has(s, ""));
    CHECK(cm_strset_add(s, ""));
    CHECK(cm_strset_has(s, ""));
    /* a prefix or an extension of a stored id is another id */
    CHECK(!cm_strset_has(s, "b-"));
    CHECK(!cm_strset_has(s, "b-1999990"));
    CHECK(cm_strset_add(s, "x"));
    CHECK(!cm_strset_has(s, "xx"));
    cm_strset_free(s);
}

/* Joined text: whole when it fits, visibly cut when not, never half a character. */
static void test_join(void)
{
    char b[16];
    const char *p[] = {"get", "wrapKey", "unwrapKey"};
    CHECK(cm_join(b, sizeof b, ",", p, 2) && t_streq(b, "get,wrapKey"));
    CHECK(cm_join(b, sizeof b, ",", p, 0) && t_streq(b, ""));
    CHECK(cm_join(b, sizeof b, ", ", p, 1) && t_streq(b, "get"));
    CHECK(!cm_join(b, sizeof b, ",", p, 3) && t_streq(b, "get,wrapKey,..."));
    CHECK(strlen(b) == sizeof b - 1);
    char e[6];
    const char *x[] = {"ab", "cde"};
    CHECK(cm_join(e, sizeof e, "", x, 2) && t_streq(e, "abcde"));
    CHECK(!cm_join(e, sizeof e, "-", x, 2) && t_streq(e, "ab..."));
    const char *u[] = {"a\xc3\xa9\xc3\xa9\xc3\xa9"}; /* a, e-acute three times: 7 bytes */
    CHECK(!cm_join(e, sizeof e, "", u, 1) && t_streq(e, "a..."));
    const char *w[] = {"\xc3\xa9z"};
    CHECK(cm_join(e, sizeof e, "", w, 1) && t_streq(e, "\xc3\xa9z"));
    CHECK(!cm_join(e, 5, "", u, 1) && t_streq(e, "a..."));
    CHECK(!cm_join(e, 4, "", u, 1) && t_streq(e, "..."));
}

int main(void)
{
    test_strset();
    test_join();
    T_DONE();
}
