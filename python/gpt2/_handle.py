"""Ownership of one C handle: freed exactly once, never while in use.

Calls borrow the pointer (`with handle as pointer:`). close() frees it at
once when no call is running, else when the last running call returns, so
closing from another thread never frees memory under a running call.
A closed handle raises ClosedError on the next borrow.
"""
import threading

from .errors import ClosedError


class Handle:
    def __init__(self, pointer, free, what):
        self._pointer = pointer
        self._free = free
        self._what = what
        self._lock = threading.Lock()
        self._users = 0
        self._closing = False

    @property
    def closed(self):
        """True once close() was called (the pointer may still be in use)."""
        return self._closing

    def __enter__(self):
        with self._lock:
            if self._closing:
                raise ClosedError("the %s is closed" % self._what)
            self._users += 1
            return self._pointer

    def __exit__(self, *_exception):
        with self._lock:
            self._users -= 1
            pointer = self._take_if_unused()
        self._release(pointer)

    def close(self):
        with self._lock:
            self._closing = True
            pointer = self._take_if_unused()
        self._release(pointer)

    def _take_if_unused(self):
        if self._closing and self._users == 0 and self._pointer is not None:
            pointer, self._pointer = self._pointer, None
            return pointer
        return None

    def _release(self, pointer):
        if pointer is not None:
            self._free(pointer)
