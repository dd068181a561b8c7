#!/usr/bin/env bash
# Regenerates every golden file in tests/data/golden/ (run `make` first):
# generates the test models with the C generator, then runs the float64
# reference on them. Needs /usr/bin/python3 with numpy (python3-numpy).
#   tests/reference/make_golden.sh [MODELS_DIR]    (default build/models)
set -eu
cd "$(dirname "$0")/../.."
models=${1:-${GPT2_TEST_MODELS:-build/models}}
tools/gen/make_models.sh "$models"
mkdir -p tests/data/golden
rm -f tests/data/golden/*.txt tests/data/golden/*.logits
# shellcheck disable=SC2046 # one name per word
/usr/bin/python3 tests/reference/make_golden.py "$models" tests/data/golden \
  $(tools/gen/make_models.sh --list)
# the quantized GGUF, llama.cpp-file and F16 KV variants (make_golden.py --variants)
/usr/bin/python3 tests/reference/make_golden.py --variants "${BUILD:-build}/gpt2-quantize" \
  "$models" tests/data/golden tests/data
# log-probabilities, scores and embeddings (make_scores_golden.py)
/usr/bin/python3 tests/reference/make_scores_golden.py "$models" tests/data/golden tiny-f32 mid-f32
