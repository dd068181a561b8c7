#!/usr/bin/env bash
# Every llama-quantize mix (without an importance matrix) of a 124M-shaped
# and an XL-shaped model loads in libgpt2, generates, and keeps its logits
# within the bound below of the F32 model's. Run by tools/check_llamacpp.sh
# (step 4), which builds WORK/quantize against llama.cpp's prebuilt
# libraries; prints ok/FAIL lines, exits non-zero on a failure.
#   tools/llamacpp/check_mixes.sh WORK BINS
# Needs `make` (gpt2-quantize, gen_model, libgpt2.so), /usr/bin/python3
# with numpy, and about 2.5 GB in WORK.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
BUILD=${BUILD:-build}
WORK=$1
BINS=$2
MODEL=${GPT2_TEST_MODELS:-$BUILD/models}/124m-f32
failures=0

# The XL shape: GPT-2 XL's n_embd 1600 and 25 heads (rows of 1600 and 6400
# are not multiples of 256, so the K mixes fall back to 32-value types for
# most matrices) with 2 layers instead of 48: the fallbacks depend on the
# row lengths only.
[ -f "$WORK/124m-f32.gguf" ] || "$BUILD/gpt2-quantize" "$MODEL" "$WORK/124m-f32.gguf" --type f32 >/dev/null
if [ ! -f "$WORK/xl2-f32.gguf" ]; then
  "$BUILD/tools/gen_model" --out "$WORK/xl2-f32" --layers 2 --heads 25 --embd 1600 --positions 1024 --seed 6 \
    --dtype f32 --merges tests/data/gpt2/merges.txt --vocab tests/data/gpt2/vocab.json >/dev/null &&
    "$BUILD/gpt2-quantize" "$WORK/xl2-f32" "$WORK/xl2-f32.gguf" --type f32 >/dev/null
fi

# mix, llama_ftype, bound on the RMS logit error relative to the RMS F32
# logit (mix_logits.py) for the 124M / the XL shape. Measured with
# node-llama-cpp 3.22.1 on these deterministic files (gen_model, llama.cpp
# quantizing on one thread): 124M 0.060 (q8_0) .. 0.70 (q2_k), XL shape
# 0.034 .. 0.34 (docs/gguf.md, "Weight types", has every figure); random
# weights make the error compound over the layers (12 for 124M, 2 here).
# The bounds are 1.2 times the measured error: the kernel tables change the
# logits by about 3e-5 of their RMS. Planted in the dequantization, a wrong
# Q3_K high bit gives 1.21..1.38, a wrong Q5_0/Q5_1 fifth bit 1.28..1.32,
# a halved Q4_1 min 0.92 (bound 0.38); a Q2_K min read from the wrong
# nibble moves q2_k only from 0.70 to 0.80 (bound 0.84; test_quant's exact
# vectors catch it), a grid value off by one not visibly (the same).
# Measured on F32 files without output.weight: if gpt2-quantize starts
# writing it, llama.cpp quantizes it apart from token_embd; measure again.
MIXES="
q8_0 7 0.08 0.05
q6_k 18 0.16 0.05
q5_k_m 17 0.21 0.19
q5_k_s 16 0.29 0.19
q5_1 9 0.31 0.19
q5_0 8 0.32 0.21
q4_k_m 15 0.35 0.21
q4_k_s 14 0.38 0.21
q4_1 3 0.51 0.38
q4_0 2 0.55 0.39
iq4_xs 30 0.51 0.37
iq4_nl 25 0.52 0.37
q3_k_l 13 0.41 0.22
q3_k_m 12 0.47 0.23
q3_k_s 11 0.79 0.42
q2_k 10 0.84 0.42
"
files=()
for shape in 124m xl2; do
  while read -r mix ftype _; do
    [ -n "$mix" ] || continue
    out=$WORK/$shape-$mix.gguf
    [ -f "$out" ] || "$WORK/quantize" "$WORK/$shape-f32.gguf" "$out" "$ftype" "$BINS" >"$WORK/$shape-$mix.log" 2>&1 ||
      rm -f "$out"
    files+=("$out")
  done <<<"$MIXES"
done
# the types of each file's matrices, so that the log shows which types the
# mixes exercised (the fallbacks in the XL shape)
/usr/bin/python3 - "${files[@]}" <<'PY'
import collections, os, sys
sys.path.insert(0, "tests/reference")
import gguf_ref
for path in sys.argv[1:]:
    if os.path.exists(path):
        types = collections.Counter(t for t, dims in gguf_ref.tensor_types(path).values() if len(dims) > 1)
        print("# %s: %s" % (os.path.basename(path), ", ".join("%s %d" % kv for kv in sorted(types.items()))))
PY
results=$(PYTHONPATH=python GPT2_LIBRARY=$BUILD/libgpt2.so /usr/bin/python3 tools/llamacpp/mix_logits.py \
  "$WORK/124m-f32.gguf" $(printf '%s\n' "${files[@]}" | grep /124m-) 2>&1
  PYTHONPATH=python GPT2_LIBRARY=$BUILD/libgpt2.so /usr/bin/python3 tools/llamacpp/mix_logits.py \
  "$WORK/xl2-f32.gguf" $(printf '%s\n' "${files[@]}" | grep /xl2-) 2>&1)
echo "$results" | sed 's/^/# /'
for shape in 124m xl2; do
  while read -r mix ftype bound_124m bound_xl; do
    [ -n "$mix" ] || continue
    bound=$bound_124m
    [ "$shape" = xl2 ] && bound=$bound_xl
    line=$(echo "$results" | grep "/$shape-$mix.gguf rel_rms")
    if [ -z "$line" ]; then
      fail "llama.cpp's $mix mix of the $shape shape: written and loaded (see $WORK/$shape-$mix.log)"
      failures=$((failures + 1))
      continue
    fi
    error=$(echo "$line" | awk '{print $3}')
    generated=$(echo "$line" | awk '{print $7}')
    if awk -v e="$error" -v b="$bound" -v g="$generated" 'BEGIN { exit !(e <= b && g > 0) }'; then
      ok "llama.cpp's $mix mix of the $shape shape loads, generates, logit error $error <= $bound of F32"
    else
      fail "llama.cpp's $mix mix of the $shape shape loads, generates, logit error $error <= $bound of F32 (generated $generated characters)"
      failures=$((failures + 1))
    fi
  done <<<"$MIXES"
done
[ "$failures" -eq 0 ]
