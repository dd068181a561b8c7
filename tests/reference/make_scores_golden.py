"""Writes tests/data/golden/scores-<model>.txt: the float64 reference's
log-probabilities, scores and embeddings (tests/unit/test_golden_scores.c
reads them; the format is in tests/data/golden/README.md).

    make_scores_golden.py MODELS_DIR GOLDEN_DIR NAME...

For each model: the text (TEXT_LEN[name] ids spread over the vocabulary,
longer than the model's context), its gpt2_score log-probabilities after
<|endoftext|> (the last id) with the window and stride of SCORING[name],
the top-5 log-probabilities and the final hidden states (after ln_f) of
rows of the text's first TOP_LEN tokens evaluated alone, and the largest
error of the same computed in numpy float32 (a float32 implementation's
expected distance).
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref  # noqa: E402
import make_golden  # noqa: E402
import score_ref  # noqa: E402

# name: (text length, window, stride); window 0 / stride 0 = gpt2_score's defaults
SCORING = {"tiny-f32": (150, 64, 24), "mid-f32": (300, 0, 0)}
TOP_LEN = 16
TOP_K = 5
EMBEDDING_ROWS = [0, 7, 15]


def text_ids(n_vocab, n):
    return [(7919 * (i + 1) + 31 * i * i) % (n_vocab - 1) for i in range(n)]


def write(models_dir, golden_dir, name):
    path = os.path.join(models_dir, name)
    n_text, window, stride = SCORING[name]
    results = {}
    for dtype in (np.float64, np.float32):
        model = gpt2_ref.Model(path, dtype)
        eot = model.n_vocab - 1
        text = text_ids(model.n_vocab, n_text)
        w = window or model.n_ctx
        s = stride or w // 2
        logprobs = score_ref.score(model, [eot] + text, 1, w, s)
        first = score_ref.log_softmax(model.logits(text[:TOP_LEN]).astype(np.float64))
        hidden = model.final_hidden(text[:TOP_LEN], {}, EMBEDDING_ROWS).astype(np.float64)
        results[dtype] = (logprobs, first, hidden)
    logprobs, first, hidden = results[np.float64]
    errors = [np.abs(a - b).max() for a, b in zip(results[np.float64], results[np.float32])]
    g = lambda values: " ".join(f"{v:.10g}" for v in values)  # noqa: E731
    top = np.argsort(-first[TOP_LEN - 1], kind="stable")[:TOP_K]
    lines = [
        "# libgpt2 scoring golden data, format 1: see README.md",
        f"model {name}",
        f"weights_fnv1a64 {make_golden.read_checksum(path)}",
        f"text {n_text} {' '.join(str(t) for t in text)}",
        f"window {window}",
        f"stride {stride}",
        f"logprobs {n_text} {g(logprobs)}",
        f"top {TOP_LEN - 1} {TOP_K} " + " ".join(f"{t} {first[TOP_LEN - 1][t]:.10g}" for t in top),
        f"embedding_rows {len(EMBEDDING_ROWS)} {' '.join(str(r) for r in EMBEDDING_ROWS)}",
        *(f"embedding {r} {hidden.shape[1]} {g(row)}" for r, row in zip(EMBEDDING_ROWS, hidden)),
        f"numpy_float32_max_error logprobs {errors[0]:.3g} top {errors[1]:.3g} embeddings {errors[2]:.3g}",
    ]
    with open(os.path.join(golden_dir, f"scores-{name}.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"scores-{name}: {n_text} tokens, window {window or 'default'}, float32 errors "
          f"{errors[0]:.3g} {errors[1]:.3g} {errors[2]:.3g}")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    for name in argv[3:]:
        write(argv[1], argv[2], name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
