"""Loading models, their facts, load errors, and object lifetimes."""
import gc
import os
import threading
import time

import numpy
import pytest

from support import DATA, MODEL_NAMES, SHAPES, model_path

import gpt2
from gpt2 import errors
from gpt2._handle import Handle


def golden_n_vocab(name):
    for line in open(os.path.join(DATA, "golden", name + ".txt")):
        if line.startswith("n_vocab "):
            return int(line.split()[1])
    raise AssertionError("no n_vocab in %s.txt" % name)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_load_every_test_model(name):
    with gpt2.Model(model_path(name)) as model:
        n_layer, n_head, n_embd, n_ctx = SHAPES[name.split("-")[0]]
        assert (model.n_layer, model.n_head, model.n_embd, model.n_ctx_train) == \
            (n_layer, n_head, n_embd, n_ctx)
        assert model.n_vocab == golden_n_vocab(name)
        assert model.eot == model.n_vocab - 1  # <|endoftext|> is the last id
        assert model.token_bytes(model.eot) == b"<|endoftext|>"
        assert model.n_params > n_layer * 12 * n_embd * n_embd
        if name.endswith("-f32"):
            assert model.size == 4 * model.n_params
        else:  # 16-bit matrices; vectors (biases, norms) may stay f32
            assert 2 * model.n_params < model.size < 2.1 * model.n_params
        assert 0 < model.size_per_token <= model.size
        assert model.isa in ("scalar", "avx2", "avx2int8", "avx512", "avx512vnni", "avx512bf16", "neondot", "neon")
        assert model.path == model_path(name)
        assert "n_vocab=%d" % model.n_vocab in repr(model)


def test_weight_type_conversion_and_no_mmap():
    f32 = gpt2.Model(model_path("tiny-f32"))
    f16 = gpt2.Model(model_path("tiny-f32"), weight_type="f16", use_mmap=False)
    also_f16 = gpt2.Model(model_path("tiny-f32"), weight_type=gpt2.WTYPE_F16)
    assert f16.n_params == f32.n_params
    assert f16.size < f32.size and f16.size == also_f16.size
    for model in (f32, f16, also_f16):
        model.close()


def test_conversion_threads():
    """threads= reaches gpt2_load_params.n_threads: its limit is enforced,
    and the weights converted on 1 and 3 threads give the same logits."""
    logits = []
    for threads in (1, 3):
        with gpt2.Model(model_path("mid-f32"), weight_type="q8_0", threads=threads) as model, \
                model.context(threads=1) as context:
            context.eval(model.tokenize("Threads or not"))
            logits.append(context.logits(-1).tobytes())
    assert logits[0] == logits[1]
    with pytest.raises(gpt2.InvalidArgumentError, match="n_threads 5000 exceeds"):
        gpt2.Model(model_path("mid-f32"), weight_type="q8_0", threads=5000)
    with pytest.raises(gpt2.InvalidArgumentError, match="threads is -1"):
        gpt2.Model(model_path("mid-f32"), threads=-1)


def test_path_like():
    import pathlib
    with gpt2.Model(pathlib.Path(model_path("tiny-f32"))) as model:
        assert model.n_vocab == 509


@pytest.mark.parametrize("weight_type,error", [("f64", gpt2.InvalidArgumentError),
                                               (99, gpt2.InvalidArgumentError),
                                               (-1, gpt2.InvalidArgumentError)])
def test_bad_weight_type(weight_type, error):
    with pytest.raises(error, match="weight_type"):
        gpt2.Model(model_path("tiny-f32"), weight_type=weight_type)


def test_missing_path():
    with pytest.raises(gpt2.FileError) as caught:
        gpt2.Model("/nonexistent/model")
    assert caught.value.status == errors.E_IO
    assert "/nonexistent/model" in caught.value.message


def test_directory_without_a_model(tmp_path):
    with pytest.raises(gpt2.FileError, match="config.json"):
        gpt2.Model(tmp_path)


def _bad_gguf_cases():
    for line in open(os.path.join(DATA, "gguf_bad", "index.txt")):
        if line.strip() and not line.startswith("#"):
            file, status, phrase = line.rstrip("\n").split("\t")
            yield file, status, phrase


@pytest.mark.parametrize("file,status,phrase", list(_bad_gguf_cases()))
def test_malformed_gguf(file, status, phrase):
    """Each committed hostile GGUF file: its status class and message."""
    path = os.path.join(DATA, "gguf_bad", file)
    if status == "OK":
        gpt2.Model(path).close()
        return
    with pytest.raises(gpt2.Error) as caught:
        gpt2.Model(path)
    assert caught.value.status == getattr(errors, "E_" + status)
    assert type(caught.value) is errors.error_for(caught.value.status, "").__class__
    assert phrase in caught.value.message


