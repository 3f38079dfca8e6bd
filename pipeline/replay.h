/* `replay`: events from a file (or stdin) through the pipeline into a trail, with the
 * state committed every commit_every events so that an interrupted replay resumes. */
#ifndef PIP_REPLAY_H
#define PIP_REPLAY_H
#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"

typedef struct pip_replay_opts {
    const char *const *rules, *const *exemptions; /* paths; rules may be none */
    size_t nrules, nexemptions;
    const char *events;         /* a path, or "-" */
    const char *state, *master; /* NULL: state in memory */
    const char *sign_key, *out; /* NULL: unsigned; stdout */
    const char *chain;
    int64_t checkpoint, commit_every, max_message;
    enum aud_clock clock;
    bool progress;
} pip_replay_opts;

/* Runs the replay; every error is printed where it happens. 0; CM_EINPUT for bad rules,
 * a bad signing key or an unreadable input; CM_EENV for anything else (the state, the
 * trail, the crypto library), after which a rerun resumes from the last commit. */
int pip_replay(const pip_replay_opts *o);
#endif
