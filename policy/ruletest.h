/* Rule tests: YAML files of events and expected decisions (in the spirit of `kyverno test`). */
#ifndef POL_RULETEST_H
#define POL_RULETEST_H
#include <stdbool.h>
#include <stdio.h>

#include "common/util.h"

enum pol_case_status { POL_CASE_PASS, POL_CASE_FAIL, POL_CASE_SKIP };

/* One test case: an expectation of a test file, or (--require-all) a rule that must
 * fire somewhere. */
typedef struct pol_ruletest_case {
    char *name;   /* "c1", "event #2", "CMK-TENANT fires" */
    char *detail; /* pass: the outcome and rules; fail: what differed; skip: why */
    int line;     /* in the suite's file; 0 when none */
    enum pol_case_status status;
    double seconds;
} pol_ruletest_case;

/* The cases of one test file (or of the rule-hit check), in file order. */
typedef struct pol_ruletest_suite {
    char *file;      /* the test file, or "rule hits" */
    char *title;     /* its 'name', or NULL */
    size_t first, n; /* cases[first .. first+n) of the report */
    double seconds;
    bool broken; /* the file stopped the run: the error the run returned is about it */
} pol_ruletest_suite;

/* Everything a run decided, for reports other than the text one. */
typedef struct pol_ruletest_report {
    pol_ruletest_case *cases;
    size_t ncases;
    pol_ruletest_suite *suites;
    size_t nsuites;
    char **rules; /* every rule id loaded by a test, sorted */
    long *hits;   /* how many findings each produced */
    size_t nrules;
    int passed, failed, skipped;
} pol_ruletest_report;

typedef struct pol_ruletest_opts {
    bool require_all;            /* fail when a loaded rule never fired */
    pol_ruletest_report *report; /* when set, filled with every case (caller frees) */
} pol_ruletest_opts;

/* Runs every *.test.yaml under the paths, reporting to out (NULL: no text). Returns the
 * number of failed expectations, or -1 when a test file itself is broken (err says
 * where; the report holds the cases run before it). */
int pol_ruletest_run(const char *const *paths, size_t n, const pol_ruletest_opts *o, FILE *out,
                     cm_err *err);
/* Frees what a run put in r (not r itself); r may be NULL. */
void pol_ruletest_report_free(pol_ruletest_report *r);
#endif
