/* OCSF Compliance Findings from verified audit records. Each finding of a decision
 * record becomes one event of class 2003 (Findings / Compliance Finding, activity
 * Create); records without findings and checkpoint records produce nothing. Member
 * order is fixed and no clock is read, so the same trail gives the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "audit/ocsf.h"
#include "audit/record.h"
#include "common/json.h"

struct aud_ocsf {
    aud_sink_fn sink;
    void *arg;
    uint64_t count;
    cm_buf line;
};

aud_ocsf *aud_ocsf_new(aud_sink_fn sink, void *arg)
{
    aud_ocsf *x = cm_xcalloc(1, sizeof *x);
    x->sink = sink;
    x->arg = arg;
    cm_buf_init(&x->line, 0);
    return x;
}

void aud_ocsf_free(aud_ocsf *x)
{
    if (!x)
        return;
    cm_buf_free(&x->line);
    free(x);
}

uint64_t aud_ocsf_count(const aud_ocsf *x)
{
    return x->count;
}

/* OCSF severity_id: 1 Informational … 5 Critical; 0 Unknown for anything else. */
static int severity_id(const char *s, const char **caption)
{
    static const struct {
        const char *name, *caption;
        int id;
    } map[] = {{"low", "Low", 2},
               {"medium", "Medium", 3},
               {"high", "High", 4},
               {"critical", "Critical", 5}};
    for (size_t i = 0; s && i < CM_ARRAY_LEN(map); i++)
        if (!strcmp(s, map[i].name)) {
            *caption = map[i].caption;
            return map[i].id;
        }
    *caption = "Unknown";
    return 0;
}

/* The compliance check (compliance.status_id) and the finding's own workflow status
 * (status_id) for a finding's result; see docs/ocsf.md for why. */
static void statuses(const char *result, int *check, const char **check_caption, int *status,
                     const char **status_caption)
{
    *status = 1, *status_caption = "New";
    if (cm_streq(result, "match")) {
        *check = 3, *check_caption = "Fail";
    } else if (cm_streq(result, "unknown")) {
        *check = 2, *check_caption = "Warning"; /* no result: data was missing */
    } else if (cm_streq(result, "exempted")) {
        *check = 3, *check_caption = "Fail";
        *status = 3, *status_caption = "Suppressed";
    } else {
        *check = 0, *check_caption = "Unknown";
    }
}

/* v (a value of a verified record) in its canonical form, as the value after j's key. */
static void rec_json(cm_jw *j, yajl_val v)
{
    cm_buf t;
    cm_buf_init(&t, j->b->max);
    if (aud_rec_json(&t, v) < 0 || cm_buf_failed(&t))
        cm_buf_fail(j->b);
    else
        cm_jw_raw(j, t.p, t.len);
    cm_buf_free(&t);
}

/* An Azure resource type from the ids cmkguard records: ARM ids give their provider
 * namespace and types; vault and key URIs are Key Vault's. NULL when neither. */
static const char *resource_type(const char *id, char *out, size_t n)
{
    if (!id)
        return NULL;
    if (!strncmp(id, "https://", 8) && strstr(id, ".vault.azure.net")) {
        snprintf(out, n, "%s",
                 strstr(id, "/keys/") ? "Microsoft.KeyVault/vaults/keys"
                                      : "Microsoft.KeyVault/vaults");
        return out;
    }
    const char *p = strstr(id, "/providers/");
    if (!p)
        return NULL;
    p += strlen("/providers/");
    /* namespace/type/name[/type/name]…: keep the namespace and the types */
    size_t k = 0;
    int seg = 0;
    for (const char *s = p; *s && k + 1 < n; seg++) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (seg == 0 || seg % 2 == 1) {
            if (k && k + 1 < n)
                out[k++] = '/';
            for (size_t i = 0; i < len && k + 1 < n; i++)
                out[k++] = s[i];
        }
        if (!e)
            break;
        s = e + 1;
    }
    out[k] = '\0';
    return seg >= 2 ? out : NULL;
}

static const char *last_segment(const char *id)
{
    const char *s = strrchr(id, '/');
    return s && s[1] ? s + 1 : id;
}

/* compliance: the rule is the control that was checked; the standards it maps to
 * (in the order the rule names them, each once) and "STANDARD CONTROL" requirements. */
