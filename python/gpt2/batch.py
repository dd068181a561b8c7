"""gpt2.eval_batch: one forward pass over several contexts."""
import contextlib
import ctypes

from . import _convert
from ._abort import reporting
from .errors import InvalidArgumentError


def eval_batch(contexts, tokens):
    """Appends tokens[i] (token ids; empty: the context sits this pass out)
    to contexts[i], all of one model, in one forward pass
    (gpt2_eval_batch): the weights are read once for the whole batch, and
    each context's logits are bitwise those it would get evaluated alone.
    Runs on contexts[0]'s threads. On any error (a context given twice,
    contexts of different models, no room left, a bad id, an abort hook)
    every context is as it was."""
    contexts, tokens = list(contexts), list(tokens)
    if len(contexts) != len(tokens):
        raise InvalidArgumentError("eval_batch: %d contexts but %d token lists"
                                   % (len(contexts), len(tokens)))
    if not contexts:
        raise InvalidArgumentError("eval_batch: no contexts")
    count = len(contexts)
    arrays = [_convert.token_array(ids) for ids in tokens]
    token_pointers = (ctypes.POINTER(ctypes.c_int32) * count)(
        *[ctypes.cast(array, ctypes.POINTER(ctypes.c_int32)) for array, _ in arrays])
    n_tokens = (ctypes.c_size_t * count)(*[n for _, n in arrays])
    with contextlib.ExitStack() as borrowed:
        handles = (ctypes.c_void_p * count)(
            *[borrowed.enter_context(context._handle) for context in contexts])
        with reporting(contexts):
            contexts[0].library.gpt2_eval_batch(handles, token_pointers, n_tokens, count)
