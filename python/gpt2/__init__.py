"""libgpt2 from Python: GPT-2 inference on the CPU through the library's C ABI
(ctypes, standard library only; numpy optional). See docs/python.md.

    import gpt2
    with gpt2.Model("path/to/gpt2") as model:
        for piece in model.generate("The meaning of life is", max_tokens=32):
            print(piece, end="", flush=True)
"""
from ._library import ENV_VAR, Library, load_library, version
from ._sampling import sample_params
from ._structs import (KV_F16, KV_F32, TOKENIZE_SPECIAL, WTYPE_AUTO, WTYPE_BF16, WTYPE_F16,
                       WTYPE_F32, WTYPE_Q3_K_L, WTYPE_Q3_K_M, WTYPE_Q3_K_S, WTYPE_Q4_0, WTYPE_Q4_K_M, WTYPE_Q4_K_S, WTYPE_Q5_K_M,
                       WTYPE_Q5_K_S, WTYPE_Q6_K, WTYPE_Q8_0)
from .context import Context
from .detokenizer import Detokenizer
from .batch import eval_batch
from .errors import (AbortedError, BufferSizeError, ClosedError, Error, FileError, FormatError,
                     InvalidArgumentError, LibraryNotFoundError, OutOfMemoryError, RangeError,
                     StateError, UnsupportedError)
from ._stream import Generation
from .model import Model, Score

__version__ = "0.3.0"

__all__ = [
    "ENV_VAR", "Library", "load_library", "version", "sample_params",
    "KV_F16", "KV_F32", "TOKENIZE_SPECIAL", "WTYPE_AUTO", "WTYPE_BF16", "WTYPE_F16",
    "WTYPE_F32", "WTYPE_Q3_K_L", "WTYPE_Q3_K_M", "WTYPE_Q3_K_S", "WTYPE_Q4_0", "WTYPE_Q4_K_M", "WTYPE_Q4_K_S", "WTYPE_Q5_K_M", "WTYPE_Q5_K_S",
    "WTYPE_Q6_K", "WTYPE_Q8_0",
    "Model", "Score", "Generation", "Context", "Detokenizer", "eval_batch",
    "Error", "AbortedError", "BufferSizeError", "ClosedError", "FileError", "FormatError",
    "InvalidArgumentError", "LibraryNotFoundError", "OutOfMemoryError", "RangeError",
    "StateError", "UnsupportedError",
]
