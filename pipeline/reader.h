/* pip_reader: replay's input read and decoded on a thread of its own, ahead of the
 * thread that decides, through a bounded ring of slots handed over in order.
 *
 * The reader thread owns the cm_lines and a decoder of its own; decoding touches no
 * state (SPEC's pipeline: decode needs none), so what it hands over is what dec_decode
 * would have given the deciding thread, line by line: the decoded event with its strings
 * copied into the slot, or the refusal with its reason and the raw line (for the Azure
 * shapes, which the engine tries only on a refused message). It writes nothing to stderr:
 * a read error waits in the ring, behind the lines before it, for the deciding thread to
 * report. Memory is bounded: at most NSLOTS slots, and no more than a few MiB of event
 * bytes in flight (but one message, whatever its size). */
#ifndef PIP_READER_H
#define PIP_READER_H
#include <stddef.h>
#include <stdint.h>

#include "common/lines.h"
#include "vault/event.h"

typedef struct pip_reader pip_reader;

/* One input line as dec_decode left it. */
typedef struct pip_line {
    const char *msg; /* the line when decoding refused it and it is within max_message;
                        otherwise "" (nothing reads it then) */
    size_t n, lineno;
    int decoded;        /* dec_decode's result: 0, or -1 with reason */
    const char *reason; /* "" when decoded */
    vlt_event ev;       /* its strings in the slot */
} pip_line;

/* Starts reading rd (borrowed: nothing else may touch it until pip_reader_free) on a new
 * thread, decoding each line with max_message as dec_decoder_new takes it and skipping
 * the lines up to line after (-1: none; a resumed replay's committed lines). NULL when
 * the thread cannot start (the caller reads on its own thread instead). */
pip_reader *pip_reader_start(cm_lines *rd, size_t max_message, int64_t after);
/* The next line, in input order, as cm_lines_next gives it: 1 and *line (borrowed until
 * the next call), 0 at the end, -1 with err on a read error of the input (the same error
 * at the same line as a read on this thread; it and the end are given again to a later
 * call). */
int pip_reader_next(pip_reader *r, const pip_line **line, cm_err *err);
/* Stops the thread, wherever it is ahead, and frees everything; NULL is a no-op. */
void pip_reader_free(pip_reader *r);
#endif
