# End-to-end tests of the programs gpt2-generate, gpt2-tokenize and
# gpt2-perplexity on the generated test models: outputs against golden data
# and the float64 reference, determinism, exit codes (0 ok, 1 run-time
# failure, 2 bad command line) and error messages.
. "$(dirname "$0")/lib.sh"
GOLDEN=tests/data/golden
gen=$BUILD/gpt2-generate tok=$BUILD/gpt2-tokenize ppl=$BUILD/gpt2-perplexity
mid=$MODELS/mid-f32 tiny=$MODELS/tiny-f32 real_vocab=$MODELS/124m-f32

# run CMD...: stdout in $tmp/out, stderr in $tmp/err, exit status in $status.
run() { "$@" >"$tmp/out" 2>"$tmp/err"; status=$?; }
# expect NAME STATUS MESSAGE CMD...: the exit status is STATUS and stderr
# contains MESSAGE (a fixed string).
expect() {
  local name=$1 want=$2 message=$3; shift 3
  run "$@"
  if [ "$status" -eq "$want" ] && grep -qF -- "$message" "$tmp/err"; then
    ok "$name (exit $status: $(head -n 1 "$tmp/err"))"
  else
    fail "$name: exit $status, want $want with '$message'; stderr: $(head -n 2 "$tmp/err")"
  fi
}
# golden KEY MODEL: the ids after "KEY N" in the model's golden file.
golden() { sed -n "s/^$1 [0-9]* //p" "$GOLDEN/$2.txt"; }

for p in "$gen" "$tok" "$ppl"; do
  [ -x "$p" ] || { fail "$p is not built"; exit 1; }
done
for m in "$mid" "$tiny" "$real_vocab"; do
  [ -d "$m" ] || { fail "model $m missing (tools/gen/make_models.sh)"; exit 1; }
done

# ---- --help -------------------------------------------------------------
# absent FILE PATTERN...: the patterns (grep regexps) that match no line of FILE.
absent() {
  local file=$1 pattern; shift
  for pattern; do grep -qe "$pattern" "$file" || printf '%s ' "$pattern"; done
}
run "$gen" --help
missing=$(absent "$tmp/out" " -m " " -p " " -f " " -n " " --temp " " --top-k " " --top-p " " --min-p " \
  " --repeat-penalty " " --seed " " --threads " " --stop " " --special ")
check "gpt2-generate --help exits 0 and documents every flag (exit $status; missing: ${missing:-none})" \
  test "$status" -eq 0 -a -z "$missing"
run "$tok" --help
missing=$(absent "$tmp/out" " -m " " -f " " --ids " " --pieces " " --decode " " --special ")
check "gpt2-tokenize --help exits 0 and documents every flag (exit $status; missing: ${missing:-none})" \
  test "$status" -eq 0 -a -z "$missing"
run "$ppl" -h
missing=$(absent "$tmp/out" " -m " " -f " " --ctx " " --stride " " --special ")
check "gpt2-perplexity -h exits 0 and documents every flag (exit $status; missing: ${missing:-none})" \
  test "$status" -eq 0 -a -z "$missing"

# ---- gpt2-tokenize on GPT-2's own vocabulary --------------------------------
# Expected ids: tiktoken's published gpt2 test vectors.
run "$tok" -m "$real_vocab" "hello world"
check "tokenize 'hello world' = 31373 995" test "$(cat "$tmp/out")" = "31373 995"
run "$tok" -m "$real_vocab" --special --ids "hello <|endoftext|>"
check "tokenize --special 'hello <|endoftext|>' = 31373 220 50256" test "$(cat "$tmp/out")" = "31373 220 50256"
# Without --special the literal is text, as in the Python binding: GPT-2's
# BPE of " <|endoftext|>" as characters (" <", "|", "end", "of", "text", "|", ">").
run "$tok" -m "$real_vocab" --ids "hello <|endoftext|>"
check "tokenize 'hello <|endoftext|>' without --special = 31373 1279 91 437 1659 5239 91 29 (text)" \
  test "$(cat "$tmp/out")" = "31373 1279 91 437 1659 5239 91 29"
