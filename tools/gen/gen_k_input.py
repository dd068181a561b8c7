#!/usr/bin/python3
"""Writes tests/data/quant/k_input.f32: 16 super-blocks of 256 floats on
which ggml's K and 32-block quantizers are run (tools/check_llamacpp.sh
writes their bytes, tests/unit/test_quant_k.c compares ours). Blocks 0-7
are shaped to reach every branch of the quantizers; 8-15 are Gaussian
weights of scales 1e-6 .. 10.

Regenerate with: /usr/bin/python3 tools/gen/gen_k_input.py [directory]
"""
import os
import sys

import numpy as np

rng = np.random.default_rng(17)
f32 = np.float32


def sub_blocks(parts):
    return np.concatenate([np.asarray(p, dtype=f32) for p in parts])


blocks = [
    # typical weights, and weights with a few outliers
    rng.normal(0, 0.02, 256),
    np.where(rng.random(256) < 0.03, 10.0, 1.0) * rng.normal(0, 0.02, 256),
    # one sub-block (32 values) per special case
    sub_blocks([
        np.zeros(32),                        # max == min: step 0
        np.full(32, 0.5),                    # constant positive: min clamped to 0
        rng.uniform(0.1, 1.0, 32),           # all positive
        rng.uniform(-1.0, -0.1, 32),         # all negative
        rng.normal(0, 1e-30, 32),            # steps that round to 0 in 6 bits
        rng.normal(0, 100.0, 32),            # dominates the super-block's d
        np.linspace(-1, 1, 32),              # a ramp
        np.round(rng.normal(0, 4, 32)) / 8,  # values on a grid: ties
    ]),
    np.zeros(256),
    rng.uniform(-1, 1, 256),
    sub_blocks([rng.normal(0, 10.0 ** k, 32) for k in range(-4, 4)]),
    np.round(rng.uniform(-16, 16, 256)) / 16,
    rng.normal(0, 1e-6, 256),            # F16 subnormal super-block scales
]
blocks += [rng.normal(0, scale, 256) for scale in (1e-6, 1e-4, 1e-3, 0.01, 0.05, 0.1, 1.0, 10.0)]
data = np.concatenate([np.asarray(b, dtype=f32) for b in blocks])
assert data.size == 16 * 256
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../tests/data/quant")
data.astype("<f4").tofile(os.path.join(out, "k_input.f32"))
