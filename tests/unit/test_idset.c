/* The set of seen event ids: exact against a plain set of strings over random ids of
 * every form (numbered ones, near and past the container and digit bounds, and others),
 * across sources, with every element enumerated once; compact for ids numbered in
 * sequence; a sparse class moved to strings; still exact once no class can be made. */
#include "common/idset.h"
#include "common/strset.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"

static const char *const prefixes[] = {"", "b-", "evt-", "x", "B-", "b-0", "a1b", "-"};

/* A UUID into buf, from a small space so that some come twice: lower or upper case, or
 * spelt in ways that are other ids (mixed case, digits only in its last group, one
 * character short or long, a hyphen moved, braces). */
static void random_uuid(char *buf, size_t n)
{
    snprintf(buf, n, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(t_rand() % 200) * 0x1010101u,
             (unsigned)(t_rand() & 3) * 0xa0bu, (unsigned)(t_rand() & 3),
             (unsigned)(t_rand() & 3) * 0xc1u,
             (unsigned long long)(t_rand() & 15) * 0xfd0000000eULL);
    switch (t_rand() % 9) {
    case 0: /* upper case */
        for (char *c = buf; *c; c++)
            if (*c >= 'a' && *c <= 'f')
                *c = (char)(*c - 'a' + 'A');
        break;
    case 1: /* mixed case, when it has two letters */
        for (char *c = buf, *first = NULL; *c; c++)
            if (*c >= 'a' && *c <= 'f' && (first ? 1 : (first = c, 0)))
                *c = (char)(*c - 'a' + 'A');
        break;
    case 2: /* digits only in its last group */
        snprintf(buf + 24, n - 24, "%012llu", (unsigned long long)(t_rand() % 1000000000000ULL));
        break;
    case 3: /* one short */
        buf[35] = '\0';
        break;
    case 4: /* one long */
        snprintf(buf + 36, n - 36, "%x", (unsigned)(t_rand() & 15));
        break;
    case 5: /* a hyphen moved */
        buf[13] = buf[14];
        buf[14] = '-';
        break;
    case 6: { /* braces */
        memmove(buf + 1, buf, 36);
        buf[0] = '{';
        buf[37] = '}';
        buf[38] = '\0';
        break;
    }
    default:
        break;
    }
}

/* A random id of some form into buf. */
static void random_id(char *buf, size_t n)
{
    const char *p = prefixes[t_rand() % (sizeof prefixes / sizeof *prefixes)];
    uint64_t num;
    switch (t_rand() % 8) {
    case 0: /* dense: a few containers' worth */
        num = t_rand() % 200000;
        break;
    case 1: /* around a container's edge */
        num = 65536 * (t_rand() % 4) + t_rand() % 3 - 1;
        break;
    case 2: /* sparse, up to the largest number of 18 digits */
        num = t_rand() % 1000000000000000000ULL;
        break;
    case 3: /* leading zeros: not canonical */
        snprintf(buf, n, "%s0%u", p, (unsigned)(t_rand() % 1000));
        return;
    case 4: /* more digits than a number holds */
        snprintf(buf, n, "%s%u%018u", p, (unsigned)(1 + t_rand() % 9), (unsigned)(t_rand() % 1000));
        return;
    case 5: /* no digits at the end */
        snprintf(buf, n, "%s%u-z", p, (unsigned)(t_rand() % 5000));
        return;
    case 6: /* a UUID, or close to one */
        random_uuid(buf, n);
        return;
    default:
        num = t_rand() % 5000;
        break;
    }
    snprintf(buf, n, "%s%llu", p, (unsigned long long)num);
}

static const uint32_t sources[] = {1, 2, 127, 128, 70000};

/* The model's key of (src, id): the source in decimal, a separator, the id. */
static void model_key(char *buf, size_t n, uint32_t src, const char *id)
{
    snprintf(buf, n, "%u\x1f%s", (unsigned)src, id);
}

struct seen_all {
    cm_strset *model, *got;
    size_t calls, unknown, twice;
};

