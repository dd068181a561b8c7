"""Float64 reference for gpt2-perplexity: the same sliding window (the
Hugging Face perplexity guide's), on the independent numpy model of
gpt2_ref.py.

    perplexity_ref.py MODEL_DIR CTX STRIDE [IDS_FILE]

reads token ids (whitespace-separated; stdin without IDS_FILE) and prints

    perplexity P
    bits_per_byte B
    tokens_scored N

Windows start at 0, STRIDE, 2 STRIDE, ... and end CTX tokens later (or at
the end of the text, which ends the loop). Each token is scored once, by
the first window that holds it past the previous window's end, from the
logits of the token before it in that window (score_ref.py, with the text's
first token as the prefix); the text's first token, and with STRIDE = CTX
each window's first token, are never scored (no context). Bits per byte
divide the total negative log2-likelihood by the byte length of the scored
tokens, read from vocab.json through GPT-2's byte-to-unicode map.

Run with /usr/bin/python3 (numpy).
"""

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref  # noqa: E402  (tests/reference/gpt2_ref.py)
import score_ref  # noqa: E402  (the sliding window, tests/reference/score_ref.py)


def unicode_to_byte():
    """Inverse of GPT-2's byte-to-unicode map: printable Latin-1 bytes map to
    themselves, the 68 others to U+0100 and up, in byte order."""
    kept = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1))
            + list(range(0xAE, 0xFF + 1)))
    mapping, extra = {}, 0
    for byte in range(256):
        if byte in kept:
            mapping[chr(byte)] = byte
        else:
            mapping[chr(256 + extra)] = byte
            extra += 1
    return mapping


def token_byte_lengths(model_dir, n_vocab):
    with open(os.path.join(model_dir, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    to_byte = unicode_to_byte()
    lengths = [0] * n_vocab
    for piece, token in vocab.items():
        lengths[token] = len(bytes(to_byte[c] for c in piece))
    return lengths


def perplexity(model, tokens, ctx, stride):
    """Total negative log-likelihood and the scored tokens. The text's first
    token is the prefix (no context); with stride = ctx the windows are
    disjoint and each one's first token is context only."""
    if stride < ctx:
        spans = [(0, len(tokens))]
    else:
        spans = [(begin, min(begin + ctx, len(tokens))) for begin in range(0, len(tokens) - 1, ctx)]
    nll, scored = 0.0, []
    for begin, end in spans:
        nll -= float(score_ref.score(model, tokens[begin:end], 1, ctx, min(stride, ctx - 1)).sum())
        scored += tokens[begin + 1:end]
    return nll, scored


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    model_dir, ctx, stride = argv[1], int(argv[2]), int(argv[3])
    text = open(argv[4]).read() if len(argv) == 5 else sys.stdin.read()
    tokens = [int(t) for t in text.split()]
    model = gpt2_ref.Model(model_dir)
    if not (2 <= ctx <= model.n_ctx and 1 <= stride <= ctx and len(tokens) >= 2):
        print("perplexity_ref.py: need 2 <= CTX <= n_ctx, 1 <= STRIDE <= CTX, "
              "and at least 2 tokens", file=sys.stderr)
        return 2
    nll, scored = perplexity(model, tokens, ctx, stride)
    lengths = token_byte_lengths(model_dir, model.n_vocab)
    n_bytes = sum(lengths[t] for t in scored)
    print(f"perplexity {math.exp(nll / len(scored)):.10g}")
    print(f"bits_per_byte {nll / math.log(2) / n_bytes:.10g}")
    print(f"tokens_scored {len(scored)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
