#!/usr/bin/env bash
# The test-model generator writes the same bytes every time and everywhere:
# two runs, a clang build and an aarch64 build (cross gcc, run under
# qemu-user) all reproduce the small models that tools/gen/make_models.sh wrote
# (their arguments are read back from gen_model.txt). The golden data
# (tests/data/golden) depends on it. A missing tool is a FAIL, not a skip:
# CI installs clang, gcc-aarch64-linux-gnu and qemu-user.
. "$(dirname "$0")/lib.sh"

# Compares every file gen_model writes for model $2 built by generator $1
# (a command, possibly with a runner in front).
same_model() {
  local label=$1 name=$2; shift 2
  local args
  args=$(sed -n 's/^args //p' "$MODELS/$name/gen_model.txt")
  rm -rf "$tmp/out"
  # shellcheck disable=SC2086 # args are words by design
  if ! "$@" --out "$tmp/out" $args >"$tmp/log" 2>&1; then
    fail "gen_model ($label): $name: generator failed: $(tail -n 3 "$tmp/log")"
    return
  fi
  local file
  for file in config.json vocab.json merges.txt model.safetensors gen_model.txt; do
    if ! cmp -s "$tmp/out/$file" "$MODELS/$name/$file"; then
      fail "gen_model ($label): $name/$file differs from the one make_models.sh wrote"
      return
    fi
  done
  ok "gen_model ($label): $name identical"
}

small_models="tiny-f32 tiny-f16 tiny-bf16 odd-f32 odd-f16 odd-bf16"
for name in $small_models; do
  same_model "second run" "$name" "$BUILD/tools/gen_model"
done

flags=(-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -D_GNU_SOURCE -Iinclude -Ilib)
if command -v clang >/dev/null 2>&1 && clang "${flags[@]}" -o "$tmp/gen_clang" tools/gen/gen_model.c -lm 2>"$tmp/log"; then
  for name in $small_models; do same_model clang "$name" "$tmp/gen_clang"; done
else
  fail "gen_model (clang): no clang, or the build failed: $(head -n 3 "$tmp/log" 2>/dev/null)"
fi

CROSS_CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
if command -v "$CROSS_CC" >/dev/null 2>&1 && command -v "$QEMU" >/dev/null 2>&1 &&
   "$CROSS_CC" "${flags[@]}" -static -o "$tmp/gen_aarch64" tools/gen/gen_model.c -lm 2>"$tmp/log"; then
  for name in $small_models; do
    same_model aarch64 "$name" "$QEMU" -L /usr/aarch64-linux-gnu "$tmp/gen_aarch64"
  done
else
  fail "gen_model (aarch64): needs $CROSS_CC and $QEMU (apt-get install gcc-aarch64-linux-gnu qemu-user): $(head -n 3 "$tmp/log" 2>/dev/null)"
fi

# Models already present with a matching stamp are kept.
if tools/gen/make_models.sh "$MODELS" >"$tmp/log" 2>&1 && ! grep -q wrote "$tmp/log"; then
  ok "make_models.sh: a second run keeps every up-to-date model"
else
  fail "make_models.sh: a second run rewrote models: $(head -n 3 "$tmp/log")"
fi
