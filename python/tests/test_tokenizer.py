"""Tokenizer and detokenizers against the committed reference cases
(tests/data/tokenizer/, made by tools/gen/gen_tokenizer_cases.py), on a model
with GPT-2's own vocabulary."""
import ctypes
import os

import numpy
import pytest

from support import DATA

import gpt2
from gpt2 import _convert, errors

TAGS = ("all", "py", "bytes", "special")


def reference_cases():
    cases = []
    for line in open(os.path.join(DATA, "tokenizer", "cases.txt")):
        if line.startswith("#"):
            continue
        tag, hex_text, ids = line.rstrip("\n").split("\t")
        cases.append((tag, bytes.fromhex(hex_text), [int(i) for i in ids.split(",") if i]))
    return cases


CASES = reference_cases()


@pytest.mark.parametrize("tag", TAGS)
def test_reference_cases(gpt2_vocab, tag):
    cases = [(text, ids) for case_tag, text, ids in CASES if case_tag == tag]
    assert cases, "no '%s' cases" % tag
    mismatches = [text for text, ids in cases
                  if gpt2_vocab.tokenize(text, special=(tag == "special")) != ids]
    assert mismatches == []
    assert all(gpt2_vocab.detokenize(ids) == text for text, ids in cases)


def test_reference_cases_as_str(gpt2_vocab):
    """The valid UTF-8 cases give the same ids when passed as str."""
    checked = 0
    for tag, text, ids in CASES:
        if tag in ("all", "py"):
            assert gpt2_vocab.tokenize(text.decode("utf-8")) == ids
            assert gpt2_vocab.decode(ids) == text.decode("utf-8")
            checked += 1
    assert checked >= 1000


def test_tiktoken_vectors(gpt2_vocab):
    assert gpt2_vocab.tokenize("hello world") == [31373, 995]
    assert gpt2_vocab.decode([31373, 995]) == "hello world"
    assert gpt2_vocab.tokenize("hello <|endoftext|>", special=True) == [31373, 220, 50256]
    assert 50256 not in gpt2_vocab.tokenize("hello <|endoftext|>")


def test_every_token_round_trips(gpt2_vocab):
    exceptions = {}
    for line in open(os.path.join(DATA, "tokenizer", "roundtrip.txt")):
        if not line.startswith("#"):
            token, ids = line.split("\t")
            exceptions[int(token)] = [int(i) for i in ids.split(",")]
    for token in range(gpt2_vocab.n_vocab - 1):  # all but <|endoftext|>
        text = gpt2_vocab.token_bytes(token)
        assert gpt2_vocab.tokenize(text) == exceptions.get(token, [token]), token
    assert gpt2_vocab.tokenize(b"<|endoftext|>", special=True) == [gpt2_vocab.eot]


def test_input_types(gpt2_vocab):
    ids = gpt2_vocab.tokenize("naïve café")
    assert gpt2_vocab.tokenize("naïve café".encode()) == ids
    assert gpt2_vocab.tokenize(bytearray("naïve café".encode())) == ids
    assert gpt2_vocab.tokenize(memoryview("naïve café".encode())) == ids
    assert gpt2_vocab.tokenize("") == [] and gpt2_vocab.detokenize([]) == b""
    invalid = b"ab\xff\xfecd\xe4\xb8"
    assert gpt2_vocab.tokenize(invalid.decode("utf-8", "surrogateescape")) == \
        gpt2_vocab.tokenize(invalid)
    assert gpt2_vocab.detokenize(gpt2_vocab.tokenize(invalid)) == invalid
    assert gpt2_vocab.decode(gpt2_vocab.tokenize(invalid)) == "ab\ufffd\ufffdcd\ufffd"
    with pytest.raises(UnicodeDecodeError):
        gpt2_vocab.decode(gpt2_vocab.tokenize(invalid), errors="strict")
    for bad in (5, None, ["a"]):
        with pytest.raises(TypeError):
            gpt2_vocab.tokenize(bad)
    # ids as any iterable of ints, numpy arrays included
    assert gpt2_vocab.detokenize(numpy.array(ids, dtype=numpy.int64)) == "naïve café".encode()
    assert gpt2_vocab.detokenize(iter(ids)) == "naïve café".encode()


def test_long_text(gpt2_vocab):
    text = "The quick brown fox jumps over the lazy dog. " * 2000
    ids = gpt2_vocab.tokenize(text)
    assert len(ids) == 10 * 2000 + 1  # 10 a sentence, and the last space
    assert gpt2_vocab.decode(ids) == text


