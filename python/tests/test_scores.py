"""Log-probabilities, scoring, embeddings (libgpt2 0.3) through the binding:
checked against float64 log-softmax of the logits the context gives, which
tests/unit/test_scores.c and the golden data check against the reference."""
import math

import numpy
import pytest

import gpt2


def log_softmax(logits):
    values = numpy.asarray(logits, dtype=numpy.float64)
    shifted = values - values.max()
    return shifted - math.log(numpy.exp(shifted).sum())


def test_logprob_and_top_logprobs(mid):
    with mid.context(logits_all=True, n_threads=1) as context:
        context.eval(mid.tokenize("Hello there, world"))
        for row in (0, 2, -1):
            expected = log_softmax(context.logits(row))
            # both float64 log-softmax of the same float32 logits: rounding only
            assert abs(context.logprob(7, row) - expected[7]) < 1e-9
            top = context.top_logprobs(5, row)
            assert [t for t, _ in top] == sorted(range(mid.n_vocab), key=lambda t: (-expected[t], t))[:5]
            assert all(abs(lp - expected[t]) < 1e-9 for t, lp in top)
        assert context.top_logprobs(0) == []
        with pytest.raises(gpt2.RangeError):
            context.logprob(mid.n_vocab)


def test_sample_logprob_is_the_drawn_tokens(mid):
    with mid.context(seed=5, n_threads=1) as a, mid.context(seed=5, n_threads=1) as b:
        a.eval([1, 2, 3])
        b.eval([1, 2, 3])
        token, logprob = a.sample_logprob(temperature=0.7, top_k=0)
        assert token == b.sample(temperature=0.7, top_k=0)  # same draw as sample()
        assert abs(logprob - log_softmax(a.logits())[token]) < 1e-9


def test_score(mid):
    text = "The quick brown fox jumps over the lazy dog. " * 3
    score = mid.score(text, n_threads=1)
    tokens = mid.tokenize(text)
    assert score.tokens == tokens and len(score.logprobs) == len(tokens)
    with mid.context(logits_all=True, n_threads=1) as context:
        context.eval([mid.eot] + tokens)
        expected = [log_softmax(context.logits(i))[t] for i, t in enumerate(tokens)]
    # Windows of prefill vs one batch: measured equal (0.0) on mid-f32; the
    # bound leaves room for kernels that tile batches differently, while a
    # row off by one is off by more than 0.1 here.
    assert max(abs(a - b) for a, b in zip(score.logprobs, expected)) < 1e-4
    assert list(score) == list(zip(tokens, score.logprobs))
    assert abs(score.total - sum(expected)) < 1e-3
    assert abs(score.perplexity - math.exp(-score.total / len(tokens))) < 1e-9
    prefixed = mid.score(tokens[3:], prefix=[mid.eot] + tokens[:3], n_threads=1)
    assert max(abs(a - b) for a, b in zip(prefixed.logprobs, score.logprobs[3:])) < 1e-4
    with pytest.raises(gpt2.InvalidArgumentError):
        mid.score("")


def test_embed(mid):
    rows = mid.embed("Hello there", pooling=None)
    assert rows.shape == (len(mid.tokenize("Hello there")), mid.n_embd)
    assert numpy.allclose(mid.embed("Hello there"), rows.mean(axis=0), atol=1e-6)
    assert numpy.array_equal(mid.embed("Hello there", pooling="last"), rows[-1])
    # the last row is the state the logits are made from: a different text differs
    assert not numpy.array_equal(mid.embed("Hello here", pooling="last"), rows[-1])
    with pytest.raises(gpt2.InvalidArgumentError):
        mid.embed("x", pooling="max")


def test_generate_logprobs_and_echo(mid):
    prompt = mid.tokenize("Once upon")
    generation = mid.generate(prompt, max_tokens=6, seed=3, top_k=0, logprobs=3, echo=True,
                              stop_at_eot=False)
    text = "".join(generation)
    assert text.startswith("Once upon")
    assert generation.tokens[:len(prompt)] == prompt and len(generation.tokens) == len(prompt) + 6
    assert generation.token_logprobs[0] is None and generation.top_logprobs[0] == []
    # replay: the same seed, sample_logprob step by step
    with mid.context(seed=3, logits_all=True) as context:
        context.eval(prompt)
        expected = [(t, context.logprob(t, i)) for i, t in enumerate(prompt[1:])]
        for _ in range(6):
            token, logprob = context.sample_logprob(top_k=0)
            top = context.top_logprobs(3)
            expected.append((token, logprob))
            assert top[0][1] >= logprob
            context.eval([token])
    got = list(zip(generation.tokens[1:], generation.token_logprobs[1:]))
    assert [t for t, _ in got] == [t for t, _ in expected]
    assert max(abs(a - b) for (_, a), (_, b) in zip(got, expected)) < 1e-12
    assert all(len(top) == 3 for top in generation.top_logprobs[1:])
    with pytest.raises(gpt2.InvalidArgumentError):
        mid.context().generate("x", logprobs=1, echo=True)  # needs logits_all
