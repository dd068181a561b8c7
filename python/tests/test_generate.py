"""Streaming generation: pieces as tokens are sampled, whole characters
only, stop strings, why it ended, and the generator's lifetime.

Many tests steer the random models with the sampler: every token but a
chosen few is banned (logit_bias -inf), the chosen ones get biases 1000,
900, 800, ... (far above the models' |logits| < 16), and a frequency
penalty of 1000 makes greedy sampling cycle through them in that order."""
import math

import pytest

from support import model_path

import gpt2


def cycle(model, text):
    """Sampling arguments that generate the tokens of `text` over and over."""
    ids = model.tokenize(text)
    bias = {token: -math.inf for token in range(model.n_vocab)}
    for rank, token in enumerate(ids):
        bias[token] = 1000.0 - 100.0 * rank
    return ids, dict(temperature=0, frequency_penalty=1000.0, logit_bias=bias)


def drive(generator):
    """All pieces and the generator's return value (why it ended)."""
    pieces = []
    while True:
        try:
            pieces.append(next(generator))
        except StopIteration as end:
            return pieces, end.value


def test_pieces_come_as_tokens_are_sampled(tiny):
    ids, sampling = cycle(tiny, "xyz")
    assert len(ids) == 3
    with tiny.context() as context:
        stream = context.generate("a", max_tokens=6, **sampling)
        pieces = []
        for piece in stream:
            pieces.append(piece)
            assert context.pos == 1 + len(pieces)  # the prompt and each token so far
        assert pieces == list("xyzxyz")


def test_only_whole_characters(tiny, gpt2_vocab):
    for model, text in ((tiny, "é"), (tiny, "文"), (gpt2_vocab, "😀")):
        ids, sampling = cycle(model, text)
        assert len(ids) > 1 and all("\ufffd" in model.decode([i]) for i in ids)  # split
        with model.context(threads=1) as context:
            pieces, reason = drive(context.generate("x", max_tokens=3 * len(ids), **sampling))
        assert (pieces, reason) == ([text] * 3, "length")


@pytest.mark.parametrize("name", ["tiny-f32", "124m-f32"])
def test_text_is_the_sampled_tokens(name):
    """Random sampling: the streamed text is the decoded token sequence
    (invalid UTF-8 as U+FFFD), token for token as sample() and eval() give."""
    with gpt2.Model(model_path(name)) as model:
        prompt = model.tokenize("Once upon a time")
        with model.context(seed=11, threads=1) as context:
            context.eval(prompt)
            tokens = []
            for _ in range(40):
                tokens.append(context.sample(top_k=0, temperature=1.5))
                if tokens[-1] == model.eot:
                    tokens.pop()
                    break
                context.eval([tokens[-1]])
        with model.context(seed=11, threads=1) as context:
            pieces, _ = drive(context.generate(prompt, max_tokens=40, top_k=0, temperature=1.5))
            assert context.pos == len(prompt) + len(tokens)
        assert "".join(pieces) == model.decode(tokens)
        assert all(pieces)


def test_stop_strings(tiny):
    _, sampling = cycle(tiny, "xyz")
    cases = [("zx", "xy", "stop"), (["qq", "yz"], "x", "stop"), ("z", "xy", "stop"),
             ("xyzx", "", "stop"), ("zq", "xyzxyz", "length"), (None, "xyzxyz", "length"),
             ([], "xyzxyz", "length")]
    for stop, text, reason in cases:
        with tiny.context() as context:
            pieces, why = drive(context.generate("a", max_tokens=6, stop=stop, **sampling))
            assert ("".join(pieces), why) == (text, reason), stop
            # one token per character here: the cache ends where the text does
            assert context.pos == 1 + len(text), stop
            with tiny.context() as alone:
                alone.eval(tiny.tokenize("a" + text))
                assert (context.logits() == alone.logits()).all(), stop