static void compliance(cm_jw *j, yajl_val f, const char *rule, const char *result)
{
    int check, status;
    const char *check_caption, *status_caption;
    statuses(result, &check, &check_caption, &status, &status_caption);
    yajl_val list = aud_rec_get(f, "compliance");
    size_t n = YAJL_IS_ARRAY(list) ? list->u.array.len : 0;
    cm_jw_key(j, "compliance");
    cm_jw_obj_begin(j);
    cm_jw_kstr(j, "control", rule);
    if (n) {
        cm_jw_key(j, "requirements");
        cm_jw_arr_begin(j);
        for (size_t i = 0; i < n; i++) {
            const char *std = aud_rec_str(list->u.array.values[i], "standard");
            const char *ctl = aud_rec_str(list->u.array.values[i], "control");
            cm_buf req;
            cm_buf_init(&req, 0);
            cm_buf_addf(&req, "%s %s", std ? std : "", ctl ? ctl : "");
            if (cm_buf_failed(&req))
                cm_buf_fail(j->b);
            cm_jw_str(j, req.p);
            cm_buf_free(&req);
        }
        cm_jw_arr_end(j);
    }
    cm_jw_key(j, "standards");
    cm_jw_arr_begin(j);
    size_t written = 0;
    for (size_t i = 0; i < n; i++) {
        const char *std = aud_rec_str(list->u.array.values[i], "standard");
        bool seen = !std;
        for (size_t k = 0; !seen && k < i; k++)
            seen = cm_streq(std, aud_rec_str(list->u.array.values[k], "standard"));
        if (!seen) {
            cm_jw_str(j, std);
            written++;
        }
    }
    if (!written) /* standards is required: the rule pack is the standard then */
        cm_jw_str(j, "cmkguard rules");
    cm_jw_arr_end(j);
    cm_jw_kstr(j, "status", check_caption);
    const char *exemption = aud_rec_str(f, "exemption");
    if (exemption) {
        cm_buf detail;
        cm_buf_init(&detail, 0);
        cm_buf_addf(&detail, "exempted by %s", exemption);
        if (cm_buf_failed(&detail))
            cm_buf_fail(j->b);
        cm_jw_kstr(j, "status_detail", detail.p);
        cm_buf_free(&detail);
    }
    cm_jw_kint(j, "status_id", check);
    cm_jw_obj_end(j);
}

