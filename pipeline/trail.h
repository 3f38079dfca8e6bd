/* The record file of `replay --out` (or stdout): a new file is written from its start;
 * an existing one is continued when it ends exactly at the state's chain head, resumed
 * after an interrupted replay (the records written after the last commit are produced
 * again and compared, never cut), and refused otherwise, left as it was. */
#ifndef PIP_TRAIL_H
#define PIP_TRAIL_H
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

typedef struct pip_trail pip_trail;

/* path NULL: stdout. chained: the state already has the chain, at record seq with hash
 * head; resume: an interrupted replay of the same input. NULL with err (the file is left
 * as it was) when the trail is not the state's to write to. */
pip_trail *pip_trail_open(const char *path, const char *chain, bool chained, bool resume,
                          uint64_t seq, const char *head, cm_err *err);
/* An aud_sink_fn: writes a record, or compares it with the one a resumed trail holds. */
int pip_trail_write(void *arg, const char *subject, const char *line, size_t n);
/* At the end of the input: 0 when a resumed trail held no more than was produced again
 * (a torn last line is cut), -1 when it holds records this replay does not produce. */
int pip_trail_end(pip_trail *t);
/* Makes the records written so far durable (for pip_commit); CM_EENV with err. */
int pip_trail_flush(void *arg, cm_err *err);
/* Prints why writing records failed: a trail that is not this replay's own, or err. */
void pip_trail_fail(const pip_trail *t, const char *chain, const cm_err *err);
void pip_trail_close(pip_trail *t);
#endif
