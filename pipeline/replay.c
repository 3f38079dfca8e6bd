#include "pipeline/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fault.h"
#include "common/lines.h"
#include "pipeline/chains.h"
#include "pipeline/pipeline.h"
#include "pipeline/reader.h"
#include "pipeline/trail.h"

struct replay {
    const pip_replay_opts *o;
    vlt_state *st;
    pip_trail *trail;
    pip_chain chain;
    const char *input; /* the input's name, as records cite it */
    bool resume;
    pip_replay_pos pos; /* resuming: where the interrupted replay committed last */
};

/* The batch so far made durable, with the line it reached (-1: the input is done). */
static int commit(struct replay *r, int64_t lines, cm_err *err)
{
    pip_replay_pos p = {.lines = lines, .last_signed = aud_writer_last_signed(r->chain.w)};
    snprintf(p.input, sizeof p.input, "%s", r->input);
    snprintf(p.time, sizeof p.time, "%s", aud_writer_last_time(r->chain.w));
    pip_replay_set(r->st, r->chain.name, &p);
    return pip_commit(r->st, &r->chain, 1, pip_trail_flush, r->trail, err);
}

static void log_rejected(void *arg, const aud_decision *d, const char *input)
{
    (void)arg; /* every rejection is logged the same way */
    if (d->outcome == AUD_REJECTED && d->reason)
        cm_log("%s: event rejected: %s", input, d->reason);
}

/* Where this replay starts: from the beginning, after the chain's head (the next batch
 * of events into the same trail), or after the last commit of an interrupted replay of
 * the same input. Opens the trail accordingly, and the chain's writer onto it. */
static int start(struct replay *r, const char *input, cry_signer *signer, cm_err *err)
{
    uint64_t seq = 0;
    char head[65];
    r->pos.lines = -1;
    bool chained = pip_chain_get(r->st, r->chain.name, &seq, head);
    if (chained && pip_replay_get(r->st, r->chain.name, &r->pos) && r->pos.lines >= 0 &&
        strcmp(r->pos.input, input) != 0) {
        cm_log("%s: warning: the replay of %s into chain %s stopped after line %lld; this "
               "replay continues the chain from there",
               r->o->state, r->pos.input, r->chain.name, (long long)r->pos.lines);
        r->pos.lines = -1;
    }
    r->resume = chained && r->pos.lines >= 0;
    r->trail = pip_trail_open(r->o->out, r->chain.name, chained, r->resume, seq, head, err);
    if (!r->trail)
        return -1;
    r->chain.w = aud_writer_new(r->chain.name, signer, (unsigned)r->o->checkpoint, r->o->clock,
                                pip_trail_write, r->trail);
    if (chained)
        aud_writer_resume(r->chain.w, seq, head);
    if (r->resume) {
        aud_writer_restore(r->chain.w, r->pos.last_signed, r->pos.time);
        cm_log("%s: resuming the interrupted replay of %s after line %lld (record %llu)",
               r->o->state, r->pos.input, (long long)r->pos.lines, (unsigned long long)seq);
    }
    return 0;
}

/* Whether the input is read and decoded on a thread of its own, beside deciding: not
 * under fault injection (one thread, so that "the Nth call" means one thing), nor from a
 * pipe or a terminal (a read there may wait for ever, and the reader could not be
 * stopped), nor when CMKGUARD_NO_READER is set (a test switch: either way, the records
 * and messages are the same). */
static bool read_beside(cm_lines *rd)
{
    return !cm_fault_armed && !getenv("CMKGUARD_NO_READER") && cm_lines_regular(rd);
}

