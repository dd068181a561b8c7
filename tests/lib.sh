# Shared helpers for tests/*.test.sh: ok/fail lines in the harness format.
ok() { echo "ok $*"; }
fail() { echo "FAIL $*"; }
# skip NAME: REASON: a check that cannot run here; counted apart, never as ok.
skip() { echo "skip $*"; }
# check NAME COMMAND...: ok if the command succeeds.
check() {
  local name=$1; shift
  if "$@"; then ok "$name"; else fail "$name"; fi
}
