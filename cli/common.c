#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"

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
