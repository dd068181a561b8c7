"""Streaming generation: sample, evaluate, detokenize, yield; with stop
strings that are never yielded, even in part, nor left in the cache."""
from ._convert import checked_int
from ._sampling import sample_params
from .batch import eval_batch
from .errors import InvalidArgumentError


class _StopFilter:
    """Passes text through, holding back any tail that could be the start
    of a stop string, and cuts the text where a stop string appears."""

    def __init__(self, stop):
        stops = [] if stop is None else [stop] if isinstance(stop, str) else list(stop)
        if not all(isinstance(s, str) and s for s in stops):
            raise InvalidArgumentError("stop must be a non-empty str or a list of them: %r"
                                       % (stop,))
        self.stops = stops
        self.longest = max(map(len, stops), default=0)
        self.pending = ""

    def feed(self, text):
        """(text that is safe to yield, whether a stop string was found)."""
        self.pending += text
        found = [at for at in (self.pending.find(s) for s in self.stops) if at >= 0]
        if found:
            ready, self.pending = self.pending[:min(found)], ""  # the rest is never shown
            return ready, True
        keep = 0
        for length in range(min(len(self.pending), self.longest - 1), 0, -1):
            if any(s.startswith(self.pending[-length:]) for s in self.stops):
                keep = length
                break
        cut = len(self.pending) - keep
        ready, self.pending = self.pending[:cut], self.pending[cut:]
        return ready, False

    def finish(self):
        ready, self.pending = self.pending, ""
        return ready


class Generation:
    """What generate() returns: an iterator of the text pieces that keeps,
    once it has ended, why (finish_reason: "length", "eot", "stop" or
    "context"; for n > 1 the list of the n reasons) and the sampler seed it
    ran with (seed). finish_reason is None until the end; it is also the
    value of the StopIteration that ends the iteration, as before."""

    def __init__(self, stream, seed):
        self._stream = stream
        self.seed = seed
        self.finish_reason = None
        # With logprobs=k (n = 1): per token yielded, its id, log-probability
        # (None for the first echoed prompt token) and top k (token, logprob).
        self.tokens = []
        self.token_logprobs = []
        self.top_logprobs = []

    def _record(self, token, logprob, top):
        self.tokens.append(token)
        self.token_logprobs.append(logprob)
        self.top_logprobs.append(top)

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._stream)
        except StopIteration as end:
            if self.finish_reason is None:
                self.finish_reason = end.value
            raise StopIteration(self.finish_reason) from None

    def close(self):
        """Stops the generation (its own context, if any, is closed)."""
        self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exception):
        self.close()


def _prompt_ids(model, prompt, special, at_start):
    """The prompt as token ids; empty at the start of a context: <|endoftext|>."""
    if isinstance(prompt, (str, bytes, bytearray, memoryview)):
        prompt = model.tokenize(prompt, special)
    else:
        prompt = list(prompt)
    if not prompt and at_start:
        if model.eot is None:
            raise InvalidArgumentError("empty prompt, and the vocabulary has no <|endoftext|>")
        prompt = [model.eot]
    return prompt


def generate(context, prompt, max_tokens, stop, special, stop_at_eot, params, logprobs=None,
             echo=False):
    """Context.generate's Generation; arguments checked at the call."""
    max_tokens = checked_int("max_tokens", max_tokens, 0, (1 << 63) - 1)
    if logprobs is not None:
        logprobs = checked_int("logprobs", logprobs, 0, context.model.n_vocab)
        if echo and not context._params.logits_all:
            raise InvalidArgumentError("echo with logprobs needs a context made with "
                                       "logits_all=True (the prompt's rows)")
    prompt = _prompt_ids(context.model, prompt, special, context.pos == 0)
    stops = _StopFilter(stop)
    generation = Generation(None, context.seed)
    generation._stream = _run(context, context.model.detokenizer(), prompt, max_tokens, stops,
                              stop_at_eot, params, generation, logprobs, echo)
    return generation


def _rewind(context, prompt, start, tokens, shown):
    """After a stop string: the cache ends where the output ended. It keeps
    the longest run of generated tokens whose text begins `shown` (the
    generated text yielded), then the rest of `shown` (the part of the next
    token before the stop string) tokenized and evaluated, so that a later
    generate() continues the text the caller saw, not the hidden stop.
    gpt2_truncate drops the logits, so with no rest the last kept token is
    evaluated again for them (with an empty prompt and nothing kept, its id
    is unknown here: the context then needs an eval before sampling)."""
    model = context.model
    for kept in range(len(tokens), -1, -1):
        # A prefix ending inside a character decodes to U+FFFD there, which
        # `shown` does not have: it is skipped.
        text = model.decode(tokens[:kept])
        if shown.startswith(text):
            break
    rest = model.tokenize(shown[len(text):])
    held = list(prompt) + tokens[:kept]
    if not rest and held:
        start, rest = start - 1, [held[-1]]
    context.truncate(start + kept)
    if rest:
        context.eval(rest)
    return kept


