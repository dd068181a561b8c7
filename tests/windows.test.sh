# The Windows x86-64 build (MinGW-w64 cross build, `make windows` ->
# build-win/) run under Wine: the unit tests, simple.exe and
# gpt2-generate.exe on the tiny model, and GPT2_ISA under Windows' cpuid
# dispatch. Skipped (printed) without x86_64-w64-mingw32-gcc or wine.
# The slowest unit tests under Wine run only with GPT2_WINDOWS_TESTS=all
# (each is printed as a skip otherwise): the whole set takes ~6 min on two
# busy cores, the default set ~1 min (docs/platforms.md).
. "$(dirname "$0")/lib.sh"
WIN=${WIN_BUILD:-build-win}
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || ! command -v wine >/dev/null; then
  skip "windows: needs x86_64-w64-mingw32-gcc and wine (apt-get install gcc-mingw-w64-x86-64 wine64)"
  exit 0
fi
started=$(date +%s)
# -g1: line tables only, as the other passes (tests/asan.test.sh)
make -s -j"$(nproc)" windows WIN_BUILD="$WIN" CFLAGS=-g1 >"$tmp/build.log" 2>&1
status=$?
check "make windows builds $WIN (exit $status$( [ $status -eq 0 ] || echo ": $(tail -n 5 "$tmp/build.log")"))" test $status -eq 0
[ $status -eq 0 ] || exit 1
built=$(date +%s)
for f in libgpt2.dll libgpt2.dll.a libgpt2.a simple.exe gpt2-generate.exe; do
  check "built $WIN/$f" test -s "$WIN/$f"
done

# The DLL exports the header's GPT2_API functions and nothing else.
declared=$(sed -n 's/^GPT2_API[^(]*[ *]\(gpt2_[a-z0-9_]*\)(.*/\1/p' include/gpt2.h | sort)
exported=$(x86_64-w64-mingw32-objdump -p "$WIN/libgpt2.dll" |
  sed -n 's/^[[:space:]]*\[ *[0-9]*\] \([A-Za-z_].*\)$/\1/p' | sort)
check "libgpt2.dll exports exactly the $(echo "$declared" | wc -l) GPT2_API functions" \
  test "$declared" = "$exported"
imports=$(x86_64-w64-mingw32-objdump -p "$WIN/libgpt2.dll" | sed -n 's/.*DLL Name: //p' | sort | tr '\n' ' ')
check "libgpt2.dll needs only system DLLs ($imports)" test "$imports" = "KERNEL32.dll msvcrt.dll "

# Wine: a prefix of our own (its first start takes a few seconds), quiet,
# and one wineserver kept for the whole script. The server's services start
# with a throwaway `wine cmd`, so that they never hold a test's output pipe.
export WINEPREFIX=$PWD/$WIN/wine WINEDEBUG=-all
start_wine() { wineserver -p 2>/dev/null; wine cmd /c exit 0 >/dev/null 2>&1; }
trap 'wineserver -k 2>/dev/null; rm -rf "$tmp"; [ "$failures" -eq 0 ] || exit 1' EXIT
start_wine
# Each run has 300 s (a hung program is a failure, status 124).
winrun() { timeout --kill-after=10 300 wine "$@" 2>&1 | tr -d '\r'; return "${PIPESTATUS[0]}"; }