run "$tok" -m "$real_vocab" "00000"
check "tokenize '00000' = 20483" test "$(cat "$tmp/out")" = "20483"
printf 'hello world' | "$tok" -m "$real_vocab" >"$tmp/out" 2>&1
check "tokenize reads stdin" test "$(cat "$tmp/out")" = "31373 995"
run "$tok" -m "$real_vocab" --pieces "hello world"
check "tokenize --pieces: id, tab, quoted bytes" \
  test "$(cat "$tmp/out")" = "$(printf '31373\t"hello"\n995\t" world"')"
run "$tok" -m "$real_vocab" --pieces $'a\n\xe6\x97\xa5'
check "tokenize --pieces escapes newlines and bytes of split characters ($(tr '\n\t' '|>' <"$tmp/out"))" \
  grep -qF '\n' "$tmp/out"
run "$tok" -m "$real_vocab" --decode "31373 995"
check "decode '31373 995' = 'hello world' (no newline added)" test "$(od -An -c "$tmp/out" | tr -d ' \n')" = "helloworld" -a "$(wc -c <"$tmp/out")" -eq 11
run "$tok" -m "$real_vocab" --decode "[31373, 995]"
check "decode accepts a Python list" test "$(cat "$tmp/out")" = "hello world"
printf 'Gr\xc3\xbc\xc3\x9fe, \xe4\xb8\x96\xe7\x95\x8c! \xf0\x9f\x98\x80 tabs\tand\nnewlines  \x80\xff raw' >"$tmp/text"
"$tok" -m "$real_vocab" -f "$tmp/text" >"$tmp/ids" && "$tok" -m "$real_vocab" --decode -f "$tmp/ids" >"$tmp/back"
check "tokenize then decode gives back the bytes (UTF-8, emoji, invalid bytes)" cmp -s "$tmp/text" "$tmp/back"
run "$tok" -m "$real_vocab" -- "-n"
check "text after -- may start with '-'" test "$status" -eq 0 -a -s "$tmp/out"

expect "decode of a non-number" 1 "'abc' is not a token id" "$tok" -m "$real_vocab" --decode "12 abc"
expect "decode of an id past the vocabulary" 1 "token id 50257 is outside the vocabulary" "$tok" -m "$real_vocab" --decode "50257"
expect "tokenize: unknown option" 2 "unknown option '--bogus'" "$tok" -m "$real_vocab" --bogus x
expect "tokenize: two modes" 2 "only one of" "$tok" -m "$real_vocab" --ids --pieces x
expect "tokenize: TEXT and -f" 2 "not both" "$tok" -m "$real_vocab" -f "$tmp/text" hello
expect "tokenize: no model" 2 "give -m MODEL" "$tok" hello
expect "tokenize: missing model" 1 "cannot load model '$tmp/none'" "$tok" -m "$tmp/none" hello
expect "tokenize: missing file" 1 "cannot open '$tmp/none'" "$tok" -m "$real_vocab" -f "$tmp/none"

# ---- gpt2-generate ---------------------------------------------------------
# Greedy decoding reproduces the float64 reference's continuation (golden
# data; its smallest top-2 margin is far above float32 rounding).
for key in prompt continuation; do
  check "golden file mid-f32.txt has the '$key' ids" test -n "$(golden $key mid-f32)"
done
"$tok" -m "$mid" --decode "$(golden prompt mid-f32)" >"$tmp/prompt"
"$tok" -m "$mid" -f "$tmp/prompt" >"$tmp/prompt-ids"
check "the golden prompt survives decode + tokenize" test "$(cat "$tmp/prompt-ids")" = "$(golden prompt mid-f32)"
"$tok" -m "$mid" --decode "$(golden continuation mid-f32)" >"$tmp/expected"
run "$gen" -m "$mid" -f "$tmp/prompt" -n 32 --temp 0
check "greedy: 32 tokens equal the reference continuation" cmp -s "$tmp/out" "$tmp/expected"
for line in "load:" "prompt:  *16 tokens" "generated:  *32 tokens.*(token limit)" "sampling: .* ms/token" "seed:"; do
  check "summary on stderr has '$line'" grep -q "^$line" "$tmp/err"
