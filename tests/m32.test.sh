# Every unit test built and run as 32-bit x86 code (gcc -m32) in build-m32/
# (issue 19 #8): size_t and pointers of 4 bytes, a 4 GiB address space, so
# that a size kept in size_t that should have been 64-bit shows up (a file of
# 4 GiB or more must be refused, not read as a prefix: test_limits makes a
# sparse one). Same models as the plain run. x86-64 hosts only; without a
# 32-bit C library (Debian: libc6-dev-i386 lib32gcc-12-dev, listed in the
# README) it prints a skip. Debian's gcc-multilib is not needed (it conflicts
# with the aarch64 cross compiler of the NEON test): it would only add the
# /usr/include/asm link, which build-m32/include32/asm stands in for.
# The 32-bit build runs the scalar kernels only (the SIMD tables are x86-64
# and aarch64 code), 10 to 30 times slower: GPT2_TEST_SANITIZER=m32 lets the
# slowest tests leave their 124M models to the plain run, as under ASan
# (test_stack then skips its stack bound, which the plain and musl passes
# check). `make check-m32` runs this alone.
. "$(dirname "$0")/sanitize.sh"
dir=${M32_BUILD:-build-m32}
if [ "$(uname -m)" != x86_64 ]; then skip "m32: not an x86-64 host"; exit 0; fi
if ! echo 'int main(void){return 0;}' | gcc -m32 -x c - -o "$tmp/m32" 2>/dev/null || ! "$tmp/m32"; then
  skip "m32: gcc -m32 cannot build a program here (apt install libc6-dev-i386 lib32gcc-12-dev)"
  exit 0
fi
mkdir -p "$dir/include32"
[ -e /usr/include/asm ] || [ -e "$dir/include32/asm" ] || ln -s /usr/include/x86_64-linux-gnu/asm "$dir/include32/asm"
tools/gen/make_models.sh "$GPT2_TEST_MODELS" >/dev/null || { fail "m32: models"; exit 1; }
# CFLAGS and LDFLAGS reach the Makefile from the environment (one word each
# would not hold the spaces).
export GPT2_TEST_SANITIZER=m32
# -msse2 -mfpmath=sse: float arithmetic as on x86-64. With the x87 default
# (FLT_EVAL_METHOD 2) intermediate values keep 80-bit precision, so float
# results round differently (the Q6_K quantizer then differs from the
# reference bit for bit, and 1e-5f is a long double constant).
# -g1: line tables only, as the other passes (tests/asan.test.sh).
export CFLAGS="-m32 -msse2 -mfpmath=sse -isystem $dir/include32 -Wno-psabi -g1" LDFLAGS=-m32
programs=()
for t in tests/unit/*.c; do t=${t##*/}; programs+=("${t%.c}"); done
sanitize_pass m32 "$dir" "CC=gcc" "${programs[@]}"
