/* cm_buf: appends within the bound, refusals at it that stick until a reset, and secret
 * buffers that leave no copy behind when they grow, are reset or go. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/mem.h"
#include "tests/unit/t.h"

/* A watch on free(3): when the watched block is freed, whether its bytes were all zero.
 * Every free of the process passes through here on its way to the real one. */
static void *watch_p;
static size_t watch_n;
static int watch_freed, watch_zero;

void free(void *p)
{
    static void (*real)(void *);
    static bool resolving;
    if (!real) {
        if (resolving)
            return; /* the resolver's own bookkeeping: kept, once */
        resolving = true;
        *(void **)&real = dlsym(RTLD_NEXT, "free");
        resolving = false;
        if (!real)
            abort();
    }
    if (p && p == watch_p) {
        const unsigned char *b = p;
        size_t nz = 0;
        for (size_t i = 0; i < watch_n; i++)
            nz += b[i] != 0;
        watch_freed++;
        watch_zero = nz == 0;
        watch_p = NULL;
    }
    real(p);
}

static void watch(void *p, size_t n)
{
    watch_p = p;
    watch_n = n;
    watch_freed = watch_zero = 0;
}

static void test_bounds(void)
{
    cm_buf b;
    cm_buf_init(&b, 8);
    CHECK(b.p == NULL && b.len == 0 && b.max == 8 && !b.secret);
    CHECK(cm_buf_adds(&b, "12345") == 0);
    CHECK(cm_buf_adds(&b, "678") == 0); /* exactly max */
    CHECK(b.len == 8 && t_streq(b.p, "12345678"));
    CHECK(b.cap <= b.max + 1);
    CHECK(cm_buf_ok(&b));
    /* one byte more is refused, changes nothing, and marks the buffer failed */
    CHECK(cm_buf_addc(&b, '9') == -1);
    CHECK(b.len == 8 && t_streq(b.p, "12345678"));
    CHECK(cm_buf_failed(&b));
    /* failed stays failed: even an append that would fit is refused */
    CHECK(cm_buf_add(&b, "", 0) == -1 && b.len == 8);
    cm_buf_reset(&b);
    CHECK(b.len == 0 && t_streq(b.p, "") && b.cap > 0);
    CHECK(cm_buf_ok(&b)); /* a reset is a new start */
    CHECK(cm_buf_adds(&b, "123456789") == -1);
    CHECK(b.len == 0 && t_streq(b.p, ""));
    /* a bound lowered below what the buffer holds room for still holds, byte by byte */
    cm_buf_reset(&b);
    b.max = 2;
    CHECK(b.cap > 3 && cm_buf_addc(&b, 'a') == 0 && cm_buf_addc(&b, 'b') == 0);
    CHECK(cm_buf_addc(&b, 'c') == -1 && b.len == 2 && t_streq(b.p, "ab") && cm_buf_failed(&b));
    CHECK(cm_buf_addc(&b, 'c') == -1 && b.len == 2);
    cm_buf_reset(&b);
    b.max = 8;
    CHECK(cm_buf_adds(&b, "123456789") == -1); /* failed and empty again, as above */
    CHECK(cm_buf_adds(&b, "1234") == -1 && t_streq(b.p, ""));
    cm_buf_reset(&b);
    CHECK(cm_buf_adds(&b, "1234") == 0 && t_streq(b.p, "1234"));
    CHECK(cm_buf_adds(&b, "56789") == -1 && t_streq(b.p, "1234"));
    CHECK(cm_buf_adds(&b, "5678") == -1 && t_streq(b.p, "1234"));
    CHECK(cm_buf_addf(&b, "%d", 5) == -1 && t_streq(b.p, "1234"));
    CHECK(cm_buf_failed(&b));
    /* a size that would wrap around is refused, not wrapped */
    cm_buf_reset(&b);
    CHECK(cm_buf_add(&b, "x", (size_t)-1) == -1 && b.len == 0 && cm_buf_failed(&b));
    cm_buf_free(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
    cm_buf_free(&b); /* twice is harmless */

    /* formatted appends: short, long (past the 256-byte scratch), and past the bound */
    cm_buf_init(&b, 1000);
    CHECK(cm_buf_addf(&b, "%d-%s", 42, "x") == 0 && t_streq(b.p, "42-x"));
    char big[600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(cm_buf_addf(&b, "[%s]", big) == 0);
    CHECK(b.len == 4 + 601 && b.p[4] == '[' && b.p[b.len - 1] == ']' && b.p[b.len] == '\0');
    CHECK(cm_buf_addf(&b, "%s", big) == -1);
    CHECK(b.len == 605);
    CHECK(cm_buf_failed(&b) && cm_buf_adds(&b, "y") == -1 && b.len == 605);
    char *t = cm_buf_take(&b);
    CHECK(cm_buf_ok(&b)); /* taken: empty and new */
    CHECK(t && strlen(t) == 605 && b.p == NULL && b.len == 0 && b.cap == 0);
    free(t);
    t = cm_buf_take(&b); /* an empty buffer gives an empty string */
    CHECK(t && t[0] == '\0');
    free(t);
    cm_buf_free(&b);

    /* max 0 means the default bound */
    cm_buf_init(&b, 0);
    CHECK(b.max == CM_BUF_MAX_DEFAULT);
    cm_buf_free(&b);
}

/* Growth through many doublings keeps every byte, in order. */
static void test_growth(void)
{
    cm_buf b;
    cm_buf_init(&b, 1 << 20);
    for (int i = 0; i < 100000; i++)
        if (cm_buf_addc(&b, (char)('a' + i % 26)) < 0)
            break;
    CHECK(b.len == 100000);
    bool same = true;
    for (size_t i = 0; i < b.len; i++)
        same &= b.p[i] == (char)('a' + i % 26);
    CHECK(same);
    cm_buf_free(&b);
}

static void test_secret(void)
{
    cm_buf s;
    cm_buf_init_secret(&s, 4096);
    CHECK(s.secret);
    CHECK(cm_buf_adds(&s, "key material, 32 bytes of it....") == 0);
    /* growing moves the bytes and wipes where they were */
    void *old = s.p;
    size_t oldcap = s.cap;
    watch(old, oldcap);
    char more[100];
    memset(more, 'k', sizeof more);
    CHECK(cm_buf_add(&s, more, sizeof more) == 0);
    CHECK(s.p != old);
    CHECK(watch_freed == 1 && watch_zero);
    CHECK(s.len == 132 && !memcmp(s.p, "key material", 12) && s.p[131] == 'k');
    /* freeing wipes all of it, cap bytes */
    watch(s.p, s.cap);
    cm_buf_free(&s);
    CHECK(watch_freed == 1 && watch_zero);
    CHECK(s.p == NULL && s.len == 0);

    /* the buffer stays secret after a free: used again, it wipes again */
    CHECK(s.secret);
    CHECK(cm_buf_adds(&s, "again") == 0);
    /* a reset wipes the bytes it keeps the room for */
    char *kept = s.p;
    size_t keptcap = s.cap;
    cm_buf_reset(&s);
    CHECK(s.p == kept);
    bool wiped = true;
    for (size_t i = 0; i < keptcap; i++)
        wiped &= kept[i] == '\0';
    CHECK(wiped);
    watch(s.p, s.cap);
    cm_buf_free(&s);
    CHECK(watch_freed == 1 && watch_zero);

    /* and the watch itself can fail: an ordinary free leaves the bytes */
    cm_buf o;
    cm_buf_init(&o, 0);
    CHECK(cm_buf_adds(&o, "plaintext") == 0);
    watch(o.p, o.len);
    cm_buf_free(&o);
    CHECK(watch_freed == 1 && !watch_zero);

    unsigned char k[16];
    memset(k, 0xA5, sizeof k);
    cm_wipe(k, sizeof k);
    bool zero = true;
    for (size_t i = 0; i < sizeof k; i++)
        zero &= k[i] == 0;
    CHECK(zero);
}

/* A writer over the buffer marks it failed for its own misuse (cm_buf_fail): the one
 * check at the end sees it like a bound. */
static void test_fail(void)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    CHECK(cm_buf_adds(&b, "ok") == 0);
    cm_buf_fail(&b);
    CHECK(cm_buf_failed(&b));
    CHECK(cm_buf_adds(&b, "more") == -1);
    CHECK(t_streq(b.p, "ok"));
    cm_buf_free(&b);
    CHECK(cm_buf_ok(&b));
}

/* A cut gives back what was appended after a point, a failed append's refusal with it:
 * a producer writing one record after others in the same buffer drops only that one. */
static void test_cut(void)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    CHECK(cm_buf_adds(&b, "first;") == 0);
    size_t mark = b.len;
    b.max = mark + 4; /* the next record alone is bounded at 4 bytes */
    CHECK(cm_buf_adds(&b, "second") == -1 && cm_buf_failed(&b));
    cm_buf_cut(&b, mark);
    CHECK(cm_buf_ok(&b) && b.len == mark && t_streq(b.p, "first;"));
    CHECK(cm_buf_adds(&b, "3rd") == 0 && t_streq(b.p, "first;3rd"));
    cm_buf_cut(&b, b.len + 1); /* past the end: nothing to cut */
    CHECK(t_streq(b.p, "first;3rd"));
    cm_buf_cut(&b, 0);
    CHECK(b.len == 0 && t_streq(b.p, ""));
    cm_buf_free(&b);
}

int main(void)
{
    test_bounds();
    test_fail();
    test_cut();
    test_growth();
    test_secret();
    T_DONE();
}
