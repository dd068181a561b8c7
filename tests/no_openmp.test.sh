# One thread system: the library's own pool (lib/core/pool.c) runs both
# eval and load-time conversion, and nothing links or includes OpenMP, so
# no environment variable (OMP_NUM_THREADS) changes what the library does.
# The library and every program must not need an OpenMP runtime, and the
# sources must not include omp.h or use its pragmas.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
BUILD=${BUILD:-build}
# no_openmp FILE: FILE's dynamic section and undefined symbols name no
# OpenMP runtime (libgomp, LLVM's libomp) and no GOMP_/omp_ function.
no_openmp() {
  local needed symbols
  if ! needed=$(readelf -d "$1" 2>&1) || ! symbols=$(nm -D --undefined-only "$1" 2>&1); then
    fail "no OpenMP: cannot read $1"
    return
  fi
  check "no OpenMP runtime needed by $1" eval '! grep -qiE "lib(g|i)?omp" <<<"$needed"'
  check "no OpenMP function used by $1" eval '! grep -qE " (GOMP_|omp_)" <<<"$symbols"'
}
no_openmp "$(ls "$BUILD"/libgpt2.so.*.*.*)"
for program in "$BUILD"/gpt2-*; do
  [ -x "$program" ] && no_openmp "$program"
done
check "no omp.h or '#pragma omp' in lib/, examples/, tools/" \
  eval '! grep -rnE "<omp\.h>|#pragma omp" lib examples tools'
