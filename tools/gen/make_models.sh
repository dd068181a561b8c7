#!/usr/bin/env bash
# Generates the deterministic random-weight test models into OUTDIR
# (default $BUILD/models) with the C generator (build/tools/gen_model, made
# by `make`): OUTDIR/<name>-<dtype>/ for every model below and every dtype.
# A model already present with a matching stamp (the generator's sources,
# its arguments and the vocabulary files) is kept, so a second run is quick.
#   tools/gen/make_models.sh [OUTDIR]     generate what is missing or stale
#   tools/gen/make_models.sh --list       print the <name>-<dtype> names
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
GEN=$BUILD/tools/gen_model
DATA=tests/data/gpt2

# name  layers heads embd positions seed vocabulary
#   vocabulary: a number M = the first M GPT-2 merges (vocab 256 + M + 1),
#   or "gpt2" = GPT-2's own vocab.json and merges.txt (vocab 50257).
#   Vocabulary sizes are odd on purpose, to exercise kernel tails.
# "odd" is distilgpt2-like with unusual sizes (3 heads of 32) and tensor
# names without the "transformer." prefix, so nothing can be hard-coded.
MODELS="
tiny 2 2 64 64 1 252
mid 4 4 256 256 2 1742
odd 3 3 96 128 3 520 --no-prefix
124m 12 12 768 1024 4 gpt2
"
DTYPES="f32 f16 bf16"

if [ "${1:-}" = "--list" ]; then
  echo "$MODELS" | while read -r name _; do
    [ -n "$name" ] && for dtype in $DTYPES; do echo "$name-$dtype"; done
  done
  exit 0
fi

outdir=${1:-$BUILD/models}
mkdir -p "$outdir"
[ -x "$GEN" ] || { echo "make_models.sh: $GEN not found: run make first" >&2; exit 1; }
source_hash=$(cat tools/gen/gen_model.c lib/core/half.h "$DATA/merges.txt" "$DATA/vocab.json" | sha256sum | cut -d' ' -f1)

echo "$MODELS" | while read -r name layers heads embd positions seed vocab extra; do
  [ -n "$name" ] || continue
  if [ "$vocab" = gpt2 ]; then
    vocab_args="--merges $DATA/merges.txt --vocab $DATA/vocab.json"
  else
    vocab_args="--merges $DATA/merges.txt --n-merges $vocab"
  fi
  for dtype in $DTYPES; do
    dir=$outdir/$name-$dtype
    args="--layers $layers --heads $heads --embd $embd --positions $positions --seed $seed --dtype $dtype $vocab_args $extra"
    stamp="$source_hash $args"
    if [ -f "$dir/make_models.stamp" ] && [ "$(cat "$dir/make_models.stamp")" = "$stamp" ]; then
      continue
    fi
    # Write into a temporary directory and rename, so an interrupted run
    # never leaves a half-written model that looks complete.
    rm -rf "$dir" "$dir.tmp"
    # shellcheck disable=SC2086 # args are words by design
    "$GEN" --out "$dir.tmp" $args
    echo "$stamp" > "$dir.tmp/make_models.stamp"
    mv "$dir.tmp" "$dir"
    echo "make_models.sh: wrote $dir"
  done
done
