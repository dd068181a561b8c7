# gpt2-quantize: help, exit status 2 on a bad command line, 1 on a bad
# model or output, and the files it writes load with the requested types.
. "$(dirname "$0")/lib.sh"
q=$BUILD/gpt2-quantize

check "--help prints the usage and exits 0" sh -c "'$q' --help | grep -q 'Usage: gpt2-quantize IN OUT'"
status() { "$@" >/dev/null 2>"$tmp/err"; echo $?; }
check "no arguments: exit 2" test "$(status "$q")" = 2
check "one path: exit 2" test "$(status "$q" "$MODELS/tiny-f32")" = 2
check "unknown type: exit 2 naming it" sh -c "test $(status "$q" a b --type q5_1) = 2 && grep -q \"unknown type 'q5_1'\" '$tmp/err'"
check "--type without a value: exit 2" test "$(status "$q" a b --type)" = 2
check "unknown option: exit 2" test "$(status "$q" a b --frobnicate)" = 2
check "three paths: exit 2" test "$(status "$q" a b c)" = 2
check "missing model: exit 1 naming it" sh -c "test $(status "$q" "$tmp/none" "$tmp/out.gguf") = 1 && grep -q \"$tmp/none\" '$tmp/err'"
check "unwritable output: exit 1, nothing written" sh -c "test $(status "$q" "$MODELS/tiny-f32" "$tmp/no/dir/out.gguf") = 1 && ! test -e '$tmp/no'"

for type in f32 f16 bf16 q8_0 q4_0 auto q3_k_s q3_k_m q3_k_l q4_k_m q4_k_s q5_k_m q5_k_s q6_k; do
  check "--type $type writes a loadable file" sh -c \
    "'$q' '$MODELS/tiny-f32' '$tmp/$type.gguf' --type $type 2>/dev/null && '$BUILD/gpt2-tokenize' -m '$tmp/$type.gguf' 'Hello world' >/dev/null"
done
check "--type=q8_0 form" sh -c "'$q' '$MODELS/tiny-f32' '$tmp/eq.gguf' --type=q8_0 2>/dev/null && cmp -s '$tmp/eq.gguf' '$tmp/q8_0.gguf'"
check "a GGUF file as input (q4_0 -> auto: the same file)" sh -c \
  "'$q' '$tmp/q4_0.gguf' '$tmp/again.gguf' 2>/dev/null && cmp -s '$tmp/q4_0.gguf' '$tmp/again.gguf'"
check "sizes shrink f32 > f16 > q8_0 > q4_0" sh -c \
  "test \$(stat -c %s '$tmp/f32.gguf') -gt \$(stat -c %s '$tmp/f16.gguf') && test \$(stat -c %s '$tmp/f16.gguf') -gt \$(stat -c %s '$tmp/q8_0.gguf') && test \$(stat -c %s '$tmp/q8_0.gguf') -gt \$(stat -c %s '$tmp/q4_0.gguf')"
for type in q3_k_s q3_k_m q3_k_l q4_k_m q4_k_s q5_k_m q5_k_s q6_k; do
  check "--help says what the $type mix holds" sh -c "'$q' --help | grep -q '^  *$type  '"
done
k_sizes_shrink() {
  for t in q6_k q5_k_m q4_k_m; do "$q" "$MODELS/mid-f32" "$tmp/mid-$t.gguf" --type $t 2>/dev/null || return 1; done
  test "$(stat -c %s "$tmp/mid-q6_k.gguf")" -gt "$(stat -c %s "$tmp/mid-q5_k_m.gguf")" &&
    test "$(stat -c %s "$tmp/mid-q5_k_m.gguf")" -gt "$(stat -c %s "$tmp/mid-q4_k_m.gguf")"
}
check "sizes shrink q6_k > q5_k_m > q4_k_m (mid: 256-value blocks fit)" k_sizes_shrink
check "--omit-tied-output: a smaller file that loads" sh -c \
  "'$q' '$MODELS/tiny-f32' '$tmp/tied.gguf' --type q8_0 --omit-tied-output 2>/dev/null &&
   test \$(stat -c %s '$tmp/tied.gguf') -lt \$(stat -c %s '$tmp/q8_0.gguf') &&
   '$BUILD/gpt2-tokenize' -m '$tmp/tied.gguf' 'Hello world' >/dev/null"
