/* libFuzzer: the CloudEvents Kafka binding on arbitrary headers and values.
 *
 * Input layout: one byte, the header count (mod 16); per header a byte choosing a name
 * prefix, a length byte and the rest of the name, a length byte and the value; the rest
 * is the message value. Whatever the bytes, a
 * binary-mode message that converts must come out as one JSON object whose attributes
 * are exactly the header values: nothing a header or the value holds can add, drop or
 * change an attribute. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream/cebind.h"

static size_t take(const uint8_t **p, size_t *n, char *out, size_t cap)
{
    if (!*n)
        return 0;
    size_t l = **p;
    (*p)++;
    (*n)--;
    if (l > *n)
        l = *n;
    if (l > cap - 1)
        l = cap - 1;
    memcpy(out, *p, l);
    out[l] = '\0';
    *p += l;
    *n -= l;
    return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const prefixes[] = {"ce_", "content-type", "ce_id", "ce_type", ""};
    char names[16][300], values[16][256];
    stm_header h[16];
    size_t nh = 0;
    if (size) {
        nh = data[0] % 16;
        data++;
        size--;
    }
    for (size_t i = 0; i < nh; i++) {
        /* A prefix from the list keeps the fuzzer near the names that matter. */
        const char *pre = "";
        if (size) {
            pre = prefixes[data[0] % 5];
            data++;
            size--;
        }
        size_t pl = strlen(pre);
        memcpy(names[i], pre, pl);
        take(&data, &size, names[i] + pl, sizeof names[i] - pl);
        h[i].name = names[i];
        h[i].len = take(&data, &size, values[i], sizeof values[i]);
        h[i].value = values[i];
    }
    const char *value = (const char *)data;
    cm_buf out;
    cm_buf_init(&out, 0);
    stm_ce_attrs a = {0}, back = {0};
    char reason[512];
    (void)stm_ce_is_binary(h, nh);
    if (stm_ce_from_binary(h, nh, value, size, 1u << 16, &out, &a, reason, sizeof reason) == 0) {
        if (!stm_ce_read(out.p, out.len, &back))
            abort();
        for (int i = 0; i < STM_CE__COUNT; i++) {
            const char *want = a.v[i] && *a.v[i] ? a.v[i] : NULL;
            if ((want == NULL) != (back.v[i] == NULL) || (want && strcmp(want, back.v[i])))
                abort();
        }
    }
    stm_ce_read(value, size, &back);
    stm_ce_attrs_clear(&a);
    stm_ce_attrs_clear(&back);
    cm_buf_free(&out);
    return 0;
}
