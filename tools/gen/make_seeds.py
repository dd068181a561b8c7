#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<target>/ (small, committed).

Deterministic: running it again gives the same files. Seeds are starting
points for libFuzzer (`tests/fuzz/run.sh`) and are also replayed by the
normal test run (tests/unit/test_regressions.c). The GGUF target is also
seeded with tests/data/gguf_bad/ (written by tools/gen/gen_bad_gguf.py).
Usage: /usr/bin/python3 tools/gen/make_seeds.py [corpus directory]
(default tests/fuzz/corpus; another one for the regenerate-and-compare
check of tests/generators.test.sh)."""
import json
import os
import random
import shutil
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fuzz", "corpus")
DATA = os.path.join(ROOT, "tests", "data")


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def byte_map():
    """GPT-2's byte -> printable character map (the published rule)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def json_seeds():
    config = {"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 2, "n_positions": 64,
              "vocab_size": 509, "n_inner": None, "layer_norm_epsilon": 1e-05,
              "activation_function": "gelu_new", "tie_word_embeddings": True,
              "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}}}
    write("json", "config", json.dumps(config, indent=2))
    write("json", "vocab", '{"!": 0, "\\"": 1, "\\u0120the": 2, "\u0120and": 3, "<|endoftext|>": 4}')
    write("json", "numbers", "[0, -0, 1e308, -1.5e-3, 0.1, 12345678901234567890, 9223372036854775807, "
                             "-9223372036854775808, 2.5E+2, 1e-400]")
    write("json", "escapes", '["\\ud83d\\ude00", "\\u0000x", "\\"\\\\\\/\\b\\f\\n\\r\\t", "\u00e9\u65e5"]')
    write("json", "nested", "[[[[{\"a\": [{}, [], null, true, false]}]]]]")
    write("json", "bom_object", b"\xef\xbb\xbf { \"a\" : 1 , \"a\" : 2 } \n")
    write("json", "safetensors_header", '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],'
                                        '"data_offsets":[0,24]}}')
    write("json", "bad_surrogate", '["\\ud800"]')
    write("json", "bad_trailing", '{"a": 1} x')


def safetensors_file(tensors, metadata=None, pad=8):
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(payload)]}
        blobs.append(payload)
        offset += len(payload)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % pad)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def safetensors_seeds():
    f32 = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
    write("safetensors", "three_tensors", safetensors_file(
        [("a.weight", "F32", [2, 3], f32), ("b", "F16", [4], b"\x00\x3c" * 4), ("scalar", "BF16", [], b"\x80\x3f")],
        metadata={"format": "pt"}))
    write("safetensors", "unaligned", safetensors_file([("x", "F32", [1], b"\0\0\x80\x3f")], pad=1))
    write("safetensors", "empty_and_other_dtypes", safetensors_file(
        [("e", "F32", [0, 5], b""), ("i", "I64", [1], b"\1" * 8), ("f4", "F4", [2], b"\x21")]))
    write("safetensors", "header_only", safetensors_file([]))


def gguf_seeds():
    # the base model, and the 32-value block types (Q4_1, Q5_0, Q5_1, IQ4_NL)
    # so that mutations reach their products; the 256-value ones are in
    # tests/data/gguf_bad, which run.sh and the replay add (200 KB files)
    for name in ("good_base", "good_types_32"):
        shutil.copy(os.path.join(DATA, "gguf_bad", name + ".gguf"), os.path.join(CORPUS, "gguf", name))


