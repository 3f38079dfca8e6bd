#include "common/timestamp.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's
 * days_from_civil), exact for every year the canonical spelling can write. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Seconds since the epoch of 0000-01-01T00:00:00Z and of 10000-01-01T00:00:00Z. */
#define TS_MIN (-62167219200LL)
#define TS_END (253402300800LL)

bool cm_ts_parse(const char *s, size_t n, int64_t *out)
{
    if (!s || !cm_rfc3339_valid(s, n))
        return false;
    int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
    if (d > days_in_month(y, mo))
        return false;
    int64_t t = days_from_civil(y, mo, d) * 86400 + num(s + 11, 2) * 3600 + num(s + 14, 2) * 60 +
                num(s + 17, 2);
    /* The zone is the last six characters unless the time ends in Z. */
    char z = s[n - 1];
    if (z != 'Z' && z != 'z') {
        int off = num(s + n - 5, 2) * 3600 + num(s + n - 2, 2) * 60;
        t += s[n - 6] == '+' ? -off : off;
    }
    if (t < TS_MIN || t >= TS_END)
        return false;
    *out = t;
    return true;
}

void cm_ts_format(int64_t t, char out[CM_TS_SIZE])
{
    if (t < TS_MIN)
        t = TS_MIN;
    if (t >= TS_END)
        t = TS_END - 1;
    int64_t days = (t >= 0 ? t : t - 86399) / 86400;
    int64_t sec = t - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    char tmp[64]; /* roomy enough for any int, so the compiler sees no truncation */
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60));
    memcpy(out, tmp, CM_TS_SIZE - 1);
    out[CM_TS_LEN] = '\0';
}
