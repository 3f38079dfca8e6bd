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
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code of an error code from the core (common/util.h): bad input 2, the
 * environment 3, a refusal or a failed check 1; 0 for 0. The one place codes become exit codes. */
int cli_exit(int code);
#endif
