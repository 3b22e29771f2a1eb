/* The statuses mpvm exits with: the contract with whoever runs it (scripts,
 * orchestrators, CI). Documented in the README's "Exit status" table.
 *
 * mpvm's own statuses are even; a guest writing v to the test-exit port
 * (isa-debug-exit) ends the process with (v << 1) | 1, always odd, so a
 * caller can tell the two apart. Kept apart from the VM's contract (core/vm.h)
 * so that a program that only needs the numbers (the API client) does not
 * include the VM.
 */
#ifndef MPVM_EXIT_CODES_H
#define MPVM_EXIT_CODES_H

#define MPVM_EXIT_POWEROFF 0  /* guest powered off (ACPI S5) */
#define MPVM_EXIT_RESET    2  /* guest asked for a reset (i8042, 0xCF9) */
#define MPVM_EXIT_CRASH    4  /* triple fault, internal error, failed entry */
#define MPVM_EXIT_USAGE    64 /* bad command line */
#define MPVM_EXIT_ERROR    70 /* host or KVM failure while running */
#define MPVM_EXIT_CONFIG   78 /* invalid configuration or kernel image */
#define MPVM_EXIT_SIGNAL(s) (128 + (s)) /* SIGINT 130, SIGTERM 143 */

#endif
