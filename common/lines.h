/* cm_lines: the lines of a JSONL file or stdin, one bounded line at a time. */
#ifndef CM_LINES_H
#define CM_LINES_H
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

typedef struct cm_lines cm_lines;

/* path "-" reads stdin. max bounds a line: longer lines are drained and reported. */
cm_lines *cm_lines_open(const char *path, size_t max, cm_err *err);
void cm_lines_free(cm_lines *r);
/* Next non-blank line: 1 and *line (borrowed until the next call), *n its full length
 * (which exceeds max for an oversized line, whose bytes are then not kept), *lineno;
 * 0 at the end; -1 on a read error. */
int cm_lines_next(cm_lines *r, const char **line, size_t *n, size_t *lineno, cm_err *err);
/* Whether the input is a regular file (stdin may be one): reading it never waits for a
 * writer, so a thread that reads ahead can always be stopped. */
bool cm_lines_regular(const cm_lines *r);
/* The name records use for this input: the path, or "stdin". */
const char *cm_lines_name(const cm_lines *r);
#endif
