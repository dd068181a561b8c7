#!/bin/sh
# The GGUF files of the speed comparison with llama.cpp (docs/performance.md):
# the random 124M-shape model as gpt2-quantize's F32 file, then every type
# by llama.cpp's own llama-quantize; with --xl also a GPT-2 XL shape (48
# layers, n_embd 1600, 25 heads: 3.3 GB as F16) as F16, Q8_0 and Q4_K_M.
#
#   tools/llamacpp/bench_files.sh LLAMA_QUANTIZE OUTDIR [--xl]
#
# Needs `make` done. Files already in OUTDIR are kept.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 LLAMA_QUANTIZE OUTDIR [--xl]" >&2; exit 2; }
quantize=$1 out=$2 xl=${3:-}
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
mkdir -p "$out"
[ -f "$BUILD/models/124m-f32/config.json" ] || tools/gen/make_models.sh "$BUILD/models" >/dev/null
[ -f "$out/f32.gguf" ] || "$BUILD/gpt2-quantize" "$BUILD/models/124m-f32" "$out/f32.gguf" --type f32
for type in F16 Q8_0 Q4_0 Q4_K_M Q5_K_M Q6_K Q2_K Q3_K_M IQ4_XS Q4_1 Q5_0 Q5_1 IQ4_NL; do
  name=$(echo "$type" | tr 'A-Z' 'a-z')
  [ -f "$out/$name.gguf" ] || "$quantize" "$out/f32.gguf" "$out/$name.gguf" "$type" 2 >"$out/$name.log" 2>&1
done
[ "$xl" = --xl ] || exit 0
if [ ! -f "$out/xl-f16.gguf" ]; then
  "$BUILD/tools/gen_model" --out "$out/xl-hf" --layers 48 --heads 25 --embd 1600 --positions 1024 --seed 9 \
    --dtype f16 --merges tests/data/gpt2/merges.txt --vocab tests/data/gpt2/vocab.json >/dev/null
  "$BUILD/gpt2-quantize" "$out/xl-hf" "$out/xl-f16.gguf" --type f16
  rm -rf "$out/xl-hf"
fi
for type in Q8_0 Q4_K_M; do
  name=$(echo "$type" | tr 'A-Z' 'a-z')
  [ -f "$out/xl-$name.gguf" ] || "$quantize" "$out/xl-f16.gguf" "$out/xl-$name.gguf" "$type" 2 >"$out/xl-$name.log" 2>&1
done