def test_context_manager_closes_and_closed_model_raises():
    with gpt2.Model(model_path("tiny-f32")) as model:
        assert not model.closed
    assert model.closed
    assert "closed" in repr(model)
    for call in (lambda: model.tokenize("a"), lambda: model.detokenize([1]),
                 lambda: model.decode([1]), lambda: model.token_bytes(1),
                 model.context, model.detokenizer, lambda: model.generate("a")):
        with pytest.raises(gpt2.ClosedError) as caught:
            call()
        assert caught.value.status == errors.E_STATE
        assert isinstance(caught.value, gpt2.StateError)
    model.close()  # idempotent
    assert model.n_vocab == 509  # facts read at load stay readable


def test_closing_the_model_closes_its_contexts_first():
    model = gpt2.Model(model_path("tiny-f32"))
    contexts = [model.context(n_ctx=8) for _ in range(3)]
    detok = model.detokenizer()
    contexts[0].eval([1, 2])
    contexts[1].close()
    freed = []
    for obj in contexts + [detok, model]:  # record the order handles are freed in
        original = obj._handle._free
        obj._handle._free = lambda pointer, original=original, obj=obj: (
            freed.append(obj), original(pointer))
    model.close()
    assert freed[-1] is model and set(freed[:-1]) == {contexts[0], contexts[2], detok}
    for context in contexts:
        assert context.closed
        with pytest.raises(gpt2.ClosedError):
            context.eval([1])
        with pytest.raises(gpt2.ClosedError):
            context.pos
    with pytest.raises(gpt2.ClosedError):
        detok.push(1)


def test_garbage_collection_frees_contexts_then_the_model():
    model = gpt2.Model(model_path("tiny-f32"))
    context = model.context(n_ctx=8)
    model_handle, context_handle = model._handle, context._handle
    del model
    gc.collect()
    assert not model_handle.closed  # the context keeps its model alive
    context.eval([1, 2, 3])
    assert context.pos == 3 and context.model.n_vocab == 509
    del context
    gc.collect()
    assert context_handle.closed and model_handle.closed


def test_handle_close_waits_for_calls_in_progress():
    freed = []
    handle = Handle(1234, freed.append, "thing")
    with handle as pointer:
        assert pointer == 1234
        handle.close()
        assert handle.closed and freed == []  # still in use
        with pytest.raises(gpt2.ClosedError, match="the thing is closed"):
            with handle:
                pass
    assert freed == [1234]
    handle.close()
    assert freed == [1234]  # freed once


def test_closing_a_context_during_eval_in_another_thread():
    """The free waits for the running call; the next call raises."""
    with gpt2.Model(model_path("124m-f32")) as model:
        context = model.context(n_ctx=256, threads=1)
        outcome = []

        def work():
            try:
                context.eval(list(range(200)))
                outcome.append("evaluated")
            except gpt2.ClosedError:
                outcome.append("closed first")

        thread = threading.Thread(target=work)
        thread.start()
        time.sleep(0.05)
        context.close()
        thread.join()
        assert outcome in (["evaluated"], ["closed first"])
        with pytest.raises(gpt2.ClosedError):
            context.eval([1])


@pytest.mark.parametrize("weight_type", ["auto", "f16", "q8_0"])
def test_save_gguf_and_load_it_back(tmp_path, weight_type):
    path = tmp_path / "tiny.gguf"
    with gpt2.Model(model_path("tiny-f32")) as model:
        model.save_gguf(path, weight_type=weight_type)
        # The file holds the weights conversion at load makes (F32 for auto),
        # in the same [n_out][n_in] layout: the same kernels give the same bits.
        converted = {"auto": "f32"}.get(weight_type, weight_type)
        with gpt2.Model(path) as saved, gpt2.Model(model_path("tiny-f32"), weight_type=converted) as same:
            assert (saved.n_vocab, saved.n_layer, saved.n_embd, saved.n_params) == \
                (model.n_vocab, model.n_layer, model.n_embd, model.n_params)
            assert saved.tokenize("héllo wörld") == model.tokenize("héllo wörld")
            with same.context() as a, saved.context() as b:
                a.eval([1, 2, 3])
                b.eval([1, 2, 3])
                assert numpy.array_equal(a.logits(), b.logits())
            assert saved.size < model.size or weight_type == "auto"


def test_save_gguf_errors(tmp_path):
    with gpt2.Model(model_path("tiny-f32")) as model:
        with pytest.raises(gpt2.FileError) as caught:
            model.save_gguf(tmp_path / "missing" / "x.gguf")
        assert "missing" in caught.value.message
        with pytest.raises(gpt2.InvalidArgumentError):
            model.save_gguf(tmp_path / "x.gguf", weight_type="f64")
        assert not (tmp_path / "x.gguf").exists()
    with pytest.raises(gpt2.ClosedError):
        model.save_gguf(tmp_path / "x.gguf")
