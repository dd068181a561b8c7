# The ABI against releases 0.1.0 and 0.2.0 (docs/abi.md): abidiff of the
# built library against the baselines committed in tests/abi/libgpt2-0.1.0.abi
# (abidw of the 0.1.0 sources, commit 89d3b82) and libgpt2-0.2.0.abi (of the
# 0.2.0 state, commit 544cd1f) allows only additions; and an
# application built against 0.1.0's header runs on this library exactly as
# the same source built against the current header.
. "$(dirname "$0")/lib.sh"
so=$BUILD/libgpt2.so.$(header_version)

for release in 0.1.0 0.2.0; do
  if ! command -v abidiff >/dev/null; then
    skip "abidiff against $release: abidiff is not installed (apt-get install abigail-tools)"
    continue
  fi
  report=$(abidiff --headers-dir2 include --drop-private-types "tests/abi/libgpt2-$release.abi" "$so")
  status=$?
  # exit bits: 1 error, 2 usage error, 4 ABI change, 8 incompatible change
  check "abidiff against $release ran and found no incompatible change (exit $status)" test $((status & 11)) -eq 0
  unexpected=$(echo "$report" | awk -f tests/abi/additions_only.awk | head -5 | tr '\n' ' ')
  check "every ABI change since $release is an addition (new functions, params fields at the end)${unexpected:+: $unexpected}" \
    test -z "$unexpected"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="-std=c11 -Wall -Wextra -Werror tests/abi/app.c -L$BUILD -lgpt2 -Wl,-rpath,$PWD/$BUILD"
if cc -Itests/abi/0.1.0 $flags -o "$tmp/app-0.1" && cc -Iinclude $flags -o "$tmp/app-now"; then
  wrong=$(objdump -T "$tmp/app-0.1" | awk '/gpt2_/ && !/GPT2_0\.1/ {print $NF}' | tr '\n' ' ')
  check "an application built against 0.1.0's header binds every gpt2_* at GPT2_0.1${wrong:+ (not: $wrong)}" test -z "$wrong"
  old=$("$tmp/app-0.1" "$MODELS/tiny-f32" 2>&1)
  now=$("$tmp/app-now" "$MODELS/tiny-f32" 2>&1)
  check "built against 0.1.0's header, it runs on $(basename "$so") as built against the current one ($(echo "$old" | tail -n 1))" \
    test -n "$old" -a "$old" = "$now" -a "$(echo "$old" | grep -c ' n_ctx 24 pos 19 ')" = 1
else
  fail "the 0.1 application builds against both headers"
fi
