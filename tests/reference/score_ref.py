"""Float64 reference for gpt2_score: per-token log-probabilities of a text
with Hugging Face's sliding window, on the independent numpy model of
gpt2_ref.py.

    score(model, full, n_prefix, window, stride) -> log-probabilities of
    full[n_prefix:]

Windows start at 0, stride, 2 stride, ... of `full` (prefix + text) and end
`window` tokens later (or at the end, which ends the loop). Each text token
is scored once, by the first window that holds it past the previous
window's end (the prefix counts as scored), from the logits of the token
before it in that window. stride < window, so that token is always there.
"""

import numpy as np


def log_softmax(logits):
    top = logits.max(axis=-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


def score(model, full, n_prefix, window, stride):
    if not (2 <= window <= model.n_ctx and 1 <= stride < window and n_prefix >= 1):
        raise ValueError("need 2 <= window <= n_ctx, 1 <= stride < window, a prefix")
    out = np.zeros(len(full))
    scored_until, begin = n_prefix, 0
    while True:
        end = min(begin + window, len(full))
        if end > scored_until:
            targets = list(range(scored_until, end))
            rows = [t - 1 - begin for t in targets]
            logprobs = log_softmax(model.logits(full[begin:end - 1], rows))
            out[targets] = logprobs[np.arange(len(targets)), [full[t] for t in targets]]
            scored_until = end
        if end == len(full):
            return out[n_prefix:]
        begin += stride
