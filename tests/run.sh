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
# GPT2_TEST_JOBS programs and scripts (default: one more than the cores)
# run at a time, each into its own log, so that the cores a pass leaves
# idle (a serial build, one program under Wine or qemu) serve another.
# Their lines are printed as in a one-at-a-time run, programs then
# scripts, each once all before it are done; a count line gives the
# seconds that program or script took (with others running beside it).
# Prints "N passed, N failed, N skipped" last and exits non-zero on any failure.
. "$(dirname "$0")/lib.sh"
limit=${GPT2_TEST_TIMEOUT:-1800}
max_jobs=${GPT2_TEST_JOBS:-$(($(nproc) + 1))}

# Models are generated deterministically by the repo's generator.
tools/gen/make_models.sh "$GPT2_TEST_MODELS" || { echo "model generation failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
# test_json reads numbers under a comma-decimal locale generated here.
locpath=$(comma_locale)

# Items (a program, a script or the note below) are numbered in the order
# their lines are printed: item N writes its lines to $tmp/N.out, then its
# counts "OK FAIL SKIP" to $tmp/N.counts, which marks it done.
# done_item N OK FAIL SKIP: marks item N done with these counts.
done_item() {
  echo "$2 $3 $4" >"$tmp/$1.counts.part" && mv "$tmp/$1.counts.part" "$tmp/$1.counts"
}
# count N NAME OK FAIL SKIP [SECONDS]: item N's closing line, with the time
# it took (to see what makes the run long), and its counts.
count() {
  printf '%-28s %4d passed, %d failed, %d skipped%s\n' "$2" "$3" "$4" "$5" "${6:+, $6 s}" >>"$tmp/$1.out"
  done_item "$1" "$3" "$4" "$5"
}
# run_one N NAME COMMAND...: runs item N's program or script and counts its lines.
run_one() {
  local item=$1 name=$2 started=$SECONDS; shift 2
  local log=$tmp/$item.log out=$tmp/$item.out
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  local status=$?
  local ok fail skip
  ok=$(grep -c '^ok ' "$log")
  skip=$(grep -c '^skip ' "$log")
  fail=$(grep -c '^FAIL ' "$log")
  grep '^FAIL ' "$log" >"$out"
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    { echo "FAIL $name timed out after $limit s (GPT2_TEST_TIMEOUT):"; tail -n 15 "$log"; } >>"$out"
    fail=$((fail + 1))
  elif [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
    { echo "FAIL $name exited with status $status:"; tail -n 15 "$log"; } >>"$out"
    fail=1
  fi
  count "$item" "$name" "$ok" "$fail" "$skip" $((SECONDS - started))
}
# not_run N NAME REASON: item N, a failure without running anything.
not_run() {
  echo "FAIL $2: $3" >"$tmp/$1.out"
  count "$1" "$2" 0 1 0
}

passed=0 failed=0 skipped=0 printed=0 running=0
# flush: prints the items done, in order, up to the first one not done.
flush() {
  local ok fail skip
  while [ -f "$tmp/$printed.counts" ]; do
    cat "$tmp/$printed.out"
    read -r ok fail skip <"$tmp/$printed.counts"
    passed=$((passed + ok)) failed=$((failed + fail)) skipped=$((skipped + skip))
    printed=$((printed + 1))
  done
}
# start N NAME COMMAND...: runs item N in the background once fewer than
# max_jobs run.
start() {
  if [ "$running" -ge "$max_jobs" ]; then wait -n; running=$((running - 1)); flush; fi
  run_one "$@" &
  running=$((running + 1))
}

# Items: the unit programs, the note on programs left over, the scripts.
# The scripts start first, the longest passes (3 to 11 minutes each on two
# cores) before the rest, so that the short scripts and programs fill the
# cores around them rather than one long pass running alone at the end.
sources=(tests/unit/*.c) scripts=(tests/*.test.sh)
note=${#sources[@]}
longest=(asan windows neon musl m32)
for name in "${longest[@]}"; do
  for i in "${!scripts[@]}"; do
    [ "${scripts[$i]}" = "tests/$name.test.sh" ] && start $((note + 1 + i)) "$name.test.sh" bash "${scripts[$i]}"
  done
done
for i in "${!scripts[@]}"; do
  name=$(basename "${scripts[$i]}")
  case " ${longest[*]} " in *" ${name%.test.sh} "*) continue;; esac
  start $((note + 1 + i)) "$name" bash "${scripts[$i]}"
done
for i in "${!sources[@]}"; do
  name=$(basename "${sources[$i]}" .c)
  program=$BUILD/tests/$name
  if [ ! -x "$program" ]; then
    not_run "$i" "$name" "$program is not built (make check builds every test)"
  elif [ "${sources[$i]}" -nt "$program" ] || [ "$BUILD/libgpt2.a" -nt "$program" ]; then
    not_run "$i" "$name" "$program is older than ${sources[$i]} or $BUILD/libgpt2.a (make check rebuilds it)"
  else
    start "$i" "$name" env ${locpath:+LOCPATH="$locpath"} "$program"
  fi
done
for program in "$BUILD"/tests/*; do
  name=$(basename "$program")
  [ -x "$program" ] && [ -f "$program" ] && [ ! -f "tests/unit/$name.c" ] &&
    echo "# $program not run: no tests/unit/$name.c (left by a removed test)"
done >"$tmp/$note.out"
done_item "$note" 0 0 0
wait
flush
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
