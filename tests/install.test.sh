# make install into a temporary DESTDIR, then build and run an outside
# program with nothing but `pkg-config --cflags --libs gpt2`.
. "$(dirname "$0")/lib.sh"
prefix=/opt/gpt2test
make -s install BUILD="$BUILD" PREFIX=$prefix DESTDIR="$tmp/root" >"$tmp/log" 2>&1
status=$?
check "make install DESTDIR=... PREFIX=$prefix (exit $status)" test $status -eq 0
root="$tmp/root$prefix"
major=$(header_version | cut -d. -f1)
for f in include/gpt2.h lib/libgpt2.a lib/libgpt2.so lib/libgpt2.so.$major lib/pkgconfig/gpt2.pc; do
  check "installed $f" test -e "$root/$f"
done
for p in gpt2-generate gpt2-tokenize gpt2-perplexity gpt2-bench gpt2-quantize; do
  [ -f "examples/$p.c" ] && check "installed bin/$p" test -x "$root/bin/$p"
done
check "gpt2.pc has prefix $prefix" grep -q "^prefix=$prefix\$" "$root/lib/pkgconfig/gpt2.pc"

cat > "$tmp/outside.c" <<'C'
#include <gpt2.h>
#include <stdio.h>
#include <string.h>
int main(void) {
  gpt2_model *m = NULL;
  int s = gpt2_load("/nonexistent/model", NULL, &m);
  printf("%s %d %s\n", gpt2_version(), s, gpt2_strerror(s));
  return strcmp(gpt2_version(), GPT2_VERSION_STRING) != 0 || s != GPT2_E_IO || m != NULL;
}
C
export PKG_CONFIG_PATH="$root/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
flags=$(pkg-config --cflags --libs gpt2)
check "pkg-config --cflags --libs gpt2 ($flags)" test -n "$flags"
cc -o "$tmp/outside" "$tmp/outside.c" $flags 2>"$tmp/cc.log"
status=$?
check "outside program builds with pkg-config flags only (exit $status)" test $status -eq 0
LD_LIBRARY_PATH="$root/lib" "$tmp/outside" >"$tmp/out" 2>&1
status=$?
check "outside program runs against the installed shared library (exit $status: $(cat "$tmp/out"))" test $status -eq 0
cc -o "$tmp/outside-static" "$tmp/outside.c" $(pkg-config --cflags gpt2) "$root/lib/libgpt2.a" \
  -Wl,--as-needed $(pkg-config --static --libs gpt2) 2>"$tmp/cc2.log"
status=$?
check "outside program links libgpt2.a with pkg-config --static (exit $status)" test $status -eq 0
"$tmp/outside-static" >/dev/null 2>&1
status=$?
check "statically linked program runs without the shared library (exit $status)" test $status -eq 0
