/* libFuzzer: the event decoder and the engine behind it, on arbitrary bytes — cmkguard's
 * own events and Azure's shapes alike. */
#include <stddef.h>
#include <stdint.h>

#include "policy/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pol_ruleset *rs;
    static vlt_state *st;
    static pol_engine *eng;
    if (!eng) {
        cm_err err;
        const char *paths[] = {"rules"};
        rs = pol_ruleset_load(paths, 1, &err);
        if (!rs)
            rs = pol_ruleset_empty();
        st = vlt_state_open(NULL, NULL, &err);
        eng = pol_engine_new(rs, st, 1u << 16);
    }
    aud_decision d = {0};
    pol_engine_process(eng, (const char *)data, size, "fuzz", &d);
    while (pol_engine_more(eng, &d)) /* an Azure message: every derived decision */
        ;
    aud_decision_clear(&d);
    return 0;
}
