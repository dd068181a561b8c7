"""Writes the golden files of tests/data/golden/ from the float64 reference.

    make_golden.py MODELS_DIR GOLDEN_DIR NAME...

NAME is a <model>-<dtype> directory in MODELS_DIR (tools/gen/make_models.sh
--list). For each model, one prompt is chosen for all its dtypes: the first
candidate whose greedy continuation is safe to compare (every step's top-1
minus top-2 logit gap at least MIN_MARGIN, far above the test tolerances, so
float32 rounding cannot flip a choice) and not degenerate (at least
MIN_DISTINCT different tokens). The file format is in GOLDEN_DIR/README.md.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref  # noqa: E402

PROMPT_LEN = 16
CONTINUATION_LEN = 32
MIN_MARGIN = 5e-3
MIN_DISTINCT = 8
MAX_ROWS_FULL_VOCAB = 4096  # larger vocabularies keep only a few rows


def candidate_prompt(n_vocab, attempt):
    """Deterministic ids spread over the vocabulary, <|endoftext|> excluded."""
    return [(7919 * (i + 1) + 104729 * attempt) % (n_vocab - 1) for i in range(PROMPT_LEN)]


def read_checksum(model_dir):
    with open(os.path.join(model_dir, "gen_model.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("safetensors_fnv1a64 "):
                return line.split()[1]
    raise ValueError(f"{model_dir}/gen_model.txt: no checksum")


def golden_for(model, prompt):
    continuation, margins = model.greedy(prompt, CONTINUATION_LEN)
    ok = min(margins) >= MIN_MARGIN and len(set(continuation)) >= MIN_DISTINCT
    return ok, continuation, margins


def write_golden(golden_dir, name, model_dir, model, prompt, continuation, margins):
    if model.n_vocab <= MAX_ROWS_FULL_VOCAB:
        rows = list(range(PROMPT_LEN))
    else:
        rows = [0, PROMPT_LEN - 1]
    logits = model.logits(prompt)[rows]
    approx = gpt2_ref.Model(model_dir, np.float32).logits(prompt)[rows].astype(np.float64)
    with open(os.path.join(golden_dir, name + ".logits"), "wb") as f:
        f.write(logits.astype("<f4").tobytes())
    ints = lambda values: " ".join(str(v) for v in values)  # noqa: E731
    lines = [
        "# libgpt2 golden data, format 1: see README.md",
        f"model {name}",
        f"safetensors_fnv1a64 {read_checksum(model_dir)}",
        f"n_vocab {model.n_vocab}",
        f"prompt {len(prompt)} {ints(prompt)}",
        f"continuation {len(continuation)} {ints(continuation)}",
        f"min_margin {min(margins):.6g}",
        f"rows {len(rows)} {ints(rows)}",
        f"argmax {len(rows)} {ints(int(np.argmax(r)) for r in logits)}",
        f"max_abs_logit {np.abs(logits).max():.6g}",
        f"numpy_float32_max_error {np.abs(approx - logits).max():.3g}",
    ]
    with open(os.path.join(golden_dir, name + ".txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{name}: prompt {prompt[:4]}..., {len(set(continuation))} distinct, "
          f"min margin {min(margins):.3g}, numpy float32 error {np.abs(approx - logits).max():.3g}")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    models_dir, golden_dir, names = argv[1], argv[2], argv[3:]
    by_model = {}
    for name in names:
        by_model.setdefault(name.rsplit("-", 1)[0], []).append(name)
    for variants in by_model.values():
        models = {name: gpt2_ref.Model(os.path.join(models_dir, name)) for name in variants}
        n_vocab = next(iter(models.values())).n_vocab
        for attempt in range(100):
            prompt, results = candidate_prompt(n_vocab, attempt), {}
            for name, model in models.items():
                ok, continuation, margins = golden_for(model, prompt)
                if not ok:
                    break
                results[name] = (continuation, margins)
            else:
                break
        else:
            raise RuntimeError(f"no safe prompt for {variants}")
        for name, (continuation, margins) in results.items():
            write_golden(golden_dir, name, os.path.join(models_dir, name), models[name],
                         prompt, continuation, margins)
    with open(os.path.join(golden_dir, "models.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
