#!/usr/bin/env bash
# Interoperability check of libgpt2's GGUF files against llama.cpp itself,
# as docs/gguf.md describes. Not part of `make check`: it installs the npm
# package node-llama-cpp, which ships a prebuilt llama.cpp (libllama,
# libggml) and llama.cpp's source as a git bundle (headers, gguf-py).
#
#   tools/check_llamacpp.sh [WORKDIR]     (default build/llamacpp-check)
#
# Needs `make` done, npm, a C compiler and /usr/bin/python3 with numpy.
# Prints ok/FAIL lines like the test suite; exits non-zero on a failure.
#  1. ggml's own quantizers give the bytes of tests/data/quant (Q8_0, Q4_0, Q6_K),
#     and ggml's quantizers and to_float those of tests/data/quant_ggml (Q4_1,
#     Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS; tools/llamacpp/ggml_type_vectors.c)
#  2. llama.cpp's quantizer, run on the F32 file gpt2-quantize writes, gives
#     tensors byte-identical to gpt2-quantize --type q8_0 / q4_0
#  3. llama.cpp loads every file gpt2-quantize writes and tokenizes text to
#     the ids libgpt2 gives; libgpt2 loads llama.cpp's Q4_0, Q4_K_M and
#     Q5_K_M files
#  4. every llama-quantize mix of a 124M- and an XL-shaped model loads,
#     generates and stays within bounds of F32 (tools/llamacpp/check_mixes.sh)
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
BUILD=${BUILD:-build}
WORK=${1:-$BUILD/llamacpp-check}
VERSION=3.22.1
MODEL=${GPT2_TEST_MODELS:-$BUILD/models}/124m-f32
failures=0
check() {
  local name=$1; shift
  if "$@"; then ok "$name"; else fail "$name"; failures=$((failures + 1)); fi
}

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
case "$(uname -m)" in
  x86_64) platform=linux-x64 ;;
  aarch64) platform=linux-arm64 ;;
  *) echo "no prebuilt llama.cpp for $(uname -m)"; exit 1 ;;
esac
if [ ! -d "$WORK/node_modules/node-llama-cpp" ]; then
  (cd "$WORK" && npm init -y >/dev/null && npm install --no-audit --no-fund "node-llama-cpp@$VERSION" >/dev/null 2>&1) ||
    { echo "npm install node-llama-cpp@$VERSION failed"; exit 1; }
fi
BINS=$WORK/node_modules/@node-llama-cpp/$platform/bins/$platform
SRC=$WORK/llama.cpp
[ -d "$SRC" ] || git clone -q "$WORK/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$SRC" 2>/dev/null
[ -f "$MODEL/config.json" ] || tools/gen/make_models.sh >/dev/null

# ---- helpers built against the prebuilt libraries -------------------------
cat > "$WORK/quantize.c" <<'C'
/* quantize IN OUT FTYPE BACKENDS: llama.cpp's quantizer, default mix */
#include <stdio.h>
#include <stdlib.h>
#include "ggml-backend.h"
#include "llama.h"
int main(int argc, char **argv) {
  if (argc != 5) return 2;
  ggml_backend_load_all_from_path(argv[4]);
  llama_backend_init();
  struct llama_model_quantize_params params = llama_model_quantize_default_params();
  params.ftype = (enum llama_ftype)atoi(argv[3]);
  params.nthread = 1;
  return (int)llama_model_quantize(argv[1], argv[2], &params);
}
C
cat > "$WORK/ggml_vectors.c" <<'C'
/* ggml_vectors DIR: ggml's quantizers on DIR/input.f32 against the committed blocks */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggml.h"
static unsigned char *slurp(const char *dir, const char *name, size_t *n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) exit(2);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *data = malloc(*n);
  if (fread(data, 1, *n, f) != *n) exit(2);
  fclose(f);
  return data;
}
static int same(const char *dir, enum ggml_type type, const float *in, long n, const char *name) {
  size_t size;
  unsigned char *want = slurp(dir, name, &size), *got = calloc(1, size + 4096);
  size_t written = ggml_quantize_chunk(type, in, got, 0, 1, n, NULL);
  int ok = written == size && !memcmp(got, want, size);
  printf("%s %s: ggml's quantizer gives the committed bytes\n", ok ? "ok" : "FAIL", name);
  return ok;
}
int main(int argc, char **argv) {
  size_t size;
  if (argc != 2) return 2;
  float *in = (float *)slurp(argv[1], "input.f32", &size);
  long n = (long)(size / 4) - 32; /* the last block holds infinities */
  ggml_quantize_init(GGML_TYPE_Q6_K);
  int ok = same(argv[1], GGML_TYPE_Q8_0, in, n, "q8_0.bin") & same(argv[1], GGML_TYPE_Q4_0, in, n, "q4_0.bin") &
           same(argv[1], GGML_TYPE_Q6_K, in, 2560, "q6_k_quant.bin");
  return ok ? 0 : 1;
}
C
cat > "$WORK/tokens.mjs" <<'JS'
// node tokens.mjs MODEL TEXT: llama.cpp loads MODEL, prints its token ids for TEXT
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
const [modelPath, text] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: 64 });
const sequence = context.getSequence();
const tokens = model.tokenize(text, false);
await sequence.controlledEvaluate(tokens.map((t, i) => i + 1 < tokens.length ? t : [t, { generateNext: { logits: true } }]));
console.log(tokens.join(" "));
await context.dispose();
await model.dispose();
JS
CFLAGS_LLAMA="-O1 -I$SRC/include -I$SRC/ggml/include"
LIBS_LLAMA="$BINS/libllama.v0.5.0.so $BINS/libggml.v0.5.0.so $BINS/libggml-base.so -Wl,-rpath,$BINS"
cc $CFLAGS_LLAMA "$WORK/quantize.c" -o "$WORK/quantize" $LIBS_LLAMA &&
  cc $CFLAGS_LLAMA "$WORK/ggml_vectors.c" -o "$WORK/ggml_vectors" $LIBS_LLAMA &&
  cc $CFLAGS_LLAMA tools/llamacpp/ggml_type_vectors.c -o "$WORK/ggml_type_vectors" $LIBS_LLAMA ||
  { echo "cannot build the llama.cpp helpers"; exit 1; }

