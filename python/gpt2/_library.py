"""Finding libgpt2 and declaring the C functions the binding calls."""
import ctypes
import ctypes.util
import os
import threading

from . import errors
from ._structs import (ContextParams, LoadParams, SampleParams, SaveParams, ScoreParams,
                       TokenLogprob)

ENV_VAR = "GPT2_LIBRARY"
# The library versions this binding's struct mirrors and prototypes match:
# before 1.0 a minor release may change the ABI, so major.minor must agree.
ABI_VERSION = (0, 3)

_void_p = ctypes.c_void_p
_int = ctypes.c_int
_size = ctypes.c_size_t
_token = ctypes.c_int32
_token_p = ctypes.POINTER(_token)
_size_p = ctypes.POINTER(_size)
_char_p = ctypes.POINTER(ctypes.c_char)
_handle_out = ctypes.POINTER(_void_p)
_handles = ctypes.POINTER(_void_p)
_token_pp = ctypes.POINTER(_token_p)

# name: (restype, argtypes, returns a status)
_PROTOTYPES = {
    "gpt2_version": (ctypes.c_char_p, [], False),
    "gpt2_strerror": (ctypes.c_char_p, [_int], False),
    "gpt2_last_error": (ctypes.c_char_p, [], False),
    "gpt2_load": (_int, [ctypes.c_char_p, ctypes.POINTER(LoadParams), _handle_out], True),
    "gpt2_model_free": (None, [_void_p], False),
    "gpt2_n_vocab": (_int, [_void_p], False),
    "gpt2_n_ctx_train": (_int, [_void_p], False),
    "gpt2_n_embd": (_int, [_void_p], False),
    "gpt2_n_layer": (_int, [_void_p], False),
    "gpt2_n_head": (_int, [_void_p], False),
    "gpt2_token_eot": (_token, [_void_p], False),
    "gpt2_model_size": (ctypes.c_uint64, [_void_p], False),
    "gpt2_model_n_params": (ctypes.c_uint64, [_void_p], False),
    "gpt2_model_size_per_token": (ctypes.c_uint64, [_void_p], False),
    "gpt2_model_isa": (ctypes.c_char_p, [_void_p], False),
    "gpt2_save_gguf": (_int, [_void_p, ctypes.c_char_p, ctypes.POINTER(SaveParams)], True),
    "gpt2_context_new": (_int, [_void_p, ctypes.POINTER(ContextParams), _handle_out], True),
    "gpt2_context_free": (None, [_void_p], False),
    "gpt2_n_ctx": (_size, [_void_p], False),
    "gpt2_eval": (_int, [_void_p, _token_p, _size], True),
    "gpt2_logits": (ctypes.POINTER(ctypes.c_float), [_void_p, ctypes.c_int32], False),
    "gpt2_pos": (_size, [_void_p], False),
    "gpt2_truncate": (_int, [_void_p, _size], True),
    "gpt2_eval_batch": (_int, [_handles, _token_pp, _size_p, _size], True),
    "gpt2_context_copy": (_int, [_void_p, ctypes.POINTER(ContextParams), _handle_out], True),
    "gpt2_state_save": (_int, [_void_p, _char_p, _size, _size_p], True),
    "gpt2_state_load": (_int, [_void_p, _char_p, _size], True),
    "gpt2_tokenize": (_int, [_void_p, ctypes.c_char_p, _size, ctypes.c_uint,
                             _token_p, _size, _size_p], True),
    # Not NUL-terminated: a plain pointer, read with ctypes.string_at.
    "gpt2_token_bytes": (_void_p, [_void_p, _token, _size_p], False),
    "gpt2_detokenize": (_int, [_void_p, _token_p, _size, _char_p, _size, _size_p], True),
    "gpt2_detok_new": (_int, [_void_p, _handle_out], True),
    "gpt2_detok_free": (None, [_void_p], False),
    "gpt2_detok_push": (_int, [_void_p, _token, _char_p, _size, _size_p], True),
    "gpt2_detok_flush": (_int, [_void_p, _char_p, _size, _size_p], True),
    "gpt2_sample": (_int, [_void_p, ctypes.POINTER(SampleParams), _token_p], True),
    # 0.3
    "gpt2_sample_logprob": (_int, [_void_p, ctypes.POINTER(SampleParams), _token_p,
                                   ctypes.POINTER(ctypes.c_double)], True),
    "gpt2_logprob": (_int, [_void_p, ctypes.c_int32, _token, ctypes.POINTER(ctypes.c_double)],
                     True),
    "gpt2_top_logprobs": (_int, [_void_p, ctypes.c_int32, _size, ctypes.POINTER(TokenLogprob),
                                 _size, _size_p], True),
    "gpt2_score": (_int, [_void_p, _token_p, _size, ctypes.POINTER(ScoreParams),
                          ctypes.POINTER(ctypes.c_double)], True),
    "gpt2_embeddings": (_int, [_void_p, ctypes.POINTER(ctypes.c_float), _size, _size_p], True),
}


