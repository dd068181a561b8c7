"""gpt2.Model: a loaded model (weights and vocabulary)."""
import ctypes
import math
import os
import secrets
import threading
import weakref

from . import _convert
from ._handle import Handle
from ._library import load_library
from ._stream import Generation, generate_in_new_context, generate_many_in_new_context
from ._structs import TOKENIZE_SPECIAL, WEIGHT_TYPES, LoadParams, SaveParams, ScoreParams
from .context import Context
from .detokenizer import Detokenizer
from ._abort import ProgressHook
from .errors import AbortedError, InvalidArgumentError, RangeError


def _as_bytes(text):
    if isinstance(text, str):
        # surrogateescape: text decoded from arbitrary bytes that way
        # tokenizes back to exactly those bytes.
        return text.encode("utf-8", "surrogateescape")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError("text must be str or bytes, not %s" % type(text).__name__)


class Score:
    """Model.score's result: `tokens` (ids) and `logprobs` (natural log,
    one per token), iterable as (token, logprob) pairs, with the totals
    `total` (sum of the log-probabilities), `n` and `perplexity`."""

    def __init__(self, tokens, logprobs):
        self.tokens = tokens
        self.logprobs = logprobs
        self.n = len(tokens)
        self.total = math.fsum(logprobs)
        self.perplexity = math.exp(-self.total / self.n)

    def __iter__(self):
        return iter(zip(self.tokens, self.logprobs))

    def __len__(self):
        return self.n

    def __repr__(self):
        return "<gpt2.Score n=%d total=%.4f perplexity=%.4f>" % (self.n, self.total,
                                                                 self.perplexity)