static void collect(void *arg, uint32_t src, const char *id)
{
    struct seen_all *a = arg;
    char k[256];
    model_key(k, sizeof k, src, id);
    a->calls++;
    a->unknown += !cm_strset_has(a->model, k);
    a->twice += !cm_strset_add(a->got, k);
}

static void test_against_model(void)
{
    cm_idset *s = cm_idset_new();
    cm_strset *model = cm_strset_new();
    char id[128], k[256];
    size_t wrong_add = 0, wrong_has = 0;
    for (int i = 0; i < 300000; i++) {
        uint32_t src = sources[t_rand() % (sizeof sources / sizeof *sources)];
        random_id(id, sizeof id);
        model_key(k, sizeof k, src, id);
        if (t_rand() % 3) {
            wrong_add += cm_idset_add(s, src, id) != cm_strset_add(model, k);
        } else {
            wrong_has += cm_idset_has(s, src, id) != cm_strset_has(model, k);
        }
    }
    CHECK(wrong_add == 0);
    CHECK(wrong_has == 0);
    CHECK(cm_idset_len(s) == cm_strset_len(model));
    struct seen_all a = {.model = model, .got = cm_strset_new()};
    cm_idset_each(s, collect, &a);
    CHECK(a.calls == cm_strset_len(model));
    CHECK(a.unknown == 0);
    CHECK(a.twice == 0);
    cm_strset_free(a.got);
    /* close to stored ids, but other ids (a source the random ids never had) */
    CHECK(cm_idset_add(s, 9, "b-1"));
    CHECK(!cm_idset_has(s, 9, "b-01"));
    CHECK(!cm_idset_has(s, 9, "b-"));
    CHECK(!cm_idset_has(s, 9, "B-1"));
    CHECK(!cm_idset_has(s, 3, "b-1") || cm_idset_has(s, 10, "b-1"));
    CHECK(!cm_idset_has(s, 9, "b-1 "));
    CHECK(!cm_idset_has(s, 9, "b-65537"));
    CHECK(cm_idset_add(s, 9, "b-65537") && cm_idset_has(s, 9, "b-65537"));
    CHECK(!cm_idset_has(s, 9, "b-1000000000000000000")); /* 19 digits */
    CHECK(cm_idset_add(s, 9, "b-999999999999999999") &&
          !cm_idset_add(s, 9, "b-999999999999999999"));
    CHECK(cm_idset_add(s, 9, "") && cm_idset_has(s, 9, "") && !cm_idset_has(s, 10, ""));
    cm_idset_free(s);
    cm_strset_free(model);
    cm_idset_free(NULL);
}

/* Ids numbered in sequence cost about a bit each. */
static void test_dense(void)
{
    cm_idset *s = cm_idset_new();
    char id[32];
    size_t added = 0;
    for (int i = 1; i <= 1000000; i++) {
        snprintf(id, sizeof id, "b-%d", i);
        added += cm_idset_add(s, 7, id);
    }
    CHECK(added == 1000000);
    CHECK(cm_idset_has(s, 7, "b-1") && cm_idset_has(s, 7, "b-1000000"));
    CHECK(!cm_idset_has(s, 7, "b-0") && !cm_idset_has(s, 7, "b-1000001"));
    size_t bytes = cm_idset_bytes(s);
    printf("1 000 000 ids numbered in sequence: %zu bytes\n", bytes);
    CHECK(bytes < 300000);
    cm_idset_free(s);
}

/* A class whose numbers are sparse moves to strings, and stays exact: ids that came
 * before and after, from it and from a dense class beside it. */