/* Reads, decides and records every event, committing every commit_every. */
static int events(struct replay *r, cm_lines *rd, pol_engine *eng, const char *rules_hash,
                  cm_err *err)
{
    const pip_replay_opts *o = r->o;
    aud_decision d = {0};
    pip_line own = {0};
    const pip_line *l = &own;
    size_t count = 0;
    char input[4200];
    double t0 = cm_now(), last = t0;
    int rc = 0, got;
    pip_reader *rdr = read_beside(rd) ? pip_reader_start(rd, (size_t)o->max_message,
                                                         r->resume ? r->pos.lines : -1)
                                      : NULL;
    while (rc == 0 && (got = rdr ? pip_reader_next(rdr, &l, err)
                                 : cm_lines_next(rd, &own.msg, &own.n, &own.lineno, err)) == 1) {
        if (!rdr && r->resume && (int64_t)l->lineno <= r->pos.lines)
            continue; /* applied and committed by the interrupted run */
        snprintf(input, sizeof input, "%s:%zu", r->input, l->lineno);
        if (rdr)
            pol_engine_process_decoded(eng, l->msg, l->n, l->decoded, &l->ev, l->reason, input, &d);
        else
            pol_engine_process(eng, l->msg, l->n, input, &d);
        rc = pip_record(eng, rules_hash, r->chain.w, input, &d, log_rejected, NULL, err);
        if (rc < 0 && d.fatal) {
            cm_log("%s: cannot process the event: %s; stopping: nothing after the last commit "
                   "is kept, and a rerun resumes there",
                   input, d.reason);
            break;
        }
        if (rc < 0) {
            pip_trail_fail(r->trail, r->chain.name, err);
            break;
        }
        count++;
        if (o->state && count % (size_t)o->commit_every == 0 &&
            (rc = commit(r, (int64_t)l->lineno, err)) < 0) {
            pip_trail_fail(r->trail, r->chain.name, err);
            break;
        }
        if (o->progress && (count & 1023) == 0 && cm_now() - last >= 2.0) {
            last = cm_now();
            cm_log("replay: %zu events, %.0f events/s", count, (double)count / (last - t0));
        }
    }
    pip_reader_free(rdr);
    aud_decision_clear(&d);
    if (rc == 0 && got < 0) {
        cm_err_print(err);
        rc = CM_EENV;
    }
    if (rc == 0 && o->progress)
        cm_log("replay: %zu events", count);
    return rc;
}

/* The end of the input: checkpoint, the trail's tail, the final commit. */
static int finish(struct replay *r, cm_err *err)
{
    if (aud_writer_finish(r->chain.w, err) < 0 || aud_writer_drain(r->chain.w, err) < 0 ||
        pip_trail_end(r->trail) < 0) {
        pip_trail_fail(r->trail, r->chain.name, err);
        return CM_EENV;
    }
    int rc = r->o->state ? commit(r, -1, err) : pip_trail_flush(r->trail, err);
    if (rc < 0)
        cm_err_print(err);
    else if (r->o->progress)
        cm_log("replay: %llu records", (unsigned long long)aud_writer_seq(r->chain.w));
    return rc;
}

int pip_replay(const pip_replay_opts *o)
{
    cm_err err;
    cm_err_clear(&err);
    pol_ruleset *rs =
        o->nrules ? pol_ruleset_load_ex(o->rules, o->nrules, o->exemptions, o->nexemptions, &err)
                  : pol_ruleset_empty();
    if (!rs) {
        cm_err_print(&err);
        return err.code == CM_EENV ? CM_EENV : CM_EINPUT;
    }
    int rc = CM_EINPUT;
    cry_signer *signer = NULL;
    cm_lines *rd = NULL;
    pol_engine *eng = NULL;
    struct replay r = {.o = o, .chain.name = o->chain};
    if (o->sign_key && !(signer = cry_signer_load(o->sign_key, &err)))
        goto out_print;
    rc = CM_EENV;
    if (!(r.st = vlt_state_open(o->state, o->master, &err)) || pip_chains_open(r.st, &err) < 0)
        goto out_print;
    if (!(rd = cm_lines_open(o->events, (size_t)o->max_message, &err))) {
        rc = CM_EINPUT;
        goto out_print;
    }
    r.input = cm_lines_name(rd);
    if (start(&r, r.input, signer, &err) < 0)
        goto out_print;
    /* Records are chained, hashed, signed and written on the other core while this one
     * decides. (Fault injection stays on one thread, so that "the Nth call" means one
     * thing.) */
    if (!cm_fault_armed && aud_writer_async(r.chain.w) < 0) {
        cm_log("replay: cannot start the record thread");
        goto out_free;
    }
    /* The state learns of this replay before its first record is written, so that a run
     * stopped before its first commit resumes (and cuts back only what it wrote itself)
     * instead of finding records it cannot account for. */
    if (o->state && !r.resume && commit(&r, 0, &err) < 0)
        goto out_print;
    eng = pol_engine_new(rs, r.st, (size_t)o->max_message);
    rc = events(&r, rd, eng, pol_ruleset_hash(rs), &err);
    if (rc == 0)
        rc = finish(&r, &err);
    goto out_free;
out_print:
    cm_err_print(&err);
out_free:
    aud_writer_free(r.chain.w);
    pol_engine_free(eng);
    pip_trail_close(r.trail);
    cm_lines_free(rd);
    vlt_state_free(r.st);
    cry_signer_free(signer);
    pol_ruleset_free(rs);
    return rc;
}
