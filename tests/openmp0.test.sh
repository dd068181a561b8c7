# `make OPENMP=0` builds a library without OpenMP that gives the same
# logits as the default build (results never depend on threading; both run
# eval on the library's pthread pool, OpenMP only converts weights at load).
set -u
. "$(dirname "$0")/lib.sh"
BUILD=${BUILD:-build}
models=${GPT2_TEST_MODELS:-$BUILD/models}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
make -s -j2 BUILD="$dir" OPENMP=0 "$dir/simple" >"$dir/log" 2>&1
status=$?
check "make OPENMP=0 builds" test $status -eq 0
[ $status -eq 0 ] || { tail "$dir/log"; exit 0; }
so=$(ls "$dir"/libgpt2.so.*.*.*)
omp=$(nm -D --undefined-only "$so" | grep -ci 'gomp\|omp_')
check "OPENMP=0 library does not use OpenMP" test "$omp" -eq 0
with=$("$BUILD/simple" "$models/mid-f32" "Threads or not" 12 2>&1)
without=$("$dir/simple" "$models/mid-f32" "Threads or not" 12 2>&1)
check "OPENMP=0 and OpenMP builds generate the same text" test "$with" = "$without"
