# The examples under valgrind memcheck on the tiny test model: no invalid
# read or write, no use of uninitialised memory, no leak (definite or
# possible), with no suppressions: the library joins every thread it starts
# (a context's in gpt2_context_free, a load's before gpt2_load returns).
# About 20 s on two cores. Skipped, with a FAIL, only if valgrind is absent:
# the README's test command installs it.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
BUILD=${BUILD:-build}
models=${GPT2_TEST_MODELS:-$BUILD/models}
if ! command -v valgrind >/dev/null; then
  fail "valgrind: not installed (apt-get install valgrind)"
  exit 1
fi
log=$(mktemp); trap 'rm -f "$log"' EXIT
# memcheck NAME EXPECTED_STATUS COMMAND...: valgrind's own errors exit 99.
memcheck() {
  local name=$1 expected=$2; shift 2
  valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,possible \
    --errors-for-leak-kinds=definite,possible "$@" >"$log" 2>&1
  local status=$?
  check "valgrind: $name is memcheck-clean (exit status $status)" test $status -eq "$expected"
  [ $status -eq "$expected" ] || grep -a '^==' "$log" | head -n 40
}
data=${GPT2_TEST_DATA:-tests/data}
memcheck "simple on tiny-f32" 0 "$BUILD/simple" "$models/tiny-f32" "Hello, world" 8
memcheck "gpt2-generate on tiny-f16 (2 threads, sampling, stop string)" 0 "$BUILD/gpt2-generate" \
  -m "$models/tiny-f16" -p "The cat" -n 12 --seed 7 --threads 2 --top-p 0.9 --repeat-penalty 1.2 --stop zz
memcheck "gpt2-generate on a GGUF file" 0 "$BUILD/gpt2-generate" -m "$data/gguf_bad/good_base.gguf" -p "a" -n 4 \
  --seed 1 --threads 1
memcheck "gpt2-generate refusing a malformed GGUF file (exit status 1)" 1 "$BUILD/gpt2-generate" \
  -m "$data/gguf_bad/tensor_overlap.gguf" -p a
