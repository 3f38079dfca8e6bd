/* One function per subcommand; each parses its flags and calls the core. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

enum { EXIT_OK = 0, EXIT_CHECK = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

int cmd_replay(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_broker(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_report(int argc, char **argv);
/* Verifies audit files (FILE or - for stdin; stdin when nfiles is 0) as `audit verify`
 * does, through v, then the unsigned tails (the summary JSON into summary): EXIT_OK, or
 * the exit code with err saying what failed, for the caller to print. */
struct aud_verifier;
struct cm_buf;
struct cm_err;
int cli_verify_inputs(struct aud_verifier *v, char **files, int nfiles, struct cm_buf *summary,
                      struct cm_err *err);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code of an error code from the core (common/util.h): bad input 2, the
 * environment 3, a refusal 1; 0 for 0. The one place codes become exit codes. */
int cli_exit(int code);
#endif
