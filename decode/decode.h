/* dec_decoder: CloudEvents JSON -> vlt_event with yajl's streaming parser (no tree).
 * One decoder per thread; reused for every message. */
#ifndef DEC_DECODE_H
#define DEC_DECODE_H
#include <stddef.h>

#include "common/buf.h"
#include "vault/event.h"

#define DEC_MAX_MESSAGE_DEFAULT ((size_t)1 << 20)
#define DEC_MAX_DEPTH 64

typedef struct dec_decoder dec_decoder;

dec_decoder *dec_decoder_new(size_t max_message);
void dec_decoder_free(dec_decoder *d);
/* Decodes one message into ev (strings borrowed from d until the next call), its
 * identifiers made canonical (SPEC §2a): vault and key URIs, tenants, principals,
 * versions and regions; a resource id is kept as sent (the state knows the spelling
 * it was first seen with). Returns 0, or -1 with a reason; on -1, ev still carries
 * what could be read (id, type_name, subject) so the rejection can name the event,
 * except after a lone surrogate escape, which no decoded string can name faithfully. */
int dec_decode(dec_decoder *d, const char *msg, size_t n, vlt_event *ev, char *reason,
               size_t reason_len);
/* Copies the strings of ev, as the last dec_decode on d left them (decoded or refused),
 * to the end of to and points ev at the copies: the event then outlives the next call
 * (a reader decoding ahead of the thread that decides). 0, or -1 when to's bound would
 * be passed (ev untouched). */
int dec_event_keep(const dec_decoder *d, vlt_event *ev, cm_buf *to);
#endif
