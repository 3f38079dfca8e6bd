#include "common/fault.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cm_fault_armed;

static const char *const kind_names[] = {"alloc", "io", "sqlite", "crypto"};
static int armed_kind = -1;
static uint64_t target, calls;
static bool persistent;

static void report(void)
{
    fprintf(stderr, "cmkguard: fault seams: %s was called %" PRIu64 " times\n",
            kind_names[armed_kind], calls);
}

int cm_fault_setup(void)
{
    const char *spec = getenv("CMKGUARD_FAULT");
    if (!spec || !*spec)
        return 0;
    const char *colon = strchr(spec, ':');
    for (size_t i = 0; colon && i < sizeof kind_names / sizeof *kind_names; i++)
        if (strlen(kind_names[i]) == (size_t)(colon - spec) &&
            !strncmp(spec, kind_names[i], (size_t)(colon - spec)))
            armed_kind = (int)i;
    if (armed_kind >= 0 && colon && !strcmp(colon + 1, "count")) {
        target = UINT64_MAX;
        cm_fault_armed = true;
        atexit(report);
        return 0;
    }
    char *end = NULL;
    unsigned long long n = colon ? strtoull(colon + 1, &end, 10) : 0;
    if (armed_kind < 0 || n == 0 || !end || (*end && strcmp(end, "+") != 0)) {
        fprintf(stderr,
                "cmkguard: CMKGUARD_FAULT='%s': expected KIND:N, KIND:N+ or "
                "KIND:count (KIND alloc, io, sqlite or crypto; N >= 1)\n",
                spec);
        armed_kind = -1;
        return -1;
    }
    target = n;
    persistent = *end == '+';
    cm_fault_armed = true;
    return 0;
}

bool cm_fault_kind_armed(enum cm_fault_kind k)
{
    return cm_fault_armed && armed_kind == (int)k;
}

bool cm_fault_hit(enum cm_fault_kind k, const char *what)
{
    if ((int)k != armed_kind)
        return false;
    uint64_t n = ++calls;
    if (n != target && !(persistent && n > target))
        return false;
    fprintf(stderr, "cmkguard: injected fault: %s call %" PRIu64 " (%s)\n", kind_names[k], n, what);
    return true;
}
