#!/usr/bin/env bash
# Interoperability check of libgpt2's GGUF files against llama.cpp itself,
# as docs/gguf.md describes. Not part of `make check`: it installs the npm
# package node-llama-cpp, which ships a prebuilt llama.cpp (libllama,
# libggml) and llama.cpp's source as a git bundle (headers, gguf-py).
#
#   tools/check_llamacpp.sh [WORKDIR]     (default build/llamacpp-check)
#
# An older llama.cpp, from before it accepted a GPT-2 file without
# output.weight (February 2025), comes from node-llama-cpp $OLD_VERSION in
# $OLD_WORK (default WORKDIR/old), installed there if absent.
#
# Needs `make` done, npm, a C compiler and /usr/bin/python3 with numpy.
# Prints ok/FAIL lines like the test suite; exits non-zero on a failure.
#  1. ggml's own quantizers give the bytes of tests/data/quant (Q8_0, Q4_0,
#     Q6_K, and on k_input.f32 Q3_K, Q4_K, Q5_K, Q4_1, Q5_0, Q5_1), and ggml's
#     quantizers and to_float those of tests/data/quant_ggml (Q4_1, Q5_0, Q5_1,
#     Q2_K, Q3_K, IQ4_NL, IQ4_XS; tools/llamacpp/ggml_type_vectors.c)
#  2. llama.cpp's quantizer, run on the F32 file gpt2-quantize writes, gives
#     tensors byte-identical to gpt2-quantize --type q8_0 / q4_0 and to
#     every K mix (q3_k_s/m/l, q4_k_m/s, q5_k_m/s, q6_k), for the 124M shape
#     and for a 2-layer GPT-2 XL shape (n_embd 1600: the fallbacks)
#  3. the newer and the older llama.cpp load every file gpt2-quantize
#     writes and give libgpt2's logits (within stated bounds); the newer
#     one tokenizes text to the ids libgpt2 gives; libgpt2 loads
#     llama.cpp's Q4_0, Q4_K_M and Q5_K_M files
#  4. every llama-quantize mix of a 124M- and an XL-shaped model loads,
#     generates and stays within bounds of F32 (tools/llamacpp/check_mixes.sh)
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
BUILD=${BUILD:-build}
WORK=${1:-$BUILD/llamacpp-check}
VERSION=3.22.1
OLD_VERSION=3.6.0 # bundles llama.cpp b4753 (February 2025)
MODEL=${GPT2_TEST_MODELS:-$BUILD/models}/124m-f32
failures=0
check() {
  local name=$1; shift
  if "$@"; then ok "$name"; else fail "$name"; failures=$((failures + 1)); fi
}

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
OLD_WORK=${OLD_WORK:-$WORK/old}
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
mkdir -p "$OLD_WORK"
if [ ! -d "$OLD_WORK/node_modules/node-llama-cpp" ]; then
  (cd "$OLD_WORK" && npm init -y >/dev/null && npm install --no-audit --no-fund "node-llama-cpp@$OLD_VERSION" >/dev/null 2>&1) ||
    { echo "npm install node-llama-cpp@$OLD_VERSION failed"; exit 1; }
fi
OLD_BINS=$OLD_WORK/node_modules/@node-llama-cpp/$platform/bins/$platform
OLD_SRC=$OLD_WORK/llama.cpp
[ -d "$OLD_SRC" ] || git clone -q "$OLD_WORK/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$OLD_SRC" 2>/dev/null
[ -f "$MODEL/config.json" ] || tools/gen/make_models.sh >/dev/null
# A GPT-2 XL-shaped model cut to 2 layers (n_embd 1600, 25 heads, n_ff
# 6400): n_embd rows do not fill 256-value blocks, n_ff rows do.
XL=$WORK/models/xl2-f32
mkdir -p "$WORK/models"
[ -f "$XL/config.json" ] || "$BUILD/tools/gen_model" --out "$XL" --layers 2 --heads 25 --embd 1600 \
  --positions 128 --seed 5 --dtype f32 --merges tests/data/gpt2/merges.txt --n-merges 1742 >/dev/null

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
  float *k_in = (float *)slurp(argv[1], "k_input.f32", &size); /* tools/gen/gen_k_input.py */
  long k_n = (long)(size / 4);
  ok &= same(argv[1], GGML_TYPE_Q3_K, k_in, k_n, "q3_k_quant.bin") & same(argv[1], GGML_TYPE_Q4_K, k_in, k_n, "q4_k_quant.bin") & same(argv[1], GGML_TYPE_Q5_K, k_in, k_n, "q5_k_quant.bin") &
        same(argv[1], GGML_TYPE_Q4_1, k_in, k_n, "q4_1_quant.bin") & same(argv[1], GGML_TYPE_Q5_0, k_in, k_n, "q5_0_quant.bin") &
        same(argv[1], GGML_TYPE_Q5_1, k_in, k_n, "q5_1_quant.bin");
  return ok ? 0 : 1;
}
C
cat > "$WORK/logits.c" <<'C'
/* logits MODEL BACKENDS ID...: llama.cpp's logits after the ids (the last
   position), one per line; exit 3 if the model does not load. The same
   source builds against the older and the newer llama.h. */
