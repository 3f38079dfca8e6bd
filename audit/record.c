/* Reading members of verified records; see audit/record.h. */
#include <string.h>

#include "audit/record.h"
#include "common/timestamp.h"

yajl_val aud_rec_get(yajl_val o, const char *k)
{
    if (!YAJL_IS_OBJECT(o))
        return NULL;
    for (size_t i = 0; i < o->u.object.len; i++)
        if (!strcmp(o->u.object.keys[i], k))
            return o->u.object.values[i];
    return NULL;
}

const char *aud_rec_str(yajl_val o, const char *k)
{
    yajl_val v = aud_rec_get(o, k);
    return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

bool aud_rec_int(yajl_val o, const char *k, long long *out)
{
    yajl_val v = aud_rec_get(o, k);
    if (!YAJL_IS_INTEGER(v))
        return false;
    *out = YAJL_GET_INTEGER(v);
    return true;
}

bool aud_rec_true(yajl_val o, const char *k)
{
    return YAJL_IS_TRUE(aud_rec_get(o, k));
}

bool aud_rec_time_ms(const char *s, int64_t *out)
{
    int64_t sec;
    if (!s || !cm_ts_parse(s, strlen(s), &sec))
        return false;
    int64_t ms = 0;
    /* YYYY-MM-DDTHH:MM:SS is 19 bytes; a fraction follows as ".d…" */
    if (strlen(s) > 20 && s[19] == '.') {
        const char *p = s + 20;
        for (int i = 0; i < 3; i++) {
            ms *= 10;
            if (*p >= '0' && *p <= '9')
                ms += *p++ - '0';
        }
    }
    *out = sec * 1000 + ms;
    return true;
}
