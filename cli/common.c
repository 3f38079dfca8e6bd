#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"
#include "common/util.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cmkguard %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see 'cmkguard help')\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

int cli_exit(int code)
{
    switch (code) {
    case 0:
        return EXIT_OK;
    case CM_EREFUSED:
    case CM_ECHECK:
        return EXIT_CHECK;
    case CM_EINPUT:
        return EXIT_USAGE;
    default:
        return EXIT_RUNTIME;
    }
}
