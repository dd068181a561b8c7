# The Meson build builds the same library as the Makefile: same real name,
# SONAME, exported symbols and an equivalent gpt2.pc.
. "$(dirname "$0")/lib.sh"
if ! command -v meson >/dev/null; then fail "meson is not installed (apt-get install meson ninja-build)"; exit 0; fi
dir=$tmp/meson
# -g1 after the buildtype's -g: line tables only, as the other passes
# (tests/asan.test.sh); what is compared here does not depend on it, and
# the build takes 72 -> 52 CPU-seconds.
meson setup "$dir" --prefix=/usr/local -Dc_args=-g1 >"$dir.log" 2>&1 && meson compile -C "$dir" >>"$dir.log" 2>&1
status=$?
check "meson setup + compile" test $status -eq 0
[ $status -eq 0 ] || { tail -20 "$dir.log"; exit 0; }
rm -f "$dir.log"
version=$(header_version)
check "meson builds libgpt2.so.$version" test -f "$dir/libgpt2.so.$version"
check "meson builds libgpt2.a" test -f "$dir/libgpt2.a"
soname() { readelf -d "$1" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p'; }
check "same SONAME" test "$(soname "$dir/libgpt2.so.$version")" = "$(soname "$BUILD/libgpt2.so.$version")"
symbols() { nm -D --defined-only "$1" | awk '{print $3}' | sort; }
check "same exported symbols and versions" diff <(symbols "$dir/libgpt2.so.$version") <(symbols "$BUILD/libgpt2.so.$version")
field() { sed -n "s/^$2: //p" "$1"; }
make_pc=$BUILD/gpt2.pc meson_pc=$dir/meson-private/gpt2.pc
for f in Name Version Cflags; do
  check "gpt2.pc $f equal ($(field "$meson_pc" $f))" test "$(field "$meson_pc" $f)" = "$(field "$make_pc" $f | sed 's|\${includedir}|${includedir}|')"
done
check "gpt2.pc Libs link -lgpt2 from libdir" grep -q '^Libs: -L${libdir} -lgpt2' "$meson_pc"
for source in examples/*.c; do
  p=$(basename "$source" .c)
  check "meson builds $p" test -x "$dir/$p"
done
