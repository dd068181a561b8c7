# include/gpt2.hpp, the header-only C++17 layer: tests/cpp/test_gpt2_hpp.cpp
# compiled with -std=c++17 -Wall -Wextra -Wpedantic -Werror against the
# shared library and run on the tiny model; the C++ example
# (examples/cpp/simple.cpp, built by make) prints the C example's text.
# Skipped (printed) without a C++ compiler.
. "$(dirname "$0")/lib.sh"
CXX=${CXX:-c++}
if ! command -v "$CXX" >/dev/null; then
  skip "cpp: no C++ compiler ($CXX)"
  exit 0
fi
"$CXX" -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude tests/cpp/test_gpt2_hpp.cpp \
  -L"$BUILD" -lgpt2 -Wl,-rpath,"$PWD/$BUILD" -o "$tmp/test_gpt2_hpp" 2>"$tmp/cxx.log"
status=$?
check "gpt2.hpp test compiles with -std=c++17 -Wall -Wextra -Wpedantic -Werror (exit $status$( [ $status -eq 0 ] || echo ": $(head -n 5 "$tmp/cxx.log")"))" test $status -eq 0
if [ $status -eq 0 ]; then
  "$tmp/test_gpt2_hpp" >"$tmp/out" 2>&1
  status=$?
  grep -E '^(ok|FAIL) ' "$tmp/out" | sed 's/^\(ok\|FAIL\) /\1 cpp: /' >"$tmp/lines"
  relay "$tmp/lines"
  check "gpt2.hpp test exits 0 (status $status)" test $status -eq 0
fi
# The header adds nothing to the library's exports: the test's undefined
# symbols from libgpt2 are all C functions of gpt2.h.
undefined=$(nm -D --undefined-only "$tmp/test_gpt2_hpp" 2>/dev/null | awk '{print $2}' | grep -i gpt2 | grep -v '^gpt2_' | tr '\n' ' ')
check "the C++ layer calls only gpt2_* C functions of the library (${undefined:-none other})" test -z "$undefined"

if [ -x "$BUILD/cpp/simple" ]; then
  out=$("$BUILD/cpp/simple" "$MODELS/tiny-f32" "Hello, world" 16 2>&1)
  check "examples/cpp/simple exits 0" test $? -eq 0
  c_out=$("$BUILD/simple" "$MODELS/tiny-f32" "Hello, world" 16 2>&1)
  check "examples/cpp/simple prints examples/simple's greedy text" test "$out" = "$c_out"
  out=$("$BUILD/cpp/simple" "$MODELS/no-such-model" 2>&1)
  status=$?
  case $out in *"no-such-model"*) ok "examples/cpp/simple reports a missing model by its path";;
    *) fail "examples/cpp/simple printed: $out";; esac
  check "examples/cpp/simple exits 1 on a missing model" test $status -eq 1
else
  skip "examples/cpp/simple: $BUILD/cpp/simple not built (no C++ compiler at make time)"
fi