static void test_sparse(void)
{
    cm_idset *s = cm_idset_new();
    cm_strset *model = cm_strset_new();
    char id[64], k[96];
    size_t wrong = 0;
    for (int i = 0; i < 100000; i++) {
        unsigned long long n = t_rand() % 1000000000000ULL;
        snprintf(id, sizeof id, "evt-%llu", n);
        model_key(k, sizeof k, 1, id);
        wrong += cm_idset_add(s, 1, id) != cm_strset_add(model, k);
        snprintf(id, sizeof id, "b-%d", i); /* dense, same source */
        model_key(k, sizeof k, 1, id);
        wrong += cm_idset_add(s, 1, id) != cm_strset_add(model, k);
        if (i % 3 == 0) {
            snprintf(id, sizeof id, "evt-%llu", t_rand() % 1000000000000ULL);
            model_key(k, sizeof k, 1, id);
            wrong += cm_idset_has(s, 1, id) != cm_strset_has(model, k);
            snprintf(id, sizeof id, "evt-%llu", n);
            wrong += !cm_idset_has(s, 1, id);
        }
    }
    CHECK(wrong == 0);
    CHECK(cm_idset_len(s) == cm_strset_len(model));
    struct seen_all a = {.model = model, .got = cm_strset_new()};
    cm_idset_each(s, collect, &a);
    CHECK(a.calls == cm_strset_len(model) && a.unknown == 0 && a.twice == 0);
    cm_strset_free(a.got);
    /* about what strings cost, not a container per id */
    size_t bytes = cm_idset_bytes(s);
    printf("100 000 sparse and 100 000 dense numbered ids: %zu bytes\n", bytes);
    CHECK(bytes < 100000 * 48);
    cm_idset_free(s);
    cm_strset_free(model);
}

/* A million UUIDs cost about 28 bytes each (67 as strings), and each comes back as it
 * was written, in either case. */
static void test_uuids(void)
{
    cm_idset *s = cm_idset_new();
    char id[64];
    size_t added = 0;
    for (int i = 0; i < 1000000; i++) {
        snprintf(id, sizeof id, "%08x-%04x-4%03x-b%03x-%012llx", (unsigned)t_rand(),
                 (unsigned)(t_rand() & 0xffff), (unsigned)(t_rand() & 0xfff),
                 (unsigned)(t_rand() & 0xfff), (unsigned long long)(t_rand() & 0xffffffffffffULL));
        added += cm_idset_add(s, 3, id);
    }
    CHECK(added == 1000000);
    size_t bytes = cm_idset_bytes(s);
    printf("1 000 000 random UUIDs: %zu bytes\n", bytes);
    CHECK(bytes < 1000000 * 32);
    CHECK(cm_idset_add(s, 3, "00000000-0000-0000-0000-00000000000a"));
    CHECK(cm_idset_add(s, 3, "00000000-0000-0000-0000-00000000000A"));
    CHECK(!cm_idset_has(s, 4, "00000000-0000-0000-0000-00000000000a"));
    CHECK(cm_idset_add(s, 3, "00000000-0000-0000-0000-0000000000aA")); /* mixed: a string */
    CHECK(!cm_idset_add(s, 3, "00000000-0000-0000-0000-0000000000aA"));
    CHECK(cm_idset_add(s, 0x7fffffff, "00000000-0000-0000-0000-00000000000a"));
    CHECK(cm_idset_add(s, 0x80000000u, "00000000-0000-0000-0000-00000000000a")); /* a string */
    CHECK(cm_idset_has(s, 0x80000000u, "00000000-0000-0000-0000-00000000000a"));
    cm_idset_free(s);
}

/* Once no class can be made, ids of new prefixes are kept as strings: still exact. */
static void test_classes_full(void)
{
    cm_idset *s = cm_idset_new();
    char id[32];
    size_t added = 0, again = 0, has = 0;
    for (int i = 0; i < 70000; i++) {
        snprintf(id, sizeof id, "p%d-%d", i, i % 7);
        added += cm_idset_add(s, 1, id);
    }
    for (int i = 0; i < 70000; i++) {
        snprintf(id, sizeof id, "p%d-%d", i, i % 7);
        again += cm_idset_add(s, 1, id);
        has += cm_idset_has(s, 1, id);
        snprintf(id, sizeof id, "p%d-%d", i, i % 7 + 1);
        has += cm_idset_has(s, 1, id);
    }
    CHECK(added == 70000 && again == 0 && has == 70000);
    CHECK(cm_idset_len(s) == 70000);
    cm_idset_free(s);
}

int main(void)
{
    t_seed();
    test_against_model();
    test_dense();
    test_sparse();
    test_classes_full();
    test_uuids();
    T_DONE();
}
