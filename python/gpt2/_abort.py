"""Abort hooks: a Python object that asks a running evaluation to stop,
turned into the context's C abort_callback (gpt2_context_params); and a
load's progress hook (gpt2_load_params.progress_callback)."""
import contextlib

from ._structs import AbortCallback, ProgressCallback
from .errors import AbortedError


class AbortHook:
    """Calls `abort.is_set()` (a threading.Event, say) or `abort()` between
    layers of an evaluation; true stops it with GPT2_E_ABORTED. An
    exception raised there stops it too, and becomes the __cause__ of the
    AbortedError. The C callback lives as long as this object: the context
    keeps it until its handle is freed."""

    def __init__(self, abort):
        check = getattr(abort, "is_set", abort)
        if not callable(check):
            raise TypeError("abort must have is_set() (a threading.Event) or be callable, not %s"
                            % type(abort).__name__)
        self._check = check
        self.error = None
        self.callback = AbortCallback(self._call)

    def _call(self, _data):
        try:
            return 1 if self._check() else 0
        except BaseException as error:  # noqa: B902 - reported after the call returns
            self.error = error
            return 1


class ProgressHook:
    """Calls `progress(done)` with the part of a load done (0 to 1, ending
    at 1); a true return cancels the load with GPT2_E_ABORTED, and so does
    an exception raised there, kept in `error` for the AbortedError's
    __cause__."""

    def __init__(self, progress):
        if not callable(progress):
            raise TypeError("progress must be callable, not %s" % type(progress).__name__)
        self._progress = progress
        self.error = None
        self.callback = ProgressCallback(self._call)

    def _call(self, done, _data):
        try:
            return 1 if self._progress(done) else 0
        except BaseException as error:  # noqa: B902 - reported after gpt2_load returns
            self.error = error
            return 1


@contextlib.contextmanager
def reporting(contexts):
    """Around an evaluation of `contexts`: an AbortedError gets the
    exception a hook raised, if any, as its cause."""
    hooks = [context._abort for context in contexts if context._abort is not None]
    for hook in hooks:
        hook.error = None
    try:
        yield
    except AbortedError as aborted:
        cause = next((hook.error for hook in hooks if hook.error is not None), None)
        for hook in hooks:
            hook.error = None
        if cause is None:
            raise
        raise aborted from cause
