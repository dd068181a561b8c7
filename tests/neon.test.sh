#!/usr/bin/env bash
# The NEON kernels on aarch64: cross-builds the library and the kernel test
# with Debian's gcc-aarch64-linux-gnu (static, so qemu needs no target
# libraries) and runs it under qemu-user. A missing tool is a FAIL, not a
# skip: CI installs gcc-aarch64-linux-gnu and qemu-user.
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
for test in test_kernels test_golden; do
  if ! "$CROSS_CC" "${flags[@]}" -static -Itests/unit -o "$out/$test" "tests/unit/$test.c" \
       "${objs[@]}" -lm 2>"$out/build.log"; then
    fail "neon: cross link of $test"; cat "$out/build.log"; exit 1
  fi
done
ok "neon: library, test_kernels and test_golden cross-built for aarch64"

# The kernel test prints its own ok/FAIL lines; the NEON table must be among them.
log=$out/test_kernels.log
"$QEMU" -L /usr/aarch64-linux-gnu "$out/test_kernels" >"$log" 2>&1
status=$?
relay "$log"
if ! grep -q '^ok neon matmul' "$log"; then
  fail "neon: the NEON table was not tested under $QEMU"
elif [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
  fail "neon: test_kernels under $QEMU exited with status $status"
fi

# The whole model against the float64 golden data, on the small models (the
# 124M shape is too slow under emulation): the default table here is neon.
log=$out/test_golden.log
GPT2_GOLDEN_ONLY=tiny-f32,tiny-f16,tiny-bf16,odd-f32,odd-f16,odd-bf16 \
  "$QEMU" -L /usr/aarch64-linux-gnu "$out/test_golden" >"$log" 2>&1
status=$?
relay "$log"
if ! grep -q '^ok .*\[neon, default\]' "$log"; then
  fail "neon: the golden test did not run the neon table under $QEMU"
elif [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
  fail "neon: test_golden under $QEMU exited with status $status"
fi
