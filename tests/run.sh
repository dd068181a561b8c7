#!/usr/bin/env bash
# Runs every test: the programs built from tests/unit/*.c and the scripts
# tests/*.test.sh. Each prints "ok ..." / "FAIL ..." lines; a program that
# crashes or exits non-zero without a FAIL line counts as one failure.
# "skip ..." lines (a check that cannot run here) are counted apart.
# A test source without an up-to-date program ($BUILD/tests/NAME, newer
# than tests/unit/NAME.c and the static library) is a failure; a program
# left in $BUILD/tests by a removed test is not run. Each program or script
# has GPT2_TEST_TIMEOUT seconds (default 1800: the ASan pass builds the
# whole library and takes ~10 min on two busy cores); one still running
# then is stopped and counted as a failure.
# Prints "N passed, N failed, N skipped" last and exits non-zero on any failure.
. "$(dirname "$0")/lib.sh"
limit=${GPT2_TEST_TIMEOUT:-1800}

# Models are generated deterministically by the repo's generator.
tools/gen/make_models.sh "$GPT2_TEST_MODELS" || { echo "model generation failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
# test_json reads numbers under a comma-decimal locale generated here.
locpath=$(comma_locale)

passed=0 failed=0 skipped=0
log=$tmp/log
# count NAME OK FAIL SKIP [SECONDS]: adds a program's counts and prints its
# line, with the time it took (to see what makes the run long).
count() {
  passed=$((passed + $2)); failed=$((failed + $3)); skipped=$((skipped + $4))
  printf '%-28s %4d passed, %d failed, %d skipped%s\n' "$1" "$2" "$3" "$4" "${5:+, $5 s}"
}
run_one() {
  local name=$1 started=$SECONDS; shift
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  local status=$?
  local ok fail skip
  ok=$(grep -c '^ok ' "$log")
  skip=$(grep -c '^skip ' "$log")
  fail=$(grep -c '^FAIL ' "$log")
  grep '^FAIL ' "$log"
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "FAIL $name timed out after $limit s (GPT2_TEST_TIMEOUT):"; tail -n 15 "$log"
    fail=$((fail + 1))
  elif [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
    echo "FAIL $name exited with status $status:"; tail -n 15 "$log"
    fail=1
  fi
  count "$name" "$ok" "$fail" "$skip" $((SECONDS - started))
}

for source in tests/unit/*.c; do
  name=$(basename "$source" .c)
  program=$BUILD/tests/$name
  if [ ! -x "$program" ]; then
    echo "FAIL $name: $program is not built (make check builds every test)"; count "$name" 0 1 0
  elif [ "$source" -nt "$program" ] || [ "$BUILD/libgpt2.a" -nt "$program" ]; then
    echo "FAIL $name: $program is older than $source or $BUILD/libgpt2.a (make check rebuilds it)"
    count "$name" 0 1 0
  else
    run_one "$name" env ${locpath:+LOCPATH="$locpath"} "$program"
  fi
done
for program in "$BUILD"/tests/*; do
  name=$(basename "$program")
  [ -x "$program" ] && [ -f "$program" ] && [ ! -f "tests/unit/$name.c" ] &&
    echo "# $program not run: no tests/unit/$name.c (left by a removed test)"
done
for script in tests/*.test.sh; do
  run_one "$(basename "$script")" bash "$script"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