done

run "$gen" -m "$mid" -f "$tmp/prompt" -n 40 --seed 42 --threads 1 --top-p 0.9 --repeat-penalty 1.2
cp "$tmp/out" "$tmp/seed42"
run "$gen" -m "$mid" -f "$tmp/prompt" -n 40 --seed 42 --threads 2 --top-p 0.9 --repeat-penalty 1.2
check "same seed: same text with 1 and 2 threads" cmp -s "$tmp/out" "$tmp/seed42"
run "$gen" -m "$mid" -f "$tmp/prompt" -n 40 --seed 43 --threads 2 --top-p 0.9 --repeat-penalty 1.2
check "another seed: other text" eval '! cmp -s "$tmp/out" "$tmp/seed42"'
run "$gen" -m "$mid" -f "$tmp/prompt" -n 40 --temp 0.7 --top-k 5 --min-p 0.1 --seed 5
check "all sampling flags together run (exit $status)" test "$status" -eq 0 -a -s "$tmp/out"

"$gen" -m "$mid" -n 32 --temp 0 <"$tmp/prompt" >"$tmp/out" 2>/dev/null
check "prompt from stdin = prompt from -f" cmp -s "$tmp/out" "$tmp/expected"
run "$gen" -m "$mid" -f "$tmp/prompt" -n 0
check "-n 0 prints nothing and exits 0" test "$status" -eq 0 -a ! -s "$tmp/out"

# A stop string from the middle of the greedy text: output ends just before it.
stop=$(head -c 40 "$tmp/expected" | tail -c 6)
run "$gen" -m "$mid" -f "$tmp/prompt" -n 32 --temp 0 --stop "$stop" --stop "never appears"
before=$("$PYTHON" -c 'import sys; t=open(sys.argv[1],"rb").read(); print(len(t[:t.index(sys.argv[2].encode())]))' "$tmp/expected" "$stop")
check "--stop: text up to the stop string, not including it ($before bytes)" \
  eval 'cmp -s "$tmp/out" <(head -c "$before" "$tmp/expected") && grep -q "(stop string)" "$tmp/err"'

# tiny's context is 64 positions.
"$tok" -m "$tiny" --decode "$(seq -s ' ' 100 159)" >"$tmp/prompt60"
run "$gen" -m "$tiny" -f "$tmp/prompt60" -n 20 --temp 0 --seed 1
check "generation stops when the context is full ($(grep generated "$tmp/err"))" \
  eval '[ $status -eq 0 ] && grep -q "(context full)" "$tmp/err"'
"$tok" -m "$tiny" --decode "$(seq -s ' ' 100 180)" >"$tmp/prompt81"
expect "prompt longer than the context" 1 "the context holds 64" "$gen" -m "$tiny" -f "$tmp/prompt81"

