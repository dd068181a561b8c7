# The preamble and helpers every tests/*.test.sh shares; a script starts
# with `. "$(dirname "$0")/lib.sh"`. It runs from the repository root with
# BUILD, GPT2_TEST_MODELS (also as MODELS), GPT2_TEST_DATA and PYTHON set,
# and a scratch folder $tmp removed at exit. Output lines are the harness
# format that tests/run.sh counts: "ok NAME", "FAIL NAME", "skip NAME: reason".
# The script's exit status is non-zero when any check failed.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
export BUILD=${BUILD:-build}
export GPT2_TEST_MODELS=${GPT2_TEST_MODELS:-$BUILD/models}
export GPT2_TEST_DATA=${GPT2_TEST_DATA:-tests/data}
MODELS=$GPT2_TEST_MODELS
# Debian's python3 (with numpy and pytest) even where another one is first in PATH.
export PYTHON=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)}
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ "$failures" -eq 0 ] || exit 1' EXIT

ok() { echo "ok $*"; }
fail() { failures=$((failures + 1)); echo "FAIL $*"; }
# skip NAME: REASON: a check that cannot run here; counted apart, never as ok.
skip() { echo "skip $*"; }
# check NAME COMMAND...: ok if the command succeeds.
check() {
  local name=$1; shift
  if "$@"; then ok "$name"; else fail "$name"; fi
}
# relay FILE: prints FILE's lines (the output of a checker in another
# language) and counts its FAIL lines as this script's failures.
relay() {
  cat "$1"
  failures=$((failures + $(grep -c '^FAIL ' "$1")))
}
# comma_locale: prints a LOCPATH under which de_DE.UTF-8 (decimal comma)
# exists, for test_json's locale check: compiled once by localedef from the
# `locales` package's sources into $BUILD/locale, so that the system's
# locales are left alone. Prints nothing without those sources.
comma_locale() {
  local dir=$BUILD/locale
  if [ ! -f "$dir/de_DE.UTF-8/LC_NUMERIC" ]; then
    mkdir -p "$dir" && localedef -i de_DE -f UTF-8 "$dir/de_DE.UTF-8" >/dev/null 2>&1
    [ -f "$dir/de_DE.UTF-8/LC_NUMERIC" ] || { rm -rf "$dir"; return 0; }
  fi
  echo "$dir"
}
# header_version: MAJOR.MINOR.PATCH from include/gpt2.h, the version's one source.
header_version() {
  sed -n 's/^#define GPT2_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' include/gpt2.h | paste -sd. -
}
