"""Many sequences: gpt2.eval_batch, Context.copy, save_state/load_state,
the abort hook, and Model.generate(n=N). The library promises bitwise
equality (a context in a batch, a copy, a loaded state gives exactly the
logits of the same sequence evaluated alone), so the checks are ==."""
import threading

import pytest

import gpt2

PROMPT = [5, 17, 99, 200, 31]


def logits_list(context):
    return list(context.logits())


def fresh(model, tokens, **params):
    context = model.context(threads=1, **params)
    context.eval(tokens)
    return context


def samples(context, count, **sampling):
    """count tokens sampled and evaluated one by one."""
    drawn = []
    for _ in range(count):
        drawn.append(context.sample(**sampling))
        context.eval(drawn[-1:])
    return drawn


# ---- eval_batch -------------------------------------------------------------
def test_batch_logits_equal_each_context_alone(mid):
    """Prompts and single tokens mixed, one context sitting out, two steps."""
    pieces = [PROMPT, [7], PROMPT[:2], []]
    contexts = [mid.context(threads=2)] + [mid.context(threads=1) for _ in pieces[1:]]
    gpt2.eval_batch(contexts, pieces)
    gpt2.eval_batch(contexts, [[3], [], [4, 5, 6], [8]])
    for context, first, second in zip(contexts, pieces, [[3], [], [4, 5, 6], [8]]):
        alone = fresh(mid, first + second)
        assert context.pos == alone.pos
        assert logits_list(context) == logits_list(alone)


def test_batch_errors_change_no_context(mid):
    a, b = fresh(mid, PROMPT), fresh(mid, [1])
    before = [(c.pos, logits_list(c)) for c in (a, b)]
    with pytest.raises(gpt2.InvalidArgumentError, match="twice"):
        gpt2.eval_batch([a, a], [[1], [2]])
    with pytest.raises(gpt2.RangeError):
        gpt2.eval_batch([a, b], [[1], [mid.n_vocab]])
    with pytest.raises(gpt2.InvalidArgumentError):
        gpt2.eval_batch([a, b], [[1]])
    with pytest.raises(gpt2.InvalidArgumentError):
        gpt2.eval_batch([], [])
    with gpt2.Model(a.model.path) as other, other.context() as stranger:
        with pytest.raises(gpt2.InvalidArgumentError):
            gpt2.eval_batch([a, stranger], [[1], [2]])
    b.close()
    with pytest.raises(gpt2.ClosedError):
        gpt2.eval_batch([a, b], [[1], [2]])
    assert (a.pos, logits_list(a)) == before[0]


# ---- copy ---------------------------------------------------------------------
def test_copy_is_exact_then_both_continue_apart(mid):
    source = fresh(mid, PROMPT, seed=11)
    source.sample()  # the sampler has moved on
    copy = source.copy()
    assert copy.pos == source.pos and copy.n_ctx == source.n_ctx
    assert logits_list(copy) == logits_list(source)
    drawn = samples(copy, 5)
    assert drawn == samples(source, 5)  # the same sampler state
    copy.eval([9])
    source.eval([10])
    assert logits_list(copy) == logits_list(fresh(mid, PROMPT + drawn + [9]))
    assert logits_list(source) == logits_list(fresh(mid, PROMPT + drawn + [10]))


def test_copy_with_seed_samples_as_a_fresh_context(mid):
    source = fresh(mid, PROMPT, seed=1)
    copies = [source.copy(seed=seed, threads=1) for seed in (21, 22)]
    alone = [fresh(mid, PROMPT, seed=seed) for seed in (21, 22)]
    drawn = [samples(c, 8) for c in copies]
    assert drawn == [samples(c, 8) for c in alone]
    assert drawn[0] != drawn[1]
    assert source.pos == len(PROMPT)  # the source is only read


def test_copy_of_a_closed_context(mid):
    context = fresh(mid, PROMPT)
    context.close()
    with pytest.raises(gpt2.ClosedError):
        context.copy()


# ---- saved state ------------------------------------------------------------
def test_state_round_trip_then_continue(mid):
    source = fresh(mid, PROMPT, seed=3)
    state = source.save_state()
    assert isinstance(state, bytes)
    loaded = mid.context(threads=1, seed=99)
    loaded.eval([1, 2, 3, 4, 5, 6, 7, 8])  # more positions than the state: replaced
    loaded.load_state(state)
    assert loaded.pos == source.pos and logits_list(loaded) == logits_list(source)
    assert samples(loaded, 6) == samples(source, 6)  # the sampler state came along


def test_state_at_position_zero(mid):
    empty = mid.context(threads=1)
    target = fresh(mid, PROMPT)
    target.load_state(empty.save_state())
    assert target.pos == 0
    with pytest.raises(gpt2.StateError):
        target.logits()


