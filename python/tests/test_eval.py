"""Evaluation: logits against the golden data of the independent float64
reference (tests/data/golden/, see its README), positions, truncation,
and every error path of Context."""
import array
import math
import os
import re

import numpy
import pytest

from support import DATA, MODEL_NAMES, model_path, run_python

import gpt2
from gpt2 import context as context_module
from gpt2 import errors


def read_golden(name):
    golden = {}
    for line in open(os.path.join(DATA, "golden", name + ".txt")):
        if line.startswith("#") or not line.strip():
            continue
        key, *values = line.split()
        golden[key] = values
    ids = {key: [int(v) for v in golden[key][1:]]
           for key in ("prompt", "continuation", "rows", "argmax")}
    n_vocab = int(golden["n_vocab"][0])
    logits = numpy.fromfile(os.path.join(DATA, "golden", name + ".logits"), dtype="<f4")
    return ids, logits.reshape(len(ids["rows"]), n_vocab)


def tolerance(name):
    """Max |logit - golden|, as tests/unit/test_golden.c: float32 against the
    float64 reference is off by up to ~1e-4 on these models (numpy's own
    float32 run: numpy_float32_max_error in the golden files), while the
    smallest real bug measured there (erf instead of tanh GELU) moves the
    logits by >= 2.3e-3. The binding only passes ids and copies floats, so
    any binding mistake (wrong row, stride or type) is far larger still."""
    return 5e-4 if name.startswith("124m-") else 2e-4


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_golden_logits_and_greedy_continuation(name):
    ids, golden = read_golden(name)
    # BF16 models on the avx512bf16 table (the default where the CPU has
    # AVX512-BF16) round the activations in their products, far beyond these
    # bounds (tests/unit/test_golden.c holds that table to its own): this test
    # is about the binding, so it asks for FP32 products.
    # One thread: the suite shares the CPUs with other tests (thread counts
    # are tested below and give identical logits).
    with gpt2.Model(model_path(name), fp32_products=True) as model, \
            model.context(logits_all=True, threads=1) as context:
        context.eval(ids["prompt"])
        assert context.pos == len(ids["prompt"])
        for row, position in enumerate(ids["rows"]):
            logits = context.logits(position)
            assert isinstance(logits, numpy.ndarray) and logits.dtype == numpy.float32
            assert logits.shape == (model.n_vocab,)
            assert numpy.abs(logits - golden[row]).max() <= tolerance(name)
            assert int(logits.argmax()) == ids["argmax"][row]
        assert numpy.array_equal(context.logits(-1), context.logits(len(ids["prompt"]) - 1))
        continuation = []
        for _ in ids["continuation"]:
            token = context.sample(temperature=0)
            continuation.append(token)
            context.eval([token])
        assert continuation == ids["continuation"]


def test_logits_without_numpy(tiny, monkeypatch):
    with tiny.context() as context:
        context.eval([1, 2, 3])
        with_numpy = context.logits()
        monkeypatch.setattr(context_module, "_numpy", None)
        plain = context.logits()
    assert isinstance(plain, array.array) and plain.typecode == "f"
    assert len(plain) == tiny.n_vocab and list(plain) == with_numpy.tolist()


def test_import_and_logits_when_numpy_cannot_be_imported():
    code = ("import sys; sys.modules['numpy'] = None\n"
            "import gpt2, array\n"
            "m = gpt2.Model(sys.argv[1]); c = m.context(); c.eval([1, 2])\n"
            "l = c.logits(); assert type(l) is array.array and len(l) == m.n_vocab\n"
            "print('ok', type(l).__name__)\n")
    python_dir = os.path.dirname(os.path.dirname(gpt2.__file__))
    result = run_python(["-c", code, model_path("tiny-f32")], env={"PYTHONPATH": python_dir})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok array"


def test_logits_are_a_copy(tiny):
    with tiny.context() as context:
        context.eval([1])
        first = context.logits()
        saved = first.copy()
        context.eval([2])
        assert numpy.array_equal(first, saved)
        assert not numpy.array_equal(context.logits(), saved)