#include <stdio.h>
#include <stdlib.h>
#include "ggml-backend.h"
#include "llama.h"
static void quiet(enum ggml_log_level level, const char *text, void *data) { (void)level; (void)text; (void)data; }
int main(int argc, char **argv) {
  if (argc < 4) return 2;
  llama_log_set(quiet, NULL);
  ggml_backend_load_all_from_path(argv[2]);
  llama_backend_init();
  struct llama_model_params mp = llama_model_default_params();
  struct llama_model *model = llama_model_load_from_file(argv[1], mp);
  if (!model) return 3;
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 64;
  cp.n_threads = cp.n_threads_batch = 2;
  struct llama_context *ctx = llama_init_from_model(model, cp);
  int n = argc - 3;
  llama_token *ids = malloc(sizeof *ids * (size_t)n);
  for (int i = 0; i < n; i++) ids[i] = atoi(argv[3 + i]);
  if (!ctx || llama_decode(ctx, llama_batch_get_one(ids, n))) return 4;
  const float *logits = llama_get_logits_ith(ctx, -1);
  int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  for (int v = 0; v < n_vocab; v++) printf("%.9g\n", logits[v]);
  llama_free(ctx);
  llama_model_free(model);
  free(ids);
  return 0;
}
C
cat > "$WORK/ours_logits.c" <<'C'
/* ours_logits MODEL ID...: libgpt2's logits after the ids (FP32 products) */
#include <stdio.h>
#include <stdlib.h>
#include "gpt2.h"
int main(int argc, char **argv) {
  gpt2_load_params lp = GPT2_LOAD_PARAMS_INIT;
  lp.fp32_products = 1;
  gpt2_model *model;
  gpt2_context *ctx;
  if (argc < 3 || gpt2_load(argv[1], &lp, &model) || gpt2_context_new(model, NULL, &ctx)) return 3;
  int n = argc - 2;
  gpt2_token *ids = malloc(sizeof *ids * (size_t)n);
  for (int i = 0; i < n; i++) ids[i] = atoi(argv[2 + i]);
  if (gpt2_eval(ctx, ids, (size_t)n)) return 4;
  const float *logits = gpt2_logits(ctx, -1);
  for (int v = 0; v < gpt2_n_vocab(model); v++) printf("%.9g\n", logits[v]);
  gpt2_context_free(ctx);
  gpt2_model_free(model);
  free(ids);
  return 0;
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
  cc $CFLAGS_LLAMA tools/llamacpp/ggml_type_vectors.c -o "$WORK/ggml_type_vectors" $LIBS_LLAMA &&
  cc $CFLAGS_LLAMA "$WORK/logits.c" -o "$WORK/logits-new" $LIBS_LLAMA &&
  cc -O1 -I"$OLD_SRC/include" -I"$OLD_SRC/ggml/include" "$WORK/logits.c" -o "$WORK/logits-old" \
    "$OLD_BINS/libllama.so" "$OLD_BINS/libggml.so" "$OLD_BINS/libggml-base.so" -Wl,-rpath,"$OLD_BINS" &&
  cc -O1 -Iinclude "$WORK/ours_logits.c" -o "$WORK/ours_logits" -L"$BUILD" -lgpt2 -Wl,-rpath,"$(pwd)/$BUILD" ||
  { echo "cannot build the llama.cpp helpers"; exit 1; }

# ---- 1. quantizer vectors --------------------------------------------------
"$WORK/ggml_vectors" tests/data/quant || failures=$((failures + 1))
"$WORK/ggml_type_vectors" check tests/data/quant tests/data/quant_ggml || failures=$((failures + 1))

# ---- 2. whole files against llama.cpp's quantizer --------------------------
# llama_ftype of each mix we write
ftype() {
  case $1 in q8_0) echo 7 ;; q4_0) echo 2 ;; q3_k_s) echo 11 ;; q3_k_m) echo 12 ;; q3_k_l) echo 13 ;; q4_k_s) echo 14 ;; q4_k_m) echo 15 ;; q5_k_s) echo 16 ;;
    q5_k_m) echo 17 ;; q6_k) echo 18 ;; esac
}
MIXES="q8_0 q4_0 q3_k_s q3_k_m q3_k_l q4_k_m q4_k_s q5_k_m q5_k_s q6_k"
# same_tensors OURS THEIRS [NAME...]: same tensor names and keys, every
# tensor byte-identical, but the NAMEs, whose type our weight-type policy
# chooses differently: those must only be Q8_0 in OURS. Prints the types
# of the mix (how many tensors of each) for the report.
same_tensors() {
  /usr/bin/python3 - "$SRC/gguf-py" "$@" <<'PY'
import collections, sys
sys.path.insert(0, sys.argv[1])
from gguf import GGUFReader, GGMLQuantizationType
a, b = GGUFReader(sys.argv[2]), GGUFReader(sys.argv[3])
own = set(sys.argv[4:])
ta, tb = {t.name: t for t in a.tensors}, {t.name: t for t in b.tensors}
differ = [n for n in ta if n not in own and n in tb and (
    ta[n].tensor_type != tb[n].tensor_type or ta[n].data.tobytes() != tb[n].data.tobytes())]
same = set(ta) == set(tb) and set(a.fields) == set(b.fields) and not differ and all(
    ta[n].tensor_type == GGMLQuantizationType.Q8_0 for n in own)
mix = collections.Counter(t.tensor_type.name for t in a.tensors if len(t.shape) > 1)
print("#   " + ", ".join(f"{n} {k}" for k, n in sorted(mix.items())) + (f"; differ: {differ[:4]}" if differ else ""))
sys.exit(0 if same else 1)
PY
}
for shape in 124m xl2; do
  in=$MODEL
  [ $shape = xl2 ] && in=$XL
  nice "$BUILD/gpt2-quantize" "$in" "$WORK/ours-$shape-f32.gguf" --type f32 2>/dev/null
  for mix in $MIXES; do
    nice "$BUILD/gpt2-quantize" "$in" "$WORK/ours-$shape-$mix.gguf" --type $mix 2>/dev/null
    nice "$WORK/quantize" "$WORK/ours-$shape-f32.gguf" "$WORK/llama-$shape-$mix.gguf" "$(ftype $mix)" "$BINS" >/dev/null 2>&1
    if [ $mix = q4_0 ]; then
      # Our Q4_0 mix keeps both embeddings in Q8_0 where llama.cpp's has
      # Q4_0 and Q6_K (docs/gguf.md, "Q4_0 mix"); the rest is equal.
      check "$shape $mix: every layer tensor byte-identical to llama-quantize's, same keys; token_embd, output Q8_0" \
        same_tensors "$WORK/ours-$shape-$mix.gguf" "$WORK/llama-$shape-$mix.gguf" token_embd.weight output.weight
    else
      check "$shape $mix: every tensor byte-identical to llama-quantize's on the same F32 file, same keys" \
        same_tensors "$WORK/ours-$shape-$mix.gguf" "$WORK/llama-$shape-$mix.gguf"
    fi
  done