def test_stop_string_inside_a_token_is_not_left_in_the_cache(gpt2_vocab):
    """" hello" is one token; the stop "lo w" cuts it: the cache must hold
    the prompt and " hel" (what was shown), not " hello world", so that a
    continued generation follows the text the caller saw."""
    ids, sampling = cycle(gpt2_vocab, " hello world")
    prompt = gpt2_vocab.tokenize("x")
    with gpt2_vocab.context(n_threads=1) as context:
        pieces, why = drive(context.generate(prompt, max_tokens=6, stop="lo w", **sampling))
        assert (pieces, why) == ([" hel"], "stop")
        shown = prompt + gpt2_vocab.tokenize(" hel")
        assert context.pos == len(shown)
        with gpt2_vocab.context(n_threads=1) as alone:
            alone.eval(shown)
            assert (context.logits() == alone.logits()).all()
    with gpt2_vocab.context(n_threads=1) as context:  # a stop at a token boundary
        pieces, why = drive(context.generate(prompt, max_tokens=6, stop=" world", **sampling))
        assert (pieces, why) == ([" hello"], "stop")
        assert context.pos == len(prompt) + 1
        with gpt2_vocab.context(n_threads=1) as alone:
            alone.eval(prompt + ids[:1])
            assert (context.logits() == alone.logits()).all()


def test_finish_reason_is_kept_by_a_plain_loop(tiny):
    _, sampling = cycle(tiny, "xyz")
    with tiny.context() as context:
        generation = context.generate("a", max_tokens=6, stop="z", **sampling)
        assert generation.finish_reason is None
        assert "".join(piece for piece in generation) == "xy"
        assert generation.finish_reason == "stop"
    generation = tiny.generate("a", max_tokens=3, **sampling)
    for _ in generation:
        pass
    assert generation.finish_reason == "length"
    generation = tiny.generate("a", max_tokens=6, n=3, stop="z", **sampling)
    assert "".join(piece for _, piece in generation) == "xxxyyy"  # one step each
    assert generation.finish_reason == ["stop"] * 3


def test_model_generate_draws_a_seed_per_call(tiny):
    """No seed: each call samples with a fresh seed (as gpt2-generate does
    without --seed), reported on the result, which replays the call."""
    runs = [tiny.generate("Hello", max_tokens=24, top_k=0, temperature=2.0) for _ in range(2)]
    texts = ["".join(run) for run in runs]
    # 24 tokens at temperature 2 over 509 tokens: equal texts from two seeds
    # would be a chance far below 1e-20.
    assert runs[0].seed != runs[1].seed and texts[0] != texts[1]
    again = tiny.generate("Hello", max_tokens=24, top_k=0, temperature=2.0, seed=runs[1].seed)
    assert "".join(again) == texts[1] and again.seed == runs[1].seed


def test_stop_string_held_back_across_tokens(gpt2_vocab):
    ids, sampling = cycle(gpt2_vocab, " hello world")
    assert len(ids) == 2
    with gpt2_vocab.context(threads=1) as context:
        pieces, why = drive(context.generate("x", max_tokens=6, stop="lo w", **sampling))
    assert (pieces, why) == ([" hel"], "stop")
    with gpt2_vocab.context(threads=1) as context:
        pieces, why = drive(context.generate("x", max_tokens=4, stop="lo x", **sampling))
    # "lo" is held back until " world" shows it does not start "lo x"
    assert pieces == [" hel", "lo world", " hel", "lo world"] and why == "length"


def test_end_of_text(tiny):
    ban_all_but_eot = {t: -math.inf for t in range(tiny.n_vocab - 1)}
    with tiny.context() as context:
        pieces, why = drive(context.generate("x", max_tokens=5, logit_bias=ban_all_but_eot))
        assert (pieces, why) == ([], "eot")
        assert context.pos == 1  # the end-of-text token is not evaluated
    with tiny.context() as context:
        pieces, why = drive(context.generate("x", max_tokens=2, stop_at_eot=False,
                                             logit_bias=ban_all_but_eot))
        assert ("".join(pieces), why) == ("<|endoftext|>" * 2, "length")


