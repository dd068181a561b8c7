"""Float64 reference for gpt2-generate --beams: Hugging Face's beam search
(transformers' BeamSearchScorer and BeamHypotheses, one prompt, no logits
processors, num_return_sequences 1), written from its definition on the
independent numpy model of gpt2_ref.py.

    beam_ref.py MODEL_DIR NUM_BEAMS MAX_NEW LENGTH_PENALTY EARLY_STOPPING ID...

EARLY_STOPPING is true, false or never. Prints

    tokens ID ...        the best hypothesis (the end-of-text token not included)
    finished N           hypotheses that ended with <|endoftext|> during the search
    skipped N            <|endoftext|> candidates ranked NUM_BEAMS or lower, not finished
    margin M             the smallest score gap at a decision of the search

Each step every beam's sum of log-probabilities plus each token's
log-probability is a candidate; the best 2 * NUM_BEAMS candidates are kept,
best first (equal scores: lower beam, then lower token id first; torch.topk
leaves that order unspecified). In that order a candidate ending with
<|endoftext|> becomes a finished hypothesis if its rank is below NUM_BEAMS,
scored sum / generated_length ** LENGTH_PENALTY (the end token counted in the
length, not kept in the tokens); the others fill the next beams until there
are NUM_BEAMS. At the start every beam is the prompt: only the first is
expanded (Hugging Face scores the others -1e9). At most NUM_BEAMS finished
hypotheses are kept (the worst dropped). The search is done when NUM_BEAMS
are finished and early_stopping says no open beam can beat them: true at
once; false when the worst kept score >= best candidate / length ** penalty;
never as false but with the largest possible length when the penalty is > 0.
After MAX_NEW steps (or when the context is full) the open beams are added,
scored the same way, and the best score wins (ties: the last added).

The margin bounds how far float32 logits may move a decision and leave the
result the same: at each step, the gap between the last candidate that fills
a beam and the next one, and between ranks NUM_BEAMS - 1 and NUM_BEAMS when
an end token sits at either; for the early stop, the gap between the two
sides of the comparison; at the end, between the best and second-best
hypothesis.

Run with /usr/bin/python3 (numpy).
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref  # noqa: E402  (tests/reference/gpt2_ref.py)


def log_softmax(row):
    top = row.max()
    return row - (top + np.log(np.exp(row - top).sum()))


class Hypotheses:
    """Finished sequences, at most `capacity`, in the order they were added."""

    def __init__(self, capacity, length_penalty, early_stopping, max_new):
        self.capacity, self.length_penalty = capacity, length_penalty
        self.early_stopping, self.max_new = early_stopping, max_new
        self.items = []  # (score, tokens)
        self.worst = 1e9

    def add(self, tokens, sum_logprobs, length):
        score = sum_logprobs / length ** self.length_penalty
        if len(self.items) < self.capacity or score > self.worst:
            self.items.append((score, tokens))
            if len(self.items) > self.capacity:
                ranked = sorted((s, i) for i, (s, _) in enumerate(self.items))
                del self.items[ranked[0][1]]
                self.worst = ranked[1][0]
            else:
                self.worst = min(score, self.worst)

    def done(self, best, length):
        """(done, the gap between the two sides of the comparison or None)."""
        if len(self.items) < self.capacity:
            return False, None
        if self.early_stopping == "true":
            return True, None
        bound = length
        if self.early_stopping == "never" and self.length_penalty > 0:
            bound = self.max_new
        highest = best / bound ** self.length_penalty
        return self.worst >= highest, abs(self.worst - highest)


def beam_search(model, eos, prompt, num_beams, max_new, length_penalty, early_stopping):
    max_new = min(max_new, model.n_ctx - len(prompt) + 1)
    cache = {}
    row = model.forward(prompt, cache, rows=[len(prompt) - 1])[0]
    beams = [([], 0.0, cache, row)]  # tokens, sum of log-probabilities, cache, logits
    hyps = Hypotheses(num_beams, length_penalty, early_stopping, max_new)
    margins, finished, skipped, done = [], 0, 0, False
    for step in range(1, max_new + 1):
        scores = np.concatenate([score + log_softmax(last) for _, score, _, last in beams])
        # Best first; equal scores in flat (beam, token) order, as the C code.
        order = np.lexsort((np.arange(len(scores)), -scores))[:2 * num_beams + 1]
        kept = [(scores[k], k // model.n_vocab, k % model.n_vocab) for k in order]
        picked, last_rank = [], 0
        for rank, (score, beam, token) in enumerate(kept[:2 * num_beams]):
            if len(picked) == num_beams:
                break
            if token == eos:
                if rank < num_beams:
                    hyps.add(list(beams[beam][0]), score, step)
                    finished += 1
                else:
                    skipped += 1
                continue
            picked.append((score, beam, token))
            last_rank = rank
        margins.append(kept[last_rank][0] - kept[last_rank + 1][0])
        if any(token == eos for _, _, token in kept[num_beams - 1:num_beams + 1]):
            margins.append(kept[num_beams - 1][0] - kept[num_beams][0])
        done, gap = hyps.done(kept[0][0], step)
        if gap is not None:
            margins.append(gap)
        next_beams = []
        for score, beam, token in picked:
            tokens, _, beam_cache, _ = beams[beam]
            next_beams.append((tokens + [token], score, dict(beam_cache), None))
        beams = next_beams
        if done or step == max_new:
            break
        for i, (tokens, score, beam_cache, _) in enumerate(beams):
            beams[i] = (tokens, score, beam_cache, model.forward(tokens[-1:], beam_cache)[0])
    if not done:
        for tokens, score, _, _ in beams:
            hyps.add(tokens, score, len(tokens))
    ranked = sorted(hyps.items, key=lambda item: item[0])
    if len(ranked) > 1:
        margins.append(ranked[-1][0] - ranked[-2][0])
    return ranked[-1][1], finished, skipped, min(margins)


def main(argv):
    if len(argv) < 7 or argv[5] not in ("true", "false", "never"):
        sys.exit(__doc__)
    model = gpt2_ref.Model(argv[1])
    with open(os.path.join(argv[1], "vocab.json"), encoding="utf-8") as f:
        eos = json.load(f).get("<|endoftext|>")
    tokens, finished, skipped, margin = beam_search(model, eos, [int(t) for t in argv[6:]], int(argv[2]),
                                           int(argv[3]), float(argv[4]), argv[5])
    print("tokens", *tokens)
    print("finished", finished)
    print("skipped", skipped)
    print("margin %.6g" % margin)


if __name__ == "__main__":
    main(sys.argv)
