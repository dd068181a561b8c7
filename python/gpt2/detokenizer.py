"""gpt2.Detokenizer: tokens in, whole UTF-8 characters out."""
import ctypes
import weakref

from . import _convert
from ._handle import Handle
from .errors import RangeError

# Held-back bytes (at most 3) plus one token: GPT-2's longest is 128 bytes.
_FIRST_CAPACITY = 256


class Detokenizer:
    """Streaming detokenizer (gpt2_detok_*): push() token ids one by one and
    get back only the text they complete; a character split across tokens
    comes out whole once its last byte arrives. Bytes that can never become
    valid UTF-8 are decoded with `errors` ("replace": U+FFFD). One thread at
    a time; closed with its model."""

    def __init__(self, model, errors="replace"):
        self.library = model.library
        self.errors = errors
        pointer = ctypes.c_void_p()
        with model._handle as model_pointer:
            self.library.gpt2_detok_new(model_pointer, ctypes.byref(pointer))
        self._handle = Handle(pointer.value, self.library.gpt2_detok_free, "detokenizer")
        self._finalizer = weakref.finalize(self, self._handle.close)
        self._capacity = _FIRST_CAPACITY
        model._adopt(self)

    @property
    def closed(self):
        return self._handle.closed

    def close(self):
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *_exception):
        self.close()

    def push(self, token):
        """The text that token `token` completes ("" if it is held back)."""
        token = _convert.int32("token", token, RangeError)
        return self._read(lambda detok, out, cap, n_out:
                          self.library.gpt2_detok_push(detok, token, out, cap, n_out))

    def flush(self):
        """The held-back bytes (an unfinished character, decoded with
        `errors`), and a fresh start."""
        return self._read(self.library.gpt2_detok_flush)

    def _read(self, call):
        with self._handle as detok:
            buffer, count = _convert.read_sized(
                lambda out, cap, n_out: call(detok, out, cap, n_out),
                _convert.byte_buffer, self._capacity)
        self._capacity = max(self._capacity, count)
        return ctypes.string_at(buffer, count).decode("utf-8", self.errors)
