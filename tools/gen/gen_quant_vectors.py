#!/usr/bin/python3
"""Writes tests/data/quant/: inputs and expected outputs for the weight type
conversions of lib/model/quant.c, computed independently here (numpy
float32 arithmetic, element by element, from the GGUF block definitions):

  input.f32         n floats (n a multiple of 32): edge cases and random blocks
  f16.bin, bf16.bin the inputs rounded to nearest even
  q8_0.bin, q4_0.bin the inputs quantized as ggml's reference quantizers
                    (quantize_row_q8_0_ref, quantize_row_q4_0_ref)
  q8_0.f32, q4_0.f32 the values of those blocks
  q6_k_quant.bin    the inputs' first 2560 values (less the edge cases)
                    quantized as quantize_row_q6_K_ref
  q6_k.bin, q4_k.bin, q5_k.bin   random super-blocks
  q6_k.f32, q4_k.f32, q5_k.f32   their values

Regenerate with: /usr/bin/python3 tools/gen/gen_quant_vectors.py [directory]
"""
import math
import os
import struct
import sys

import numpy as np

f32 = np.float32
rng = np.random.default_rng(7)


# ---- 16-bit floats ----------------------------------------------------------

def f16_bits(x):
    with np.errstate(over="ignore"):  # overflow to infinity is the expected result
        return int(np.array([x], dtype=np.float32).astype(np.float16).view(np.uint16)[0])


def bf16_bits(x):
    """Round to nearest even by comparing the two candidates in float64."""
    bits = int(np.array([x], dtype=np.float32).view(np.uint32)[0])
    if (bits & 0x7FFFFFFF) > 0x7F800000:
        return (bits >> 16) | 0x40  # NaN: quiet
    if (bits & 0x7FFFFFFF) == 0x7F800000:
        return bits >> 16  # infinities are exact
    low = bits & 0xFFFF0000
    high = low + 0x10000
    value = float(x)

    def as_float(b):
        if (b & 0x7FFFFFFF) == 0x7F800000:
            return math.copysign(2.0 ** 128, value)  # rounding past the largest finite
        return float(np.array([b & 0xFFFFFFFF], dtype=np.uint32).view(np.float32)[0])

    d_low, d_high = abs(value - as_float(low)), abs(as_float(high) - value)
    if d_low < d_high or (d_low == d_high and (low >> 16) % 2 == 0):
        return low >> 16
    return (high >> 16) & 0xFFFF


def f16_value(bits):
    return f32(np.array([bits], dtype=np.uint16).view(np.float16)[0])


# ---- Q8_0 and Q4_0 from their definitions ---------------------------------

def round_half_away(v):
    """C roundf on a float32 value (exact in float64)."""
    v = float(v)
    return math.copysign(math.floor(abs(v) + 0.5), v)


def q8_0_block(x):
    amax = f32(0)
    for v in x:
        amax = max(amax, abs(v))
    d = amax / f32(127)
    inv = f32(1) / d if d != 0 else f32(0)
    out = struct.pack("<H", f16_bits(d))
    for v in x:
        out += struct.pack("<b", int(round_half_away(v * inv)))
    return out


def q8_0_values(block):
    d = f16_value(struct.unpack("<H", block[0:2])[0])
    return [f32(q) * d for q in np.frombuffer(block[2:34], dtype=np.int8)]


def q4_0_values(block):
    d = f16_value(struct.unpack("<H", block[0:2])[0])
    nibbles = [b & 15 for b in block[2:18]] + [b >> 4 for b in block[2:18]]
    return [f32(q - 8) * d for q in nibbles]


def q4_0_block(x):
    amax, largest = f32(0), f32(0)
    for v in x:
        if amax < abs(v):
            amax, largest = abs(v), v
    d = largest / f32(-8)
    inv = f32(1) / d if d != 0 else f32(0)
    out = struct.pack("<H", f16_bits(d))
    q = [min(15, math.trunc(float(f32(v * inv) + f32(8.5)))) for v in x]
    return out + bytes(q[i] | q[i + 16] << 4 for i in range(16))


# ---- Q6_K quantization (quantize_row_q6_K_ref, make_qx_quants) -----------

def nearest_int(v):
    """ggml's rounding: add 1.5 * 2^23 in float32, read the mantissa."""
    shifted = np.array([f32(v) + f32(12582912.0)], dtype=np.float32)
    return int((int(shifted.view(np.int32)[0]) & 0x007FFFFF) - 0x00400000)