def test_max_tokens_and_full_context(tiny):
    with tiny.context() as context:
        assert drive(context.generate("xyz", max_tokens=0)) == ([], "length")
        assert context.pos == 3  # the prompt is evaluated all the same
    with tiny.context(n_ctx=8) as context:
        _, why = drive(context.generate("xyz", max_tokens=100, top_k=0))
        assert why == "context" and context.pos == 8


def test_prompt_forms(tiny):
    def text(prompt, **kwargs):
        with tiny.context(seed=4) as context:
            return "".join(context.generate(prompt, max_tokens=12, top_k=0, **kwargs))

    reference = text("hello there")
    assert text(b"hello there") == reference
    assert text(tiny.tokenize("hello there")) == reference
    assert text("") == text([tiny.eot])  # an empty prompt starts at <|endoftext|>
    assert text("a<|endoftext|>", special=True) == text(tiny.tokenize("a") + [tiny.eot])
    with tiny.context(seed=4) as context:  # empty later: continue from the last logits
        context.eval(tiny.tokenize("hello there"))
        assert "".join(context.generate("", max_tokens=12, top_k=0)) == reference


def test_continuing_a_conversation(tiny):
    """Each generate() appends to what the context holds."""
    with tiny.context(seed=9) as context:
        first = "".join(context.generate("Q:", max_tokens=5, top_k=0))
        pos = context.pos
        second = "".join(context.generate(" A:", max_tokens=5, top_k=0))
        assert context.pos == pos + len(tiny.tokenize(" A:")) + 5
    with tiny.context(seed=9) as context:
        context.eval(tiny.tokenize("Q:"))
        for _ in range(5):
            context.eval([context.sample(top_k=0)])
        assert context.pos == pos
    assert first and second


def test_model_generate(tiny):
    first = drive(tiny.generate("Hello", max_tokens=10, seed=2, top_k=0))
    assert first == drive(tiny.generate("Hello", max_tokens=10, seed=2, top_k=0))
    assert first[1] == "length" and first[0]
    assert first != drive(tiny.generate("Hello", max_tokens=10, seed=3, top_k=0))


def test_model_generate_closes_its_context():
    model = gpt2.Model(model_path("tiny-f32"))
    finished = model.generate("a", max_tokens=3)
    context = next(iter(model._children))
    drive(finished)
    assert context.closed
    abandoned = model.generate("a", max_tokens=30)
    context = next(c for c in model._children if isinstance(c, gpt2.Context))
    next(abandoned)
    abandoned.close()
    assert context.closed
    assert not [c for c in model._children if not c.closed]
    model.close()


def test_generator_after_the_model_is_closed():
    model = gpt2.Model(model_path("tiny-f32"))
    stream = model.generate("a", max_tokens=30)
    next(stream)
    model.close()
    with pytest.raises(gpt2.ClosedError):
        next(stream)
    with pytest.raises(gpt2.ClosedError):
        model.generate("a")


@pytest.mark.parametrize("kwargs,error", [
    ({"max_tokens": -1}, gpt2.InvalidArgumentError),
    ({"stop": ""}, gpt2.InvalidArgumentError),
    ({"stop": ["a", ""]}, gpt2.InvalidArgumentError),
    ({"stop": [1]}, gpt2.InvalidArgumentError),
    ({"top_k": -2**40}, gpt2.InvalidArgumentError),
    ({"n_ctx": 1000}, gpt2.RangeError),
    ({"seed": -5}, gpt2.InvalidArgumentError),
    ({"temprature": 0.5}, TypeError),
])
def test_bad_arguments_fail_at_the_call(tiny, kwargs, error):
    with pytest.raises(error):
        tiny.generate("a", **kwargs)
    if "n_ctx" not in kwargs and "seed" not in kwargs:
        with tiny.context() as context, pytest.raises(error):
            context.generate("a", **kwargs)


def test_bad_sampling_values_fail_at_the_first_piece(tiny):
    stream = tiny.generate("a", top_p=2.0)
    with pytest.raises(gpt2.InvalidArgumentError, match="top_p"):
        next(stream)


def test_bad_prompt_ids(tiny):
    with pytest.raises(gpt2.RangeError):
        next(tiny.generate([1, 509]))
