"""Independent GGUF reader and block dequantizers for the float64 reference.

Shares no code with libgpt2 (nor with ggml): written from the GGUF file
layout and the ggml block formats as documented by llama.cpp
(llama.cpp's ggml-common.h documents the block structs):

    Q8_0  32 weights:  f16 d, int8 q[32]                    w = d * q
    Q4_0  32 weights:  f16 d, u8 qs[16]                     w = d * (nibble - 8),
          low nibbles are weights 0..15, high nibbles 16..31
    Q4_K  256 weights: f16 d, f16 dmin, u8 scales[12], u8 qs[128]
          8 sub-blocks of 32, 6-bit scale sc and min m each:
          w = d * sc * nibble - dmin * m
    Q5_K  256 weights: f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
          as Q4_K with a fifth bit from qh
    Q6_K  256 weights: u8 ql[128], u8 qh[64], i8 scales[16], f16 d
          16 sub-blocks of 16: w = d * scale * (6-bit value - 32)
    Q4_1  32 weights:  f16 d, f16 m, u8 qs[16]              w = d * nibble + m
    Q5_0  32 weights:  f16 d, u32 qh, u8 qs[16]             w = d * (5-bit value - 16)
    Q5_1  32 weights:  f16 d, f16 m, u32 qh, u8 qs[16]      w = d * 5-bit value + m
          bit j of qh is the fifth bit of weight j
    Q2_K  256 weights: u8 scales[16], u8 qs[64], f16 d, f16 dmin
          16 sub-blocks of 16, 4-bit scale (low) and min (high) each:
          w = d * scale * 2-bit value - dmin * min
    Q3_K  256 weights: u8 hmask[32], u8 qs[64], u8 scales[12], f16 d
          16 sub-blocks of 16, 6-bit scales: w = d * (scale - 32) *
          (2-bit value - (4 if the hmask bit is clear else 0))
          (Q2_K and Q3_K: sub-block 8h + 2p + s is bit pair p of qs[32h + 16s ...],
          its hmask bit is bit 4h + p of hmask[16s ...])
    IQ4_NL 32 weights: f16 d, u8 qs[16]                     w = d * GRID[nibble]
    IQ4_XS 256 weights: f16 d, u16 scales_h, u8 scales_l[4], u8 qs[128]
          8 sub-blocks of 32 laid out as IQ4_NL, 6-bit scale each:
          w = d * (scale - 32) * GRID[nibble]

`read_gguf(path)` returns (metadata dict, {name: float64 array}, {name:
type name}) with the arrays in numpy's row-major order of the ggml shape
reversed, i.e. a matrix stored [n_out][n_in] comes back with shape
(n_out, n_in).
"""

import mmap
import struct

import numpy as np

# ggml type id: (name, weights per block, bytes per block)
TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 8: ("Q8_0", 32, 34),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 30: ("BF16", 1, 2),
    3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110), 20: ("IQ4_NL", 32, 18), 23: ("IQ4_XS", 256, 136),
}

# the 16 values an IQ4_NL / IQ4_XS nibble indexes (llama.cpp's kvalues_iq4nl)
GRID = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.float64)

# GGUF metadata value types: struct format of the fixed-size ones
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9


class _Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def string(self):
        n = self.take("<Q")
        text = self.data[self.at:self.at + n].decode("utf-8")
        self.at += n
        return text

    def value(self, kind):
        if kind in SCALARS:
            return self.take(SCALARS[kind])
        if kind == STRING:
            return self.string()
        if kind == ARRAY:
            item, n = self.take("<I"), self.take("<Q")
            return [self.value(item) for _ in range(n)]
        raise ValueError(f"metadata type {kind}")


def _f16(raw, column):
    """The little-endian float16 at byte `column` of every block row."""
    return raw[:, column:column + 2].copy().view("<f2").astype(np.float64)[:, 0]


def _k_scales(scales):
    """The 8 (scale, min) 6-bit pairs packed in a K block's 12 bytes."""
    s = scales.astype(np.int64)
    sc, mn = np.empty((len(s), 8), np.int64), np.empty((len(s), 8), np.int64)
    sc[:, :4], mn[:, :4] = s[:, 0:4] & 63, s[:, 4:8] & 63
    sc[:, 4:] = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc, mn


