/* Derived events (SPEC §7a): an effect on another tenant's resource travels to that
 * tenant's partition as an event of its own, so each partition's input stays one ordered
 * log. The one built: a resource moved to another tenant leaves its partition's state
 * (vlt_state_hand_over) and arrives in the new tenant's as cmkguard.resource.arrived, its
 * state with it. docs/ARCHITECTURE.md tells the event and what it leaves out. */
#ifndef STM_HANDOVER_H
#define STM_HANDOVER_H
#include "common/buf.h"
#include "common/util.h"
#include "stream/outbox.h"
#include "vault/state.h"

#define STM_ARRIVED_TYPE "cmkguard.resource.arrived"

/* The derived event for a resource handed over (borrowed), appended to out: a
 * structured-mode CloudEvent with the id of the move + "#1" and its source and time, the
 * resource as subject, data {mac, state, subscription, tenant}. 0, or -1 when out hit its
 * bound. */
int stm_arrived_event(const vlt_handover *h, cm_buf *out);
/* Hands over every resource st noted as moved to another tenant, each derived event queued
 * into ob (to the events topic, keyed by the new tenant), to be made durable with the
 * batch that moved it. 0, or -1 with err. */
int stm_handover_outbox(vlt_state *st, stm_outbox *ob, const char *topic, cm_err *err);
#endif
