"""Writes the golden files of tests/data/golden/ from the float64 reference.

    make_golden.py MODELS_DIR GOLDEN_DIR NAME...
    make_golden.py --variants QUANTIZE MODELS_DIR GOLDEN_DIR DATA_DIR

NAME is a <model>-<dtype> directory in MODELS_DIR (tools/gen/make_models.sh
--list). For each model, one prompt is chosen for all its dtypes: the first
candidate whose greedy continuation is safe to compare (every step's top-1
minus top-2 logit gap at least MIN_MARGIN, far above the test tolerances, so
float32 rounding cannot flip a choice) and not degenerate (at least
MIN_DISTINCT different tokens). The file format is in GOLDEN_DIR/README.md.

--variants writes the golden data of VARIANTS below (listed in
GOLDEN_DIR/variants.txt): quantized GGUF files that QUANTIZE (the
gpt2-quantize program) writes from the generated models, the llama.cpp-made
GGUF files committed in DATA_DIR/llamacpp, and the F16 KV cache. The
reference reads each GGUF itself and dequantizes its blocks exactly
(gguf_ref.py), so the golden logits are those of the quantized weights: a
test against them sees libgpt2's arithmetic, not the quantization error.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_ref  # noqa: E402
import gpt2_ref  # noqa: E402

PROMPT_LEN = 16
CONTINUATION_LEN = 32
MIN_MARGIN = 5e-3
MIN_DISTINCT = 8
MAX_ROWS_FULL_VOCAB = 4096  # larger vocabularies keep only a few rows


def candidate_prompt(n_vocab, attempt):
    """Deterministic ids spread over the vocabulary, <|endoftext|> excluded."""
    return [(7919 * (i + 1) + 104729 * attempt) % (n_vocab - 1) for i in range(PROMPT_LEN)]


# name: (source, kind, argument). kind "gguf": the source model written by
# gpt2-quantize --type argument; "file": a GGUF under DATA_DIR; "kv_f16":
# the source model with keys and values rounded to float16 in the cache;
# "bf16_products": the source model with the activations of its weight
# products rounded to bfloat16, as the avx512bf16 kernel table computes.
VARIANTS = {
    "tiny-q8_0": ("tiny-f32", "gguf", "q8_0"),
    "tiny-q4_0": ("tiny-f32", "gguf", "q4_0"),
    "mid-q8_0": ("mid-f32", "gguf", "q8_0"),
    "mid-q4_0": ("mid-f32", "gguf", "q4_0"),  # Q4_0 layers, Q8_0 embeddings (the one weight-type policy)
    "kq-q4_k_m": (None, "file", "llamacpp/kq-q4_k_m.gguf"),
    "kq-q5_k_m": (None, "file", "llamacpp/kq-q5_k_m.gguf"),
    "kq-q4_1": (None, "file", "llamacpp/kq-q4_1.gguf"),
    "kq-q5_0": (None, "file", "llamacpp/kq-q5_0.gguf"),
    "kq-q5_1": (None, "file", "llamacpp/kq-q5_1.gguf"),
    "kq-q2_k": (None, "file", "llamacpp/kq-q2_k.gguf"),  # Q2_K and Q3_K
    "kq-iq4_nl": (None, "file", "llamacpp/kq-iq4_nl.gguf"),
    "kq-iq4_xs": (None, "file", "llamacpp/kq-iq4_xs.gguf"),
    "tiny-f32-kvf16": ("tiny-f32", "kv_f16", None),
    "mid-f32-kvf16": ("mid-f32", "kv_f16", None),
    "odd-f32-kvf16": ("odd-f32", "kv_f16", None),
    "tiny-bf16p": ("tiny-bf16", "bf16_products", None),
    "mid-bf16p": ("mid-bf16", "bf16_products", None),
    "odd-bf16p": ("odd-bf16", "bf16_products", None),
    "124m-bf16p": ("124m-bf16", "bf16_products", None),
}


def fnv1a64(path):
    value = 0xcbf29ce484222325
    with open(path, "rb") as f:
        for byte in f.read():
            value = ((value ^ byte) * 0x100000001b3) & 0xffffffffffffffff
    return f"{value:016x}"


def read_checksum(model_dir):
    with open(os.path.join(model_dir, "gen_model.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("safetensors_fnv1a64 "):
                return line.split()[1]
    raise ValueError(f"{model_dir}/gen_model.txt: no checksum")


def golden_for(model, prompt):
    continuation, margins = model.greedy(prompt, CONTINUATION_LEN)
    ok = min(margins) >= MIN_MARGIN and len(set(continuation)) >= MIN_DISTINCT
    return ok, continuation, margins


def write_golden(golden_dir, name, model_dir, model, prompt, continuation, margins, extra=()):
    """extra: the variant's lines (source, gguf/file, kv_type, its weights'
    hash); a plain model's hash is the one gen_model recorded."""
    if model.n_vocab <= MAX_ROWS_FULL_VOCAB:
        rows = list(range(PROMPT_LEN))
    else:
        rows = [0, PROMPT_LEN - 1]
    logits = model.logits(prompt)[rows]
    approx = gpt2_ref.Model(model_dir, np.float32, model.kv_f16, model.bf16_products)
    approx = approx.logits(prompt)[rows].astype(np.float64)
    with open(os.path.join(golden_dir, name + ".logits"), "wb") as f:
        f.write(logits.astype("<f4").tobytes())
    ints = lambda values: " ".join(str(v) for v in values)  # noqa: E731
    lines = [
        "# libgpt2 golden data, format 1: see README.md",
        f"model {name}",
        *(extra or [f"weights_fnv1a64 {read_checksum(model_dir)}"]),
        f"n_vocab {model.n_vocab}",
        f"prompt {len(prompt)} {ints(prompt)}",
        f"continuation {len(continuation)} {ints(continuation)}",
        f"min_margin {min(margins):.6g}",
        f"rows {len(rows)} {ints(rows)}",
        f"argmax {len(rows)} {ints(int(np.argmax(r)) for r in logits)}",
        f"max_abs_logit {np.abs(logits).max():.6g}",
        f"numpy_float32_max_error {np.abs(approx - logits).max():.3g}",
    ]
    with open(os.path.join(golden_dir, name + ".txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{name}: prompt {prompt[:4]}..., {len(set(continuation))} distinct, "
          f"min margin {min(margins):.3g}, numpy float32 error {np.abs(approx - logits).max():.3g}")


def write_variants(quantize, models_dir, golden_dir, data_dir):
    with tempfile.TemporaryDirectory() as tmp:
        for name in VARIANTS:
            write_variant(name, quantize, models_dir, golden_dir, data_dir, tmp)
    with open(os.path.join(golden_dir, "variants.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(VARIANTS) + "\n")


def write_variant(name, quantize, models_dir, golden_dir, data_dir, tmp):
    source, kind, argument = VARIANTS[name]
    extra = [f"source {source}"] if source else []
    if kind == "gguf":
        path = os.path.join(tmp, name + ".gguf")
        subprocess.run([quantize, os.path.join(models_dir, source), path, "--type", argument],
                       check=True, stdout=subprocess.DEVNULL)
        extra.append(f"gguf {argument}")
    elif kind == "file":
        path = os.path.join(data_dir, argument)
        extra.append(f"file {argument}")
    else:
        path = os.path.join(models_dir, source)
        extra.append("kv_type f16" if kind == "kv_f16" else "products bf16")
    if kind in ("kv_f16", "bf16_products"):
        extra.append(f"weights_fnv1a64 {read_checksum(path)}")
    else:
        _, _, types = gguf_ref.read_gguf(path)
        blocks = sorted({t for t in types.values() if t not in ("F32", "F16", "BF16")})
        extra += [f"weights_fnv1a64 {fnv1a64(path)}", f"block_types {len(blocks)} {' '.join(blocks)}"]
    model = gpt2_ref.Model(path, kv_f16=kind == "kv_f16", bf16_products=kind == "bf16_products")
    for attempt in range(100):
        prompt = candidate_prompt(model.n_vocab, attempt)
        ok, continuation, margins = golden_for(model, prompt)
        if ok:
            break
    else:
        raise RuntimeError(f"no safe prompt for {name}")
    write_golden(golden_dir, name, path, model, prompt, continuation, margins, extra)


def main(argv):
    if len(argv) == 6 and argv[1] == "--variants":
        write_variants(*argv[2:])
        return 0
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    models_dir, golden_dir, names = argv[1], argv[2], argv[3:]
    by_model = {}
    for name in names:
        by_model.setdefault(name.rsplit("-", 1)[0], []).append(name)
    for variants in by_model.values():
        models = {name: gpt2_ref.Model(os.path.join(models_dir, name)) for name in variants}
        n_vocab = next(iter(models.values())).n_vocab
        for attempt in range(100):
            prompt, results = candidate_prompt(n_vocab, attempt), {}
            for name, model in models.items():
                ok, continuation, margins = golden_for(model, prompt)
                if not ok:
                    break
                results[name] = (continuation, margins)
            else:
                break
        else:
            raise RuntimeError(f"no safe prompt for {variants}")
        for name, (continuation, margins) in results.items():
            write_golden(golden_dir, name, os.path.join(models_dir, name), models[name],
                         prompt, continuation, margins)
    with open(os.path.join(golden_dir, "models.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(names) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
