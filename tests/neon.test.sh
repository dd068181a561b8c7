#!/usr/bin/env bash
# The NEON kernels on aarch64: cross-builds the library and the kernel test
# with Debian's gcc-aarch64-linux-gnu (static, so qemu needs no target
# libraries) and runs it under qemu-user. A missing tool is a FAIL, not a
# skip: CI installs gcc-aarch64-linux-gnu and qemu-user.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=$BUILD/neon
CROSS_CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}

for tool in "$CROSS_CC" "$QEMU"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "FAIL neon: $tool not found (apt-get install gcc-aarch64-linux-gnu qemu-user)"
    exit 1
  fi
done

mkdir -p "$out/obj"
flags=(-std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -fopenmp -D_GNU_SOURCE -Iinclude -Ilib)
objs=()
for src in $(find lib -name '*.c' | sort); do
  obj=$out/obj/$(echo "${src%.c}" | tr / _).o
  if ! "$CROSS_CC" "${flags[@]}" -c "$src" -o "$obj" 2>"$out/build.log"; then
    echo "FAIL neon: cross compile of $src"; cat "$out/build.log"; exit 1
  fi
  objs+=("$obj")
done
if ! "$CROSS_CC" "${flags[@]}" -static -Itests/unit -o "$out/test_kernels" tests/unit/test_kernels.c \
     "${objs[@]}" -lm 2>"$out/build.log"; then
  echo "FAIL neon: cross link of test_kernels"; cat "$out/build.log"; exit 1
fi
echo "ok neon: library and test_kernels cross-built for aarch64"

# The kernel test prints its own ok/FAIL lines; the NEON table must be among them.
log=$out/test_kernels.log
"$QEMU" -L /usr/aarch64-linux-gnu "$out/test_kernels" >"$log" 2>&1
status=$?
cat "$log"
if ! grep -q '^ok neon matmul' "$log"; then
  echo "FAIL neon: the NEON table was not tested under $QEMU"
elif [ "$status" -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
  echo "FAIL neon: test_kernels under $QEMU exited with status $status"
fi
