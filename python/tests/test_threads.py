"""Threads: several Python threads, each with its own context on one shared
model (the C library allows it and ctypes releases the GIL during calls)."""
import re
import threading
import time

import pytest

from support import model_path

import gpt2


def run_threads(target, arguments):
    """Runs target(*args) for each args in its own thread, started together;
    returns the results in order, re-raising the first exception."""
    barrier = threading.Barrier(len(arguments))
    results = [None] * len(arguments)
    failures = []

    def work(index, args):
        try:
            barrier.wait()
            results[index] = target(*args)
        except BaseException as failure:  # reported to the test below
            failures.append(failure)

    threads = [threading.Thread(target=work, args=(i, args)) for i, args in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


def generate_text(model, seed):
    with model.context(seed=seed, threads=1, n_ctx=64) as context:
        return "".join(context.generate("The", max_tokens=24, top_k=0))


def test_contexts_on_one_model_in_parallel(mid):
    seeds = [0, 1, 2, 3] * 2
    sequential = [generate_text(mid, seed) for seed in seeds]
    assert len(set(sequential)) == 4
    assert run_threads(generate_text, [(mid, seed) for seed in seeds]) == sequential


def test_model_calls_from_many_threads(gpt2_vocab):
    texts = ["thread %d says héllo 中文 %s" % (i, "x" * i) for i in range(8)]
    expected = [gpt2_vocab.tokenize(text) for text in texts]

    def tokenize_many(text):
        return [gpt2_vocab.tokenize(text) for _ in range(200)]

    for text_ids, runs in zip(expected, run_threads(tokenize_many, [(t,) for t in texts])):
        assert all(ids == text_ids for ids in runs)
    decoded = run_threads(lambda ids: gpt2_vocab.decode(ids), [(ids,) for ids in expected])
    assert decoded == texts


def test_error_messages_stay_in_their_thread(tiny):
    """gpt2_last_error() is per thread and read right after the call."""
    def bad_eval(_):
        with tiny.context(n_ctx=8) as context:
            for _ in range(300):
                with pytest.raises(gpt2.RangeError) as caught:
                    context.eval([1, 999])
                assert re.search("token 1 has id 999,", caught.value.message)
        return True

    def bad_load(name):
        for _ in range(300):
            with pytest.raises(gpt2.FileError) as caught:
                gpt2.Model("/nonexistent/" + name)
            assert "/nonexistent/%s:" % name in caught.value.message
        return True

    assert all(run_threads(lambda kind, arg: kind(arg),
                           [(bad_eval, 0), (bad_load, "a"), (bad_eval, 1), (bad_load, "b")]))


def test_gil_is_released_during_calls():
    """While one thread evaluates a long batch, this thread keeps running:
    the longest pause between its loop iterations stays far below the
    evaluation's duration (it would be all of it if the GIL were held)."""
    with gpt2.Model(model_path("124m-f32")) as model, \
            model.context(threads=1, n_ctx=128) as context:
        timing = {}

        def evaluate():
            timing["start"] = time.perf_counter()
            context.eval(list(range(128)))
            timing["end"] = time.perf_counter()

        worker = threading.Thread(target=evaluate)
        longest_pause, last = 0.0, time.perf_counter()
        worker.start()
        while worker.is_alive():
            now = time.perf_counter()
            longest_pause, last = max(longest_pause, now - last), now
        worker.join()
        duration = timing["end"] - timing["start"]
        assert duration > 0.2  # long enough to tell
        assert longest_pause < duration / 3, (longest_pause, duration)


def test_closing_the_model_while_threads_generate():
    """Model.close() closes the contexts in use; each thread's next call
    raises ClosedError, and calls already running finish first (the free
    waits for them)."""
    model = gpt2.Model(model_path("mid-f32"))
    contexts = [model.context(threads=1, seed=i) for i in range(3)]
    started = threading.Barrier(len(contexts) + 1)
    outcomes = []

    def evaluate_until_closed(context):
        started.wait()
        try:
            while True:
                context.eval(list(range(32)))
                context.sample()
                context.truncate(0)
        except gpt2.ClosedError:
            outcomes.append("closed")

    threads = [threading.Thread(target=evaluate_until_closed, args=(c,)) for c in contexts]
    for thread in threads:
        thread.start()
    started.wait()
    time.sleep(0.2)
    model.close()
    for thread in threads:
        thread.join()
    assert outcomes == ["closed"] * 3


def test_close_during_a_call_returns_at_once_and_frees_after_it(tiny):
    """docs/python.md: close() from another thread does not wait for a
    running call; the handle is freed when that call returns."""
    inside, release = threading.Event(), threading.Event()

    def hold():  # the abort hook runs inside gpt2_eval, between layers
        inside.set()
        release.wait(10)
        return False

    context = tiny.context(n_threads=1, abort=hold)
    freed = []
    real_free = context._handle._free
    context._handle._free = lambda pointer: (freed.append(pointer), real_free(pointer))
    worker = threading.Thread(target=context.eval, args=([1, 2, 3],))
    worker.start()
    assert inside.wait(10)
    context.close()  # returns while the eval is still inside the library
    assert context.closed and worker.is_alive() and not freed
    release.set()
    worker.join()
    assert len(freed) == 1
    with pytest.raises(gpt2.ClosedError):
        context.pos