@pytest.mark.parametrize("token", [-1, 50257, 2**31 - 1, -2**31, 2**40, -2**40])
def test_bad_token_ids(gpt2_vocab, token):
    with pytest.raises(gpt2.RangeError) as caught:
        gpt2_vocab.token_bytes(token)
    assert caught.value.status == errors.E_RANGE
    with pytest.raises(gpt2.RangeError) as caught:
        gpt2_vocab.detokenize([31373, token])
    assert caught.value.status == errors.E_RANGE
    if -2**31 <= token < 2**31:  # the library's own message
        assert "token 1 is %d" % token in caught.value.message
    with gpt2_vocab.detokenizer() as detok:
        assert detok.push(31373) == "hello"
        with pytest.raises(gpt2.RangeError):
            detok.push(token)
        assert detok.push(995) == " world"  # the failed push changed nothing


def test_bad_id_types(gpt2_vocab):
    for bad in ("hello", b"hello", 3, [1.5]):
        with pytest.raises(TypeError):
            gpt2_vocab.detokenize(bad)
    with pytest.raises(TypeError):
        gpt2_vocab.token_bytes(1.0)


def test_streaming_detokenizer_gives_whole_characters(gpt2_vocab):
    text = "héllo 中文 😀 Ωμέγα ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 done"
    ids = gpt2_vocab.tokenize(text)
    per_token = [gpt2_vocab.decode([i]) for i in ids]
    assert any("\ufffd" in piece for piece in per_token)  # tokens split characters
    with gpt2_vocab.detokenizer() as detok:
        pieces = [detok.push(i) for i in ids]
        assert detok.flush() == ""
    assert "".join(pieces) == text
    assert not any("\ufffd" in piece for piece in pieces)
    assert "" in pieces  # some pushes only held bytes back


def test_streaming_detokenizer_flush_and_invalid_bytes(gpt2_vocab):
    first, second = gpt2_vocab.tokenize("文")  # E6 96 | 87
    assert gpt2_vocab.token_bytes(first) == b"\xe6\x96"
    with gpt2_vocab.detokenizer() as detok:
        assert detok.push(first) == ""
        assert detok.flush() == "\ufffd"  # the unfinished character, replaced
        assert detok.push(second) == "\ufffd"  # a lone continuation byte
    with gpt2_vocab.detokenizer(errors="surrogateescape") as detok:
        assert detok.push(first) == ""
        assert detok.flush().encode("utf-8", "surrogateescape") == b"\xe6\x96"


# ---- the two-call buffer pattern ---------------------------------------------

def test_buffers_grow_to_what_the_library_asks(gpt2_vocab, library):
    text = "héllo 中文 😀 " * 50
    ids = gpt2_vocab.tokenize(text)
    tokens, count = _convert.token_array(ids)
    with gpt2_vocab._handle as model:
        for capacity in (0, 1, 7):
            data = _convert.read_bytes(
                lambda out, cap, n_out: library.gpt2_detokenize(model, tokens, count, out, cap,
                                                                n_out), capacity)
            assert data == text.encode()
            encoded = text.encode()
            buffer, n = _convert.read_sized(
                lambda out, cap, n_out: library.gpt2_tokenize(model, encoded, len(encoded), 0,
                                                              out, cap, n_out),
                _convert.token_buffer, capacity)
            assert buffer[:n] == ids


def test_too_small_buffer_raises_buffer_size_error(gpt2_vocab, library):
    tokens, count = _convert.token_array([31373, 995])
    needed = ctypes.c_size_t()
    out = ctypes.create_string_buffer(4)
    with gpt2_vocab._handle as model:
        with pytest.raises(gpt2.BufferSizeError) as caught:
            library.gpt2_detokenize(model, tokens, count, out, 4, ctypes.byref(needed))
    assert caught.value.status == errors.E_BUFFER
    assert needed.value == len("hello world")


def test_detokenizer_buffer_grows(gpt2_vocab):
    long_token = max(range(gpt2_vocab.n_vocab - 1), key=lambda t: len(gpt2_vocab.token_bytes(t)))
    with gpt2_vocab.detokenizer() as detok:
        detok._capacity = 1
        assert detok.push(long_token) == gpt2_vocab.decode([long_token])
        assert detok._capacity == len(gpt2_vocab.token_bytes(long_token)) > 1
