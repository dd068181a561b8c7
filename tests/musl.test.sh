# Every unit test built with musl-gcc (Debian's musl-tools) and run, in
# build-musl/ (issue 19 #9): another C library, whose threads get 128 KiB
# stacks by default (glibc's: 8 MiB) and whose malloc and stdio differ. The
# library must pass with no stack-size setting by the caller: its pool
# threads (lib/core/pool.c) ask for 512 KiB, and test_stack holds an eval
# on a caller's thread to 32 KiB of stack. Without musl-gcc it prints a
# skip. `make check-musl` runs this alone.
. "$(dirname "$0")/sanitize.sh"
dir=${MUSL_BUILD:-build-musl}
if ! command -v musl-gcc >/dev/null; then skip "musl: no musl-gcc (apt install musl-tools)"; exit 0; fi
tools/gen/make_models.sh "$GPT2_TEST_MODELS" >/dev/null || { fail "musl: models"; exit 1; }
programs=()
for t in tests/unit/*.c; do t=${t##*/}; programs+=("${t%.c}"); done
# -g1: line tables, all a failure's report needs; the build a third shorter
# than with the Makefile's -g (tests/asan.test.sh)
sanitize_pass musl "$dir" "CC=musl-gcc CFLAGS=-g1" "${programs[@]}"
