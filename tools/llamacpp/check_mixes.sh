#!/usr/bin/env bash
# Every llama-quantize mix (without an importance matrix) of a 124M-shaped
# and an XL-shaped model loads in libgpt2, generates, and keeps its logits
# within the bound below of the F32 model's. Run by tools/check_llamacpp.sh
# (step 4), which builds WORK/quantize against llama.cpp's prebuilt
# libraries; prints ok/FAIL lines, exits non-zero on a failure.
#   tools/llamacpp/check_mixes.sh WORK BINS SRC
#   (SRC: llama.cpp's source, for gguf-py, which lists each file's types)
# Needs `make` (gpt2-quantize, gen_model, libgpt2.so), /usr/bin/python3
# with numpy, and about 2.5 GB in WORK.
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
BUILD=${BUILD:-build}
WORK=$1
BINS=$2
SRC=$3
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
# logit (mix_logits.py), for 124M / XL shape. Measured with node-llama-cpp
# 3.22.1 (docs/gguf.md, "Weight types"); the bounds are 1.5 times the
# measured error (random-weight models: quantization error compounds over
# the layers, 12 for 124M, 2 for the XL shape). A wrong dequantization of a
# mix's main type gives about 1.0-1.4 (logits unrelated to the F32 ones).
MIXES="
q8_0 7 0.10 0.05
q6_k 18 0.15 0.05
q5_k_m 17 0.25 0.10
q5_k_s 16 0.25 0.10
q5_1 9 0.40 0.15
q5_0 8 0.40 0.15
q4_k_m 15 0.45 0.20
q4_k_s 14 0.50 0.20
q4_1 3 0.65 0.30
q4_0 2 0.70 0.30
iq4_xs 30 0.55 0.30
iq4_nl 25 0.55 0.30
q3_k_l 13 0.80 0.35
q3_k_m 12 0.85 0.40
q3_k_s 11 0.95 0.45
q2_k 10 1.10 0.55
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
/usr/bin/python3 - "$SRC/gguf-py" "${files[@]}" <<'PY'
import collections, os, sys
sys.path.insert(0, sys.argv[1])
from gguf import GGUFReader
for path in sys.argv[2:]:
    if os.path.exists(path):
        types = collections.Counter(t.tensor_type.name for t in GGUFReader(path).tensors if len(t.shape) > 1)
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