done
cp "$WORK/llama-124m-q4_0.gguf" "$WORK/llama-q4_0.gguf"
cp "$WORK/llama-124m-q4_k_m.gguf" "$WORK/llama-q4_k_m.gguf"
cp "$WORK/llama-124m-q5_k_m.gguf" "$WORK/llama-q5_k_m.gguf"

# ---- 3. loading both ways, tokenization --------------------------------------
text="Hello world! It's 2024; naïve café — 日本語 🎉
	indented   text"
ours=$("$BUILD/gpt2-tokenize" -m "$MODEL" --ids "$text")
for type in f16 bf16; do
  nice "$BUILD/gpt2-quantize" "$MODEL" "$WORK/ours-124m-$type.gguf" --type $type 2>/dev/null
done
for type in f32 f16 bf16 q8_0 q4_0 q4_k_m q6_k; do
  theirs=$(cd "$WORK" && node tokens.mjs "$WORK/ours-124m-$type.gguf" "$text" 2>/dev/null)
  check "llama.cpp $VERSION loads and runs gpt2-quantize's $type file, with libgpt2's tokens" test "$theirs" = "$ours"
done
# Logits after the text's ids, llama.cpp against libgpt2 (FP32 products),
# largest difference over the largest |logit|. llama.cpp keeps an F16 KV
# cache, rounds activations to BF16 for BF16 weights and to 8 bits for
# quantized ones (Q8_0/Q8_K dot products); libgpt2 here does not. Measured
# on the random 124M model (both llama.cpp versions): F32 1.6e-3..2.0e-3,
# F16 2.1e-3..2.4e-3, BF16 1.3e-2..1.6e-2, Q8_0 0.040..0.047, Q4_0
# 0.040..0.044, K mixes 0.058..0.072. Bounds 1.5x those: 3e-3, 4e-3, 2.5e-2,
# 7e-2, 7e-2, 0.1. What they separate, measured by comparing llama.cpp's
# logits with libgpt2's for other weights (a planted wrong file): the
# Q6_K mix against the F32 weights 0.16, Q4_K_M against Q5_K_M 0.45,
# Q4_K_M against Q4_0 0.66, Q8_0 against F32 0.077; F32 against F16 weights
# (3.0e-3) is within the F32 bound: the F32 check shows that the file loads
# and runs, to the precision of llama.cpp's F16 KV cache.
# same_logits A B BOUND
same_logits() {
  /usr/bin/python3 - "$@" <<'PY'
import sys
import numpy as np
a, b = np.loadtxt(sys.argv[1]), np.loadtxt(sys.argv[2])
if a.shape != b.shape or a.size == 0:
    print("#   no logits"); sys.exit(1)
err = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
print(f"#   largest difference {err:.3g} of the largest logit (bound {sys.argv[3]}), same argmax: {a.argmax() == b.argmax()}")
sys.exit(0 if err <= float(sys.argv[3]) else 1)
PY
}
ids=$(echo "$ours" | tr -d ',[]')
for type in f32 f16 bf16 q8_0 q4_0 q4_k_m q5_k_m q6_k; do
  file=$WORK/ours-124m-$type.gguf
  # shellcheck disable=SC2086 # ids are words
  "$WORK/ours_logits" "$file" $ids > "$WORK/ours-$type.logits"
  case $type in f32) bound=3e-3 ;; f16) bound=4e-3 ;; bf16) bound=2.5e-2 ;; q8_0 | q4_0) bound=7e-2 ;; *) bound=0.1 ;; esac
  for which in new old; do
    bins=$BINS; [ $which = old ] && bins=$OLD_BINS
    # shellcheck disable=SC2086
    "$WORK/logits-$which" "$file" "$bins" $ids > "$WORK/$which-$type.logits" 2>/dev/null
    version=$VERSION; [ $which = old ] && version=$OLD_VERSION
    check "llama.cpp of node-llama-cpp $version loads gpt2-quantize's $type file: logits within $bound of libgpt2's" \
      same_logits "$WORK/$which-$type.logits" "$WORK/ours-$type.logits" $bound
  done
