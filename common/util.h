/* Small helpers shared by every module: errors, strings, encodings. */
#ifndef CM_UTIL_H
#define CM_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/mem.h"

#define CM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CM_VERSION "0.1.0"

/* Errors, one convention everywhere below cli/: a function that can fail returns 0 or
 * one of these negative codes, saying what kind of failure it is, and fills a
 * caller-owned message (a cm_err, or a char buffer where no place is known). A function
 * that returns a pointer returns NULL and says the kind in its cm_err's code, or in its
 * comment when there is only one kind. Only cli/ turns codes into exit codes. */
enum cm_code {
    CM_EINPUT = -1,   /* the input is bad (an event, a file, a flag): refuse it, go on */
    CM_EENV = -2,     /* the environment failed (a library, the disk, the broker): stop,
                       * fail closed */
    CM_EREFUSED = -3, /* the state refuses: data of a locked or lost resource */
    CM_ECHECK = -4,   /* a check failed: a record that does not verify */
};

/* A caller-owned error: where (file, line, column; 0 when not known), what, and its kind
 * (cm_err_set: CM_EINPUT; cm_err_env: CM_EENV; or set code after either). */
typedef struct cm_err {
    char where[512];
    int line, col;
    char msg[768];
    int code;
} cm_err;

void cm_err_clear(cm_err *e);
void cm_err_set(cm_err *e, const char *where, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Same, of kind CM_EENV; returns CM_EENV. */
int cm_err_env(cm_err *e, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "WHERE:LINE:COL: msg" (line/col left out when 0) into out. */
void cm_err_format(const cm_err *e, char *out, size_t n);
/* Prints "cmkguard: WHERE:LINE:COL: msg" to stderr. */
void cm_err_print(const cm_err *e);
void cm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Seconds on the monotonic clock: for durations, never for record times. */
double cm_now(void);

bool cm_streq(const char *a, const char *b); /* NULL-safe */
/* A fast (not keyed) 64-bit hash of a string, eight bytes at a time; *len its length. */
uint64_t cm_strhash(const char *s, size_t *len);
bool cm_endswith(const char *s, const char *suffix);
/* Writes parts[0] sep parts[1] sep … into buf (n bytes, n > 3), always terminated. When
 * they do not fit, the text is cut at a character boundary and ends in "..." and the
 * result is false: a cut is visible, never silent. */
bool cm_join(char *buf, size_t n, const char *sep, const char *const *parts, size_t np);

/* Strict decimal parse into int64; false on junk, overflow or empty input. */
bool cm_parse_i64(const char *s, int64_t *out);

void cm_hex(const uint8_t *d, size_t n, char *out); /* out holds 2n+1 */
int cm_hexval(int c); /* a hex digit's value, either case; -1 for any other byte */
int cm_unhex(const char *s, uint8_t *out, size_t n); /* exactly 2n hex digits */
/* Standard base64 with padding. */
int cm_b64_encode(const uint8_t *d, size_t n, cm_buf *out);
#define CM_B64_LEN(n) (((n) + 2) / 3 * 4)                /* characters of n bytes in base64 */
void cm_b64_text(const uint8_t *d, size_t n, char *out); /* out holds CM_B64_LEN(n)+1 */
int cm_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outn);

bool cm_utf8_valid(const char *s, size_t n);
/* RFC 3339 date-time (with 'T', seconds, optional fraction, Z or offset). */
bool cm_rfc3339_valid(const char *s, size_t n);
/* RFC 8785 string serialization (with quotes) appended to out. */
int cm_json_str(cm_buf *out, const char *s, size_t n);
int cm_json_cstr(cm_buf *out, const char *s); /* NULL writes null */

/* Reads a whole file (up to max bytes) into out; -1 with errno set on failure. */
int cm_read_file(const char *path, size_t max, cm_buf *out);
#endif
