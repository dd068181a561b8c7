"""Continuous batching for the server: one thread owns the model's
evaluation; requests add sequences, and every step samples one token for
each running sequence and evaluates all of them (and the prompts of the
sequences that joined) in one gpt2_eval_batch. A sequence joins or leaves
between steps; a cancelled one (its client went away) is freed at the next
step."""
import queue
import threading

from ._stream import _StopFilter
from .batch import eval_batch


class Request:
    """What a request's handler waits on: events (choice index, kind,
    value) from the engine, and a flag the handler sets when its client
    disconnects."""

    def __init__(self):
        self.events = queue.Queue()
        self.cancelled = threading.Event()


class Sequence:
    """One choice of a completion request. Sequences of one prompt share it:
    the first (parent None) evaluates it, the others fork its context after
    (gpt2_context_copy with their own seed)."""

    def __init__(self, request, index, prompt, sampling, seed, max_tokens, stop, logprobs,
                 echo, parent=None):
        self.request = request
        self.index = index
        self.prompt = prompt
        self.sampling = sampling
        self.seed = seed
        self.max_tokens = max_tokens
        self.stops = _StopFilter(stop)
        self.logprobs = logprobs
        self.echo = echo
        self.parent = parent
        self.context = None
        self.detok = None
        self.generated = 0
        self.children = []

    def emit(self, kind, value):
        self.request.events.put((self.index, kind, value))


class Engine:
    def __init__(self, model, n_threads=0, max_sequences=64):
        self.model = model
        self.max_sequences = max_sequences
        # gpt2_eval_batch runs on the first context's threads: a context of
        # one position that never holds a token leads every batch.
        self.driver = model.context(n_ctx=1, n_threads=n_threads)
        self.lock = threading.Condition()
        self.waiting = []
        self.running = []
        self.steps = 0
        thread = threading.Thread(target=self._loop, name="gpt2-engine", daemon=True)
        thread.start()

    def submit(self, sequences):
        with self.lock:
            self.waiting.extend(sequences)
            self.lock.notify()

    def active(self):
        with self.lock:
            return len(self.running) + len(self.waiting)

    def _loop(self):
        while True:
            with self.lock:
                while not self.waiting and not self.running:
                    self.lock.wait()
                room = max(0, self.max_sequences - len(self.running))
                joining = []
                # a request's sequences join together (forks need their parent)
                while self.waiting and (room > 0 or not self.running):
                    first = self.waiting[0]
                    group = [s for s in self.waiting if s.request is first.request]
                    if len(group) > room and self.running:
                        break
                    joining += group
                    room -= len(group)
                    self.waiting = [s for s in self.waiting if s.request is not first.request]
            try:
                self._step(joining)
            except Exception as error:  # noqa: B902 - reported to every client in the step
                for sequence in self.running + joining:
                    self._finish(sequence, None, "engine error: %s" % error)
                self.running = []

    def _step(self, joining):
        contexts, tokens = [self.driver], [[]]
        for sequence in list(self.running):
            if sequence.request.cancelled.is_set():
                self._finish(sequence, None)
                continue
            token = self._next_token(sequence)
            if token is not None:
                contexts.append(sequence.context)
                tokens.append([token])
        roots = []
        for sequence in joining:
            if sequence.request.cancelled.is_set():
                sequence.emit("end", (None, 0))
                continue
            sequence.detok = self.model.detokenizer()
            if sequence.parent is None:
                sequence.context = self.model.context(
                    n_ctx=len(sequence.prompt) + sequence.max_tokens, n_threads=1,
                    seed=sequence.seed, logits_all=sequence.echo and sequence.logprobs is not None)
                contexts.append(sequence.context)
                tokens.append(sequence.prompt)
                roots.append(sequence)
            else:
                sequence.parent.children.append(sequence)
        if len(contexts) > 1:
            eval_batch(contexts, tokens)
            self.steps += 1
        for root in roots:
            for child in root.children:
                child.context = root.context.copy(seed=child.seed, n_threads=1)
            for sequence in [root] + root.children:
                self._start(sequence)
            root.children = []

    def _start(self, sequence):
        """After the prompt: the echo, then the sequence runs."""
        if sequence.echo:
            text = "".join(sequence.detok.push(token) for token in sequence.prompt)
            entries = []
            if sequence.logprobs is not None:
                for i, token in enumerate(sequence.prompt):
                    if i == 0:
                        entries.append((token, None, []))
                    else:
                        entries.append((token, sequence.context.logprob(token, i - 1),
                                        sequence.context.top_logprobs(sequence.logprobs, i - 1)))
            sequence.emit("text", (text, entries))
        if sequence.max_tokens == 0:
            self._finish(sequence, "length")
        else:
            self.running.append(sequence)

    def _next_token(self, sequence):
        """Samples the sequence's next token and reports it; the token to
        evaluate, or None when the sequence has finished."""
        context = sequence.context
        if context.pos >= context.n_ctx:
            self._finish(sequence, "length")
            return None
        token, logprob = context._sample_logprob(sequence.sampling)
        if token == self.model.eot:
            self._finish(sequence, "stop")
            return None
        sequence.generated += 1
        entries = []
        if sequence.logprobs is not None:
            top = context.top_logprobs(sequence.logprobs) if sequence.logprobs else []
            entries.append((token, logprob, top))
        text, stopped = sequence.stops.feed(sequence.detok.push(token))
        if stopped:
            entries = []  # the token that holds the stop string is not shown
        if text or entries:
            sequence.emit("text", (text, entries))
        if stopped:
            self._finish(sequence, "stop")
            return None
        if sequence.generated >= sequence.max_tokens:
            self._finish(sequence, "length")
            return None
        return token

    def _finish(self, sequence, reason, error=None):
        if sequence in self.running:
            self.running.remove(sequence)
        if reason is not None and sequence.detok is not None:
            text, stopped = sequence.stops.feed(sequence.detok.flush())
            text += "" if stopped else sequence.stops.finish()
            if text:
                sequence.emit("text", (text, []))
            reason = "stop" if stopped else reason
        for handle in (sequence.context, sequence.detok):
            if handle is not None:
                handle.close()
        sequence.context = sequence.detok = None
        if error is not None:
            sequence.emit("error", error)
        else:
            sequence.emit("end", (reason, sequence.generated))
