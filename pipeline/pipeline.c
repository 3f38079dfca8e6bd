#include "pipeline/pipeline.h"

#include "pipeline/chains.h"

int pip_record(pol_engine *eng, const char *rules_hash, aud_writer *w, const char *input,
               aud_decision *d, pip_decided_fn fn, void *arg, cm_err *err)
{
    do {
        if (d->fatal)
            return cm_err_env(err, input, "cannot process the event: %s", d->reason);
        if (aud_writer_emit(w, d, rules_hash, err) < 0)
            return err->code = CM_EENV;
        if (fn)
            fn(arg, d, input);
    } while (eng && pol_engine_more(eng, d));
    return 0;
}

int pip_message(pol_engine *eng, const char *rules_hash, aud_writer *w, const char *msg, size_t n,
                const char *input, aud_decision *d, pip_decided_fn fn, void *arg, cm_err *err)
{
    pol_engine_process(eng, msg, n, input, d);
    return pip_record(eng, rules_hash, w, input, d, fn, arg, err);
}

int pip_commit(vlt_state *st, const pip_chain *chains, size_t n,
               int (*flush)(void *arg, cm_err *err), void *arg, cm_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (aud_writer_drain(chains[i].w, err) < 0)
            return err->code = CM_EENV;
    if (flush && flush(arg, err) < 0)
        return err->code = CM_EENV;
    if (pip_chains_open(st, err) < 0)
        return err->code = CM_EENV;
    for (size_t i = 0; i < n; i++)
        pip_chain_set(st, chains[i].name, aud_writer_seq(chains[i].w),
                      aud_writer_head(chains[i].w));
    return vlt_state_flush(st, err) < 0 ? (err->code = CM_EENV) : 0;
}
