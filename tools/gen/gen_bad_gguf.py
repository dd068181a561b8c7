#!/usr/bin/python3
"""Writes tests/data/gguf_bad/: small crafted GGUF files, each with one
defect of the kinds GGUF readers keep getting wrong (huge lengths and
counts, narrow array types, wrapping dimension products, bad alignment,
block counts past the tensors, ...), plus a few valid variants, and
index.txt: one line per file, "name<TAB>expected status<TAB>a phrase the
error message must contain" (status OK: the file must load).

The files are deterministic. Regenerate with:
    /usr/bin/python3 tools/gen/gen_bad_gguf.py [output directory]
"""
import os
import struct
import sys

import numpy as np

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
# ggml tensor types
T_F32, T_F16, T_Q4_0, T_Q4_1, T_Q8_0, T_I8, T_F64, T_BF16 = 0, 1, 2, 3, 8, 24, 28, 30
T_Q5_0, T_Q5_1, T_Q2_K, T_Q3_K, T_IQ4_NL, T_IQ4_XS = 6, 7, 10, 11, 20, 23
# block types written from raw bytes: (values per block, bytes per block, byte
# offsets of the F16 scale fields: d, and the min where the type has one)
BLOCKS = {T_Q4_1: (32, 20, (0, 2)), T_Q5_0: (32, 22, (0,)), T_Q5_1: (32, 24, (0, 2)),
          T_Q2_K: (256, 84, (80, 82)), T_Q3_K: (256, 110, (108,)), T_IQ4_NL: (32, 18, (0,)),
          T_IQ4_XS: (256, 136, (0,))}

SCALAR_FORMAT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i",
                 F32: "<f", BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}


def gstr(text):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def value(vtype, v):
    """Encoding of a value of type vtype (arrays: v = (elem_type, items))."""
    if vtype == STR:
        return gstr(v)
    if vtype == ARR:
        elem_type, items = v
        return struct.pack("<IQ", elem_type, len(items)) + b"".join(value(elem_type, i) for i in items)
    return struct.pack(SCALAR_FORMAT[vtype], v)


def kv(key, vtype, v):
    return gstr(key) + struct.pack("<I", vtype) + value(vtype, v)


class Tensor:
    def __init__(self, name, dims, ttype, data, offset=None):
        self.name, self.dims, self.ttype, self.data, self.offset = name, dims, ttype, data, offset


def build(kvs, tensors, version=3, alignment=32, n_tensors=None, n_kv=None, magic=b"GGUF", tail=b""):
    """A GGUF file: kvs are encoded pairs, tensor offsets are assigned in
    order (aligned) unless given; `tail` is appended."""
    out = bytearray(magic + struct.pack("<I", version))
    out += struct.pack("<QQ", len(tensors) if n_tensors is None else n_tensors,
                       len(kvs) if n_kv is None else n_kv)
    for pair in kvs:
        out += pair
    offset = 0
    placed = []
    for t in tensors:
        if t.offset is None:
            offset = (offset + alignment - 1) // alignment * alignment
            t_offset = offset
            offset += len(t.data)
        else:
            t_offset = t.offset
        placed.append(t_offset)
        out += gstr(t.name) + struct.pack("<I", len(t.dims))
        out += b"".join(struct.pack("<Q", d) for d in t.dims)
        out += struct.pack("<IQ", t.ttype, t_offset)
    out += b"\0" * ((-len(out)) % alignment)
    data_start = len(out)
    for t, t_offset in zip(tensors, placed):
        if t.offset is not None:
            continue
        end = data_start + t_offset
        out += b"\0" * (end - len(out))
        out += t.data
    return bytes(out + tail)


# ---- the base model: a valid tiny GPT-2 ------------------------------------

N_EMBD, N_HEAD, N_LAYER, N_CTX, N_FF = 4, 2, 1, 4, 16


