/* Rule tests: YAML files of events and expected decisions (in the spirit of `kyverno test`). */
#ifndef POL_RULETEST_H
#define POL_RULETEST_H
#include <stdbool.h>
#include <stdio.h>

#include "common/util.h"

typedef struct pol_ruletest_opts {
    bool require_all; /* fail when a loaded rule never fired */
} pol_ruletest_opts;

/* Runs every *.test.yaml under the paths, reporting to out. Returns the number of
 * failed expectations, or -1 when a test file itself is broken (err says where). */
int pol_ruletest_run(const char *const *paths, size_t n, const pol_ruletest_opts *o, FILE *out,
                     cm_err *err);
#endif