def fit_group(x):
    """Weighted (x^2) least-squares fit of 16 values to q in [-32, 31]."""
    amax, largest = f32(0), f32(0)
    for v in x:
        if abs(v) > amax:
            amax, largest = abs(v), v
    if amax < f32(1e-15):
        return f32(0), [0] * 16

    def levels(iscale):
        return [max(-32, min(31, nearest_int(iscale * v))) for v in x]

    def sums(q):
        sumlx = suml2 = f32(0)
        for v, l in zip(x, q):
            w = v * v
            sumlx = sumlx + w * v * f32(l)
            suml2 = suml2 + w * f32(l) * f32(l)
        return sumlx, suml2

    q = levels(f32(-32) / largest)
    sumlx, suml2 = sums(q)
    scale = sumlx / suml2 if suml2 != 0 else f32(0)
    best = scale * sumlx
    for step in [s for s in range(-9, 10) if s != 0]:
        iscale = -(f32(32) + f32(0.1) * f32(step)) / largest
        trial = levels(iscale)
        sumlx, suml2 = sums(trial)
        if suml2 > 0 and sumlx * sumlx > best * suml2:
            q, scale = trial, sumlx / suml2
            best = scale * sumlx
    return scale, [l + 32 for l in q]


def q6_k_block(x):
    fits = [fit_group(x[16 * g:16 * g + 16]) for g in range(16)]
    largest, amax = f32(0), f32(0)
    for scale, _ in fits:
        if abs(scale) > amax:
            amax, largest = abs(scale), scale
    if amax < f32(1e-15):
        return bytes(210)
    iscale = f32(-128) / largest
    d_bits = f16_bits(f32(1) / iscale)
    d = f16_value(d_bits)
    group_scales = [min(127, nearest_int(iscale * scale)) for scale, _ in fits]
    L = []
    for g, (scale, levels) in enumerate(fits):
        group_d = d * f32(group_scales[g])
        if group_d != 0:
            levels = [max(-32, min(31, nearest_int(v / group_d))) + 32 for v in x[16 * g:16 * g + 16]]
        L += levels
    ql, qh = bytearray(128), bytearray(64)
    for i, q in enumerate(L):            # element i: see q6_k_values
        half, within = divmod(i, 128)
        run, l = divmod(within, 32)
        ql[64 * half + l + 32 * (run % 2)] |= (q & 15) << (4 * (run // 2))
        qh[32 * half + l] |= (q >> 4) << (2 * run)
    return bytes(ql) + bytes(qh) + np.array(group_scales, np.int8).tobytes() + struct.pack("<H", d_bits)


# ---- K super-blocks: values by element index ---------------------------

def q6_k_values(block):
    ql, qh = block[0:128], block[128:192]
    scales = np.frombuffer(block[192:208], dtype=np.int8)
    d = f16_value(struct.unpack("<H", block[208:210])[0])
    values = []
    for i in range(256):
        half, within = divmod(i, 128)
        run, l = divmod(within, 32)        # run 0..3 of 32 values
        low_byte = ql[64 * half + l + 32 * (run % 2)]
        low = low_byte & 15 if run < 2 else low_byte >> 4
        high = (qh[32 * half + l] >> (2 * run)) & 3
        scale = scales[8 * half + 2 * run + l // 16]
        values.append(d * f32(scale) * f32((low | high << 4) - 32))
    return values


def k_scale_min(packed, j):
    """6-bit scale and min of sub-block j from the 12 packed bytes."""
    if j < 4:
        return packed[j] & 63, packed[4 + j] & 63
    low_scale, low_min = packed[8 + j - 4] & 15, packed[8 + j - 4] >> 4
    return low_scale | (packed[j - 4] >> 6) << 4, low_min | (packed[j] >> 6) << 4


def qk_values(block, five_bits):
    d = f16_value(struct.unpack("<H", block[0:2])[0])
    dmin = f16_value(struct.unpack("<H", block[2:4])[0])
    packed = block[4:16]
    qh = block[16:48] if five_bits else None
    qs = block[48:176] if five_bits else block[16:144]
    values = []
    for i in range(256):
        sub, l = divmod(i, 32)             # sub-block 0..7
        byte = qs[32 * (sub // 2) + l]
        q = byte & 15 if sub % 2 == 0 else byte >> 4
        if five_bits and qh[l] >> sub & 1:
            q += 16
        scale, minimum = k_scale_min(packed, sub)
        step, offset = d * f32(scale), dmin * f32(minimum)
        values.append(f32(step * f32(q)) - offset)
    return values


def random_k_block(size, scale_offsets):
    block = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    for offset in scale_offsets:  # moderate finite F16 scales
        struct.pack_into("<H", block, offset, f16_bits(f32(rng.uniform(-0.02, 0.02))))
    return bytes(block)


# ---- inputs -----------------------------------------------------------------

def input_blocks():
    blocks = [np.zeros(32, f32)]
    # ties for Q8_0: amax 127 gives d = 1 exactly, so x * (1/d) = x
    ties = np.array([127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -126.5] + [0] * 23, f32)
    blocks.append(ties)
    # Q4_0 with max -8: d = 1; x + 8.5 lands on integers and halves
    q4 = np.array([-8, 7.5, -7.5, 0.5, -0.5, 6.5, 7.0, -0.49999997, 0.49999997] + [0.25] * 23, f32)
    blocks.append(q4)
    # equal magnitudes of both signs: the first one sets the sign of d
    blocks.append(np.array([3, -3] + list(rng.uniform(-3, 3, 30)), f32))
    blocks.append(np.array([-3, 3] + list(rng.uniform(-3, 3, 30)), f32))
    # one value, tiny values (subnormal and zero F16 scales), huge ones (inf scale)
    one = np.zeros(32, f32)
    one[17] = -0.75
    blocks += [one, np.full(32, 1e-6, f32), (rng.standard_normal(32) * 1e-9).astype(f32),
               (rng.standard_normal(32) * 1e6).astype(f32), (rng.standard_normal(32) * 1e7).astype(f32)]
    # random blocks over many magnitudes
    for _ in range(86):
        blocks.append((rng.standard_normal(32) * 10.0 ** rng.uniform(-4, 3)).astype(f32))
    # F16/BF16 edge cases: halfway points, subnormals, overflow
    edges = np.array([65504, 65519.99, 65520, 1e9, -1e9, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26,
                      2.0 ** -14 * 1.5, 1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8,
                      3.3895314e38, 3.4e38, -0.0, 1e-40, -1e-45, float("inf"), float("-inf")]
                     + [0.1 * k for k in range(12)], f32)
    blocks.append(edges)
    return blocks


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "quant")
    os.makedirs(out_dir, exist_ok=True)
    blocks = input_blocks()
    quantizable = blocks[:-1]  # the edge block holds infinities
    values = np.concatenate(blocks)

    def write(name, data):
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)

    write("input.f32", values.astype("<f4").tobytes())
    write("f16.bin", b"".join(struct.pack("<H", f16_bits(v)) for v in values))
    write("bf16.bin", b"".join(struct.pack("<H", bf16_bits(v)) for v in values))
    for name, quantize, decode, size in (("q8_0", q8_0_block, q8_0_values, 34),
                                         ("q4_0", q4_0_block, q4_0_values, 18)):
        data = b"".join(quantize(b) for b in quantizable)
        write(name + ".bin", data)
        with np.errstate(invalid="ignore"):  # an infinite scale times 0
            decoded = [v for i in range(0, len(data), size) for v in decode(data[i:i + size])]
        write(name + ".f32", np.array(decoded, "<f4").tobytes())
    q6_input = np.concatenate(quantizable)[:2560]
    with np.errstate(over="ignore"):  # huge inputs overflow the fit's sums, in C as here
        write("q6_k_quant.bin", b"".join(q6_k_block(q6_input[i:i + 256]) for i in range(0, 2560, 256)))
    for name, size, scales, decode in (("q6_k", 210, (208,), q6_k_values),
                                       ("q4_k", 144, (0, 2), lambda b: qk_values(b, False)),
                                       ("q5_k", 176, (0, 2), lambda b: qk_values(b, True))):
        superblocks = [random_k_block(size, scales) for _ in range(8)]
        write(name + ".bin", b"".join(superblocks))
        write(name + ".f32", np.array([v for b in superblocks for v in decode(b)], "<f4").tobytes())
    print(f"{len(values)} values, {len(quantizable)} quantized blocks in {out_dir}")


if __name__ == "__main__":
    main()
