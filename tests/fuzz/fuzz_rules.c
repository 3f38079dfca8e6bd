/* libFuzzer: the rule loader and condition compiler on arbitrary YAML, fed as bytes. */
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cm_err err;
    pol_ruleset_free(pol_ruleset_load_mem("fuzz.yaml", (const char *)data, size, &err));
    return 0;
}
