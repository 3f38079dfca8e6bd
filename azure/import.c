/* import: bare ARM bodies -> the cmkguard events that build that estate (SPEC §6). */
#include <stdlib.h>

#include "azure/internal.h"

struct az_import {
    char *time;
};

az_import *az_import_new(const char *time)
{
    az_import *im = cm_xcalloc(1, sizeof *im);
    im->time = cm_strdup(time ? time : AZ_IMPORT_TIME);
    return im;
}

void az_import_free(az_import *im)
{
    if (!im)
        return;
    free(im->time);
    free(im);
}
