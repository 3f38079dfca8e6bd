/* Reports of `rules check` and `rules test` in the formats pipelines and CI tools read:
 * JSON lines (one object per line, a summary object last), SARIF 2.1.0, JUnit XML. */
#ifndef POL_REPORT_H
#define POL_REPORT_H
#include <stdio.h>

#include "common/util.h"
#include "policy/policy.h"
#include "policy/ruletest.h"

enum pol_format { POL_FMT_TEXT, POL_FMT_JSON, POL_FMT_SARIF, POL_FMT_JUNIT };

/* "text", "json", "sarif", "junit" -> the format; -1 for anything else. */
int pol_format_parse(const char *s);

/* The outcome of loading the rule files under paths: rs when they loaded (borrowed),
 * else err says where the first error is. Writes it to out as JSON lines or a SARIF
 * log. Returns 0, or -1 when out could not take it all. */
int pol_check_write(FILE *out, enum pol_format fmt, const char *const *paths, size_t n,
                    const pol_ruleset *rs, const cm_err *err);

/* A run of rule tests (borrowed): every case, and err when a test file was broken
 * (NULL otherwise). Writes it to out as JSON lines or JUnit XML. Returns 0, or -1 when
 * out could not take it all. */
int pol_ruletest_write(FILE *out, enum pol_format fmt, const pol_ruletest_report *r,
                       const cm_err *err);
#endif