class Model:
    """A GPT-2 model loaded by libgpt2 from a Hugging Face directory or a
    .gguf file. Immutable: its methods may run from any number of threads.

    close() (or leaving a `with` block) first closes every context and
    detokenizer made from it, then frees the model; garbage collection
    frees it too, after its contexts (each holds a reference to it).
    """

    def __init__(self, path, *, weight_type="auto", use_mmap=True, fp32_products=False,
                 n_threads=0, progress=None, library=None, threads=None):
        """weight_type: "auto" (as stored), "f32", "f16", "bf16", "q8_0" or
        "q4_0" converts matrices at load. fp32_products: every product in
        FP32, never the faster ones that round activations. n_threads: those
        that convert the weights at load, 0 = every online CPU (`threads`
        is its 0.2 name, still accepted). progress: None,
        or a callable called as progress(done) with the part of the load done
        (0 to 1, ending at 1), on the loading thread; a true return cancels
        the load with AbortedError, and so does an exception raised there
        (then the AbortedError's __cause__). library: a path to libgpt2 (see
        gpt2.load_library for the default search)."""
        self.library = load_library(library)
        params = LoadParams(weight_type=_convert.choice("weight_type", weight_type, WEIGHT_TYPES),
                            use_mmap=1 if use_mmap else 0,
                            fp32_products=1 if fp32_products else 0,
                            n_threads=_convert.n_threads(n_threads, threads))
        hook = None if progress is None else ProgressHook(progress)
        if hook is not None:
            params.progress_callback = hook.callback
        self.path = os.fspath(path)
        pointer = ctypes.c_void_p()
        try:
            self.library.gpt2_load(os.fsencode(self.path), ctypes.byref(params),
                                   ctypes.byref(pointer))
        except AbortedError as aborted:
            if hook is None or hook.error is None:
                raise
            raise aborted from hook.error
        self._handle = Handle(pointer.value, self.library.gpt2_model_free, "model")
        self._finalizer = weakref.finalize(self, self._handle.close)
        self._children = weakref.WeakSet()
        self._children_lock = threading.Lock()
        self._closing = False
        lib = self.library
        with self._handle as model:
            self._info = {
                "n_vocab": lib.gpt2_n_vocab(model),
                "n_ctx_train": lib.gpt2_n_ctx_train(model),
                "n_embd": lib.gpt2_n_embd(model),
                "n_layer": lib.gpt2_n_layer(model),
                "n_head": lib.gpt2_n_head(model),
                "eot": lib.gpt2_token_eot(model),
                "size": lib.gpt2_model_size(model),
                "n_params": lib.gpt2_model_n_params(model),
                "size_per_token": lib.gpt2_model_size_per_token(model),
                "isa": lib.gpt2_model_isa(model).decode("ascii"),
            }

    # ---- facts (read at load) ------------------------------------------
    n_vocab = property(lambda self: self._info["n_vocab"], doc="Vocabulary size.")
    n_ctx_train = property(lambda self: self._info["n_ctx_train"],
                           doc="Positions the model was trained with.")
    n_embd = property(lambda self: self._info["n_embd"])
    n_layer = property(lambda self: self._info["n_layer"])
    n_head = property(lambda self: self._info["n_head"])
    size = property(lambda self: self._info["size"], doc="Bytes of weights in memory.")
    n_params = property(lambda self: self._info["n_params"], doc="Number of weights.")
    size_per_token = property(lambda self: self._info["size_per_token"],
                              doc="Bytes of weights one evaluated token reads.")
    isa = property(lambda self: self._info["isa"], doc="Kernel set in use.")

    @property
    def eot(self):
        """The <|endoftext|> token id, or None if the vocabulary has none."""
        eot = self._info["eot"]
        return None if eot < 0 else eot

    # ---- lifetime ------------------------------------------------------
    @property
    def closed(self):
        return self._handle.closed

    def close(self):
        """Closes the contexts and detokenizers made from this model, then
        frees it. Further calls raise gpt2.ClosedError. Idempotent."""
        with self._children_lock:
            self._closing = True
            children = list(self._children)
        for child in children:
            child.close()
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *_exception):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else "n_vocab=%d n_layer=%d n_embd=%d" % (
            self.n_vocab, self.n_layer, self.n_embd)
        return "<gpt2.Model %r %s>" % (self.path, state)

    def _adopt(self, child):
        """Registers a context or detokenizer, closed with the model (at
        once if the model is being closed by another thread)."""
        with self._children_lock:
            if not self._closing:
                self._children.add(child)
                return
        child.close()

    def save_gguf(self, path, weight_type="auto"):
        """Writes the model to `path` as a GGUF file that libgpt2 and
        llama.cpp load (gpt2_save_gguf). weight_type: "auto" (as held),
        "f32", "f16", "bf16", "q8_0" or "q4_0". On failure `path` is
        untouched."""
        params = SaveParams(weight_type=_convert.choice("weight_type", weight_type,
                                                        WEIGHT_TYPES))
        with self._handle as model:
            self.library.gpt2_save_gguf(model, os.fsencode(os.fspath(path)),
                                        ctypes.byref(params))

    # ---- tokenizer -----------------------------------------------------
    def tokenize(self, text, special=False):
        """Token ids of `text` (str, UTF-8 encoded, or bytes: any bytes are
        tokenized losslessly). special=True turns the literal
        "<|endoftext|>" into the EOT token."""
        data = _as_bytes(text)
        flags = TOKENIZE_SPECIAL if special else 0
        with self._handle as model:
            # A token is at least one byte, so len + 1 is always room enough.
            buffer, count = _convert.read_sized(
                lambda out, cap, n_out: self.library.gpt2_tokenize(
                    model, data, len(data), flags, out, cap, n_out),
                _convert.token_buffer, len(data) + 1)
        return buffer[:count]

    def token_bytes(self, token):
        """The raw bytes of one token."""
        token = _convert.int32("token", token, RangeError)
        length = ctypes.c_size_t()
        with self._handle as model:
            pointer = self.library.gpt2_token_bytes(model, token, ctypes.byref(length))
            if not pointer:
                raise RangeError("token %d is outside the vocabulary of %d"
                                 % (token, self.n_vocab))
            return ctypes.string_at(pointer, length.value)

    def detokenize(self, ids):
        """The concatenated raw bytes of the tokens `ids`."""
        tokens, count = _convert.token_array(ids)
        with self._handle as model:
            return _convert.read_bytes(
                lambda out, cap, n_out: self.library.gpt2_detokenize(
                    model, tokens, count, out, cap, n_out),
                8 * count + 16)

    def decode(self, ids, errors="replace"):
        """detokenize() decoded as UTF-8 (`errors` as for bytes.decode)."""
        return self.detokenize(ids).decode("utf-8", errors)

    def detokenizer(self, errors="replace"):
        """A streaming gpt2.Detokenizer: push tokens, get whole characters."""
        return Detokenizer(self, errors)

    # ---- scoring and embeddings ----------------------------------------
    def score(self, text, *, prefix=None, window=0, stride=0, n_threads=0, special=False):
        """Scores `text` (str, bytes or token ids): a gpt2.Score with each
        token's log-probability given the tokens before it (gpt2_score:
        float64 log-softmax; the first token follows `prefix`, text or ids,
        default <|endoftext|>). Any length: past `window` tokens (0: the
        model's n_ctx) the window slides by `stride` (0: window / 2) as in
        Hugging Face's perplexity guide. Runs at prefill speed."""
        tokens = self._ids(text, special)
        if not tokens:
            raise InvalidArgumentError("score: the text has no tokens")
        params = ScoreParams(window=_convert.uint("window", window, 32),
                             stride=_convert.uint("stride", stride, 32),
                             n_threads=_convert.uint("n_threads", n_threads, 32))
        if prefix is not None:
            prefix_ids, n_prefix = _convert.token_array(self._ids(prefix, special))
            params.prefix, params.n_prefix = prefix_ids, n_prefix
        array, count = _convert.token_array(tokens)
        logprobs = (ctypes.c_double * count)()
        with self._handle as model:
            self.library.gpt2_score(model, array, count, ctypes.byref(params), logprobs)
        return Score(tokens, list(logprobs))

    def embed(self, text, pooling="mean", *, n_threads=0, special=False):
        """The final hidden states (after the last layer norm) of `text`
        (str, bytes or ids; at most n_ctx_train tokens), evaluated after
        nothing: pooling "mean" (default) averages the tokens' vectors,
        "last" takes the last token's, None returns one row per token.
        A numpy float32 array ((n_embd,) pooled, else (tokens, n_embd))."""
        if pooling not in ("mean", "last", None):
            raise InvalidArgumentError("pooling %r is not 'mean', 'last' or None" % (pooling,))
        tokens = self._ids(text, special)
        if not tokens:
            raise InvalidArgumentError("embed: the text has no tokens")
        if len(tokens) > self.n_ctx_train:
            raise RangeError("embed: %d tokens, more than the model's %d positions"
                             % (len(tokens), self.n_ctx_train))
        with self.context(n_ctx=len(tokens), n_threads=n_threads, embeddings=True) as context:
            context.eval(tokens)
            rows = context.embeddings()
        if pooling is None:
            return rows
        return rows.mean(axis=0, dtype="float64").astype("float32") if pooling == "mean" \
            else rows[-1].copy()

    def _ids(self, text, special):
        if isinstance(text, (str, bytes, bytearray, memoryview)):
            return self.tokenize(text, special)
        return list(text)

    # ---- contexts and generation ---------------------------------------
    def context(self, **params):
        """A new gpt2.Context on this model; see Context for the params."""
        return Context(self, **params)

    def generate(self, prompt, max_tokens=16, *, n=1, stop=None, special=False,
                 stop_at_eot=True, n_ctx=0, n_threads=0, seed=None, kv_type="f32",
                 logprobs=None, echo=False, threads=None, **sampling):
        """A gpt2.Generation: iterating it yields the text generated after
        `prompt` (str, bytes or token ids), piece by piece as tokens are
        sampled, in a context of its own (closed when the generation ends
        or is closed); afterwards its finish_reason says why it ended. See
        Context.generate for the arguments.

        seed: None (default) draws a fresh 64-bit seed for this call, as
        the programs do without --seed, so two calls sample differently;
        the seed used is the Generation's `seed`, to repeat a call exactly.

        logprobs=k (n = 1): the Generation records, per token, its id,
        log-probability and the k most probable alternatives (tokens,
        token_logprobs, top_logprobs), as OpenAI's completions; echo=True
        yields the prompt's text first (and records its tokens, the first
        with logprob None).

        n > 1: n completions of the prompt, evaluated once and forked;
        completion i samples with seed + i, and all advance together, one
        batch per step (gpt2.eval_batch). It yields (i, piece) pairs and its
        finish_reason is the list of the n reasons; completion i is exactly
        what n=1 with seed + i yields."""
        n = _convert.checked_int("n", n, 1, 1 << 16)
        seed = secrets.randbits(64) if seed is None else _convert.uint("seed", seed, 64)
        context_params = dict(n_ctx=n_ctx, n_threads=_convert.n_threads(n_threads, threads),
                              seed=seed, kv_type=kv_type,
                              logits_all=bool(echo and logprobs is not None))
        if n == 1:
            return generate_in_new_context(self, context_params, prompt, max_tokens, stop,
                                           special, stop_at_eot, sampling, logprobs, echo)
        if logprobs is not None or echo:
            raise InvalidArgumentError("logprobs and echo need n=1 (run one generate per "
                                       "completion, with seed + i)")
        stream = generate_many_in_new_context(self, context_params, n, prompt, max_tokens,
                                              stop, special, stop_at_eot, sampling)
        return Generation(stream, seed)
