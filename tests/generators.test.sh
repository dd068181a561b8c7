# The committed generated data are what their generators (tools/gen/) make
# now: each deterministic generator that needs only the test command's
# packages is run into a scratch folder and compared file by file with the
# committed copy. A file that differs, is missing or is extra is a FAIL
# naming it (regenerate with the command in the generator's header).
# Not here: gen_model.c (tests/gen_model.test.sh compares its models),
# gen_unicode_tables.py (needs Debian's unicode-data), gen_tokenizer_cases.*
# (needs tiktoken and npm packages) and tests/reference/make_golden.sh
# (minutes of float64 reference runs).
. "$(dirname "$0")/lib.sh"

# same GENERATOR COMMITTED FRESH [OTHERS]: every file of the two folders is
# the same, but the names in OTHERS (files of that folder that another tool
# writes).
same() {
  local generator=$1 committed=$2 fresh=$3 others=" ${4:-} " differ=0 name
  while read -r name; do
    [[ $others == *" $name "* ]] && continue
    if [ ! -e "$committed/$name" ]; then
      fail "$generator: writes $committed/$name, which is missing there"; differ=1
    elif [ ! -e "$fresh/$name" ]; then
      fail "$generator: no longer writes the committed $committed/$name"; differ=1
    elif ! cmp -s "$committed/$name" "$fresh/$name"; then
      fail "$generator: $committed/$name differs from what it writes now"; differ=1
    fi
  done < <( (cd "$committed" && find . -type f; cd "$fresh" && find . -type f) | sed 's|^\./||' | sort -u)
  [ $differ -eq 1 ] || ok "$generator: $(find "$fresh" -type f | wc -l) files identical to $committed"
}

# regenerate GENERATOR COMMITTED [OTHERS]: runs the generator into a scratch
# folder and compares.
regenerate() {
  local generator=$1 committed=$2 fresh=$tmp/$(basename "$1")
  mkdir -p "$fresh"
  if "$PYTHON" "$generator" "$fresh" >"$tmp/log" 2>&1; then
    same "$generator" "$committed" "$fresh" "${3:-}"
  else
    fail "$generator: exited with status $?: $(tail -n 1 "$tmp/log")"
  fi
}
# tests/data/quant also holds the input of the K and 32-block quantizers
# (gen_k_input.py, checked here) and ggml's bytes for it (written by
# tools/check_llamacpp.sh, which needs llama.cpp: not re-run here).
k_quant="q3_k_quant.bin q4_k_quant.bin q5_k_quant.bin q4_1_quant.bin q5_0_quant.bin q5_1_quant.bin"
regenerate tools/gen/gen_quant_vectors.py tests/data/quant "k_input.f32 $k_quant"
regenerate tools/gen/gen_k_input.py tests/data/quant "$(cd tests/data/quant && ls | grep -vx k_input.f32 | tr '\n' ' ')"
regenerate tools/gen/gen_bad_gguf.py tests/data/gguf_bad
regenerate tools/gen/make_seeds.py tests/fuzz/corpus
