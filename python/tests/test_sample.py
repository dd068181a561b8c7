"""Sampling through the binding: determinism, parameters reaching the
library, and every parameter error."""
import math

import numpy
import pytest

import gpt2
from gpt2 import errors


def sample_sequence(model, n, seed, threads=1, **sampling):
    with model.context(seed=seed, threads=threads) as context:
        context.eval([1, 2, 3])
        tokens = []
        for _ in range(n):
            tokens.append(context.sample(**sampling))
            context.eval([tokens[-1]])
        return tokens


def test_same_seed_same_tokens_other_seed_others(tiny):
    first = sample_sequence(tiny, 24, seed=7, top_k=0)
    assert sample_sequence(tiny, 24, seed=7, top_k=0) == first
    assert sample_sequence(tiny, 24, seed=8, top_k=0) != first  # 509^-24 chance to agree


def test_same_tokens_for_any_thread_count(mid):
    one = sample_sequence(mid, 6, seed=3, threads=1, temperature=0.8)
    assert sample_sequence(mid, 6, seed=3, threads=2, temperature=0.8) == one


def test_greedy_is_argmax(tiny):
    with tiny.context() as context:
        for ids in ([1], [2, 3], [4, 5, 6]):
            context.eval(ids)
            assert context.sample(temperature=0) == int(numpy.argmax(context.logits()))
            assert context.sample(top_k=1) == int(numpy.argmax(context.logits()))


def test_logit_bias(tiny):
    with tiny.context() as context:
        context.eval([1, 2])
        order = numpy.argsort(-context.logits(), kind="stable")
        best, second = int(order[0]), int(order[1])
        assert context.sample(temperature=0, logit_bias={best: -math.inf}) == second
        assert context.sample(temperature=0, logit_bias=[(best, -math.inf)]) == second
        assert context.sample(temperature=0, logit_bias={77: 100.0}) == 77
        allowed = {5, 6}
        bias = {t: -math.inf for t in range(tiny.n_vocab) if t not in allowed}
        assert {context.sample(top_k=0, logit_bias=bias) for _ in range(20)} <= allowed


def test_penalties_see_the_history(tiny):
    """A +50 bias makes token 77 win (|logits| < 16 here); a presence
    penalty of 100 stops that once 77 is in the history, unless
    repeat_last_n = 0 hides the history."""
    with tiny.context() as context:
        context.eval([1, 2])
        assert context.sample(temperature=0, logit_bias={77: 50.0}, presence_penalty=100.0) == 77
        context.eval([77, 3])
        assert context.sample(temperature=0, logit_bias={77: 50.0}) == 77
        assert context.sample(temperature=0, logit_bias={77: 50.0}, presence_penalty=100.0) != 77
        assert context.sample(temperature=0, logit_bias={77: 50.0}, presence_penalty=100.0,
                              repeat_last_n=0) == 77
        assert context.sample(temperature=0, logit_bias={77: 50.0}, frequency_penalty=100.0,
                              repeat_last_n=2) != 77
        assert context.sample(temperature=0, logit_bias={77: 50.0}, frequency_penalty=100.0,
                              repeat_last_n=1) == 77  # only the last token, 3


def test_failed_sample_leaves_the_rng_alone(tiny):
    with tiny.context(seed=5) as a, tiny.context(seed=5) as b:
        a.eval([1])
        b.eval([1])
        with pytest.raises(gpt2.InvalidArgumentError):
            a.sample(top_p=2.0)
        assert a.sample(top_k=0) == b.sample(top_k=0)


@pytest.mark.parametrize("params,error,phrase", [
    ({"temperature": -1.0}, gpt2.InvalidArgumentError, "temperature"),
    ({"temperature": math.nan}, gpt2.InvalidArgumentError, "temperature"),
    ({"temperature": math.inf}, gpt2.InvalidArgumentError, "temperature"),
    ({"temperature": 1e300}, gpt2.InvalidArgumentError, "temperature"),  # inf as float
    ({"top_k": -1}, gpt2.InvalidArgumentError, "top_k is -1"),
    ({"top_k": 2**31}, gpt2.InvalidArgumentError, "top_k is 2147483648"),
    ({"top_p": 1.5}, gpt2.InvalidArgumentError, "top_p"),
    ({"top_p": -0.1}, gpt2.InvalidArgumentError, "top_p"),
    ({"min_p": 1.01}, gpt2.InvalidArgumentError, "min_p"),
    ({"repetition_penalty": 0.0}, gpt2.InvalidArgumentError, "repetition_penalty"),
    ({"repeat_last_n": -2}, gpt2.InvalidArgumentError, "repeat_last_n"),
    ({"repeat_last_n": -2**31 - 1}, gpt2.InvalidArgumentError, "repeat_last_n"),
    ({"presence_penalty": math.nan}, gpt2.InvalidArgumentError, "presence_penalty"),
    ({"frequency_penalty": math.inf}, gpt2.InvalidArgumentError, "frequency_penalty"),
    ({"logit_bias": {509: 1.0}}, gpt2.RangeError, "token 509 is outside"),
    ({"logit_bias": {-1: 1.0}}, gpt2.RangeError, "token -1 is outside"),
    ({"logit_bias": {2**40: 1.0}}, gpt2.RangeError, "logit_bias token"),
    ({"logit_bias": {3: math.nan}}, gpt2.InvalidArgumentError, "bias nan"),
    ({"logit_bias": {3: math.inf}}, gpt2.InvalidArgumentError, "bias inf"),
])
def test_bad_sampling_params(tiny, params, error, phrase):
    with tiny.context() as context:
        context.eval([1])
        with pytest.raises(error) as caught:
            context.sample(**params)
        assert caught.value.status == error.status
        assert phrase in caught.value.message


def test_every_token_banned(tiny):
    with tiny.context() as context:
        context.eval([1])
        with pytest.raises(gpt2.InvalidArgumentError):
            context.sample(logit_bias={t: -math.inf for t in range(tiny.n_vocab)})


def test_sample_without_logits(tiny):
    with tiny.context() as context:
        with pytest.raises(gpt2.StateError) as caught:
            context.sample()
        assert caught.value.status == errors.E_STATE
        context.eval([1, 2])
        context.sample()
        context.truncate(1)
        with pytest.raises(gpt2.StateError):
            context.sample()


def test_bad_sampling_argument_types(tiny):
    with tiny.context() as context:
        context.eval([1])
        with pytest.raises(TypeError):
            context.sample(temperature="hot")
        with pytest.raises(TypeError):
            context.sample(top_k=1.5)
        with pytest.raises(TypeError):
            context.sample(tempreature=0.5)  # a misspelt name is not ignored
        with pytest.raises(TypeError):
            context.sample(logit_bias={1: "x"})
