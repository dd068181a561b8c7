# ABI checks: exported symbols, SONAME, symbol versions, header hygiene.
. "$(dirname "$0")/lib.sh"
so=$BUILD/libgpt2.so.$(header_version)
major=$(header_version | cut -d. -f1)

exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sed 's/@.*//' | sort -u)
leaks=$(echo "$exported" | grep -v '^gpt2_' | grep -v '^GPT2_')
check "only gpt2_* symbols exported (extra: ${leaks:-none})" test -z "$leaks"

declared=$(grep -o '^GPT2_API [^(]*(' include/gpt2.h | sed 's/($//; s/.*[ *]//' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
check "every GPT2_API function of gpt2.h is exported (missing: ${missing:-none})" test -z "$missing"
undeclared=$(comm -13 <(echo "$declared") <(echo "$exported" | grep '^gpt2_'))
check "every exported function is declared in gpt2.h (extra: ${undeclared:-none})" test -z "$undeclared"

unversioned=$(nm -D --defined-only "$so" | awk '$3 ~ /^gpt2_/ && $3 !~ /@@?GPT2_[0-9.]+$/ {print $3}')
check "exported symbols carry a GPT2_* version node" test -z "$unversioned"

soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
check "SONAME is libgpt2.so.$major (got $soname)" test "$soname" = "libgpt2.so.$major"
check "real name is libgpt2.so.MAJOR.MINOR.PATCH" test "$(basename "$so")" = "libgpt2.so.$(header_version)"
check "libgpt2.so.$major symlink" test "$(readlink "$BUILD/libgpt2.so.$major")" = "$(basename "$so")"
check "libgpt2.so symlink" test "$(readlink "$BUILD/libgpt2.so")" = "libgpt2.so.$major"

printf '#include "gpt2.h"\nint main(void) { return gpt2_version()[0] == 0; }\n' > "$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cpp"
check "header compiles alone as C99 -Wpedantic" cc -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude -c "$tmp/h.c" -o "$tmp/h.o"
check "header compiles alone as C++11" c++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -Iinclude -c "$tmp/h.cpp" -o "$tmp/hpp.o"