def test_context_defaults_and_positions(tiny):
    with tiny.context() as context:
        assert context.n_ctx == tiny.n_ctx_train and context.pos == 0
        context.eval([5, 6, 7])
        context.eval([8])
        assert context.pos == 4
        assert "pos=4" in repr(context)
    with tiny.context(n_ctx=8) as context:
        assert context.n_ctx == 8


def test_truncate_and_re_evaluate(mid):
    ids = list(range(10, 40))
    with mid.context() as whole, mid.context() as parts:
        whole.eval(ids)
        parts.eval(ids[:20] + [1, 2, 3])
        parts.truncate(20)
        assert parts.pos == 20
        with pytest.raises(gpt2.StateError, match="no logits"):
            parts.logits()
        parts.eval(ids[20:])
        # every output has the bits of its own row's computation, whatever the
        # batch (kernels.h): truncating and re-evaluating gives the same bits
        assert numpy.array_equal(parts.logits(), whole.logits())
        parts.truncate(0)
        assert parts.pos == 0


def test_same_logits_for_any_thread_count(mid):
    ids = list(range(100, 140))
    results = []
    for threads in (1, 2, 3):
        with mid.context(threads=threads) as context:
            context.eval(ids)
            results.append(context.logits())
    assert all(numpy.array_equal(results[0], other) for other in results[1:])


def test_f16_kv_cache(mid):
    ids = list(range(10, 60))
    with mid.context(logits_all=True) as f32, mid.context(kv_type="f16", logits_all=True) as f16:
        for context in (f32, f16):
            context.eval(ids[:25])
            context.eval(ids[25:])
        a = numpy.array([f32.logits(i) for i in range(25)])
        b = numpy.array([f16.logits(i) for i in range(25)])
        rms = numpy.sqrt(((a - b) ** 2).mean() / (a ** 2).mean())
        # float16 keys and values: 2^-11 relative rounding, which moved these
        # logits by RMS 8.41e-4..8.58e-4 of the RMS logit (scalar, avx2,
        # avx512, avx512bf16 tables); rounding by truncation instead (planted
        # in the cache writer) moved them by 1.24e-3, and no rounding at all
        # (f16 ignored) by 0. The golden test holds the F16 KV cache to the
        # float64 reference with float16 K and V (mid-f32-kvf16).
        assert 4e-4 < rms < 1.05e-3


# ---- errors -------------------------------------------------------------------

def test_logits_before_eval_and_bad_rows(tiny):
    with tiny.context() as context:
        with pytest.raises(gpt2.StateError) as caught:
            context.logits()
        assert caught.value.status == errors.E_STATE
        context.eval([1, 2, 3])
        for row in (0, 1, 3, -2):  # only the last row without logits_all
            with pytest.raises(gpt2.RangeError, match="row %d" % row):
                context.logits(row)
        assert len(context.logits(2)) == tiny.n_vocab
        for row in (2**31, -2**31 - 1):
            with pytest.raises(gpt2.RangeError):
                context.logits(row)
    with tiny.context(logits_all=True) as context:
        context.eval([1, 2, 3])
        assert numpy.array_equal(context.logits(2), context.logits(-1))
        for row in (3, -2):  # logits_all is set: the message must not ask for it
            with pytest.raises(gpt2.RangeError, match="row %d: the last batch has fewer" % row) \
                    as caught:
                context.logits(row)
            assert "logits_all" not in str(caught.value)


def test_n_threads_is_the_c_name(tiny):
    """n_threads as in gpt2_context_params / gpt2_load_params; `threads`
    (the 0.2 name) still works; both at once is an error."""
    with tiny.context(n_threads=2) as context:
        assert context._params.n_threads == 2
        assert context.copy(n_threads=1)._params.n_threads == 1
        assert context.copy(threads=3)._params.n_threads == 3
    with tiny.context(threads=2) as context:
        assert context._params.n_threads == 2
    with pytest.raises(gpt2.InvalidArgumentError, match="not both"):
        tiny.context(n_threads=1, threads=2)
    assert "".join(tiny.generate("a", max_tokens=2, n_threads=1, seed=1))
    with gpt2.Model(model_path("tiny-f32"), n_threads=1) as model:
        assert model.n_vocab == tiny.n_vocab