def byte_tokens():
    """GPT-2's bytes_to_unicode, in byte-token order (ids 0..255)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapped, extra = {}, 0
    for b in range(256):
        if b in printable:
            mapped[b] = chr(b)
        else:
            mapped[b] = chr(256 + extra)
            extra += 1
    return [mapped[b] for b in printable] + [mapped[b] for b in range(256) if b not in printable]


TOKENS = byte_tokens() + ["\u0120t", "he", "<|endoftext|>"]
MERGES = ["\u0120 t", "h e"]
EOT = len(TOKENS) - 1
N_VOCAB = len(TOKENS)

rng = np.random.default_rng(20240521)


def weights(*shape):
    return (rng.standard_normal(shape) * 0.1).astype(np.float32)


def f32(a):
    return a.astype("<f4").tobytes()


def f16(a):
    return a.astype("<f2").tobytes()


def bf16(a):
    bits = a.astype("<f4").view("<u4").astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()


def hparams(**override):
    keys = {
        "gpt2.context_length": (U32, N_CTX),
        "gpt2.embedding_length": (U32, N_EMBD),
        "gpt2.feed_forward_length": (U32, N_FF),
        "gpt2.block_count": (U32, N_LAYER),
        "gpt2.attention.head_count": (U32, N_HEAD),
        "gpt2.attention.layer_norm_epsilon": (F32, 1e-5),
    }
    keys.update(override)
    return keys


def vocab(**override):
    keys = {
        "tokenizer.ggml.model": (STR, "gpt2"),
        "tokenizer.ggml.pre": (STR, "gpt-2"),
        "tokenizer.ggml.tokens": (ARR, (STR, TOKENS)),
        "tokenizer.ggml.token_type": (ARR, (I32, [1] * EOT + [3])),
        "tokenizer.ggml.merges": (ARR, (STR, MERGES)),
        "tokenizer.ggml.bos_token_id": (U32, EOT),
        "tokenizer.ggml.eos_token_id": (U32, EOT),
    }
    keys.update(override)
    return keys


# Weights: F16 embeddings and output, F32 norms and biases, F32 and BF16
# matrices, so that the base file exercises several types.
BASE_WEIGHTS = {
    "token_embd.weight": weights(N_VOCAB, N_EMBD),
    "position_embd.weight": weights(N_CTX, N_EMBD),
    "output_norm.weight": 1 + weights(N_EMBD),
    "output_norm.bias": weights(N_EMBD),
    "blk.0.attn_norm.weight": 1 + weights(N_EMBD),
    "blk.0.attn_norm.bias": weights(N_EMBD),
    "blk.0.attn_qkv.weight": weights(3 * N_EMBD, N_EMBD),
    "blk.0.attn_qkv.bias": weights(3 * N_EMBD),
    "blk.0.attn_output.weight": weights(N_EMBD, N_EMBD),
    "blk.0.attn_output.bias": weights(N_EMBD),
    "blk.0.ffn_norm.weight": 1 + weights(N_EMBD),
    "blk.0.ffn_norm.bias": weights(N_EMBD),
    "blk.0.ffn_up.weight": weights(N_FF, N_EMBD),
    "blk.0.ffn_up.bias": weights(N_FF),
    "blk.0.ffn_down.weight": weights(N_EMBD, N_FF),
    "blk.0.ffn_down.bias": weights(N_EMBD),
}
# Vectors are exactly representable in F16 (good_f16_vectors converts them).
for _name, _array in BASE_WEIGHTS.items():
    if _array.ndim == 1:
        BASE_WEIGHTS[_name] = _array.astype(np.float16).astype(np.float32)
BASE_TYPES = {"token_embd.weight": T_F16, "blk.0.attn_qkv.weight": T_F16, "blk.0.ffn_up.weight": T_BF16}
ENCODE = {T_F32: f32, T_F16: f16, T_BF16: bf16}


def base_tensors(types=None, drop=(), extra=()):
    chosen = dict(BASE_TYPES, **(types or {}))
    tensors = []
    for name, array in BASE_WEIGHTS.items():
        if name in drop:
            continue
        ttype = chosen.get(name, T_F32)
        # ggml order: the contiguous dimension first
        tensors.append(Tensor(name, list(reversed(array.shape)), ttype, ENCODE[ttype](array)))
    return tensors + list(extra)


# ---- models with the block types llama-quantize writes -----------------------
# Random bytes for every block (every bit pattern of a block has a defined
# value: IQ4 indices are 4 bits into a 16-value grid), scales set to `scale`
# (an F16 bit pattern: a small finite value, or NaN / infinity for the
# bad-block variants). A separate generator keeps the other files unchanged.
block_rng = np.random.default_rng(17)


def random_blocks(ttype, n_values, scale):
    per_block, block_bytes, scale_fields = BLOCKS[ttype]
    blocks = block_rng.integers(0, 256, (n_values // per_block, block_bytes), dtype=np.uint8)
    for at in scale_fields:
        blocks[:, at], blocks[:, at + 1] = scale & 0xFF, scale >> 8
    return blocks.tobytes()


def typed_tensors(n_embd, n_ff, types, scale):
    """The base model's tensors at n_embd / n_ff, the matrices in `types`
    ({name: block type}) as random blocks, the rest F32."""
    shapes = {"token_embd.weight": (N_VOCAB, n_embd), "position_embd.weight": (N_CTX, n_embd),
              "blk.0.attn_qkv.weight": (3 * n_embd, n_embd), "blk.0.attn_qkv.bias": (3 * n_embd,),
              "blk.0.attn_output.weight": (n_embd, n_embd), "blk.0.ffn_up.weight": (n_ff, n_embd),
              "blk.0.ffn_up.bias": (n_ff,), "blk.0.ffn_down.weight": (n_embd, n_ff)}
    tensors = []
    for name in BASE_WEIGHTS:
        shape = shapes.get(name, (n_embd,))
        if name in types:
            data = random_blocks(types[name], shape[0] * shape[1], scale)
            tensors.append(Tensor(name, list(reversed(shape)), types[name], data))
        else:
            array = (1.0 if name.endswith("norm.weight") else 0.0) + block_rng.standard_normal(shape) * 0.1
            tensors.append(Tensor(name, list(reversed(shape)), T_F32, f32(array.astype(np.float32))))
    return tensors


def typed_model(n_embd, n_ff, types, scale=0x1800):  # 0x1800: 2^-9
    return model(hp={"gpt2.embedding_length": (U32, n_embd), "gpt2.feed_forward_length": (U32, n_ff)},
                 tensors=typed_tensors(n_embd, n_ff, types, scale))


# n_embd 32: the types of 32-value blocks; n_embd 256: the super-block types
# (each type in a layer matrix, and one as the token embedding, which is
# read row by row rather than multiplied).
SMALL_TYPES = {"token_embd.weight": T_IQ4_NL, "blk.0.attn_qkv.weight": T_Q4_1,
               "blk.0.attn_output.weight": T_Q5_0, "blk.0.ffn_up.weight": T_Q5_1,
               "blk.0.ffn_down.weight": T_IQ4_NL}
K_TYPES = {"token_embd.weight": T_Q3_K, "blk.0.attn_qkv.weight": T_Q2_K,
           "blk.0.attn_output.weight": T_Q3_K, "blk.0.ffn_up.weight": T_IQ4_XS,
           "blk.0.ffn_down.weight": T_Q2_K}


def model(general=None, hp=None, voc=None, tensors=None, drop_keys=(), **build_args):
    keys = {"general.architecture": (STR, "gpt2"), "general.name": (STR, "tiny"),
            "general.file_type": (U32, 1)}
    keys.update(general or {})
    keys.update(hparams(**(hp or {})))
    keys.update(vocab(**(voc or {})))
    kvs = [kv(k, t, v) for k, (t, v) in keys.items() if k not in drop_keys and t is not None]
    return build(kvs, base_tensors() if tensors is None else tensors, **build_args)


def header(version=3, n_tensors=0, n_kv=0):
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def only_kvs(*pairs, **build_args):
    return build(list(pairs), [], **build_args)


def one_tensor(name="t", dims=(32,), ttype=T_F32, data=b"\0" * 128, offset=None, **build_args):
    return build([], [Tensor(name, list(dims), ttype, data, offset)], **build_args)


# ---- the corpus ------------------------------------------------------------

CASES = []


def case(name, status, phrase, data):
    CASES.append((name + ".gguf", status, phrase, data))


def make_cases():
    # header
    case("empty", "FORMAT", "not a GGUF file", b"")
    case("bad_magic", "FORMAT", "not a GGUF file", b"GGUX" + header()[4:])
    case("truncated_header", "FORMAT", "truncated", b"GGUF\x03\x00\x00\x00\x01\x00")
    case("version_1", "UNSUPPORTED", "version 1", header(version=1))
    case("version_4", "UNSUPPORTED", "version 4", header(version=4))
    case("big_endian_header", "UNSUPPORTED", "big-endian",
         b"GGUF" + struct.pack(">IQQ", 3, 0, 0))
    case("big_endian_magic", "UNSUPPORTED", "big-endian", b"FUGG" + struct.pack(">IQQ", 3, 0, 0))
    case("huge_tensor_count", "FORMAT", "more than the", header(n_tensors=1 << 63) + b"\0" * 64)
    case("huge_kv_count", "FORMAT", "more than the", header(n_kv=1 << 40) + b"\0" * 64)

    # metadata
    case("key_length_huge", "FORMAT", "declares 1073741824 bytes",
         header(n_kv=1) + struct.pack("<Q", 1 << 30) + b"general.name" + b"\0" * 40)
    case("key_empty", "FORMAT", "length 0", only_kvs(kv("", U32, 1)))
    case("key_not_ascii", "FORMAT", "not printable", only_kvs(kv("general.n\u00e4me", U32, 1)))
    case("key_control_char", "FORMAT", "not printable", only_kvs(kv("general\nname", U32, 1)))
    case("value_type_invalid", "FORMAT", "invalid value type",
         only_kvs(gstr("general.name") + struct.pack("<II", 13, 0)))
    # a 1 GiB string declared in a 160-byte file
    case("string_length_huge", "FORMAT", "declares 1073741824 bytes",
         only_kvs(gstr("general.name") + struct.pack("<IQ", STR, 1 << 30) + b"x" * 100))
    case("bool_not_0_or_1", "FORMAT", "must be 0 or 1", only_kvs(kv("general.flag", BOOL, 2)))
    case("array_count_huge", "FORMAT", "cannot fit",
         only_kvs(gstr("general.tags") + struct.pack("<IIQ", ARR, U32, 1 << 62) + b"\0" * 32))
    case("array_string_count_huge", "FORMAT", "cannot fit",
         only_kvs(gstr("tokenizer.ggml.tokens") + struct.pack("<IIQ", ARR, STR, 1 << 40) + gstr("a")))
    case("array_element_type_invalid", "FORMAT", "invalid value type",
         only_kvs(gstr("general.tags") + struct.pack("<IIQ", ARR, 99, 1) + b"\0" * 8))
    nested = (U8, [1])
    for _ in range(5):
        nested = (ARR, [nested])
    case("array_nested_too_deep", "FORMAT", "nested deeper", only_kvs(kv("general.deep", ARR, nested)))
    case("array_string_truncated", "FORMAT", "declares",
         only_kvs(gstr("general.tags") + struct.pack("<IIQ", ARR, STR, 3) + gstr("a")
                  + struct.pack("<Q", 1000) + b"bc"))
    case("bool_array_not_0_or_1", "FORMAT", "must be 0 or 1", only_kvs(kv("general.flags", ARR, (BOOL, [0, 1, 7]))))
    case("duplicate_key", "FORMAT", "duplicate key general.name",
         only_kvs(kv("general.name", STR, "a"), kv("general.name", STR, "b")))
    case("truncated_in_metadata", "FORMAT", "truncated",
         (header(n_kv=2) + kv("general.name", STR, "tiny") + kv("general.file_type", U32, 1))[:-3])

    # alignment
    case("alignment_zero", "FORMAT", "power of two", only_kvs(kv("general.alignment", U32, 0)))
    case("alignment_not_power_of_two", "FORMAT", "power of two", only_kvs(kv("general.alignment", U32, 48)))
    case("alignment_huge", "FORMAT", "power of two",
         only_kvs(kv("general.alignment", U64, 1 << 62)))
    case("alignment_is_string", "FORMAT", "expected an integer", only_kvs(kv("general.alignment", STR, "32")))

    # tensor infos and data
    case("tensor_name_too_long", "FORMAT", "length 65", one_tensor(name="t" * 65))
    case("tensor_dims_0", "FORMAT", "0 dimensions", one_tensor(dims=()))
    case("tensor_dims_5", "FORMAT", "5 dimensions", one_tensor(dims=(32, 1, 1, 1, 1)))
    case("tensor_dims_product_wraps", "FORMAT", "overflows", one_tensor(dims=(1 << 32, 1 << 32)))
    case("tensor_dim_negative", "FORMAT", "overflows", one_tensor(dims=(1 << 63,)))
    case("tensor_type_unknown", "UNSUPPORTED", "type 99", one_tensor(ttype=99))
    case("tensor_type_removed", "UNSUPPORTED", "type 4", one_tensor(ttype=4))
    case("tensor_blocks_misfit", "FORMAT", "do not fill", one_tensor(dims=(33,), ttype=T_Q8_0))
    for ttype, name in ((T_Q4_1, "q4_1"), (T_Q5_0, "q5_0"), (T_Q5_1, "q5_1"), (T_Q2_K, "q2_k"),
                        (T_Q3_K, "q3_k"), (T_IQ4_NL, "iq4_nl"), (T_IQ4_XS, "iq4_xs")):
        per_block, block_bytes, _ = BLOCKS[ttype]
        case(f"tensor_blocks_misfit_{name}", "FORMAT", "do not fill",
             one_tensor(dims=(per_block + 16,), ttype=ttype, data=b"\0" * (2 * block_bytes)))
    case("tensor_bigger_than_file", "FORMAT", "more bytes than the file", one_tensor(dims=(1 << 40,)))
    case("tensor_offset_misaligned", "FORMAT", "not a multiple of the alignment",
         one_tensor(offset=4, tail=b"\0" * 256))
    case("tensor_offset_outside", "FORMAT", "outside", one_tensor(offset=1 << 20))
    case("tensor_offset_wraps", "FORMAT", "outside", one_tensor(offset=(1 << 64) - 32, tail=b"\0" * 256))
    case("tensor_overlap", "FORMAT", "overlap",
         build([], [Tensor("a", [32], T_F32, b"\0" * 128), Tensor("b", [8], T_F32, b"", offset=64)]))
    case("tensor_duplicate", "FORMAT", "duplicate tensor a",
         build([], [Tensor("a", [8], T_F32, b"\0" * 32), Tensor("a", [8], T_F32, b"\0" * 32)]))
    case("tensor_data_truncated", "FORMAT", "outside", model()[:-16])

    # GPT-2 semantics
    case("arch_llama", "UNSUPPORTED", "general.architecture is \"llama\"",
         model(general={"general.architecture": (STR, "llama")}))
    case("arch_missing", "FORMAT", "general.architecture is missing", model(drop_keys={"general.architecture"}))
    case("arch_not_string", "FORMAT", "expected a string", model(general={"general.architecture": (U32, 2)}))
    case("hparam_missing", "FORMAT", "gpt2.embedding_length is missing",
         model(drop_keys={"gpt2.embedding_length"}))
    case("hparam_negative", "FORMAT", "negative", model(hp={"gpt2.context_length": (I32, -1)}))
    case("hparam_huge", "FORMAT", "larger than", model(hp={"gpt2.embedding_length": (U64, 1 << 40)}))
    case("hparam_zero", "FORMAT", "gpt2.attention.head_count is 0", model(hp={"gpt2.attention.head_count": (U32, 0)}))
    case("hparam_is_string", "FORMAT", "expected an integer", model(hp={"gpt2.attention.head_count": (STR, "2")}))
    case("head_count_not_divisor", "FORMAT", "not a multiple", model(hp={"gpt2.attention.head_count": (U32, 3)}))
    # a layer count beyond the tensors present must not size an allocation
    case("block_count_huge", "FORMAT", "gpt2.block_count is 1000000000",
         model(hp={"gpt2.block_count": (U32, 1000000000)}))
    case("block_count_zero", "FORMAT", "gpt2.block_count is 0", model(hp={"gpt2.block_count": (U32, 0)}))
    case("epsilon_negative", "FORMAT", "layer_norm_epsilon", model(hp={"gpt2.attention.layer_norm_epsilon": (F32, -1.0)}))
    case("epsilon_is_integer", "FORMAT", "expected a float", model(hp={"gpt2.attention.layer_norm_epsilon": (U32, 0)}))
    case("tokenizer_llama", "UNSUPPORTED", "tokenizer.ggml.model", model(voc={"tokenizer.ggml.model": (STR, "llama")}))
    case("tokenizer_pre_llama3", "UNSUPPORTED", "tokenizer.ggml.pre", model(voc={"tokenizer.ggml.pre": (STR, "llama-bpe")}))
    case("tokens_missing", "FORMAT", "tokenizer.ggml.tokens is missing", model(drop_keys={"tokenizer.ggml.tokens"}))
    case("tokens_are_integers", "FORMAT", "expected an array of string",
         model(voc={"tokenizer.ggml.tokens": (ARR, (I32, list(range(N_VOCAB))))}))
    case("merges_are_bytes", "FORMAT", "tokenizer.ggml.merges: expected an array of string",
         model(voc={"tokenizer.ggml.merges": (ARR, (U8, [1, 2]))}))
    # the narrower-typed array: uint8 where int32 is expected
    case("token_type_uint8", "FORMAT", "tokenizer.ggml.token_type: expected an array of int32",
         model(voc={"tokenizer.ggml.token_type": (ARR, (U8, [1] * N_VOCAB))}))
    case("token_type_short", "FORMAT", "entries for", model(voc={"tokenizer.ggml.token_type": (ARR, (I32, [1] * 3))}))
    case("eos_out_of_range", "FORMAT", "outside the vocabulary", model(voc={"tokenizer.ggml.eos_token_id": (U32, N_VOCAB)}))
    case("bos_negative", "FORMAT", "negative", model(voc={"tokenizer.ggml.bos_token_id": (I32, -5)}))
    case("token_invalid_mapped_form", "FORMAT", "tokenizer.ggml",
         model(voc={"tokenizer.ggml.tokens": (ARR, (STR, TOKENS[:-1] + [b"\xff\xfe"]))}))
    case("tensor_missing", "FORMAT", "tensor blk.0.ffn_up.bias is missing",
         model(tensors=base_tensors(drop={"blk.0.ffn_up.bias"})))
    case("tensor_wrong_shape", "FORMAT", "blk.0.attn_qkv.weight has shape [4, 11]",
         model(tensors=base_tensors(drop={"blk.0.attn_qkv.weight"}, extra=[
             Tensor("blk.0.attn_qkv.weight", [N_EMBD, 3 * N_EMBD - 1], T_F32, b"\0" * (4 * N_EMBD * 11))])))
    case("tensor_type_unsupported", "UNSUPPORTED", "has type F64",
         model(tensors=base_tensors(drop={"output_norm.bias"}, extra=[
             Tensor("output_norm.bias", [N_EMBD], T_F64, b"\0" * (8 * N_EMBD))])))
    case("tensor_extra_block", "FORMAT", "unexpected tensor blk.1.attn_norm.weight",
         model(tensors=base_tensors(extra=[Tensor("blk.1.attn_norm.weight", [N_EMBD], T_F32, b"\0" * 4 * N_EMBD)])))
    case("tensor_unknown", "FORMAT", "unexpected tensor rope_freqs.weight",
         model(tensors=base_tensors(extra=[Tensor("rope_freqs.weight", [N_EMBD], T_F32, b"\0" * 4 * N_EMBD)])))
    case("vocab_larger_than_embedding", "FORMAT", "token_embd.weight has shape",
         model(voc={"tokenizer.ggml.tokens": (ARR, (STR, TOKENS + ["xy"])),
                    "tokenizer.ggml.token_type": (None, None)}))

    # valid variants
    case("good_base", "OK", "", model())
    case("good_v2", "OK", "", model(version=2))
    case("good_no_pre", "OK", "", model(drop_keys={"tokenizer.ggml.pre", "tokenizer.ggml.token_type"}))
    case("good_u64_hparams", "OK", "", model(hp={
        "gpt2.context_length": (U64, N_CTX), "gpt2.embedding_length": (I32, N_EMBD),
        "gpt2.block_count": (U16, N_LAYER), "gpt2.attention.head_count": (U8, N_HEAD),
        "gpt2.attention.layer_norm_epsilon": (F64, 1e-5)}, drop_keys={"gpt2.feed_forward_length"}))
    case("good_output_tensor", "OK", "", model(tensors=base_tensors(extra=[
        Tensor("output.weight", [N_EMBD, N_VOCAB], T_F32, f32(BASE_WEIGHTS["token_embd.weight"]))])))
    case("good_alignment_64", "OK", "", model(general={"general.alignment": (U32, 64)}, alignment=64))
    case("good_f16_vectors", "OK", "", model(tensors=base_tensors(types={
        n: T_F16 for n, a in BASE_WEIGHTS.items() if a.ndim == 1})))
    case("good_nested_array", "OK", "", model(general={"general.nested": (ARR, (ARR, [(STR, ["a", "b"]), (U8, [])]))}))
    case("good_types_32", "OK", "", typed_model(32, 128, SMALL_TYPES))
    case("good_types_256", "OK", "", typed_model(256, 256, K_TYPES))
    # bad blocks load (block contents are not checked) and evaluate to NaN
    # logits, which sampling refuses: defined results, never a crash
    case("blocks_nan_scales_32", "OK", "", typed_model(32, 128, SMALL_TYPES, scale=0x7E00))
    case("blocks_inf_scales_256", "OK", "", typed_model(256, 256, K_TYPES, scale=0x7C00))

    # issue 19 (hostile inputs, round two)
    # a float64 epsilon that is 0 as a float32: named, not "invalid hyper-parameters"
    case("hostile_epsilon_f32_zero", "FORMAT", "gpt2.attention.layer_norm_epsilon is 1e-50",
         model(hp={"gpt2.attention.layer_norm_epsilon": (F64, 1e-50)}))
    # keys are printable ASCII without spaces; tensor names may hold spaces
    case("hostile_key_with_space", "FORMAT", "not printable ASCII without spaces",
         only_kvs(kv("general.my key", U32, 1)))
    case("hostile_tensor_name_with_space", "FORMAT", "general.architecture is missing",
         one_tensor(name="a b"))
    # one 256 KiB token: loading it must not cost ~40 bytes of BPE work per
    # byte (test_regressions checks the peak allocation against the size)
    case("hostile_long_token", "OK", "",
         model(voc={"tokenizer.ggml.tokens": (ARR, (STR, byte_tokens() + ["a" * (256 << 10), "he", "<|endoftext|>"])),
                    "tokenizer.ggml.merges": (ARR, (STR, ["h e"]))}))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "gguf_bad")
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.endswith(".gguf"):
            os.remove(os.path.join(out_dir, old))
    make_cases()
    names = set()
    with open(os.path.join(out_dir, "index.txt"), "w") as index:
        index.write("# Generated by tools/gen/gen_bad_gguf.py: file, expected status, phrase in the message\n")
        for name, status, phrase, data in CASES:
            assert name not in names, name
            names.add(name)
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(data)
            index.write(f"{name}\t{status}\t{phrase}\n")
    bad = sum(1 for c in CASES if c[1] != "OK")
    print(f"{len(CASES)} files ({bad} bad) in {out_dir}")


if __name__ == "__main__":
    main()
