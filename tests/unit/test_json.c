/* cm_jw: commas, escaping, nesting, misuse and the bound, all checked once at the end. */
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "t.h"

static void test_shapes(void)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    cm_jw w;
    cm_jw_init(&w, &b);
    cm_jw_obj_begin(&w);
    cm_jw_kstr(&w, "a", "x\"y\n\x01");
    cm_jw_kstr(&w, "b", NULL);
    cm_jw_key(&w, "c");
    cm_jw_arr_begin(&w);
    cm_jw_int(&w, -3);
    cm_jw_uint(&w, 18446744073709551615ull);
    cm_jw_bool(&w, true);
    cm_jw_null(&w);
    cm_jw_obj_begin(&w);
    cm_jw_obj_end(&w);
    cm_jw_arr_begin(&w);
    cm_jw_arr_end(&w);
    cm_jw_arr_end(&w);
    cm_jw_khex(&w, "d", "\x01\xab", 2);
    cm_jw_khex(&w, "e", "", 0);
    cm_jw_key(&w, "f");
    cm_jw_b64(&w, "hi", 2);
    cm_jw_key(&w, "g");
    cm_jw_raw(&w, "{\"r\":1}", 7);
    cm_jw_kbool(&w, "h", false);
    cm_jw_kint(&w, "i", 7);
    cm_jw_obj_end(&w);
    CHECK(cm_jw_done(&w) == 0);
    CHECK_STR(b.p,
              "{\"a\":\"x\\\"y\\n\\u0001\",\"b\":null,\"c\":[-3,18446744073709551615,true,null,"
              "{},[]],\"d\":\"01ab\",\"e\":\"\",\"f\":\"aGk=\",\"g\":{\"r\":1},\"h\":false,"
              "\"i\":7}");
    cm_buf_free(&b);
}

static int misuse(void (*f)(cm_jw *))
{
    cm_buf b;
    cm_buf_init(&b, 0);
    cm_jw w;
    cm_jw_init(&w, &b);
    f(&w);
    int rc = cm_jw_done(&w);
    bool failed = cm_buf_failed(&b);
    cm_buf_free(&b);
    return rc < 0 && failed ? -1 : 0;
}

static void value_without_key(cm_jw *w)
{
    cm_jw_obj_begin(w);
    cm_jw_str(w, "x");
    cm_jw_obj_end(w);
}

static void key_in_array(cm_jw *w)
{
    cm_jw_arr_begin(w);
    cm_jw_key(w, "k");
    cm_jw_str(w, "x");
    cm_jw_arr_end(w);
}

static void wrong_end(cm_jw *w)
{
    cm_jw_obj_begin(w);
    cm_jw_arr_end(w);
}

static void left_open(cm_jw *w)
{
    cm_jw_arr_begin(w);
    cm_jw_int(w, 1);
}

static void key_without_value(cm_jw *w)
{
    cm_jw_obj_begin(w);
    cm_jw_key(w, "k");
    cm_jw_obj_end(w);
}

static void too_deep(cm_jw *w)
{
    for (int i = 0; i <= CM_JW_DEPTH; i++)
        cm_jw_arr_begin(w);
    for (int i = 0; i <= CM_JW_DEPTH; i++)
        cm_jw_arr_end(w);
}

static void fine(cm_jw *w)
{
    for (int i = 0; i < CM_JW_DEPTH; i++)
        cm_jw_arr_begin(w);
    for (int i = 0; i < CM_JW_DEPTH; i++)
        cm_jw_arr_end(w);
}

static void test_misuse(void)
{
    CHECK(misuse(value_without_key) < 0);
    CHECK(misuse(key_in_array) < 0);
    CHECK(misuse(wrong_end) < 0);
    CHECK(misuse(left_open) < 0);
    CHECK(misuse(key_without_value) < 0);
    CHECK(misuse(too_deep) < 0);
    CHECK(misuse(fine) == 0);
}

/* A document that passes its buffer's bound is refused as a whole, once, at the end. */
static void test_bound(void)
{
    cm_buf b;
    cm_buf_init(&b, 32);
    cm_jw w;
    cm_jw_init(&w, &b);
    cm_jw_obj_begin(&w);
    cm_jw_kstr(&w, "a", "0123456789");
    cm_jw_kstr(&w, "b", "0123456789"); /* passes 32 bytes here */
    cm_jw_kstr(&w, "c", "");           /* would fit, but the buffer failed */
    cm_jw_obj_end(&w);
    CHECK(cm_jw_done(&w) < 0);
    CHECK(cm_buf_failed(&b));
    CHECK(b.len <= 32);
    CHECK(strstr(b.p, "\"c\"") == NULL);
    cm_buf_free(&b);
}

/* Integers at their edges, written digit by digit. */
static void test_numbers(void)
{
    static const struct {
        int64_t v;
        const char *want;
    } ints[] = {{0, "0"},
                {-1, "-1"},
                {10, "10"},
                {INT64_MAX, "9223372036854775807"},
                {INT64_MIN, "-9223372036854775808"}};
    cm_buf b;
    cm_buf_init(&b, 0);
    for (size_t i = 0; i < CM_ARRAY_LEN(ints); i++) {
        cm_jw w;
        cm_buf_reset(&b);
        cm_jw_init(&w, &b);
        cm_jw_int(&w, ints[i].v);
        CHECK(cm_jw_done(&w) == 0 && t_streq(b.p, ints[i].want));
    }
    cm_jw w;
    cm_buf_reset(&b);
    cm_jw_init(&w, &b);
    cm_jw_arr_begin(&w);
    cm_jw_uint(&w, 0);
    cm_jw_uint(&w, UINT64_MAX);
    cm_jw_arr_end(&w);
    CHECK(cm_jw_done(&w) == 0 && t_streq(b.p, "[0,18446744073709551615]"));
    cm_buf_free(&b);
}

int main(void)
{
    test_numbers();
    test_shapes();
    test_misuse();
    test_bound();
    T_DONE();
}
