/* Derived events for resources that moved tenants (stream/handover.h). */
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "common/json.h"
#include "stream/cebind.h"
#include "stream/handover.h"

int stm_arrived_event(const vlt_handover *h, cm_buf *out)
{
    char id[1100];
    snprintf(id, sizeof id, "%.1000s#1", h->cause ? h->cause : "");
    cm_jw j;
    cm_jw_init(&j, out);
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "specversion", "1.0");
    cm_jw_kstr(&j, "id", id);
    if (h->source) /* the move's, when it had one */
        cm_jw_kstr(&j, "source", h->source);
    cm_jw_kstr(&j, "type", STM_ARRIVED_TYPE);
    cm_jw_kstr(&j, "subject", h->id);
    cm_jw_kstr(&j, "time", h->time);
    cm_jw_kstr(&j, "datacontenttype", "application/json");
    cm_jw_key(&j, "data");
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "mac", h->mac);
    cm_jw_kstr(&j, "state", h->doc);
    cm_jw_kstr(&j, "subscription", h->subscription);
    cm_jw_kstr(&j, "tenant", h->tenant);
    cm_jw_obj_end(&j);
    cm_jw_obj_end(&j);
    return cm_jw_done(&j);
}

int stm_handover_outbox(vlt_state *st, stm_outbox *ob, const char *topic, cm_err *err)
{
    vlt_handover *h = NULL;
    size_t n = 0;
    if (vlt_state_hand_over(st, &h, &n, err) < 0)
        return -1;
    int rc = 0;
    cm_buf v, hd;
    cm_buf_init(&v, 0);
    cm_buf_init(&hd, 0);
    stm_ce_pack(&hd, "content-type", STM_CE_STRUCTURED);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cm_buf_reset(&v);
        if (stm_arrived_event(&h[i], &v) < 0) {
            cm_err_set(err, h[i].id, 0, 0, "the derived event of its move is over its bound");
            rc = -1;
            break;
        }
        stm_outmsg m = {.topic = (char *)topic,
                        .partition = RD_KAFKA_PARTITION_UA, /* by its key: the tenant */
                        .key = h[i].tenant,
                        .keylen = strlen(h[i].tenant),
                        .value = v.p,
                        .len = v.len,
                        .headers = hd.p,
                        .hlen = hd.len};
        stm_outbox_add(ob, &m);
        cm_log("run: resource %s moved to tenant %s: handed over (%s#1)", h[i].id, h[i].tenant,
               h[i].cause ? h[i].cause : "");
    }
    cm_buf_free(&v);
    cm_buf_free(&hd);
    vlt_handovers_free(h, n);
    return rc;
}
