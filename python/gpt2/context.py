"""gpt2.Context: one sequence on a model (KV cache, logits, sampler)."""
import array
import ctypes
import weakref

from . import _convert
from ._abort import AbortHook, reporting
from ._handle import Handle
from ._sampling import sample_params
from ._stream import generate
from ._structs import KV_TYPES, AbortCallback, ContextParams, TokenLogprob
from .errors import RangeError, StateError

_KEEP = object()  # copy(): an argument not given

try:
    import numpy as _numpy
except ImportError:
    _numpy = None


class Context:
    """One sequence evaluated by a model: its KV cache, the logits of the
    last evaluated batch, the sampler's random state and the token history.
    A context belongs to one thread at a time; different contexts on one
    model may run in parallel (the library releases the GIL).
    """

    def __init__(self, model, *, n_ctx=0, n_threads=0, seed=0, logits_all=False, kv_type="f32",
                 abort=None, embeddings=False, threads=None):
        """n_ctx: positions in the KV cache (0 = the model's n_ctx_train);
        n_threads: 0 = every online CPU (`threads` is its 0.2 name, still
        accepted); seed: the sampler's seed (0..2**64-1; 0 by default, as
        GPT2_CONTEXT_PARAMS_INIT: a context is reproducible unless told
        otherwise, while Model.generate draws a fresh seed per call);
        logits_all: keep the logits of every token of a batch, not only the
        last; kv_type: "f32" or "f16" KV cache; abort: None, or an object
        with is_set() (a threading.Event) or a callable, asked between
        layers of every evaluation: true stops it with gpt2.AbortedError and
        the context as it was (an exception raised there does too, and is
        the error's __cause__); embeddings: keep the final hidden states of
        every token of the last batch, for embeddings()."""
        params = ContextParams(n_ctx=_convert.uint("n_ctx", n_ctx, 32),
                               n_threads=_convert.n_threads(n_threads, threads),
                               seed=_convert.uint("seed", seed, 64),
                               logits_all=1 if logits_all else 0,
                               kv_type=_convert.choice("kv_type", kv_type, KV_TYPES),
                               embeddings=1 if embeddings else 0)
        hook = None if abort is None else AbortHook(abort)
        if hook is not None:
            params.abort_callback = hook.callback
        pointer = ctypes.c_void_p()
        with model._handle as model_pointer:
            model.library.gpt2_context_new(model_pointer, ctypes.byref(params),
                                           ctypes.byref(pointer))
        self._own(model, pointer.value, params, hook)

    def _own(self, model, pointer, params, hook):
        """Takes ownership of the C context at `pointer`, made with `params`."""
        self.model = model
        self.library = model.library
        self._n_vocab = model.n_vocab
        self._params = params
        self._abort = hook  # the C context calls it: it lives as long as this object
        self._handle = Handle(pointer, self.library.gpt2_context_free, "context")
        self._finalizer = weakref.finalize(self, self._handle.close)
        model._adopt(self)

    # ---- lifetime ------------------------------------------------------
    @property
    def closed(self):
        return self._handle.closed

    def close(self):
        """Frees the context; further calls raise gpt2.ClosedError."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *_exception):
        self.close()

    def __repr__(self):
        if self.closed:
            return "<gpt2.Context closed>"
        return "<gpt2.Context pos=%d n_ctx=%d>" % (self.pos, self.n_ctx)

    # ---- state ---------------------------------------------------------
    @property
    def n_ctx(self):
        """Positions in the KV cache."""
        with self._handle as context:
            return self.library.gpt2_n_ctx(context)

    @property
    def seed(self):
        """The sampler's seed, as given at creation (or to copy())."""
        return self._params.seed

    @property
    def pos(self):
        """Number of tokens in the KV cache."""
        with self._handle as context:
            return self.library.gpt2_pos(context)

    def eval(self, ids):
        """Appends the tokens `ids` at the current position, evaluated as one
        batch. On failure (RangeError for a bad id or no room left,
        AbortedError) the context is as it was."""
        tokens, count = _convert.token_array(ids)
        with self._handle as context, reporting([self]):
            self.library.gpt2_eval(context, tokens, count)

    def logits(self, i=-1):
        """A copy of the logits of the i-th token of the last eval batch
        (-1: the last; others need logits_all=True): a numpy float32 array
        when numpy is importable, else an array.array("f")."""
        i = _convert.int32("logits row", i, RangeError)
        with self._handle as context:
            pointer = self.library.gpt2_logits(context, i)
            if not pointer:
                if i != -1 and self.library.gpt2_logits(context, -1):
                    if self._params.logits_all:
                        raise RangeError("no logits for row %d: the last batch has fewer "
                                         "tokens" % i)
                    raise RangeError(
                        "no logits for row %d of the last batch (rows other than the "
                        "last need logits_all=True)" % i)
                raise StateError("no logits: eval() tokens first (truncate() discards them)")
            if _numpy is not None:
                return _numpy.ctypeslib.as_array(pointer, (self._n_vocab,)).copy()
            values = array.array("f")
            values.frombytes(ctypes.string_at(pointer, 4 * self._n_vocab))
            return values

    def logprob(self, token, i=-1):
        """The log-probability (natural log, float64 log-softmax of the
        logits) of `token` following the i-th token of the last batch (i as
        for logits())."""
        token = _convert.int32("token", token, RangeError)
        i = _convert.int32("logits row", i, RangeError)
        value = ctypes.c_double()
        with self._handle as context:
            self.library.gpt2_logprob(context, i, token, ctypes.byref(value))
        return value.value

    def top_logprobs(self, k, i=-1):
        """The k most probable tokens after the i-th token of the last batch,
        most probable first (ties: lower id first), as (token, logprob)."""
        k = _convert.checked_int("k", k, 0, (1 << 31) - 1)
        i = _convert.int32("logits row", i, RangeError)
        with self._handle as context:
            buffer, count = _convert.read_sized(
                lambda out, cap, n_out: self.library.gpt2_top_logprobs(
                    context, i, k, out, cap, n_out),
                lambda cap: (TokenLogprob * cap)(), min(k, self._n_vocab))
        return [(entry.token, entry.logprob) for entry in buffer[:count]]

    def embeddings(self):
        """The final hidden states (after the last layer norm) of the last
        batch's tokens, a context made with embeddings=True: a numpy float32
        array of shape (tokens, n_embd), or without numpy a list of
        array.array("f") rows."""
        n_embd = self.model.n_embd
        with self._handle as context:
            buffer, count = _convert.read_sized(
                lambda out, cap, n_out: self.library.gpt2_embeddings(context, out, cap, n_out),
                lambda cap: (ctypes.c_float * cap)(), n_embd)
        if _numpy is not None:
            return _numpy.ctypeslib.as_array(buffer)[:count].reshape(-1, n_embd).copy()
        flat = array.array("f", buffer[:count])
        return [flat[row:row + n_embd] for row in range(0, count, n_embd)]

    def truncate(self, pos):
        """Forgets every position >= pos (the logits too, until the next eval)."""
        pos = _convert.checked_int("truncate position", pos, 0, (1 << 63) - 1, RangeError)
        with self._handle as context:
            self.library.gpt2_truncate(context, pos)

    # ---- fork and saved state -----------------------------------------
    def copy(self, *, seed=_KEEP, n_threads=_KEEP, abort=_KEEP, threads=_KEEP):
        """A new context holding this one's sequence: positions, KV cache
        rows in use, token history, last logits (gpt2_context_copy; only the
        positions in use are copied). With no arguments it is exact: this
        context's parameters, sampler state and abort hook, so it samples
        what this one would. Given any of seed, n_threads (old name:
        threads) or abort, it takes
        this context's parameters with those replaced, and its sampler
        starts from `seed` (default: this context's seed). For n
        completions of one prompt, beam search, prompt caching."""
        if threads is not _KEEP:
            n_threads = _convert.n_threads(0 if n_threads is _KEEP else n_threads, threads)
        if seed is _KEEP and n_threads is _KEEP and abort is _KEEP:
            params, hook, params_pointer = self._params, self._abort, None
        else:
            params = ContextParams.from_buffer_copy(self._params)
            if seed is not _KEEP:
                params.seed = _convert.uint("seed", seed, 64)
            if n_threads is not _KEEP:
                params.n_threads = _convert.uint("n_threads", n_threads, 32)
            hook = self._abort if abort is _KEEP else None if abort is None else AbortHook(abort)
            params.abort_callback = hook.callback if hook is not None else AbortCallback()
            params_pointer = ctypes.byref(params)
        pointer = ctypes.c_void_p()
        with self._handle as context:
            self.library.gpt2_context_copy(context, params_pointer, ctypes.byref(pointer))
        copy = Context.__new__(Context)
        copy._own(self.model, pointer.value, params, hook)
        return copy

    def save_state(self):
        """The context's state as bytes (gpt2_state_save): positions, token
        history, KV cache rows in use, last logits and sampler state, with a
        format version and a fingerprint of the model. load_state() takes it
        back into a context of the same model and KV type."""
        with self._handle as context:
            return _convert.read_bytes(
                lambda out, cap, n_out: self.library.gpt2_state_save(context, out, cap, n_out), 0)

    def load_state(self, data):
        """Replaces this context's sequence with the state `data` (bytes
        from save_state). State of another model or KV type, or cut or
        corrupted bytes, raise gpt2.FormatError; more positions than n_ctx,
        gpt2.RangeError. On failure the context is as it was."""
        data = bytes(data)
        buffer = (ctypes.c_char * len(data)).from_buffer_copy(data)
        with self._handle as context:
            self.library.gpt2_state_load(context, buffer, len(data))

    # ---- sampling and generation ---------------------------------------
    def sample(self, **sampling):
        """Draws the next token id from the last logits (it is not
        evaluated: pass it to eval() to continue). Keyword arguments as
        gpt2.sample_params: temperature (0 = greedy), top_k, top_p, min_p,
        repetition_penalty, repeat_last_n, presence_penalty,
        frequency_penalty, logit_bias."""
        return self._sample(sample_params(**sampling))

    def _sample(self, params):
        token = ctypes.c_int32()
        with self._handle as context:
            self.library.gpt2_sample(context, ctypes.byref(params), ctypes.byref(token))
        return token.value

    def sample_logprob(self, **sampling):
        """sample(), and the drawn token's log-probability under the model
        (of the raw logits, whatever the sampling arguments, as OpenAI's
        logprobs): (token, logprob)."""
        return self._sample_logprob(sample_params(**sampling))

    def _sample_logprob(self, params):
        token, logprob = ctypes.c_int32(), ctypes.c_double()
        with self._handle as context:
            self.library.gpt2_sample_logprob(context, ctypes.byref(params), ctypes.byref(token),
                                             ctypes.byref(logprob))
        return token.value, logprob.value

    def generate(self, prompt=(), max_tokens=16, *, stop=None, special=False,
                 stop_at_eot=True, logprobs=None, echo=False, **sampling):
        """A gpt2.Generation: iterating it yields the text generated after
        `prompt`, piece by piece as tokens are sampled; each piece is whole
        UTF-8 characters (bytes that can never be valid UTF-8 come out as
        U+FFFD).

        prompt: str or bytes (tokenized, `special` as in Model.tokenize) or
        token ids, appended at the current position; empty at position 0
        starts from <|endoftext|>, empty later continues from the last
        logits. Each sampled token is evaluated before its text is yielded,
        so the context always holds everything generated. Generation ends
        after max_tokens tokens ("length"), at an <|endoftext|> if
        stop_at_eot ("eot"; it is neither evaluated nor yielded), when a
        `stop` string (str or list of str) appears ("stop"; the text from
        it on is not yielded, and the context is cut back to end where the
        yielded text ends), or when the context is full ("context"). The
        reason is the Generation's finish_reason once it has ended (and
        the StopIteration's value). logprobs=k records each token's id,
        log-probability and top k on the Generation (tokens,
        token_logprobs, top_logprobs); echo=True yields the prompt's text
        first (with logprobs, the context needs logits_all=True). Sampling
        keyword arguments as sample()."""
        return generate(self, prompt, max_tokens, stop, special, stop_at_eot,
                        sample_params(**sampling), logprobs, echo)