@pytest.mark.parametrize("bad", [-1, 509, 2**31 - 1, 2**31, -2**40])
def test_eval_bad_token_leaves_the_context_as_it_was(tiny, bad):
    with tiny.context() as context:
        context.eval([1, 2])
        before = context.logits()
        with pytest.raises(gpt2.RangeError) as caught:
            context.eval([3, bad, 4])
        assert caught.value.status == errors.E_RANGE
        if -2**31 <= bad < 2**31:
            # gpt2_eval is the one-context case of gpt2_eval_batch since 0.2
            assert re.search("token 1 has id %d," % bad, caught.value.message)
        assert context.pos == 2
        assert numpy.array_equal(context.logits(), before)


def test_eval_past_n_ctx(tiny):
    with tiny.context(n_ctx=4) as context:
        context.eval([1, 2, 3])
        with pytest.raises(gpt2.RangeError, match="exceed n_ctx 4"):
            context.eval([4, 5])
        assert context.pos == 3
        context.eval([4])
        with pytest.raises(gpt2.RangeError):
            context.eval([5])


def test_eval_empty_and_wrong_types(tiny):
    with tiny.context() as context:
        with pytest.raises(gpt2.InvalidArgumentError, match="no tokens"):
            context.eval([])
        for bad in ("abc", b"abc", 7, [1.0], None):
            with pytest.raises(TypeError):
                context.eval(bad)
        assert context.pos == 0


def test_truncate_errors(tiny):
    with tiny.context() as context:
        context.eval([1, 2])
        with pytest.raises(gpt2.RangeError, match="past the 2 cached tokens"):
            context.truncate(3)
        for bad in (-1, 2**64):
            with pytest.raises(gpt2.RangeError):
                context.truncate(bad)
        assert context.pos == 2


@pytest.mark.parametrize("params,error,phrase", [
    ({"n_ctx": 65}, gpt2.RangeError, "n_ctx 65 exceeds"),
    ({"n_ctx": -1}, gpt2.InvalidArgumentError, "n_ctx is -1"),
    ({"n_ctx": 2**32}, gpt2.InvalidArgumentError, "n_ctx is 4294967296"),
    ({"threads": 100000}, gpt2.InvalidArgumentError, "n_threads 100000 exceeds"),
    ({"threads": -2}, gpt2.InvalidArgumentError, "threads is -2"),
    ({"seed": -1}, gpt2.InvalidArgumentError, "seed is -1"),
    ({"seed": 2**64}, gpt2.InvalidArgumentError, "seed is"),
    ({"kv_type": "f64"}, gpt2.InvalidArgumentError, "kv_type 'f64'"),
    ({"kv_type": 7}, gpt2.InvalidArgumentError, "kv_type 7"),
])
def test_bad_context_params(tiny, params, error, phrase):
    with pytest.raises(error) as caught:
        tiny.context(**params)
    assert phrase in caught.value.message


def test_bad_context_param_types(tiny):
    with pytest.raises(TypeError):
        tiny.context(n_ctx=1.5)
    with pytest.raises(TypeError):
        tiny.context(unknown=1)


def test_extreme_seeds_are_accepted(tiny):
    for seed in (0, 2**64 - 1):
        with tiny.context(seed=seed) as context:
            context.eval([1])
            assert 0 <= context.sample() < tiny.n_vocab


def test_closed_context_raises(tiny):
    context = tiny.context()
    context.eval([1])
    with context:
        pass
    assert context.closed and "closed" in repr(context)
    for call in (lambda: context.eval([1]), context.logits, lambda: context.truncate(0),
                 context.sample, lambda: context.pos, lambda: context.n_ctx,
                 lambda: next(context.generate("a"))):
        with pytest.raises(gpt2.ClosedError):
            call()
    context.close()  # idempotent
    assert math.isfinite(tiny.n_vocab)