expect "generate: missing model" 1 "cannot load model '$tmp/none'" "$gen" -m "$tmp/none" -p hi
expect "generate: missing prompt file" 1 "cannot open '$tmp/none'" "$gen" -m "$mid" -f "$tmp/none"
expect "generate: unreadable prompt file (a directory)" 1 "cannot read '$tmp'" "$gen" -m "$mid" -f "$tmp"
expect "generate: empty prompt" 1 "the prompt is empty" "$gen" -m "$mid" -p ""
: >"$tmp/empty"
expect "generate: empty prompt file" 1 "the prompt is empty" "$gen" -m "$mid" -f "$tmp/empty"
expect "generate: empty stdin" 1 "the prompt is empty" "$gen" -m "$mid" </dev/null
expect "generate: --temp abc" 2 "--temp: 'abc' is not a number" "$gen" -m "$mid" -p hi --temp abc
expect "generate: --temp -1" 2 "--temp: -1 must be >= 0" "$gen" -m "$mid" -p hi --temp -1
expect "generate: --temp nan" 2 "--temp: 'nan' is not a number" "$gen" -m "$mid" -p hi --temp nan
expect "generate: --top-p 1.5" 2 "--top-p: 1.5 is out of range [0, 1]" "$gen" -m "$mid" -p hi --top-p 1.5
expect "generate: --min-p 2" 2 "--min-p: 2 is out of range [0, 1]" "$gen" -m "$mid" -p hi --min-p 2
expect "generate: --top-k -3" 2 "--top-k: -3 must be >= 0" "$gen" -m "$mid" -p hi --top-k -3
expect "generate: --top-k 2.5" 2 "--top-k: '2.5' is not an integer" "$gen" -m "$mid" -p hi --top-k 2.5
expect "generate: -n x" 2 "-n: 'x' is not an integer" "$gen" -m "$mid" -p hi -n x
expect "generate: -n 99999999999" 2 "-n: 99999999999 is out of range [0, 2147483647]" "$gen" -m "$mid" -p hi -n 99999999999
expect "generate: --seed -1" 2 "--seed: '-1' is not an integer in [0, 2^64)" "$gen" -m "$mid" -p hi --seed -1
expect "generate: --threads many" 2 "--threads: 'many' is not an integer" "$gen" -m "$mid" -p hi --threads many
expect "generate: --repeat-penalty 0" 2 "--repeat-penalty: must be greater than 0" "$gen" -m "$mid" -p hi --repeat-penalty 0
expect "generate: empty --stop" 2 "--stop: the stop string is empty" "$gen" -m "$mid" -p hi --stop ""
expect "generate: missing value" 2 "-n needs a value" "$gen" -m "$mid" -p hi -n
expect "generate: unknown option" 2 "unknown option '--temperature'" "$gen" -m "$mid" -p hi --temperature 1
expect "generate: no model" 2 "give -m MODEL" "$gen" -p hi
expect "generate: -p and -f" 2 "give -p or -f, not both" "$gen" -m "$mid" -p hi -f "$tmp/prompt"

# ---- gpt2-perplexity against the float64 reference ----------------------------
# Tolerance: each token's negative log-likelihood is a log-sum-exp minus a
# logit, so its error is at most twice the largest logit error. A float32
# forward pass stays within ~4e-5 of the float64 logits on these models
# (golden data: numpy_float32_max_error), so the mean NLL is within ~1e-4
# and perplexity and bits per byte within ~1e-4 relative; we allow 2e-4.
printf 'The quick brown fox jumps over the lazy dog. ' >"$tmp/sentence"
for i in $(seq 12); do cat "$tmp/sentence"; printf 'Line %d: \xe6\x97\xa5\xe6\x9c\xac, caf\xc3\xa9.\n' "$i"; done >"$tmp/corpus"
compare_perplexity() {
  local model=$1 ctx=$2 stride=$3
  run "$ppl" -m "$MODELS/$model" -f "$tmp/corpus" --ctx "$ctx" --stride "$stride"
  if [ "$status" -ne 0 ]; then fail "perplexity $model ctx $ctx stride $stride: exit $status: $(cat "$tmp/err")"; return; fi
  "$tok" -m "$MODELS/$model" -f "$tmp/corpus" >"$tmp/corpus-ids"
  "$PYTHON" tests/reference/perplexity_ref.py "$MODELS/$model" "$ctx" "$stride" "$tmp/corpus-ids" >"$tmp/ref" 2>"$tmp/ref-err" ||
    { fail "perplexity_ref.py $model: $(tail -n 2 "$tmp/ref-err")"; return; }
  local verdict
  verdict=$("$PYTHON" - "$tmp/out" "$tmp/ref" <<'PY'
import sys
ours = {l.split(":")[0]: l.split(":")[1].split()[0] for l in open(sys.argv[1]) if ":" in l}
ref = dict(l.split() for l in open(sys.argv[2]))
p, rp = float(ours["perplexity"]), float(ref["perplexity"])
b, rb = float(ours["bits per byte"]), float(ref["bits_per_byte"])
n, rn = int(ours["tokens scored"]), int(ref["tokens_scored"])
good = abs(p / rp - 1) <= 2e-4 and abs(b / rb - 1) <= 2e-4 and n == rn
print(("ok" if good else "bad"), f"ppl {p} vs {rp}, bpb {b} vs {rb}, scored {n} vs {rn}")
PY
)
  check "perplexity $model ctx $ctx stride $stride matches float64 (${verdict#* })" test "${verdict%% *}" = ok
}
compare_perplexity tiny-f32 64 24
compare_perplexity tiny-f32 32 32
compare_perplexity mid-f32 100 37
compare_perplexity mid-f32 256 128
run "$ppl" -m "$mid" -f "$tmp/corpus" --ctx 64 --stride 16
missing=$(absent "$tmp/out" "^perplexity:" "^bits per byte:" "^tokens scored:" "^speed: .* tok/s")
check "perplexity prints PPL, bits per byte, tokens scored and tok/s (exit $status; missing: ${missing:-none})" \
  test "$status" -eq 0 -a -z "$missing"