def test_bad_state_changes_nothing(mid, tiny):
    state = fresh(mid, PROMPT).save_state()
    target = fresh(mid, [4, 4])
    before = (target.pos, logits_list(target))
    for bad in (state[:len(state) // 2], state[:-1], b"", b"garbage" * 10,
                state[:40] + bytes([state[40] ^ 1]) + state[41:]):
        with pytest.raises(gpt2.FormatError):
            target.load_state(bad)
        assert (target.pos, logits_list(target)) == before
    with pytest.raises(gpt2.FormatError, match="another model"):
        tiny.context().load_state(state)
    with pytest.raises(gpt2.RangeError):
        mid.context(n_ctx=2).load_state(state)


# ---- abort ------------------------------------------------------------------
def test_abort_event_stops_an_eval_and_changes_nothing(mid):
    event = threading.Event()
    context = mid.context(threads=1, abort=event)
    context.eval(PROMPT)
    before = logits_list(context)
    event.set()
    with pytest.raises(gpt2.AbortedError) as raised:
        context.eval([7, 8])
    assert raised.value.status == gpt2.errors.E_ABORTED and raised.value.__cause__ is None
    assert context.pos == len(PROMPT) and logits_list(context) == before
    event.clear()
    context.eval([7, 8])
    assert logits_list(context) == logits_list(fresh(mid, PROMPT + [7, 8]))


def test_abort_callable_and_its_exception(mid):
    calls = []
    context = mid.context(threads=1, abort=lambda: calls.append(1) or len(calls) > 2)
    with pytest.raises(gpt2.AbortedError):
        context.eval(PROMPT)  # stopped after a few layers
    assert len(calls) == 3 and context.pos == 0

    def broken():
        raise KeyError("boom")
    context = mid.context(threads=1, abort=broken)
    with pytest.raises(gpt2.AbortedError) as raised:
        context.eval(PROMPT)
    assert isinstance(raised.value.__cause__, KeyError)
    with pytest.raises(TypeError):
        mid.context(abort=42)


def test_abort_in_a_batch_changes_no_context(mid):
    event = threading.Event()
    runner, stopper = mid.context(threads=1), mid.context(threads=1, abort=event)
    event.set()
    with pytest.raises(gpt2.AbortedError):
        gpt2.eval_batch([runner, stopper], [PROMPT, [1]])
    assert runner.pos == stopper.pos == 0


def test_copies_keep_or_replace_the_abort_hook(mid):
    event = threading.Event()
    source = mid.context(threads=1, abort=event)
    source.eval(PROMPT)
    same, unhooked = source.copy(), source.copy(abort=None)
    source.close()  # the copy keeps the hook alive
    event.set()
    with pytest.raises(gpt2.AbortedError):
        same.eval([1])
    unhooked.eval([1])
    assert unhooked.pos == len(PROMPT) + 1


# ---- Model.generate(n=N) ----------------------------------------------------
def run(generator):
    items = []
    while True:
        try:
            items.append(next(generator))
        except StopIteration as end:
            return items, end.value


def test_generate_n_completions_are_the_single_ones(mid):
    """Completion i of n=3 is n=1 with seed + i: the same pieces and reason,
    with and without a stop string (one from the middle of completion 2)."""
    sampling = dict(temperature=0.9, top_k=40, repetition_penalty=1.1)
    stop = None
    for _ in range(2):
        pairs, reasons = run(mid.generate("Hello world", 12, n=3, seed=40, stop=stop, **sampling))
        assert all(isinstance(i, int) and isinstance(piece, str) for i, piece in pairs)
        texts = ["".join(piece for j, piece in pairs if j == i) for i in range(3)]
        for i in range(3):
            pieces, reason = run(mid.generate("Hello world", 12, seed=40 + i, stop=stop,
                                              **sampling))
            assert (texts[i], reasons[i]) == ("".join(pieces), reason)
        if stop is None:
            assert len(set(texts)) == 3 and reasons == ["length"] * 3
            stop = texts[1][4:7]
    assert reasons[1] == "stop" and len(texts[1]) == 4


def test_generate_n_1_is_unchanged(mid):
    pieces, reason = run(mid.generate("Hello", 6, n=1, seed=2))
    assert all(isinstance(piece, str) for piece in pieces) and reason == "length"
    with pytest.raises(gpt2.InvalidArgumentError):
        mid.generate("Hello", 6, n=0)


def test_generate_n_context_full(tiny):
    _, reasons = run(tiny.generate(list(range(100, 160)), 20, n=2, seed=1))
    assert reasons == ["context", "context"]


def test_load_progress_reports_and_cancels():
    """The load's progress hook: reports from 0.1 to 1, never decreasing
    (mid converted to q8_0: the file read, then 16 of its 17 matrices, then
    the end); a true return or an exception cancels with AbortedError."""
    from support import model_path
    path = model_path("mid-f32")
    reports = []
    with gpt2.Model(path, weight_type="q8_0", progress=reports.append) as model:
        assert model.n_vocab > 0
    assert len(reports) == 18
    assert reports[0] == pytest.approx(0.1) and reports[-1] == 1.0
    assert reports == sorted(reports)

    seen = []
    with pytest.raises(gpt2.AbortedError, match="progress callback"):
        gpt2.Model(path, weight_type="q8_0", progress=lambda done: seen.append(done) or len(seen) == 3)
    assert len(seen) == 3

    def broken(done):
        raise KeyError("boom")
    with pytest.raises(gpt2.AbortedError) as raised:
        gpt2.Model(path, progress=broken)
    assert isinstance(raised.value.__cause__, KeyError)
    with pytest.raises(TypeError):
        gpt2.Model(path, progress=42)
