# tests/unit/test_threads.c (8 threads generating on one shared model, each
# context with 1 or 2 pool threads), tests/unit/test_pool.c (the worker
# pool alone), tests/unit/test_load_threads.c (weights converted at load
# on 1 and 3 threads) and tests/unit/test_batch.c (many contexts in one
# pass on the runner's pool, default kernel table) built with
# ThreadSanitizer in build-tsan/: any data race fails. The threads these tests run are the application's own and
# the library's pool (pthreads, the only thread system the library uses),
# which is what the library promises to be safe for. `make check-tsan`
# runs this alone.
. "$(dirname "$0")/sanitize.sh"
export GPT2_TEST_SANITIZER=thread
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
dir=${TSAN_BUILD:-build-tsan}
tools/gen/make_models.sh "$GPT2_TEST_MODELS" >/dev/null || { fail "tsan: models"; exit 1; }
# -g1: line tables, all a report prints (tests/asan.test.sh)
sanitize_pass tsan "$dir" "SANITIZE=thread CFLAGS=-g1" test_threads test_pool test_load_threads test_batch
