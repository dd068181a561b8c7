# tests/unit/test_threads.c (8 threads generating on one shared model, each
# context with 1 or 2 pool threads) and tests/unit/test_pool.c (the worker
# pool alone) built with ThreadSanitizer in build-tsan/: any data race fails. Built with
# OPENMP=0 because libgomp is not TSan-instrumented: its barriers and
# thread pool would show up as false races (gcc's documentation says to
# rebuild libgomp with TSan to use both). The threads this test runs are
# the application's own and the library's pool (pthreads), which is what
# the library promises to be safe for. `make check-tsan` runs this alone.
. "$(dirname "$0")/sanitize.sh"
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
dir=${TSAN_BUILD:-build-tsan}
tools/gen/make_models.sh "$GPT2_TEST_MODELS" >/dev/null || { fail "tsan: models"; exit 1; }
sanitize_pass tsan "$dir" "SANITIZE=thread OPENMP=0" test_threads test_pool
