/* Subcommands of the mpvm binary; each returns the process exit status. */
#ifndef MPVM_COMMANDS_H
#define MPVM_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_pmu(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_snapshot_rebase(int argc, char **argv);

#endif
