/* common/timestamp.h: RFC 3339 text to seconds since the epoch and back to the one
 * canonical spelling; the range it can write; a seeded round trip. */
#include <stdint.h>
#include <string.h>

#include "common/timestamp.h"
#include "tests/unit/t.h"
#include "tests/unit/t_seed.h"

static bool parses_to(const char *s, int64_t want)
{
    int64_t t = 12345;
    bool ok = cm_ts_parse(s, strlen(s), &t) && t == want;
    if (!ok)
        fprintf(stderr, "  %s: got %lld, want %lld\n", s, (long long)t, (long long)want);
    return ok;
}

static bool refused(const char *s)
{
    int64_t t = 12345;
    return !cm_ts_parse(s, strlen(s), &t) && t == 12345;
}

static bool formats_as(int64_t t, const char *want)
{
    char out[CM_TS_SIZE];
    memset(out, '#', sizeof out);
    cm_ts_format(t, out);
    return strlen(out) == CM_TS_LEN && t_streq(out, want);
}

static void test_parse(void)
{
    CHECK(parses_to("1970-01-01T00:00:00Z", 0));
    CHECK(parses_to("1969-12-31T23:59:59Z", -1));
    CHECK(parses_to("2026-11-01T09:00:00Z", 1793523600));
    CHECK(parses_to("2026-11-01t09:00:00z", 1793523600));
    CHECK(parses_to("2026-11-01T09:00:00.999999999Z", 1793523600)); /* fraction dropped */
    CHECK(parses_to("2026-11-01T10:30:00+01:30", 1793523600));      /* offsets applied */
    CHECK(parses_to("2026-11-01T08:59:00-00:01", 1793523600));
    CHECK(parses_to("2026-11-02T00:00:00+14:59", 1793523600 + 15 * 3600 - 14 * 3600 - 59 * 60));
    CHECK(parses_to("2000-02-29T12:34:56Z", 951827696));
    CHECK(parses_to("2016-12-31T23:59:60Z", 1483228800)); /* a leap second: the next one */
    CHECK(parses_to("0001-01-01T00:00:00Z", -62135596800LL));
    CHECK(parses_to("0000-01-01T00:00:00Z", -62167219200LL));
    CHECK(parses_to("9999-12-31T23:59:59Z", 253402300799LL));
    /* outside the years 0000-9999 in UTC */
    CHECK(refused("0000-01-01T00:00:00+00:01"));
    CHECK(refused("9999-12-31T23:59:59-00:01"));
    CHECK(parses_to("9999-12-31T23:59:59+00:01", 253402300799LL - 60));
    /* not RFC 3339, or no real day */
    CHECK(refused("2026-02-29T00:00:00Z"));
    CHECK(refused("2026-11-31T00:00:00Z"));
    CHECK(refused("2026-11-01T09:00:00"));
    CHECK(refused("2026-11-01"));
    CHECK(refused(""));
    int64_t t = 5;
    CHECK(!cm_ts_parse(NULL, 0, &t) && t == 5);
    CHECK(!cm_ts_parse("2026-11-01T09:00:00Z", 19, &t) && t == 5);
}

static void test_format(void)
{
    CHECK(formats_as(0, "1970-01-01T00:00:00Z"));
    CHECK(formats_as(-1, "1969-12-31T23:59:59Z"));
    CHECK(formats_as(1793523600, "2026-11-01T09:00:00Z"));
    CHECK(formats_as(951827696, "2000-02-29T12:34:56Z"));
    CHECK(formats_as(-62167219200LL, "0000-01-01T00:00:00Z"));
    CHECK(formats_as(253402300799LL, "9999-12-31T23:59:59Z"));
    /* beyond the range it clamps to the ends */
    CHECK(formats_as(-62167219201LL, "0000-01-01T00:00:00Z"));
    CHECK(formats_as(INT64_MIN, "0000-01-01T00:00:00Z"));
    CHECK(formats_as(253402300800LL, "9999-12-31T23:59:59Z"));
    CHECK(formats_as(INT64_MAX, "9999-12-31T23:59:59Z"));
}

/* Random instants across the range: format then parse gives the instant back, and the
 * spellings sort as the instants do. */
static void test_round_trip(void)
{
    t_seed();
    const int64_t lo = -62167219200LL, span = 253402300800LL - lo;
    int bad = 0;
    char prev[CM_TS_SIZE] = "";
    int64_t prev_t = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t t = lo + (int64_t)(t_rand() % (uint64_t)span);
        char s[CM_TS_SIZE];
        cm_ts_format(t, s);
        int64_t back;
        if (!cm_ts_parse(s, strlen(s), &back) || back != t) {
            if (bad++ < 3)
                fprintf(stderr, "  %lld -> %s -> %lld\n", (long long)t, s, (long long)back);
        }
        if (i && (strcmp(prev, s) < 0) != (prev_t < t) && prev_t != t)
            bad++;
        memcpy(prev, s, sizeof s);
        prev_t = t;
    }
    CHECK(bad == 0);
}

int main(void)
{
    test_parse();
    test_format();
    test_round_trip();
    T_DONE();
}