def _nibbles_by_subblock(qs):
    """K-type quants: each 32 bytes hold sub-block 2i (low nibbles) and 2i+1 (high)."""
    q = qs.astype(np.int64).reshape(len(qs), 4, 32)
    return np.stack([q & 0xF, q >> 4], axis=2).reshape(len(qs), 8, 32)


def _nibbles(qs):
    """Blocks of 32 weights: low nibbles are weights 0..15, high 16..31."""
    q = qs.astype(np.int64)
    return np.concatenate([q & 0xF, q >> 4], axis=1)


def _fifth_bits(qh):
    """The 32 fifth bits of a Q5_0/Q5_1 block, from its 4 little-endian bytes."""
    word = qh.astype(np.int64) << np.array([0, 8, 16, 24])
    word = word.sum(axis=1)
    return (word[:, None] >> np.arange(32)) & 1


def _two_bits(qs):
    """Q2_K/Q3_K 2-bit values as [block, 16 sub-blocks, 16]: (h, p, s) -> 8h + 2p + s."""
    q = qs.astype(np.int64).reshape(-1, 2, 1, 2, 16)  # [block, h, -, s, l]
    q = (q >> (2 * np.arange(4)).reshape(1, 1, 4, 1, 1)) & 3  # [block, h, p, s, l]
    return q.reshape(-1, 16, 16)