# ---- 1. quantizer vectors --------------------------------------------------
"$WORK/ggml_vectors" tests/data/quant || failures=$((failures + 1))
"$WORK/ggml_type_vectors" check tests/data/quant tests/data/quant_ggml || failures=$((failures + 1))

# ---- 2. whole files against llama.cpp's quantizer --------------------------
for type in f32 f16 bf16 q8_0 q4_0; do
  "$BUILD/gpt2-quantize" "$MODEL" "$WORK/ours-$type.gguf" --type $type 2>/dev/null
done
"$WORK/quantize" "$WORK/ours-f32.gguf" "$WORK/llama-q8_0.gguf" 7 "$BINS" >/dev/null 2>&1
"$WORK/quantize" "$WORK/ours-f32.gguf" "$WORK/llama-q4_0.gguf" 2 "$BINS" >/dev/null 2>&1
"$WORK/quantize" "$WORK/ours-f32.gguf" "$WORK/llama-q4_k_m.gguf" 15 "$BINS" >/dev/null 2>&1
"$WORK/quantize" "$WORK/ours-f32.gguf" "$WORK/llama-q5_k_m.gguf" 17 "$BINS" >/dev/null 2>&1
# same_tensors OURS THEIRS [NAME]: same tensor names and keys, every tensor
# byte-identical; NAME (if given) is a tensor whose type our weight-type
# policy chooses differently, so it must only be Q8_0 in OURS.
same_tensors() {
  /usr/bin/python3 - "$1" "$2" "$SRC/gguf-py" "${3:-}" <<'PY'
import sys
sys.path.insert(0, sys.argv[3])
from gguf import GGUFReader, GGMLQuantizationType
a, b = GGUFReader(sys.argv[1]), GGUFReader(sys.argv[2])
ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
own = sys.argv[4]
same = set(ta) == set(tb) and set(a.fields) == set(b.fields) and all(
    ta[n].tensor_type == tb[n].tensor_type and ta[n].data.tobytes() == tb[n].data.tobytes()
    for n in ta if n != own)
if own:
    same = same and ta[own].tensor_type == GGMLQuantizationType.Q8_0
sys.exit(0 if same else 1)
PY
}
check "Q8_0: every tensor byte-identical to llama.cpp's quantizer, same keys" same_tensors "$WORK/ours-q8_0.gguf" "$WORK/llama-q8_0.gguf"
# Our Q4_0 mix keeps the token embedding (the tied output matrix) in Q8_0
# where llama.cpp's uses Q6_K (docs/gguf.md, "Q4_0 mix"); the rest is equal.
check "Q4_0 mix: every layer tensor byte-identical to llama.cpp's quantizer, same keys, token_embd Q8_0 (llama.cpp: Q6_K)" \
  same_tensors "$WORK/ours-q4_0.gguf" "$WORK/llama-q4_0.gguf" token_embd.weight

# ---- 3. loading both ways, tokenization --------------------------------------
text="Hello world! It's 2024; naïve café — 日本語 🎉
	indented   text"
ours=$("$BUILD/gpt2-tokenize" -m "$MODEL" --ids "$text")
for type in f32 f16 bf16 q8_0 q4_0; do
  theirs=$(cd "$WORK" && node tokens.mjs "$WORK/ours-$type.gguf" "$text" 2>/dev/null)
  check "llama.cpp loads and runs gpt2-quantize's $type file, with libgpt2's tokens" test "$theirs" = "$ours"
done
for mix in q4_0 q4_k_m q5_k_m; do
  check "libgpt2 loads llama.cpp's $mix file (Q4_0, Q4_K, Q5_K, Q6_K matrices), with the same tokens" \
    test "$("$BUILD/gpt2-tokenize" -m "$WORK/llama-$mix.gguf" --ids "$text")" = "$ours"
done

# ---- 4. every llama-quantize mix, 124M and XL shapes --------------------------
tools/llamacpp/check_mixes.sh "$WORK" "$BINS" || failures=$((failures + 1))
[ "$failures" -eq 0 ]
