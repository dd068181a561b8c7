# Shared by tests/asan.test.sh, tsan.test.sh, m32.test.sh and musl.test.sh: builds the library
# and some test programs with a sanitizer in their own build directory, runs
# them, and prints their ok/FAIL/skip lines prefixed with the pass name (so
# tests/run.sh counts them). A program that dies without a FAIL line (a
# sanitizer report) is one FAIL, with the report's last lines.
#   sanitize_pass NAME BUILD_DIR "MAKE VARIABLES" PROGRAM...
# PROGRAM: a test name (tests/unit/NAME.c) or an example (examples/NAME.c)
# followed by its arguments, one string each. The programs run with
# GPT2_TEST_PASS=NAME: a test whose cost is repetitions of one code path
# (test_sample's sampled draws) may do fewer there, and says so.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sanitize_pass() {
  local pass=$1 dir=$2 vars=$3; shift 3
  local targets=() program
  for program in "$@"; do
    program=${program%% *}
    if [ -f "tests/unit/$program.c" ]; then targets+=("$dir/tests/$program"); else targets+=("$dir/$program"); fi
  done
  local log=$tmp/sanitize.log
  # A make of its own: not the jobserver of a `make -j check` above us.
  # shellcheck disable=SC2086 # vars are words by design
  (unset MAKEFLAGS MFLAGS MAKELEVEL; make -s -j"$(nproc)" BUILD="$dir" $vars "${targets[@]}") >"$log" 2>&1
  local status=$?
  check "$pass: build ${targets[*]} with $vars" test $status -eq 0
  if [ $status -ne 0 ]; then tail -n 20 "$log" | sed "s/^/    /"; return 1; fi
  # The programs run nproc at a time (each into its own log), and their
  # lines are printed afterwards in the order given: the pass takes about
  # half the time on two cores, and its output reads the same.
  local i=0 jobs=0 max_jobs; max_jobs=$(nproc)
  export GPT2_TEST_PASS=$pass
  for program in "$@"; do
    local args=${program#* }
    [ "$args" = "$program" ] && args=
    if [ "$jobs" -ge "$max_jobs" ]; then wait -n; jobs=$((jobs - 1)); fi
    sanitize_run "${targets[$i]}" "$args" "$tmp/sanitize.$i" &
    jobs=$((jobs + 1)) i=$((i + 1))
  done
  wait
  i=0
  for program in "$@"; do
    local target=${targets[$i]} args=${program#* } log=$tmp/sanitize.$i.log
    [ "$args" = "$program" ] && args=
    status=$(cat "$tmp/sanitize.$i.status")
    i=$((i + 1))
    sed -n -e "s/^ok /ok $pass: ${target##*/}: /p" -e "s/^FAIL /FAIL $pass: ${target##*/}: /p" \
      -e "s/^skip /skip $pass: ${target##*/}: /p" \
      -e "s/^# /# $pass: ${target##*/}: /p" "$log"
    local fails; fails=$(grep -c '^FAIL ' "$log")
    failures=$((failures + fails))
    if [ "$status" -ne 0 ] && [ "$fails" -eq 0 ]; then
      fail "$pass: ${target##*/} $args exited with status $status:"; tail -n 30 "$log" | sed "s/^/    /"
    elif ! grep -q '^ok ' "$log"; then
      check "$pass: ${target##*/} $args runs clean" test "$status" -eq 0
    fi
  done
}

# sanitize_run TARGET ARGS OUT: runs one program into OUT.log, its exit
# status into OUT.status.
sanitize_run() {
  local target=$1 args=$2 out=$3 status
  # shellcheck disable=SC2086 # args are words by design
  "$target" $args >"$out.log" 2>&1
  status=$?
  # Sanitizer runtimes of gcc 12 can fail to start on kernels with more
  # ASLR entropy ("unexpected memory mapping"); without randomisation
  # they run.
  if [ $status -ne 0 ] && grep -q 'unexpected memory mapping' "$out.log" && command -v setarch >/dev/null; then
    # shellcheck disable=SC2086
    setarch "$(uname -m)" -R "$target" $args >"$out.log" 2>&1
    status=$?
  fi
  echo "$status" >"$out.status"
}