printf 'a' >"$tmp/one"
expect "perplexity: a one-token text" 1 "perplexity needs at least 2" "$ppl" -m "$mid" -f "$tmp/one"
expect "perplexity: --ctx past the model's context" 1 "longer than the model's context of 64" "$ppl" -m "$tiny" -f "$tmp/corpus" --ctx 100
expect "perplexity: --stride past --ctx" 2 "--stride 50 is longer than the window" "$ppl" -m "$mid" -f "$tmp/corpus" --ctx 40 --stride 50
expect "perplexity: --ctx 1" 2 "--ctx: 1 must be >= 2" "$ppl" -m "$mid" -f "$tmp/corpus" --ctx 1
expect "perplexity: --stride 0" 2 "--stride: 0 must be >= 1" "$ppl" -m "$mid" -f "$tmp/corpus" --stride 0
expect "perplexity: no file" 2 "give -f FILE" "$ppl" -m "$mid"
expect "perplexity: missing file" 1 "cannot open '$tmp/none'" "$ppl" -m "$mid" -f "$tmp/none"
expect "perplexity: missing model" 1 "cannot load model '$tmp/none'" "$ppl" -m "$tmp/none" -f "$tmp/corpus"

# ---- many sequences: gpt2-batched, gpt2-generate --n / --beams / --state-* ----
# (issue 15) Forks of one evaluated prompt advance in one gpt2_eval_batch per
# step; a fork's logits are bitwise those of a context run alone, so each
# completion must equal the plain one-sequence program with its seed.
batched=$BUILD/gpt2-batched
[ -x "$batched" ] || fail "$batched is not built"
run "$batched" --help
check "gpt2-batched --help exits 0 and documents every flag" \
  eval '[ $status -eq 0 ] && for f in -m -p -f --np -n --temp --top-k --top-p --min-p \
    --repeat-penalty --seed --threads; do grep -qe " $f " "$tmp/out" || exit 1; done'
run "$gen" --help
check "gpt2-generate --help documents --n, --beams, --length-penalty, --early-stopping, --state-out, --state-in" \
  eval 'for f in --n --beams --length-penalty --early-stopping --state-out --state-in; do grep -qe " $f " "$tmp/out" || exit 1; done'

# wrap FILE I N: FILE's text as completion I of N is printed.
wrap() { printf -- '--- completion %d/%d ---\n' "$2" "$3"; cat "$1"; printf '\n'; }
sampling=(-n 24 --temp 0.9 --top-k 40 --repeat-penalty 1.1)
for seed in 7 8 9; do
  "$gen" -m "$mid" -f "$tmp/prompt" "${sampling[@]}" --seed "$seed" >"$tmp/plain$seed" 2>/dev/null