static void one_finding(cm_buf *b, yajl_val rec, yajl_val f, size_t index)
{
    yajl_val data = aud_rec_get(rec, "data");
    const char *rule = aud_rec_str(f, "rule"), *msg = aud_rec_str(f, "message");
    const char *sev = aud_rec_str(f, "severity"), *result = aud_rec_str(f, "result");
    const char *id = aud_rec_str(rec, "id"), *time = aud_rec_str(rec, "time");
    const char *subject = aud_rec_str(rec, "subject");
    const char *resource = aud_rec_str(f, "resource");
    const char *title = aud_rec_str(f, "title");
    if (!rule)
        rule = "(no rule)";
    if (!resource)
        resource = subject;
    int64_t ms = 0;
    bool has_time = aud_rec_time_ms(time, &ms);
    long long seq = 0;
    aud_rec_int(rec, "seq", &seq);
    int check, status;
    const char *check_caption, *status_caption, *sev_caption;
    statuses(result, &check, &check_caption, &status, &status_caption);
    int sev_id = severity_id(sev, &sev_caption);
    cm_buf uid;
    cm_buf_init(&uid, 0);
    cm_buf_addf(&uid, "%s/%zu/%s", id ? id : "", index + 1, rule);
    if (cm_buf_failed(&uid))
        cm_buf_fail(b);

    cm_jw j;
    cm_jw_init(&j, b);
    cm_jw_obj_begin(&j);
    cm_jw_kint(&j, "activity_id", 1);
    cm_jw_kstr(&j, "activity_name", "Create");
    cm_jw_kstr(&j, "category_name", "Findings");
    cm_jw_kint(&j, "category_uid", 2);
    cm_jw_kstr(&j, "class_name", "Compliance Finding");
    cm_jw_kint(&j, "class_uid", 2003);
    compliance(&j, f, rule, result);
    cm_jw_key(&j, "finding_info");
    cm_jw_obj_begin(&j);
    cm_jw_key(&j, "analytic");
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "name", rule);
    cm_jw_kstr(&j, "type", "Rule");
    cm_jw_kint(&j, "type_id", 1);
    cm_jw_kstr(&j, "uid", rule);
    cm_jw_obj_end(&j);
    if (has_time)
        cm_jw_kint(&j, "created_time", ms);
    if (msg)
        cm_jw_kstr(&j, "desc", msg);
    cm_jw_kstr(&j, "title", title ? title : rule);
    yajl_val tags = aud_rec_get(f, "tags");
    if (YAJL_IS_ARRAY(tags) && tags->u.array.len) {
        cm_jw_key(&j, "types");
        rec_json(&j, tags);
    }
    cm_jw_kstr(&j, "uid", uid.p);
    cm_jw_obj_end(&j);
    if (msg)
        cm_jw_kstr(&j, "message", msg);
    cm_jw_key(&j, "metadata");
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "correlation_uid", aud_rec_str(rec, "hash"));
    cm_jw_kstr(&j, "log_name", aud_rec_str(rec, "chain"));
    cm_jw_kstr(&j, "log_provider", "cmkguard");
    if (time)
        cm_jw_kstr(&j, "original_time", time);
    cm_jw_key(&j, "product");
    cm_jw_obj_begin(&j);
    cm_jw_kstr(&j, "name", "cmkguard");
    cm_jw_kstr(&j, "vendor_name", "cmkguard");
    const char *engine = aud_rec_str(data, "engine");
    if (engine && !strncmp(engine, "cmkguard ", 9))
        engine += 9;
    cm_jw_kstr(&j, "version", engine ? engine : CM_VERSION);
    cm_jw_obj_end(&j);
    cm_jw_kint(&j, "sequence", seq);
    cm_jw_kstr(&j, "uid", uid.p);
    cm_jw_kstr(&j, "version", AUD_OCSF_VERSION);
    cm_jw_obj_end(&j);
    if (resource) {
        char type[256];
        cm_jw_key(&j, "resources");
        cm_jw_arr_begin(&j);
        cm_jw_obj_begin(&j);
        yajl_val st = aud_rec_get(data, "state");
        if (cm_streq(resource, subject) && YAJL_IS_OBJECT(st)) {
            cm_jw_key(&j, "data");
            rec_json(&j, st);
        }
        cm_jw_kstr(&j, "name", last_segment(resource));
        if (resource_type(resource, type, sizeof type))
            cm_jw_kstr(&j, "type", type);
        cm_jw_kstr(&j, "uid", resource);
        cm_jw_obj_end(&j);
        cm_jw_arr_end(&j);
    }
    cm_jw_kstr(&j, "severity", sev_caption);
    cm_jw_kint(&j, "severity_id", sev_id);
    cm_jw_kstr(&j, "status", status_caption);
    cm_jw_kint(&j, "status_id", status);
    cm_jw_kint(&j, "time", has_time ? ms : 0);
    cm_jw_kint(&j, "timezone_offset", 0);
    cm_jw_kstr(&j, "type_name", "Compliance Finding: Create");
    cm_jw_kint(&j, "type_uid", 200301);
    cm_jw_key(&j, "unmapped");
    cm_jw_obj_begin(&j);
    static const char *const from_finding[] = {"action", "exemption", "result", "rule", "severity"};
    static const char *const from_data[] = {"cause", "event_type", "input", "outcome",
                                            "rules_hash"};
    cm_jw_kstr(&j, "chain", aud_rec_str(rec, "chain"));
    for (size_t i = 0; i < CM_ARRAY_LEN(from_data); i++)
        if (aud_rec_str(data, from_data[i]))
            cm_jw_kstr(&j, from_data[i], aud_rec_str(data, from_data[i]));
    for (size_t i = 0; i < CM_ARRAY_LEN(from_finding); i++)
        if (aud_rec_str(f, from_finding[i]))
            cm_jw_kstr(&j, from_finding[i], aud_rec_str(f, from_finding[i]));
    cm_jw_kstr(&j, "record_hash", aud_rec_str(rec, "hash"));
    cm_jw_kstr(&j, "record_id", id);
    cm_jw_kint(&j, "seq", seq);
    cm_jw_obj_end(&j);
    cm_jw_obj_end(&j);
    cm_jw_done(&j);
    cm_buf_free(&uid);
}

int aud_ocsf_record(void *arg, const char *where, const struct yajl_val_s *crec, cm_err *err)
{
    aud_ocsf *x = arg;
    yajl_val rec = (yajl_val)crec;
    if (!cm_streq(aud_rec_str(rec, "type"), "cmkguard.audit.decision"))
        return 0;
    yajl_val findings = aud_rec_get(aud_rec_get(rec, "data"), "findings");
    if (!YAJL_IS_ARRAY(findings))
        return 0;
    for (size_t i = 0; i < findings->u.array.len; i++) {
        yajl_val f = findings->u.array.values[i];
        if (!YAJL_IS_OBJECT(f))
            continue;
        cm_buf_reset(&x->line);
        one_finding(&x->line, rec, f, i);
        if (cm_buf_failed(&x->line)) { /* never a cut finding */
            cm_err_set(err, where, 0, 0, "OCSF finding larger than %zu bytes", x->line.max);
            return -1;
        }
        if (!x->line.p || x->sink(x->arg, aud_rec_str(rec, "subject"), x->line.p, x->line.len)) {
            cm_err_set(err, where, 0, 0, "cannot write the OCSF finding");
            return -1;
        }
        x->count++;
    }
    return 0;
}