def merges_seeds():
    with open(os.path.join(DATA, "gpt2", "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    first = lines[: 1 + 252]  # the tiny model's merges: "#version" and 252 merges
    write("merges", "tiny", "\n".join(first) + "\n")
    write("merges", "tiny_crlf_no_header", "\r\n".join(first[1:60]))
    write("merges", "unknown_token", "#version: 0.2\nĠ t\nzz qq\n")
    write("merges", "repeated", "Ġ t\nĠ t\nĠt h\n")
    write("merges", "empty", "")


def tokenize_seeds():
    texts = ["hello world", "Hello, world! It's 2024: 12345 apples... don't 'S", "  leading\n\n\ttabs   and  spaces  ",
             "日本語のテキスト 😀 café naïve Ω ½ ²", "<|endoftext|>x<|endoftext|><|endoftext", "\x00\x01\x7f"]
    for i, text in enumerate(texts):
        write("tokenize", "text%d" % i, bytes([i & 1]) + text.encode("utf-8"))
    write("tokenize", "invalid_utf8", b"\x01" + b"a\xff\xfe\xc3(\xe2\x82 \xf0\x9f\x98 \xed\xa0\x80 \xc0\xaf end")


def detok_seeds():
    with open(os.path.join(DATA, "gpt2", "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    chars = byte_map()

    def ids_of_bytes(data):
        return [vocab[chars[b]] for b in data]

    def triples(ids, caps):
        return b"".join(struct.pack(">HB", i, c) for i, c in zip(ids, caps))

    text = "日本 😀 é".encode("utf-8")
    ids = ids_of_bytes(text)
    write("detok", "split_characters", triples(ids, [7] * len(ids)))
    write("detok", "small_buffers", triples(ids, [i % 3 for i in range(len(ids))]))
    write("detok", "invalid_and_bad_ids", triples(ids_of_bytes(b"\xe6\x97a\xff\xf0\x9f") + [0xFF01, 0xFF10, 50256],
                                                  [1, 0, 2, 3, 4, 5, 6, 7, 0]))


def eval_seeds():
    rng = random.Random(7)
    # n_ctx 16, 1 thread, logits_all, f32 cache, seed; then eval 3, sample (defaults), eval 1, truncate,
    # sample (greedy), logits, sampler core.
    header = bytes([16, 1, 1, 0]) + b"\0\0\0\x2a"
    calls = bytes([0, 3, 3, 0, 0, 0, 1, 3, 0, 0, 0, 2, 3, 0, 0, 0, 3])
    calls += bytes([1, 0, 0, 0, 0, 0])
    calls += bytes([0, 1, 3, 0, 0, 1, 0])
    calls += bytes([2, 2])
    calls += bytes([1, 0, 0, 0, 1, 0, 0])
    calls += bytes([3, 0xFF])
    calls += bytes([4, 5, 2] + [17, 18, 4, 30, 20] + [3, 0, 0, 0, 1, 3, 0, 0, 0, 2] + [0, 0, 0, 0] + [0, 0, 0, 9])
    write("eval", "walk", header + calls)
    for i in range(4):
        write("eval", "random%d" % i, bytes(rng.randrange(256) for _ in range(64 + 32 * i)))


def state_seeds():
    # flags (bit 0 F16 source, 1 other KV type in the target, 2 logits_all, 3 the other
    # logits_all in the target), source n_ctx, target n_ctx, positions used in each, mode
    # (0 flips, 1 flips + checksum, 2 cut, 3 the rest is the blob), then the mode's bytes.
    write("state", "unchanged", bytes([0, 20, 30, 5, 9, 0, 0]))
    write("state", "logits_all_f16", bytes([5, 40, 12, 11, 3, 0, 0]))
    write("state", "other_logits", bytes([8, 20, 30, 6, 2, 0, 0]))
    write("state", "too_many_positions", bytes([0, 40, 5, 20, 1, 0, 0]))
    write("state", "other_kv", bytes([2, 20, 30, 5, 9, 0, 0]))
    write("state", "flips", bytes([0, 20, 30, 5, 9, 0, 3, 30, 0, 0, 0, 1, 200, 0, 0, 0, 0x80, 90, 0, 0, 0, 4]))
    write("state", "header_fixed_checksum", bytes([4, 20, 30, 5, 9, 1, 2, 40, 0, 0, 0, 1, 24, 0, 0, 0, 2]))
    write("state", "history_fixed_checksum", bytes([0, 20, 30, 5, 9, 1, 1, 90, 0, 0, 0, 0x40]))
    write("state", "cut", bytes([0, 20, 30, 5, 9, 2, 100, 0, 0, 0]))
    write("state", "raw", bytes([0, 20, 30, 5, 9, 3]) + b"GPT2STAT\x01\0\0\0\0\0\0\0" + bytes(80))


def batch_seeds():
    rng = random.Random(15)
    # 1 + 2 = 3 contexts: (n_ctx - 1, flags: bit 0 F16, 1 logits_all, 2.. threads); 4 calls of
    # (shape = slot count, then per slot: context, token count, ids).
    ctxs = bytes([2, 40, 0, 30, 2, 63, 5])
    calls = bytes([4])
    calls += bytes([3, 0, 5, 1, 2, 3, 4, 5, 1, 1, 9, 2, 0])          # prompts, single token, sits out
    calls += bytes([2, 0, 1, 7, 1, 1, 8])                              # one token each
    calls += bytes([2, 1, 1, 3, 1, 2, 255, 4])                         # a bad id
    calls += bytes([3, 2, 1, 5, 2, 1, 6, 0, 1, 7])                     # a context twice
    write("batch", "walk", ctxs + calls)
    write("batch", "huge_count", ctxs + bytes([1, 250]))
    # then each context copied, (kind, n_ctx - 1): too small a copy (GPT2_E_RANGE), the other
    # KV type (GPT2_E_INVALID), a larger one (GPT2_OK)
    write("batch", "copies", ctxs + calls + bytes([1, 0, 2, 0, 1, 62]))
    write("batch", "long", bytes([1, 63, 2, 63, 7, 2, 2, 0, 20] + list(range(20)) + [1, 20] + list(range(20, 40))
                                 + [2, 0, 20] + list(range(40, 60)) + [1, 1, 3]))
    for i in range(3):
        write("batch", "random%d" % i, bytes(rng.randrange(256) for _ in range(96 + 32 * i)))


if __name__ == "__main__":
    shutil.rmtree(CORPUS, ignore_errors=True)
    os.makedirs(os.path.join(CORPUS, "gguf"))
    json_seeds()
    safetensors_seeds()
    gguf_seeds()
    merges_seeds()
    tokenize_seeds()
    detok_seeds()
    eval_seeds()
    state_seeds()
    batch_seeds()
