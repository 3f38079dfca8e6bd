/* pol_engine: decides one event at a time — decode, apply, evaluate every rule,
 * settle the physics, commit or leave the state untouched — into an aud_decision. */
#ifndef POL_ENGINE_H
#define POL_ENGINE_H
#include <stdbool.h>
#include <stddef.h>

#include "audit/decision.h"
#include "policy/policy.h"
#include "vault/state.h"

typedef struct pol_engine pol_engine;

/* Borrows rs and st; both must outlive the engine (or be swapped in with set_rules). */
pol_engine *pol_engine_new(const pol_ruleset *rs, vlt_state *st, size_t max_message);
void pol_engine_free(pol_engine *e);
void pol_engine_set_rules(pol_engine *e, const pol_ruleset *rs);
const pol_ruleset *pol_engine_rules(const pol_engine *e);
/* Decides one message; d is cleared first and filled with its first decision. input
 * names where it came from. A message in an Azure shape (SPEC §2b) may hold several
 * decisions: one per event of an Event Grid batch, one per event derived from an
 * observation. The caller treats each like the first, in order:
 *
 *     pol_engine_process(e, msg, n, input, &d);
 *     do { ...emit d, stop on d.fatal... } while (pol_engine_more(e, &d));
 *
 * and commits the message's input position once, after the last. */
void pol_engine_process(pol_engine *e, const char *msg, size_t n, const char *input,
                        aud_decision *d);
/* The same for a message decoded beforehand, elsewhere (replay's reader thread): decoded
 * is dec_decode's result for msg, with its ev and reason (all borrowed for the call; msg
 * is read only when decoded is negative, and then only when n is within the engine's
 * max_message). */
void pol_engine_process_decoded(pol_engine *e, const char *msg, size_t n, int decoded,
                                const vlt_event *ev, const char *reason, const char *input,
                                aud_decision *d);
/* The next decision of the message last given to either, into d (cleared first; input
 * kept): true, or false when the message has none left (d untouched). */
bool pol_engine_more(pol_engine *e, aud_decision *d);
#endif
