# The sanitizer settings of every test process (sourced by scripts/test.sh
# and scripts/lab-soak.sh; exported, so they reach the lab too). Harmless for
# the builds without sanitizers.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$PWD/tests/tsan.supp"
