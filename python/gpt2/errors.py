"""The exceptions: one class per libgpt2 status code (include/gpt2.h).

Each carries `status` (the GPT2_E_* value) and `message` (the library's
gpt2_last_error() detail, read in the failing thread right after the call).
Checks the binding makes itself before calling the library raise the class
of the status the library would return for the same problem.
"""

OK = 0
E_INVALID = -1
E_NOMEM = -2
E_IO = -3
E_FORMAT = -4
E_UNSUPPORTED = -5
E_RANGE = -6
E_BUFFER = -7
E_STATE = -8
E_ABORTED = -9

_STATUS_NAMES = {
    E_INVALID: "GPT2_E_INVALID",
    E_NOMEM: "GPT2_E_NOMEM",
    E_IO: "GPT2_E_IO",
    E_FORMAT: "GPT2_E_FORMAT",
    E_UNSUPPORTED: "GPT2_E_UNSUPPORTED",
    E_RANGE: "GPT2_E_RANGE",
    E_BUFFER: "GPT2_E_BUFFER",
    E_STATE: "GPT2_E_STATE",
    E_ABORTED: "GPT2_E_ABORTED",
}


class Error(Exception):
    """A libgpt2 failure: `status` is the GPT2_E_* code, `message` the detail."""

    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message

    def __str__(self):
        name = _STATUS_NAMES.get(self.status, "status %s" % self.status)
        return "%s [%s]" % (self.message, name)


class InvalidArgumentError(Error, ValueError):
    """GPT2_E_INVALID: a bad argument or parameter value."""

    status = E_INVALID


class OutOfMemoryError(Error, MemoryError):
    """GPT2_E_NOMEM: an allocation failed."""

    status = E_NOMEM


class FileError(Error, OSError):
    """GPT2_E_IO: a file could not be opened, read or mapped."""

    status = E_IO


class FormatError(Error):
    """GPT2_E_FORMAT: a model file is malformed."""

    status = E_FORMAT


class UnsupportedError(Error):
    """GPT2_E_UNSUPPORTED: a valid file or request this library does not run."""

    status = E_UNSUPPORTED


class RangeError(Error, ValueError):
    """GPT2_E_RANGE: a token id or position out of range."""

    status = E_RANGE


class BufferSizeError(Error):
    """GPT2_E_BUFFER: an output buffer was too small (the binding sizes its
    buffers itself, so this only reaches users of the raw functions)."""

    status = E_BUFFER


class StateError(Error):
    """GPT2_E_STATE: a call not valid in the object's state."""

    status = E_STATE


class AbortedError(Error):
    """GPT2_E_ABORTED: a context's abort hook stopped an evaluation (every
    context is as it was before the call), or a load's progress hook
    cancelled the load (no model was made). If the hook raised, that
    exception is the __cause__."""

    status = E_ABORTED


class ClosedError(StateError):
    """The object was closed (or its model was): its handle is gone."""


class LibraryNotFoundError(Error, OSError):
    """libgpt2 could not be loaded; the message names everything tried."""

    status = E_IO


_BY_STATUS = {
    cls.status: cls
    for cls in (InvalidArgumentError, OutOfMemoryError, FileError, FormatError,
                UnsupportedError, RangeError, BufferSizeError, StateError, AbortedError)
}


def error_for(status, message):
    """The exception for a negative status returned by the library."""
    cls = _BY_STATUS.get(status, Error)
    return cls(message, status)
