"""Streaming generation: sample, evaluate, detokenize, yield; with stop
strings that are never yielded, even in part."""
from ._convert import checked_int
from ._sampling import sample_params
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
            return self.pending[:min(found)], True
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


def generate(context, prompt, max_tokens, stop, special, stop_at_eot, params):
    """Context.generate's generator; arguments checked before the first next()."""
    max_tokens = checked_int("max_tokens", max_tokens, 0, (1 << 63) - 1)
    model = context.model
    if isinstance(prompt, (str, bytes, bytearray, memoryview)):
        prompt = model.tokenize(prompt, special)
    else:
        prompt = list(prompt)
    if not prompt and context.pos == 0:
        if model.eot is None:
            raise InvalidArgumentError("empty prompt, and the vocabulary has no <|endoftext|>")
        prompt = [model.eot]
    stops = _StopFilter(stop)
    return _run(context, model.detokenizer(), prompt, max_tokens, stops, stop_at_eot, params)


def _run(context, detok, prompt, max_tokens, stops, stop_at_eot, params):
    eot = context.model.eot if stop_at_eot else None
    try:
        if prompt:
            context.eval(prompt)
        reason = "length"
        for _ in range(max_tokens):
            if context.pos >= context.n_ctx:
                reason = "context"
                break
            token = context._sample(params)
            if token == eot:
                reason = "eot"
                break
            context.eval([token])
            text, stopped = stops.feed(detok.push(token))
            if text:
                yield text
            if stopped:
                return "stop"
        text, stopped = stops.feed(detok.flush())
        text += "" if stopped else stops.finish()
        if text:
            yield text
        return "stop" if stopped else reason
    finally:
        detok.close()


def generate_in_new_context(model, context_params, prompt, max_tokens, stop, special,
                            stop_at_eot, sampling):
    """Model.generate: a context that lives as long as the generator."""
    params = sample_params(**sampling)
    context = model.context(**context_params)
    try:
        stream = generate(context, prompt, max_tokens, stop, special, stop_at_eot, params)
    except BaseException:
        context.close()
        raise
    return _closing(context, stream)


def _closing(context, stream):
    with context:
        return (yield from stream)
