# CMake's find_package(gpt2): `make install` into a DESTDIR, then a small
# CMake project (tests/cmake/) builds C and C++ programs against
# gpt2::gpt2, shared and static (GPT2_USE_STATIC=ON), and runs them.
# Skipped (printed) without cmake.
. "$(dirname "$0")/lib.sh"
if ! command -v cmake >/dev/null; then
  skip "cmake: not installed (apt-get install cmake)"
  exit 0
fi
prefix=/opt/gpt2cmake
make -s install BUILD="$BUILD" PREFIX=$prefix DESTDIR="$tmp/root" >"$tmp/install.log" 2>&1
status=$?
check "make install DESTDIR=... PREFIX=$prefix (exit $status)" test $status -eq 0
root=$tmp/root$prefix
for f in lib/cmake/gpt2/gpt2-config.cmake lib/cmake/gpt2/gpt2-config-version.cmake include/gpt2.hpp; do
  check "installed $f" test -f "$root/$f"
done

for kind in shared static; do
  flag=$([ $kind = static ] && echo ON || echo OFF)
  cmake -S tests/cmake -B "$tmp/$kind" -DCMAKE_PREFIX_PATH="$root" -DGPT2_USE_STATIC=$flag \
    -DCMAKE_BUILD_TYPE=Release >"$tmp/$kind.log" 2>&1 &&
    cmake --build "$tmp/$kind" >>"$tmp/$kind.log" 2>&1
  status=$?
  check "CMake consumer configures and builds against gpt2::gpt2 ($kind, exit $status$( [ $status -eq 0 ] || echo ": $(tail -n 5 "$tmp/$kind.log")"))" test $status -eq 0
  [ $status -eq 0 ] || continue
  for program in consumer consumer_cpp; do
    # No LD_LIBRARY_PATH: the imported target's location gives the rpath.
    out=$("$tmp/$kind/$program" "$MODELS/tiny-f32" 2>&1)
    status=$?
    check "$kind $program runs (exit $status: $out)" test $status -eq 0
    eval "${kind}_${program}=\$out"
  done
  needed=$(readelf -d "$tmp/$kind/consumer" 2>/dev/null | grep -c 'NEEDED.*libgpt2')
  if [ $kind = shared ]; then
    check "shared consumer needs libgpt2.so.$(header_version | cut -d. -f1)" test "$needed" -eq 1
  else
    check "static consumer needs no libgpt2 shared library" test "$needed" -eq 0
  fi
done
shared_consumer=${shared_consumer:-} static_consumer=${static_consumer:-} shared_consumer_cpp=${shared_consumer_cpp:-}
check "C and C++, shared and static consumers print the same token ($shared_consumer)" \
  test -n "$shared_consumer" -a "$shared_consumer" = "$static_consumer" -a \
  "${shared_consumer#* next }" = "${shared_consumer_cpp#* next }"

# A version request above the installed one is refused.
mkdir -p "$tmp/newer"
sed 's/find_package(gpt2 0.1 REQUIRED)/find_package(gpt2 99.0 REQUIRED)/' tests/cmake/CMakeLists.txt >"$tmp/newer/CMakeLists.txt"
cp tests/cmake/consumer.c tests/cmake/consumer.cpp "$tmp/newer/"
cmake -S "$tmp/newer" -B "$tmp/newer/build" -DCMAKE_PREFIX_PATH="$root" >"$tmp/newer.log" 2>&1
status=$?
check "find_package(gpt2 99.0) is refused: installed 0.x considered, not accepted (exit $status)" \
  sh -c "[ $status -ne 0 ] && grep -q 'gpt2-config.cmake, version: $(header_version)' '$tmp/newer.log'"
