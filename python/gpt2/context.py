"""gpt2.Context: one sequence on a model (KV cache, logits, sampler)."""
import array
import ctypes
import weakref

from . import _convert
from ._handle import Handle
from ._sampling import sample_params
from ._stream import generate
from ._structs import KV_TYPES, ContextParams
from .errors import RangeError, StateError

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

    def __init__(self, model, *, n_ctx=0, threads=0, seed=0, logits_all=False, kv_type="f32"):
        """n_ctx: positions in the KV cache (0 = the model's n_ctx_train);
        threads: 0 = every online CPU; seed: the sampler's seed (0..2**64-1);
        logits_all: keep the logits of every token of a batch, not only the
        last; kv_type: "f32" or "f16" KV cache."""
        params = ContextParams(n_ctx=_convert.uint("n_ctx", n_ctx, 32),
                               n_threads=_convert.uint("threads", threads, 32),
                               seed=_convert.uint("seed", seed, 64),
                               logits_all=1 if logits_all else 0,
                               kv_type=_convert.choice("kv_type", kv_type, KV_TYPES))
        self.model = model
        self.library = model.library
        self._n_vocab = model.n_vocab
        pointer = ctypes.c_void_p()
        with model._handle as model_pointer:
            self.library.gpt2_context_new(model_pointer, ctypes.byref(params),
                                          ctypes.byref(pointer))
        self._handle = Handle(pointer.value, self.library.gpt2_context_free, "context")
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
    def pos(self):
        """Number of tokens in the KV cache."""
        with self._handle as context:
            return self.library.gpt2_pos(context)

    def eval(self, ids):
        """Appends the tokens `ids` at the current position, evaluated as one
        batch. On failure (RangeError for a bad id or no room left) the
        context is as it was."""
        tokens, count = _convert.token_array(ids)
        with self._handle as context:
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
                    raise RangeError(
                        "no logits for row %d of the last batch (rows other than the "
                        "last need logits_all=True)" % i)
                raise StateError("no logits: eval() tokens first (truncate() discards them)")
            if _numpy is not None:
                return _numpy.ctypeslib.as_array(pointer, (self._n_vocab,)).copy()
            values = array.array("f")
            values.frombytes(ctypes.string_at(pointer, 4 * self._n_vocab))
            return values

    def truncate(self, pos):
        """Forgets every position >= pos (the logits too, until the next eval)."""
        pos = _convert.checked_int("truncate position", pos, 0, (1 << 63) - 1, RangeError)
        with self._handle as context:
            self.library.gpt2_truncate(context, pos)

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

    def generate(self, prompt=(), max_tokens=16, *, stop=None, special=False,
                 stop_at_eot=True, **sampling):
        """Yields the text generated after `prompt`, piece by piece as tokens
        are sampled; each piece is whole UTF-8 characters (bytes that can
        never be valid UTF-8 come out as U+FFFD).

        prompt: str or bytes (tokenized, `special` as in Model.tokenize) or
        token ids, appended at the current position; empty at position 0
        starts from <|endoftext|>, empty later continues from the last
        logits. Each sampled token is evaluated before its text is yielded,
        so the context always holds everything generated. Generation ends
        after max_tokens tokens ("length"), at an <|endoftext|> if
        stop_at_eot ("eot"; it is neither evaluated nor yielded), when a
        `stop` string (str or list of str) appears ("stop"; the text from
        it on is not yielded), or when the context is full ("context"). The
        reason is the generator's return value (StopIteration.value).
        Sampling keyword arguments as sample()."""
        return generate(self, prompt, max_tokens, stop, special, stop_at_eot,
                        sample_params(**sampling))
