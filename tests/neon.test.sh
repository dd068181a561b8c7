#!/usr/bin/env bash
# The NEON kernels on aarch64: cross-builds the library and the kernel,
# int8 and golden tests with Debian's gcc-aarch64-linux-gnu (static, so qemu
# needs no target libraries) and runs them under qemu-user, on two emulated
# CPUs: `-cpu max` (ARMv8.x with the dot-product extension: the neondot
# table is the default, and its int8 products are held to their oracles)
# and `-cpu cortex-a53` (ARMv8.0, no dot product: the default falls back
# to neon, and nothing the library runs there may use sdot, or qemu stops
# it with SIGILL). Correctness only: emulated speed says nothing about a
# real core. A missing tool is a FAIL, not a skip: CI installs
# gcc-aarch64-linux-gnu and qemu-user.
. "$(dirname "$0")/lib.sh"
out=$BUILD/neon
CROSS_CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}

for tool in "$CROSS_CC" "$QEMU"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    fail "neon: $tool not found (apt-get install gcc-aarch64-linux-gnu qemu-user)"
    exit 1
  fi
done

mkdir -p "$out/obj"
flags=(-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -pthread -D_GNU_SOURCE -Iinclude -Ilib)
objs=()
for src in $(find lib -name '*.c' ! -name '*_win32.c' | sort); do
  obj=$out/obj/$(echo "${src%.c}" | tr / _).o
  if ! "$CROSS_CC" "${flags[@]}" -c "$src" -o "$obj" 2>"$out/build.log"; then
    fail "neon: cross compile of $src"; cat "$out/build.log"; exit 1
  fi
  objs+=("$obj")
done
for test in test_kernels test_golden test_int8; do
  if ! "$CROSS_CC" "${flags[@]}" -static -Itests/unit -o "$out/$test" "tests/unit/$test.c" \
       "${objs[@]}" -lm 2>"$out/build.log"; then
    fail "neon: cross link of $test"; cat "$out/build.log"; exit 1
  fi
done
ok "neon: library, test_kernels, test_golden and test_int8 cross-built for aarch64"

# run_test LOG CPU TEST [ENV=VALUE...]: TEST under qemu on CPU, its lines
# relayed; a non-zero status without a FAIL line (a crash) is a FAIL.
run_test() {
  local log=$out/$1 cpu=$2 test=$3
  shift 3
  env "$@" "$QEMU" -cpu "$cpu" -L /usr/aarch64-linux-gnu "$out/$test" >"$log" 2>&1
  local status=$?
  relay "$log"
  if [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
    fail "neon: $test under $QEMU -cpu $cpu exited with status $status"
  fi
}

# Every table of the dot-product CPU (scalar, neon, neondot) against the
# oracles: the int8 products bitwise theirs at every GPT-2 row length.
run_test test_kernels.log max test_kernels
for table in neon neondot; do
  grep -q "^ok $table matmul" "$out/test_kernels.log" ||
    fail "neon: the $table table was not tested under $QEMU -cpu max"
done
grep -q '^ok fp32_only=0: the default on this CPU is the one its features lead to (neondot)' \
  "$out/test_kernels.log" || fail "neon: -cpu max (dot product) did not select neondot"

# The int8 kernels' own test: odd shapes, extreme activations and weights,
# and whole models (neondot against neon; tiny and odd, the 124M shape is
# too slow under emulation).
run_test test_int8.log max test_int8 GPT2_INT8_ONLY=tiny-f32,odd-f32
grep -q '^ok neondot Q4_0: oracle' "$out/test_int8.log" || fail "neon: test_int8 did not test neondot"

# The whole model against the float64 golden data, on the small models:
# every table (the default is neondot), the quantized files included.
run_test test_golden.log max test_golden \
  GPT2_GOLDEN_ONLY=tiny-f32,tiny-f16,tiny-bf16,odd-f32,odd-f16,odd-bf16,tiny-q8_0,tiny-q4_0,kq-q4_k_m
grep -q '^ok .*\[neondot, default\]' "$out/test_golden.log" ||
  fail "neon: the golden test did not run neondot as the default under $QEMU -cpu max"
grep -q '^ok .*\[neon, fp32_products\]' "$out/test_golden.log" ||
  fail "neon: the golden test did not run neon for fp32_products under $QEMU -cpu max"

# A CPU without the dot product: neon is the default, neondot is refused,
# and a quantized model runs (no sdot reached).
run_test test_golden_a53.log cortex-a53 test_golden GPT2_GOLDEN_ONLY=tiny-q8_0,kq-q4_k_m
grep -q '^ok tiny-q8_0 \[neon, default\]: max' "$out/test_golden_a53.log" ||
  fail "neon: -cpu cortex-a53 (no dot product) did not fall back to neon"
grep -q '^skip tiny-q8_0 \[neondot\]' "$out/test_golden_a53.log" ||
  fail "neon: -cpu cortex-a53 did not refuse neondot"
