/* dec_decoder: CloudEvents JSON -> vlt_event with yajl's streaming parser (no tree).
 * One decoder per thread; reused for every message. */
#ifndef DEC_DECODE_H
#define DEC_DECODE_H
#include <stddef.h>

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
#endif
