#!/usr/bin/env bash
# Runs every test: the programs built from tests/unit/*.c and the scripts
# tests/*.test.sh. Each prints "ok ..." / "FAIL ..." lines; a program that
# crashes or exits non-zero without a FAIL line counts as one failure.
# "skip ..." lines (a check that cannot run here) are counted apart.
# Prints "N passed, N failed, N skipped" last and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export GPT2_TEST_MODELS=${GPT2_TEST_MODELS:-$BUILD/models}
export GPT2_TEST_DATA=${GPT2_TEST_DATA:-tests/data}
# Debian's python3 (with numpy and pytest) even where another one is first in PATH.
export PYTHON=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Models are generated deterministically by the repo's generator.
tests/make_models.sh "$GPT2_TEST_MODELS" || { echo "model generation failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0
run_one() {
  local name=$1; shift
  "$@" >"$log" 2>&1
  local status=$?
  local ok fail skip
  ok=$(grep -c '^ok ' "$log")
  skip=$(grep -c '^skip ' "$log")
  fail=$(grep -c '^FAIL ' "$log")
  grep '^FAIL ' "$log"
  if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
    echo "FAIL $name exited with status $status:"; tail -n 15 "$log"
    fail=1
  fi
  passed=$((passed + ok)); failed=$((failed + fail)); skipped=$((skipped + skip))
  printf '%-28s %4d passed, %d failed, %d skipped\n' "$name" "$ok" "$fail" "$skip"
}

for t in "$BUILD"/tests/*; do
  [ -x "$t" ] && [ -f "$t" ] && run_one "$(basename "$t")" "$t"
done
for s in tests/*.test.sh; do
  [ -f "$s" ] && run_one "$(basename "$s")" bash "$s"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
