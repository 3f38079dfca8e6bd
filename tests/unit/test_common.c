#include "common/strset.h"

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

int main(void)
{
    test_strset();
    T_DONE();
}