# Unit tests: their ok/FAIL/skip lines are relayed (run.sh counts them).
slow="test_golden test_int8 test_sample test_gguf test_load_threads test_limits test_batch test_consistency"
for program in "$WIN"/tests/*.exe; do
  name=$(basename "$program" .exe)
  case " $slow " in *" $name "*)
    if [ "${GPT2_WINDOWS_TESTS:-}" != all ]; then
      skip "windows $name: slow under Wine, run with GPT2_WINDOWS_TESTS=all"; continue
    fi;;
  esac
  winrun "$program" >"$tmp/$name.log"
  status=$?
  # Wine's own server can drop a client on a loaded machine ("wine client
  # error:0: recvmsg: Connection reset by peer", seen once in CI): that says
  # nothing about the program, so it runs once more on a fresh server.
  if [ $status -ne 0 ] && grep -q '^wine client error' "$tmp/$name.log"; then
    echo "# windows $name: $(grep -m1 '^wine client error' "$tmp/$name.log"); run again"
    wineserver -k 2>/dev/null; wineserver -w 2>/dev/null
    start_wine
    winrun "$program" >"$tmp/$name.log"
    status=$?
  fi
  sed -e "s/^ok /ok windows $name: /" -e "s/^FAIL /FAIL windows $name: /" \
    -e "s/^skip /skip windows $name: /" "$tmp/$name.log" | grep -E '^(ok|FAIL|skip) ' >"$tmp/$name.lines"
  relay "$tmp/$name.lines"
  if [ $status -ne 0 ] && ! grep -q '^FAIL ' "$tmp/$name.lines"; then
    fail "windows $name exited with status $status: $(tail -n 3 "$tmp/$name.log")"
  fi
done
for name in $(sed -n 's/^WIN_SKIPPED_TESTS := //p' mk/windows.mk); do
  skip "windows $name: not built for Windows (mk/windows.mk says why)"
done

# The programs, linked to the DLL: the same greedy text as the Linux build
# (same kernels, same order of operations: bit for bit the same logits).
tiny=$MODELS/tiny-f32
out=$(winrun "$WIN/simple.exe" "$tiny" "Hello, world" 16)
check "simple.exe on tiny-f32 exits 0" test $? -eq 0
if [ -x "$BUILD/simple" ]; then
  linux=$("$BUILD/simple" "$tiny" "Hello, world" 16 2>&1)
  check "simple.exe prints the Linux build's text" test "$out" = "$linux"
else
  skip "simple.exe prints the Linux build's text: $BUILD/simple not built"
fi
out=$(winrun "$WIN/gpt2-generate.exe" -m "$tiny" -p "Hello" -n 8 --seed 7 --threads 2)
check "gpt2-generate.exe on tiny-f32 (2 threads) exits 0" test $? -eq 0
case $out in *"generated:"*"seed:      7"*) ok "gpt2-generate.exe prints its summary";;
  *) fail "gpt2-generate.exe printed: $out";; esac
out=$(winrun "$WIN/gpt2-generate.exe" -m "$MODELS/does-not-exist" -p x -n 1)
check "gpt2-generate.exe on a missing model exits 1" test $? -eq 1

# Runtime dispatch: GPT2_ISA picks the kernels (cpuid + XGETBV decide what
# this CPU offers), and every ISA gives the same perplexity within 1e-5
# relative: measured at most 9.8e-8 between scalar, avx2 and avx512 on
# Linux (tiny-f32, this text), while a wrong product moves it by far more
# than 1%.
head -c 3000 tests/data/tokenizer/cases.txt >"$tmp/text.txt"
ref=""
for isa in scalar avx2 avx512; do
  kernels=$(GPT2_ISA=$isa winrun "$WIN/gpt2-generate.exe" -m "$tiny" -p Hi -n 1 --seed 1 |
    sed -n 's/.*(kernels: \(.*\))/\1/p')
  # What this CPU offers: the Linux build's choice is the oracle (the same
  # cpuid/XGETBV code); without it, an ISA not chosen is a skip.
  if [ -x "$BUILD/gpt2-generate" ]; then
    offered=$(GPT2_ISA=$isa "$BUILD/gpt2-generate" -m "$tiny" -p Hi -n 1 --seed 1 2>&1 >/dev/null |
      sed -n 's/.*(kernels: \(.*\))/\1/p')
  else
    offered=$kernels
  fi
  if [ "$offered" != "$isa" ]; then
    skip "windows GPT2_ISA=$isa: this CPU does not offer it (Linux build: '$offered')"; continue
  fi
  check "windows GPT2_ISA=$isa is honoured (kernels: $kernels)" test "$kernels" = "$isa"
  ppl=$(GPT2_ISA=$isa winrun "$WIN/gpt2-perplexity.exe" -m "$tiny" -f "$tmp/text.txt" --ctx 64 \
    --stride 64 --threads 1 | sed -n 's/^perplexity: *//p')
  if [ -z "$ref" ]; then ref=$ppl; continue; fi
  check "windows GPT2_ISA=$isa perplexity $ppl = scalar's $ref within 1e-5 relative" \
    awk -v a="$ppl" -v b="$ref" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d / b <= 1e-5) }'
done
echo "windows: build $((built - started)) s, Wine runs $(($(date +%s) - built)) s"