done
# The file without output.weight: the newer llama.cpp loads it, the older
# refuses it (what the default output.weight is for; it also shows that
# the older library is old enough to test that).
nice "$BUILD/gpt2-quantize" "$MODEL" "$WORK/ours-124m-q8_0-tied.gguf" --type q8_0 --omit-tied-output 2>/dev/null
# shellcheck disable=SC2086
"$WORK/logits-new" "$WORK/ours-124m-q8_0-tied.gguf" "$BINS" $ids > "$WORK/new-tied.logits" 2>/dev/null
check "--omit-tied-output: llama.cpp $VERSION loads the file, the logits of the default file" \
  same_logits "$WORK/new-tied.logits" "$WORK/new-q8_0.logits" 0
# shellcheck disable=SC2086
"$WORK/logits-old" "$WORK/ours-124m-q8_0-tied.gguf" "$OLD_BINS" $ids >/dev/null 2>&1
check "--omit-tied-output: llama.cpp of node-llama-cpp $OLD_VERSION refuses the file (missing output.weight)" test $? = 3
for mix in q4_0 q4_k_m q5_k_m; do
  check "libgpt2 loads llama.cpp's $mix file (Q4_0, Q4_K, Q5_K, Q6_K matrices), with the same tokens" \
    test "$("$BUILD/gpt2-tokenize" -m "$WORK/llama-$mix.gguf" --ids "$text")" = "$ours"
done

# ---- 4. every llama-quantize mix, 124M and XL shapes --------------------------
tools/llamacpp/check_mixes.sh "$WORK" "$BINS" || failures=$((failures + 1))
[ "$failures" -eq 0 ]