def _text(value):
    return value.decode("utf-8", "replace") if value is not None else ""


class Library:
    """A loaded libgpt2: its C functions as attributes (`lib.gpt2_eval`).

    Functions returning a status raise the matching gpt2.Error on failure,
    with gpt2_last_error() read in the same thread right after the call.
    ctypes releases the GIL during every call.
    """

    def __init__(self, path):
        self.path = path
        self._cdll = ctypes.CDLL(path)
        for name, (restype, argtypes, checked) in _PROTOTYPES.items():
            try:
                function = getattr(self._cdll, name)
            except AttributeError:
                raise errors.LibraryNotFoundError(
                    "%s is not libgpt2 %d.%d: it has no %s" % ((path,) + ABI_VERSION + (name,)))
            function.restype = restype
            function.argtypes = argtypes
            if checked:
                function.errcheck = self._check
            setattr(self, name, function)
        self.version = _text(self.gpt2_version())

    def _check(self, status, function, _arguments):
        if status < 0:
            raise errors.error_for(status, _text(self.gpt2_last_error()) or
                                   "%s failed: %s" % (function.__name__, self.strerror(status)))
        return status

    def strerror(self, status):
        """The library's constant English name of a status code."""
        return _text(self.gpt2_strerror(status))

    def __repr__(self):
        return "<gpt2.Library %s %s>" % (self.version, self.path)


_loaded = {}
_loaded_lock = threading.Lock()


def _open(path):
    """The Library at `path` (a file or a loader name), loaded once."""
    key = os.path.realpath(path) if os.sep in path else path
    with _loaded_lock:
        library = _loaded.get(key)
        if library is None:
            library = Library(path)
            major, minor = (int(part) for part in library.version.split(".")[:2])
            if (major, minor) != ABI_VERSION:
                raise errors.UnsupportedError(
                    "%s is libgpt2 %s; this binding needs %d.%d.x"
                    % ((path, library.version) + ABI_VERSION))
            _loaded[key] = library
        return library


BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libgpt2.so")


def load_library(path=None):
    """The libgpt2 to use: `path` if given, else $GPT2_LIBRARY if set, else
    the one pip built into the package (gpt2/libgpt2.so) if there is one,
    else the system's (ctypes.util.find_library("gpt2"), then the dynamic
    loader by SONAME). The first of these that is given is the one used,
    so a wrong path fails loudly instead of falling back to another
    library."""
    if isinstance(path, Library):
        return path
    if path is not None:
        sources = [("path argument %r" % os.fspath(path), os.fspath(path))]
    elif os.environ.get(ENV_VAR):
        sources = [("%s=%r" % (ENV_VAR, os.environ[ENV_VAR]), os.environ[ENV_VAR])]
    elif os.path.exists(BUNDLED):
        sources = [("the package's own %r" % BUNDLED, BUNDLED)]
    else:
        found = ctypes.util.find_library("gpt2")
        soname = "libgpt2.so.%d" % ABI_VERSION[0]
        sources = [("ctypes.util.find_library('gpt2') = %r" % found, found),
                   ("the dynamic loader for %r" % soname, soname)]
    tried = []
    if path is None and not os.environ.get(ENV_VAR):
        tried = ["no path argument", "%s not set" % ENV_VAR]
        if not os.path.exists(BUNDLED):
            tried.append("no %s (the library pip builds into the package)" % BUNDLED)
    for label, candidate in sources:
        if candidate is None:
            tried.append(label)
            continue
        try:
            return _open(os.fsdecode(candidate))
        except OSError as failure:
            if isinstance(failure, errors.Error):
                raise
            tried.append("%s: %s" % (label, failure))
    raise errors.LibraryNotFoundError(
        "libgpt2 not found; tried: %s. Pass the path of libgpt2.so, or set %s "
        "(after `make`, build/libgpt2.so)" % ("; ".join(tried), ENV_VAR))


def version(library=None):
    """The version string of the libgpt2 actually loaded."""
    return load_library(library).version
