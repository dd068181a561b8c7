# The unit tests and the smallest example once more, built with
# AddressSanitizer + UndefinedBehaviorSanitizer, with float-cast-overflow
# that gcc leaves out of "undefined" (-fno-sanitize-recover)
# in build-asan/: any out-of-bounds access, use after free, leak or
# undefined behaviour fails the test that triggers it. Same models as the
# plain run (GPT2_TEST_MODELS). GPT2_TEST_SANITIZER=address tells tests
# that they run under ASan, so that a test too slow there can pick a
# smaller model and say so (docs/reliability.md). `make check-asan` runs
# this alone.
. "$(dirname "$0")/sanitize.sh"
export GPT2_TEST_SANITIZER=address
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
dir=${ASAN_BUILD:-build-asan}
tools/gen/make_models.sh "$GPT2_TEST_MODELS" >/dev/null || { fail "asan: models"; exit 1; }
locpath=$(comma_locale)  # test_json's comma-decimal locale, as tests/run.sh
[ -z "$locpath" ] || export LOCPATH=$locpath
programs=()
for t in tests/unit/*.c; do t=${t##*/}; programs+=("${t%.c}"); done
programs+=("simple $GPT2_TEST_MODELS/tiny-f32 Hello 8")
# -g1 (line tables: all that a report's stack trace prints) rather than the
# Makefile's -g, which made the instrumented build a third longer (316
# against 237 CPU-seconds for the library and the tests). -O1, as the
# sanitizers' documentation suggests, rather than -O2: the instrumented
# kernels compile for much less (the build 286 -> 170 CPU-seconds) than
# they then run longer (the programs 270 -> 340).
sanitize_pass asan "$dir" "SANITIZE=address,undefined,float-cast-overflow CFLAGS=-g1 OPT=-O1" "${programs[@]}"