done
run "$batched" -m "$mid" -f "$tmp/prompt" "${sampling[@]}" --seed 7 --np 1
check "gpt2-batched --np 1 = gpt2-generate with the same seed and options" \
  cmp -s "$tmp/out" <(wrap "$tmp/plain7" 1 1)
run "$batched" -m "$mid" -f "$tmp/prompt" "${sampling[@]}" --seed 7 --np 3 --threads 2
cp "$tmp/out" "$tmp/batched3"
check "gpt2-batched --np 3: completion i = gpt2-generate --seed 7+i, each alone" \
  cmp -s "$tmp/out" <(wrap "$tmp/plain7" 1 3; wrap "$tmp/plain8" 2 3; wrap "$tmp/plain9" 3 3)
n_distinct=$("$PYTHON" -c 'import re, sys
print(len(set(re.split(rb"(?m)^--- completion \d+/3 ---\n", open(sys.argv[1], "rb").read())[1:])))' "$tmp/out")
check "gpt2-batched --np 3: three different completions ($n_distinct)" test "$n_distinct" -eq 3
check "gpt2-batched reports the aggregate speed" grep -q "^speed: .* tok/s aggregate" "$tmp/err"
run "$batched" -m "$mid" -f "$tmp/prompt" "${sampling[@]}" --seed 7 --np 3 --threads 1
check "gpt2-batched: the same completions with 1 and 2 threads" cmp -s "$tmp/out" "$tmp/batched3"
run "$gen" -m "$mid" -f "$tmp/prompt" "${sampling[@]}" --seed 7 --n 3
check "gpt2-generate --n 3 = gpt2-batched --np 3" cmp -s "$tmp/out" "$tmp/batched3"
run "$gen" -m "$mid" -f "$tmp/prompt" "${sampling[@]}" --seed 7 --n 1
check "gpt2-generate --n 1 = plain gpt2-generate" cmp -s "$tmp/out" <(wrap "$tmp/plain7" 1 1)
# Stop strings apply per completion: one from the middle of completion 2.
stop=$(head -c 30 "$tmp/plain8" | tail -c 4)
for seed in 7 8; do
  "$gen" -m "$mid" -f "$tmp/prompt" "${sampling[@]}" --seed "$seed" --stop "$stop" >"$tmp/stop$seed" 2>/dev/null
done
run "$gen" -m "$mid" -f "$tmp/prompt" "${sampling[@]}" --seed 7 --n 2 --stop "$stop"
check "gpt2-generate --n 2 --stop: each completion cut as alone ($(grep -c 'stop string' "$tmp/err") stopped)" \
  eval 'cmp -s "$tmp/out" <(wrap "$tmp/stop7" 1 2; wrap "$tmp/stop8" 2 2) && grep -q "completion 2: .*(stop string)" "$tmp/err"'
run "$batched" -m "$tiny" -f "$tmp/prompt60" -n 20 --np 2 --seed 1
check "gpt2-batched: completions end when the context is full" \
  eval '[ $status -eq 0 ] && [ "$(grep -c "(context full)" "$tmp/err")" -eq 2 ]'

# --beams 1 is greedy search (Hugging Face runs num_beams=1 as greedy).
run "$gen" -m "$mid" -f "$tmp/prompt" -n 32 --beams 1
check "--beams 1 = greedy: 32 tokens equal the reference continuation" cmp -s "$tmp/out" "$tmp/expected"

# Beam search against tests/reference/beam_ref.py (float64 numpy, Hugging
# Face's algorithm). Each case's margin is the smallest score gap at any
# decision of the search (candidate cut, end-of-text rank, early stop, best
# hypothesis). float32 logits stay within ~4e-5 of float64 on these models
# (golden data), so a log-probability within ~1e-4 and a sum over MAX steps
# within MAX x 1e-4: a case must have a margin above that for equal outputs
# to be required; the cases were chosen so (margins 3.8e-3 to 1.7e-2, the
# 40-step ones 4.4e-3 and up). The 40-step cases give three different
# results for early_stopping true, false and never. Some end with
# <|endoftext|> hypotheses (finished > 0) or skip an end candidate ranked
# too low to finish (skipped > 0), and the length penalties change
# which hypothesis wins (tiny 2 beams: penalty 1 vs 0; mid: 0 picks a 7-token
# finished one over the 12-token open beam).
n_finished=0 n_skipped=0
while read -r model beams max lp es ids; do
  "$tok" -m "$MODELS/$model" --decode "$ids" >"$tmp/beam-prompt"
  if [ "$("$tok" -m "$MODELS/$model" -f "$tmp/beam-prompt")" != "$ids" ]; then
    fail "beam prompt $ids of $model does not survive decode + tokenize"; continue
  fi
  "$PYTHON" tests/reference/beam_ref.py "$MODELS/$model" "$beams" "$max" "$lp" "$es" $ids >"$tmp/beam-ref" ||
    { fail "beam_ref.py $model $ids"; continue; }
  margin=$(sed -n 's/^margin //p' "$tmp/beam-ref")
  finished=$(sed -n 's/^finished //p' "$tmp/beam-ref")
  n_finished=$((n_finished + finished))
  n_skipped=$((n_skipped + $(sed -n 's/^skipped //p' "$tmp/beam-ref")))
  "$tok" -m "$MODELS/$model" --decode "$(sed -n 's/^tokens *//p' "$tmp/beam-ref")" >"$tmp/beam-expected"
  run "$gen" -m "$MODELS/$model" -f "$tmp/beam-prompt" -n "$max" --beams "$beams" \
    --length-penalty "$lp" --early-stopping "$es"
  label="$model beams $beams max $max length_penalty $lp early_stopping $es [$ids]"
  if awk -v m="$margin" -v n="$max" 'BEGIN { exit !(m > n * 1e-4) }'; then
    check "beam search = float64 reference: $label (margin $margin, finished $finished)" \
      cmp -s "$tmp/out" "$tmp/beam-expected"
  else
    fail "beam case $label: margin $margin is too small to require equality"
  fi
done <<'CASES'
tiny-f32 3 12 1.0 false 7 108 209 310 411
tiny-f32 2 12 1.0 false 7 108 209 310 411
tiny-f32 2 12 0.0 true 7 108 209 310 411
tiny-f32 3 12 1.0 false 118 219 320 421 14
tiny-f32 3 12 1.0 false 313 414 7 108 209
tiny-f32 2 40 1.0 true 44 145 246 347 448
tiny-f32 2 40 1.0 false 44 145 246 347 448
tiny-f32 2 40 1.0 never 44 145 246 347 448
mid-f32 2 12 1.0 false 1043 1144 1245 1346 1447
mid-f32 2 12 0.0 never 1043 1144 1245 1346 1447
mid-f32 2 12 -1.0 never 1043 1144 1245 1346 1447
mid-f32 3 12 1.0 false 1783 1884 1985 88 189
CASES
check "beam cases exercise finished (<|endoftext|>) hypotheses ($n_finished) and end candidates ranked too low to finish ($n_skipped)" \
  test "$n_finished" -gt 0 -a "$n_skipped" -gt 0

# Prompt cache: save the evaluated prompt, reuse it for a prompt extending it.
printf 'The quick brown fox jumps over the lazy dog.' >"$tmp/part1"
printf ' Then it ran away, far away.' >"$tmp/part2"
cat "$tmp/part1" "$tmp/part2" >"$tmp/whole"
n_part1=$("$tok" -m "$mid" -f "$tmp/part1" | wc -w)
n_whole=$("$tok" -m "$mid" -f "$tmp/whole" | wc -w)
check "prompt cache test: part 1's tokens begin the whole prompt's" \
  test "$("$tok" -m "$mid" -f "$tmp/whole" | cut -d' ' -f1-"$n_part1")" = "$("$tok" -m "$mid" -f "$tmp/part1")"
run "$gen" -m "$mid" -f "$tmp/part1" -n 0 --seed 3 --state-out "$tmp/cache"
check "--state-out writes the cache (exit $status)" test "$status" -eq 0 -a -s "$tmp/cache"
"$gen" -m "$mid" -f "$tmp/whole" "${sampling[@]}" --seed 4 >"$tmp/one-run" 2>/dev/null
run "$gen" -m "$mid" -f "$tmp/whole" "${sampling[@]}" --seed 4 --state-in "$tmp/cache"
check "--state-in + a longer prompt = one run (seed 4, saved with seed 3)" cmp -s "$tmp/out" "$tmp/one-run"
check "--state-in evaluates only the new tokens ($((n_whole - n_part1)) of $n_whole)" \
  eval 'grep -q "^cached: *$n_part1 tokens" "$tmp/err" && grep -q "^prompt: *$((n_whole - n_part1)) tokens" "$tmp/err"'
"$gen" -m "$mid" -f "$tmp/part1" "${sampling[@]}" --seed 5 >"$tmp/one-run" 2>/dev/null
run "$gen" -m "$mid" -f "$tmp/part1" "${sampling[@]}" --seed 5 --state-in "$tmp/cache"
check "--state-in + the same prompt = one run, nothing evaluated" \
  eval 'cmp -s "$tmp/out" "$tmp/one-run" && grep -q "^prompt: *0 tokens" "$tmp/err"'
run "$gen" -m "$mid" -f "$tmp/whole" -n 32 --beams 2 --state-in "$tmp/cache"
cp "$tmp/out" "$tmp/beam-cached"
run "$gen" -m "$mid" -f "$tmp/whole" -n 32 --beams 2
check "--state-in with --beams = one run" cmp -s "$tmp/out" "$tmp/beam-cached"
expect "--state-in: a prompt that does not extend the saved one" 1 "does not begin this prompt (they differ at token 0)" \
  "$gen" -m "$mid" -p "Other text" --state-in "$tmp/cache"
expect "--state-in: a state of another model (same vocabulary)" 1 "made with another model" \
  "$gen" -m "$MODELS/mid-f16" -f "$tmp/whole" --state-in "$tmp/cache"
head -c 1000 "$tmp/cache" >"$tmp/cut-cache"
expect "--state-in: a cut file" 1 "the file holds" "$gen" -m "$mid" -f "$tmp/whole" --state-in "$tmp/cut-cache"
expect "--state-in: not a cache" 1 "is not a prompt cache" "$gen" -m "$mid" -f "$tmp/whole" --state-in "$tmp/prompt"
expect "--state-in: missing file" 1 "cannot open '$tmp/none'" "$gen" -m "$mid" -f "$tmp/whole" --state-in "$tmp/none"
expect "--state-out: unwritable path" 1 "cannot create '$tmp/none/x'" "$gen" -m "$mid" -p hi -n 0 --state-out "$tmp/none/x"

expect "generate: --n 0" 2 "--n: 0 is out of range [1, 1024]" "$gen" -m "$mid" -p hi --n 0
expect "generate: --n and --beams" 2 "give --n or --beams, not both" "$gen" -m "$mid" -p hi --n 2 --beams 2
expect "generate: --length-penalty without --beams" 2 "need --beams" "$gen" -m "$mid" -p hi --length-penalty 2
expect "generate: --early-stopping maybe" 2 "'maybe' is not true, false or never" "$gen" -m "$mid" -p hi --beams 2 --early-stopping maybe
expect "generate: --stop with --beams" 2 "--stop does not apply to --beams" "$gen" -m "$mid" -p hi --beams 2 --stop x
expect "batched: --np 0" 2 "--np: 0 is out of range [1, 1024]" "$batched" -m "$mid" -p hi --np 0
expect "batched: unknown option" 2 "unknown option '--n'" "$batched" -m "$mid" -p hi --n 2
expect "batched: empty prompt" 1 "the prompt is empty" "$batched" -m "$mid" -p ""