def dequantize(kind, raw, n_values):
    """float64 values of `n_values` weights of ggml type `kind` in `raw` bytes."""
    name, per_block, block_bytes = TYPES[kind]
    if n_values % per_block or len(raw) != n_values // per_block * block_bytes:
        raise ValueError(f"{name}: {len(raw)} bytes for {n_values} values")
    if name == "F32":
        return raw.view("<f4").astype(np.float64)
    if name == "F16":
        return raw.view("<f2").astype(np.float64)
    if name == "BF16":
        return (raw.view("<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
    b = raw.reshape(-1, block_bytes)
    if name == "Q8_0":
        return (_f16(b, 0)[:, None] * b[:, 2:].view(np.int8)).reshape(-1)
    if name == "Q4_0":
        q = b[:, 2:].astype(np.int64)
        return (_f16(b, 0)[:, None] * (np.concatenate([q & 0xF, q >> 4], axis=1) - 8)).reshape(-1)
    if name in ("Q4_K", "Q5_K"):
        d, dmin = _f16(b, 0), _f16(b, 2)
        sc, mn = _k_scales(b[:, 4:16])
        q = _nibbles_by_subblock(b[:, -128:])
        if name == "Q5_K":  # bit i of qh[l] is the fifth bit of sub-block i's weight l
            qh = b[:, 16:48].astype(np.int64)
            q = q + 16 * np.stack([(qh >> i) & 1 for i in range(8)], axis=1)
        w = d[:, None, None] * sc[:, :, None] * q - dmin[:, None, None] * mn[:, :, None]
        return w.reshape(-1)
    if name == "Q6_K":
        ql = b[:, 0:128].astype(np.int64).reshape(-1, 2, 64)
        qh = b[:, 128:192].astype(np.int64).reshape(-1, 2, 32)
        scales = b[:, 192:208].view(np.int8).astype(np.int64).reshape(-1, 2, 8)
        d = _f16(b, 208)
        # each half of 128 weights: 4 groups of 32, group g takes low (g < 2)
        # or high nibbles of ql[32 (g % 2) ...] and bits 2g..2g+1 of qh
        groups = []
        for g in range(4):
            low = ql[:, :, 32 * (g % 2):32 * (g % 2) + 32]
            low = low & 0xF if g < 2 else low >> 4
            groups.append((low | (((qh >> (2 * g)) & 3) << 4)) - 32)
        q = np.stack(groups, axis=2)  # [block, half, group, 32]
        scale = scales.reshape(-1, 2, 4, 2)  # one scale per 16 weights
        w = d[:, None, None, None, None] * scale[..., None] * q.reshape(-1, 2, 4, 2, 16)
        return w.reshape(-1)
    if name == "Q4_1":
        return (_f16(b, 0)[:, None] * _nibbles(b[:, 4:]) + _f16(b, 2)[:, None]).reshape(-1)
    if name == "Q5_0":
        q = _nibbles(b[:, 6:]) + 16 * _fifth_bits(b[:, 2:6])
        return (_f16(b, 0)[:, None] * (q - 16)).reshape(-1)
    if name == "Q5_1":
        q = _nibbles(b[:, 8:]) + 16 * _fifth_bits(b[:, 4:8])
        return (_f16(b, 0)[:, None] * q + _f16(b, 2)[:, None]).reshape(-1)
    if name == "Q2_K":
        scales = b[:, 0:16].astype(np.int64)
        d, dmin = _f16(b, 80), _f16(b, 82)
        q = _two_bits(b[:, 16:80])
        w = (d[:, None] * (scales & 0xF))[:, :, None] * q - (dmin[:, None] * (scales >> 4))[:, :, None]
        return w.reshape(-1)
    if name == "Q3_K":
        hmask = b[:, 0:32].astype(np.int64).reshape(-1, 1, 1, 2, 16)  # [block, -, -, s, l]
        bit = (4 * np.arange(2)).reshape(1, 2, 1, 1, 1) + np.arange(4).reshape(1, 1, 4, 1, 1)
        high = ((hmask >> bit) & 1).reshape(-1, 16, 16)
        q = _two_bits(b[:, 32:96]) - 4 * (1 - high)
        packed = b[:, 96:108].astype(np.int64)
        g = np.arange(16)
        scale = ((packed[:, g % 8] >> (4 * (g // 8))) & 0xF) | (((packed[:, 8 + g % 4] >> (2 * (g // 4))) & 3) << 4)
        return (_f16(b, 108)[:, None, None] * (scale - 32)[:, :, None] * q).reshape(-1)
    if name == "IQ4_NL":
        return (_f16(b, 0)[:, None] * GRID[_nibbles(b[:, 2:])]).reshape(-1)
    if name == "IQ4_XS":
        high = b[:, 2].astype(np.int64) | (b[:, 3].astype(np.int64) << 8)
        low = b[:, 4:8].astype(np.int64)
        sub = np.arange(8)
        scale = ((low[:, sub // 2] >> (4 * (sub % 2))) & 0xF) | (((high[:, None] >> (2 * sub)) & 3) << 4)
        q = _nibbles(b[:, 8:].reshape(-1, 16)).reshape(-1, 8, 32)
        return (_f16(b, 0)[:, None, None] * (scale - 32)[:, :, None] * GRID[q]).reshape(-1)
    raise ValueError(f"type {name}")


def _header(data, path):
    """The metadata dict, the tensor infos (name, dims, type id, offset) and
    the start of the data section of the GGUF file `data`."""
    r = _Reader(data)
    if data[:4] != b"GGUF":
        raise ValueError(f"{path}: not GGUF")
    r.at = 4
    version, n_tensors, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
    if version not in (2, 3):
        raise ValueError(f"{path}: GGUF version {version}")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        infos.append((name, dims, r.take("<I"), r.take("<Q")))
    alignment = meta.get("general.alignment", 32)
    return meta, infos, (r.at + alignment - 1) // alignment * alignment


def tensor_types(path):
    """{name: (type name, dims)} of a GGUF file, reading only its header."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        _, infos, _ = _header(data, path)
    return {name: (TYPES[kind][0] if kind in TYPES else str(kind), dims) for name, dims, kind, _ in infos}


def read_gguf(path):
    with open(path, "rb") as f:
        data = f.read()
    meta, infos, start = _header(data, path)
    tensors = {}
    for name, dims, kind, offset in infos:
        n = int(np.prod(dims))
        size = n // TYPES[kind][1] * TYPES[kind][2]
        raw = np.frombuffer(data, np.uint8, size, start + offset)
        tensors[name] = dequantize(kind, raw, n).reshape(tuple(reversed(dims)))
    return meta, tensors, {name: TYPES[kind][0] for name, _, kind, _ in infos}
