"""Python values to C arguments and back: token arrays, checked integers,
and the library's two-call buffer pattern."""
import array
import ctypes
import operator

from .errors import BufferSizeError, InvalidArgumentError, RangeError

_INT32 = (-(1 << 31), (1 << 31) - 1)


def token_array(ids):
    """A ctypes int32 array of the token ids in `ids` (any iterable of
    ints), and its length. An id that does not fit int32 is a RangeError,
    as an id outside the vocabulary is for the library."""
    if isinstance(ids, (str, bytes, bytearray, memoryview)):
        raise TypeError("token ids must be a sequence of ints, not %s (tokenize it first)"
                        % type(ids).__name__)
    try:
        values = array.array("i", ids)
    except OverflowError as error:
        raise RangeError("a token id does not fit in int32 (%s)" % error) from None
    # "i" is C int: 32 bits on every platform libgpt2 runs on.
    return (ctypes.c_int32 * len(values)).from_buffer(values), len(values)


def checked_int(name, value, low, high, error=InvalidArgumentError):
    """`value` as an int in [low, high]: ctypes would wrap it silently."""
    value = operator.index(value)
    if not low <= value <= high:
        raise error("%s is %d; it must be in [%d, %d]" % (name, value, low, high))
    return value


def int32(name, value, error=InvalidArgumentError):
    return checked_int(name, value, _INT32[0], _INT32[1], error)


def uint(name, value, bits):
    return checked_int(name, value, 0, (1 << bits) - 1)


def choice(name, value, names):
    """A named constant ("f16") or its number, as the library's uint32."""
    if isinstance(value, str):
        try:
            return names[value.lower()]
        except KeyError:
            raise InvalidArgumentError("%s %r is not one of %s"
                                       % (name, value, ", ".join(sorted(names)))) from None
    return uint(name, value, 32)


def read_sized(call, make_buffer, capacity):
    """Runs call(buffer, capacity, n_out) with a buffer of `capacity` items,
    and once more with the size the library asked for if that was too
    small. Returns the buffer and the count written."""
    needed = ctypes.c_size_t()
    buffer = make_buffer(capacity)
    try:
        call(buffer, capacity, ctypes.byref(needed))
    except BufferSizeError:
        if needed.value <= capacity:
            raise
        capacity = needed.value
        buffer = make_buffer(capacity)
        call(buffer, capacity, ctypes.byref(needed))
    return buffer, needed.value


def byte_buffer(capacity):
    return ctypes.create_string_buffer(capacity)


def token_buffer(capacity):
    return (ctypes.c_int32 * capacity)()


def read_bytes(call, capacity):
    """read_sized for a char buffer: the bytes written."""
    buffer, count = read_sized(call, byte_buffer, capacity)
    return ctypes.string_at(buffer, count)


def n_threads(n_threads, threads):
    """The thread count from `n_threads` (the C field's name) or `threads`
    (the binding's 0.2 name, still accepted); giving both is an error."""
    if threads is not None:
        if n_threads:
            raise InvalidArgumentError("give n_threads or threads (its old name), not both")
        n_threads = threads
    return uint("n_threads", n_threads, 32)
