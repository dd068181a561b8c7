#!/usr/bin/env bash
# The main job: generate text from a GPT-2 checkpoint. With no argument it
# generates (once) a random-weight model of the 124M shape with the real
# GPT-2 vocabulary, so the command works on a machine without weights.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
model=${1:-}
if [ -z "$model" ]; then
  tools/gen/make_models.sh "$BUILD/models" >/dev/null
  model=$BUILD/models/124m-f32
  echo "(no MODEL given: using the random-weight model $model; its text is noise)" >&2
fi
exec "$BUILD/gpt2-generate" -m "$model" -p "${PROMPT:-The meaning of life is}" -n "${N:-64}" --seed 1