def _run(context, detok, prompt, max_tokens, stops, stop_at_eot, params, generation,
         logprobs, echo):
    eot = context.model.eot if stop_at_eot else None
    try:
        if prompt:
            context.eval(prompt)
        if echo:
            text = _echo(context, detok, prompt, generation, logprobs)
            if text:
                yield text
        start, tokens, shown = context.pos, [], []
        reason = "length"
        for _ in range(max_tokens):
            if context.pos >= context.n_ctx:
                reason = "context"
                break
            if logprobs is None:
                token = context._sample(params)
            else:
                token, logprob = context._sample_logprob(params)
            if token == eot:
                reason = "eot"
                break
            if logprobs is not None:
                generation._record(token, logprob,
                                   context.top_logprobs(logprobs) if logprobs else [])
            context.eval([token])
            tokens.append(token)
            text, stopped = stops.feed(detok.push(token))
            if stopped:
                _cut(generation, len(generation.tokens) - len(tokens) +
                     _rewind(context, prompt, start, tokens, "".join(shown) + text))
            if text:
                yield text
                shown.append(text)
            if stopped:
                return "stop"
        text, stopped = stops.feed(detok.flush())
        text += "" if stopped else stops.finish()
        if stopped:
            _cut(generation, len(generation.tokens) - len(tokens) +
                 _rewind(context, prompt, start, tokens, "".join(shown) + text))
        if text:
            yield text
        return "stop" if stopped else reason
    finally:
        detok.close()


def _echo(context, detok, prompt, generation, logprobs):
    """echo=True: the prompt's text (through the detokenizer, so a
    character split across the prompt and the output comes out whole) and,
    with logprobs, its tokens' records from the logits_all rows of the
    prompt's batch (the first token has none)."""
    if logprobs is not None:
        for i, token in enumerate(prompt):
            if i == 0:
                generation._record(token, None, [])
                continue
            row = i - 1  # the row of the token before: the distribution of this one
            generation._record(token, context.logprob(token, row),
                               context.top_logprobs(logprobs, row) if logprobs else [])
    return "".join(detok.push(token) for token in prompt)


def _cut(generation, kept):
    """Drops the records of the tokens a stop string's rewind dropped."""
    del generation.tokens[kept:], generation.token_logprobs[kept:]
    del generation.top_logprobs[kept:]


def generate_in_new_context(model, context_params, prompt, max_tokens, stop, special,
                            stop_at_eot, sampling, logprobs=None, echo=False):
    """Model.generate: a context that lives as long as the generator."""
    params = sample_params(**sampling)
    context = model.context(**context_params)
    try:
        generation = generate(context, prompt, max_tokens, stop, special, stop_at_eot, params,
                              logprobs, echo)
    except BaseException:
        context.close()
        raise
    generation._stream = _closing(context, generation._stream)
    return generation


def _closing(context, stream):
    with context:
        return (yield from stream)


def generate_many_in_new_context(model, context_params, n, prompt, max_tokens, stop, special,
                                 stop_at_eot, sampling):
    """Model.generate with n > 1: the prompt is evaluated once in a context
    of its own, forked n times (completion i samples with seed + i, on one
    thread: the batches run on the prompt's context's threads), and every
    step appends one token to each running completion in one eval_batch.
    Yields (i, piece); returns the n reasons (the Generation's
    finish_reason). Each completion is what n = 1
    with seed + i gives: same tokens, same pieces, same reason."""
    params = sample_params(**sampling)
    max_tokens = checked_int("max_tokens", max_tokens, 0, (1 << 63) - 1)
    stops = [_StopFilter(stop) for _ in range(n)]
    prompt = _prompt_ids(model, prompt, special, True)
    root = model.context(**context_params)
    return _closing(root, _run_many(root, n, prompt, max_tokens, stops, stop_at_eot, params))


def _run_many(root, n, prompt, max_tokens, stops, stop_at_eot, params):
    model = root.model
    eot = model.eot if stop_at_eot else None
    forks, detoks = [], []
    try:
        root.eval(prompt)
        seed = root._params.seed
        for i in range(n):
            forks.append(root.copy(seed=(seed + i) % (1 << 64), n_threads=1))
            detoks.append(model.detokenizer())
        reasons = [None] * n
        for _ in range(max_tokens):
            step = {}
            for i, fork in enumerate(forks):
                if reasons[i] is not None:
                    continue
                if fork.pos >= fork.n_ctx:
                    reasons[i] = "context"
                    continue
                token = fork._sample(params)
                if token == eot:
                    reasons[i] = "eot"
                    continue
                step[i] = token
            if not step:
                break
            eval_batch([root] + forks, [[]] + [[step[i]] if i in step else [] for i in range(n)])
            for i, token in step.items():
                text, stopped = stops[i].feed(detoks[i].push(token))
                if text:
                    yield i, text
                if stopped:
                    reasons[i] = "stop"
        for i in range(n):
            if reasons[i] == "stop":
                continue
            text, stopped = stops[i].feed(detoks[i].flush())
            text += "" if stopped else stops[i].finish()
            if text:
                yield i, text
            reasons[i] = "stop" if stopped else reasons[i] or "length"
        return reasons
    finally:
        for detok in detoks:
            detok.close()
        for fork in forks:
            fork.close()
