# tests/unit/test_threads.c (8 threads generating on one shared model, each
# context with 1 or 2 pool threads), tests/unit/test_pool.c (the worker
# pool alone) and tests/unit/test_load_threads.c (weights converted at load
# on 1 and 3 threads) built with ThreadSanitizer in build-tsan/: any data
# race fails. The threads these tests run are the application's own and
# the library's pool (pthreads, the only thread system the library uses),
# which is what the library promises to be safe for. `make check-tsan`
# runs this alone.
set -u
cd "$(dirname "$0")/.."
. tests/sanitize.sh
export GPT2_TEST_MODELS=${GPT2_TEST_MODELS:-${BUILD:-build}/models}
export GPT2_TEST_SANITIZER=thread
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
dir=${TSAN_BUILD:-build-tsan}
tests/make_models.sh "$GPT2_TEST_MODELS" >/dev/null || { fail "tsan: models"; exit 1; }
sanitize_pass tsan "$dir" "SANITIZE=thread" test_threads test_pool test_load_threads
