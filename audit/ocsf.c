/* OCSF Compliance Findings from verified audit records. Each finding of a decision
 * record becomes one event of class 2003 (Findings / Compliance Finding, activity
 * Create); records without findings and checkpoint records produce nothing. Member
 * order is fixed and no clock is read, so the same trail gives the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "audit/ocsf.h"
#include "audit/record.h"

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

static void key(cm_buf *b, const char *k)
{
    cm_json_cstr(b, k);
    cm_buf_addc(b, ':');
}

static void kstr(cm_buf *b, const char *k, const char *v)
{
    key(b, k);
    cm_json_cstr(b, v);
    cm_buf_addc(b, ',');
}

static void kint(cm_buf *b, const char *k, long long v)
{
    key(b, k);
    cm_buf_addf(b, "%lld,", v);
}

/* Closes an object or array whose last member left a trailing comma. */
static void close_with(cm_buf *b, char c)
{
    if (b->len && b->p[b->len - 1] == ',')
        b->p[--b->len] = '\0';
    cm_buf_addc(b, c);
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
static void compliance(cm_buf *b, yajl_val f, const char *rule, const char *result)
{
    int check, status;
    const char *check_caption, *status_caption;
    statuses(result, &check, &check_caption, &status, &status_caption);
    yajl_val list = aud_rec_get(f, "compliance");
    size_t n = YAJL_IS_ARRAY(list) ? list->u.array.len : 0;
    key(b, "compliance");
    cm_buf_addc(b, '{');
    kstr(b, "control", rule);
    if (n) {
        key(b, "requirements");
        cm_buf_addc(b, '[');
        for (size_t i = 0; i < n; i++) {
            const char *std = aud_rec_str(list->u.array.values[i], "standard");
            const char *ctl = aud_rec_str(list->u.array.values[i], "control");
            cm_buf req;
            cm_buf_init(&req, 0);
            cm_buf_addf(&req, "%s %s", std ? std : "", ctl ? ctl : "");
            cm_json_cstr(b, req.p);
            cm_buf_addc(b, ',');
            cm_buf_free(&req);
        }
        close_with(b, ']');
        cm_buf_addc(b, ',');
    }
    key(b, "standards");
    cm_buf_addc(b, '[');
    size_t written = 0;
    for (size_t i = 0; i < n; i++) {
        const char *std = aud_rec_str(list->u.array.values[i], "standard");
        bool seen = !std;
        for (size_t j = 0; !seen && j < i; j++)
            seen = cm_streq(std, aud_rec_str(list->u.array.values[j], "standard"));
        if (!seen) {
            cm_json_cstr(b, std);
            cm_buf_addc(b, ',');
            written++;
        }
    }
    if (!written) /* standards is required: the rule pack is the standard then */
        cm_buf_adds(b, "\"cmkguard rules\",");
    close_with(b, ']');
    cm_buf_addc(b, ',');
    kstr(b, "status", check_caption);
    const char *exemption = aud_rec_str(f, "exemption");
    if (exemption) {
        cm_buf detail;
        cm_buf_init(&detail, 0);
        cm_buf_addf(&detail, "exempted by %s", exemption);
        kstr(b, "status_detail", detail.p);
        cm_buf_free(&detail);
    }
    kint(b, "status_id", check);
    close_with(b, '}');
    cm_buf_addc(b, ',');
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

    cm_buf_addc(b, '{');
    kint(b, "activity_id", 1);
    kstr(b, "activity_name", "Create");
    kstr(b, "category_name", "Findings");
    kint(b, "category_uid", 2);
    kstr(b, "class_name", "Compliance Finding");
    kint(b, "class_uid", 2003);
    compliance(b, f, rule, result);
    key(b, "finding_info");
    cm_buf_addc(b, '{');
    key(b, "analytic");
    cm_buf_addc(b, '{');
    kstr(b, "name", rule);
    kstr(b, "type", "Rule");
    kint(b, "type_id", 1);
    kstr(b, "uid", rule);
    close_with(b, '}');
    cm_buf_addc(b, ',');
    if (has_time)
        kint(b, "created_time", ms);
    if (msg)
        kstr(b, "desc", msg);
    kstr(b, "title", title ? title : rule);
    yajl_val tags = aud_rec_get(f, "tags");
    if (YAJL_IS_ARRAY(tags) && tags->u.array.len) {
        key(b, "types");
        aud_rec_json(b, tags);
        cm_buf_addc(b, ',');
    }
    kstr(b, "uid", uid.p);
    close_with(b, '}');
    cm_buf_addc(b, ',');
    if (msg)
        kstr(b, "message", msg);
    key(b, "metadata");
    cm_buf_addc(b, '{');
    kstr(b, "correlation_uid", aud_rec_str(rec, "hash"));
    kstr(b, "log_name", aud_rec_str(rec, "chain"));
    kstr(b, "log_provider", "cmkguard");
    if (time)
        kstr(b, "original_time", time);
    key(b, "product");
    cm_buf_addc(b, '{');
    kstr(b, "name", "cmkguard");
    kstr(b, "vendor_name", "cmkguard");
    const char *engine = aud_rec_str(data, "engine");
    if (engine && !strncmp(engine, "cmkguard ", 9))
        engine += 9;
    kstr(b, "version", engine ? engine : CM_VERSION);
    close_with(b, '}');
    cm_buf_addc(b, ',');
    kint(b, "sequence", seq);
    kstr(b, "uid", uid.p);
    kstr(b, "version", AUD_OCSF_VERSION);
    close_with(b, '}');
    cm_buf_addc(b, ',');
    if (resource) {
        char type[256];
        key(b, "resources");
        cm_buf_adds(b, "[{");
        yajl_val st = aud_rec_get(data, "state");
        if (cm_streq(resource, subject) && YAJL_IS_OBJECT(st)) {
            key(b, "data");
            aud_rec_json(b, st);
            cm_buf_addc(b, ',');
        }
        kstr(b, "name", last_segment(resource));
        if (resource_type(resource, type, sizeof type))
            kstr(b, "type", type);
        kstr(b, "uid", resource);
        close_with(b, '}');
        cm_buf_adds(b, "],");
    }
    kstr(b, "severity", sev_caption);
    kint(b, "severity_id", sev_id);
    kstr(b, "status", status_caption);
    kint(b, "status_id", status);
    kint(b, "time", has_time ? ms : 0);
    kint(b, "timezone_offset", 0);
    kstr(b, "type_name", "Compliance Finding: Create");
    kint(b, "type_uid", 200301);
    key(b, "unmapped");
    cm_buf_addc(b, '{');
    static const char *const from_finding[] = {"action", "exemption", "result", "rule", "severity"};
    static const char *const from_data[] = {"cause", "event_type", "input", "outcome",
                                            "rules_hash"};
    kstr(b, "chain", aud_rec_str(rec, "chain"));
    for (size_t i = 0; i < CM_ARRAY_LEN(from_data); i++)
        if (aud_rec_str(data, from_data[i]))
            kstr(b, from_data[i], aud_rec_str(data, from_data[i]));
    for (size_t i = 0; i < CM_ARRAY_LEN(from_finding); i++)
        if (aud_rec_str(f, from_finding[i]))
            kstr(b, from_finding[i], aud_rec_str(f, from_finding[i]));
    kstr(b, "record_hash", aud_rec_str(rec, "hash"));
    kstr(b, "record_id", id);
    kint(b, "seq", seq);
    close_with(b, '}');
    cm_buf_addc(b, '}');
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
