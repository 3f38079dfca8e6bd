/* libFuzzer: the rule loader and condition compiler on arbitrary YAML. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/cmkguard-fuzz-rules-%d.yaml", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    cm_err err;
    const char *paths[] = {path};
    pol_ruleset_free(pol_ruleset_load(paths, 1, &err));
    unlink(path);
    return 0;
}
