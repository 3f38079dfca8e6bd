/* stm_reader: events from a JSONL file or stdin, one bounded line at a time. */
#ifndef STM_REPLAY_H
#define STM_REPLAY_H
#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

typedef struct stm_reader stm_reader;

/* path "-" reads stdin. max bounds a line: longer lines are drained and reported. */
stm_reader *stm_reader_open(const char *path, size_t max, cm_err *err);
void stm_reader_free(stm_reader *r);
/* Next non-blank line: 1 and *line (borrowed until the next call), *n its full length
 * (which exceeds max for an oversized line, whose bytes are then not kept), *lineno;
 * 0 at the end; -1 on a read error. */
int stm_reader_next(stm_reader *r, const char **line, size_t *n, size_t *lineno, cm_err *err);
/* The name records use for this input: the path, or "stdin". */
const char *stm_reader_name(const stm_reader *r);
#endif
