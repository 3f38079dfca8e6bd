/* libFuzzer: the audit verifier on arbitrary record lines. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "audit/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cry_verifier *key;
    if (!key) {
        cm_err err;
        key = cry_verifier_load("tests/golden/test-signing.pub", &err);
        if (!key)
            return 0;
    }
    aud_verifier *v = aud_verifier_new(key);
    cm_err err;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (aud_verifier_line(v, "fuzz", p, n, &err) < 0)
            break;
        p += n + 1;
    }
    cm_buf sum;
    cm_buf_init(&sum, 0);
    aud_verifier_end(v, &sum, &err);
    cm_buf_free(&sum);
    aud_verifier_free(v);
    return 0;
}
