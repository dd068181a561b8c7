"""Independent float64 reference of GPT-2 inference, for golden test data.

Shares no code with libgpt2: its own safetensors reader and a plain numpy
forward pass written from the GPT-2 definition:

    h = wte[tokens] + wpe[positions]
    per block:  h += proj(causal_mha(ln_1(h)));  h += mlp(ln_2(h))
    logits = ln_f(h) @ wte.T                   (unembedding tied to wte)

with pre-LayerNorm (biased variance, eps from config.json), attention scale
1/sqrt(head_dim) and GELU's tanh approximation ("gelu_new"). Hugging Face
Conv1D weights are stored [n_in, n_out], so a layer is x @ W + b.

F16 and BF16 weights are widened to float64 exactly. A GGUF file (the
path of a .gguf instead of a directory) is read by gguf_ref.py, its
quantized blocks dequantized to float64 exactly; a separate output.weight
replaces the tied unembedding. Every computation is float64 unless
`dtype=np.float32` is asked for: that variant only serves to estimate how
far a float32 implementation lands from the float64 one. `kv_f16=True`
rounds every key and value to float16 as they enter the cache, as a
float16 KV cache does (libgpt2's GPT2_KV_F16). `bf16_products=True` rounds
the activations entering each weight product to float32 and then bfloat16
(nearest, ties to even), as AVX512-BF16 products of BF16 weights do (the
"avx512bf16" table); the products themselves stay exact.

Command line (run with /usr/bin/python3, which has numpy):
    gpt2_ref.py stats MODEL_DIR [TOKEN_ID ...]
        logit spread, greedy continuation and its top-2 margins
    gpt2_ref.py sensitivity MODEL_DIR [TOKEN_ID ...]
        how far float32, float16 K/V and planted bugs (LayerNorm eps, GELU
        form and constant, a dropped bias, positions off by one) move the
        logits (the numbers behind the test tolerances); MODEL_DIR may be
        a .gguf file
"""

import json
import math
import os
import struct
import sys

import numpy as np

import gguf_ref

PREFIX = "transformer."


def read_safetensors(path):
    """Returns {name: float64 array} for every tensor in the file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} past the end")
    header = json.loads(data[8:8 + header_len].decode("utf-8"))
    buffer = memoryview(data)[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        raw = np.frombuffer(buffer[begin:end], dtype=np.uint8)
        if info["dtype"] == "F32":
            values = raw.view("<f4").astype(np.float64)
        elif info["dtype"] == "F16":
            values = raw.view("<f2").astype(np.float64)
        elif info["dtype"] == "BF16":
            # bfloat16 is the high half of a float32: exact widening
            values = (raw.view("<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
        else:
            raise ValueError(f"{path}: {name}: dtype {info['dtype']} not supported")
        if values.size != math.prod(shape):
            raise ValueError(f"{path}: {name}: {values.size} values for shape {shape}")
        tensors[name] = values.reshape(shape)
    return tensors


def round_bf16(x):
    """x rounded to float32, then to bfloat16 (nearest, ties to even)."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32).astype(np.asarray(x).dtype)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x):
    erf = np.frompyfunc(math.erf, 1, 1)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)).astype(x.dtype))


class Model:
    """A GPT-2 model directory, held in float64 (or float32 on request)."""

    def __init__(self, path, dtype=np.float64, kv_f16=False, bf16_products=False):
        self.dtype, self.kv_f16, self.gelu = dtype, kv_f16, gelu_tanh
        self.bf16_products = bf16_products
        if path.endswith(".gguf"):
            self._load_gguf(path)
            return
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        self.n_layer = config["n_layer"]
        self.n_head = config["n_head"]
        self.n_embd = config["n_embd"]
        self.n_ctx = config["n_positions"]
        self.n_vocab = config["vocab_size"]
        self.eps = config["layer_norm_epsilon"]
        with open(os.path.join(path, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        if len(vocab) != self.n_vocab or sorted(vocab.values()) != list(range(self.n_vocab)):
            raise ValueError(f"{path}: vocab.json does not hold ids 0..{self.n_vocab - 1}")
        tensors = read_safetensors(os.path.join(path, "model.safetensors"))
        self.w = {(k[len(PREFIX):] if k.startswith(PREFIX) else k): v.astype(dtype)
                  for k, v in tensors.items()}
        self._check_shapes()

    def _load_gguf(self, path):
        meta, tensors, _ = gguf_ref.read_gguf(path)
        if meta.get("general.architecture") != "gpt2":
            raise ValueError(f"{path}: not a gpt2 GGUF")
        self.n_layer = meta["gpt2.block_count"]
        self.n_head = meta["gpt2.attention.head_count"]
        self.n_embd = meta["gpt2.embedding_length"]
        self.n_ctx = meta["gpt2.context_length"]
        self.n_vocab = len(meta["tokenizer.ggml.tokens"])
        self.eps = meta["gpt2.attention.layer_norm_epsilon"]
        names = {"token_embd": "wte", "position_embd": "wpe", "output_norm": "ln_f",
                 "output": "lm_head", "attn_norm": "ln_1", "attn_qkv": "attn.c_attn",
                 "attn_output": "attn.c_proj", "ffn_norm": "ln_2", "ffn_up": "mlp.c_fc",
                 "ffn_down": "mlp.c_proj"}
        self.w = {}
        for name, values in tensors.items():
            parts = name.split(".")
            hf = names[parts[-2]] + "." + parts[-1]
            if parts[0] == "blk":
                hf = f"h.{parts[1]}.{hf}"
                if values.ndim == 2:  # GGUF [n_out][n_in]; Conv1D [n_in][n_out]
                    values = values.T
            self.w[hf] = values.astype(self.dtype)
        self._check_shapes()

    def _check_shapes(self):
        e, w = self.n_embd, self.w
        expect = {"wte.weight": (self.n_vocab, e), "wpe.weight": (self.n_ctx, e),
                  "ln_f.weight": (e,), "ln_f.bias": (e,)}
        if "lm_head.weight" in w:
            expect["lm_head.weight"] = (self.n_vocab, e)
        for i in range(self.n_layer):
            for name, shape in {"ln_1.weight": (e,), "ln_1.bias": (e,),
                                "attn.c_attn.weight": (e, 3 * e), "attn.c_attn.bias": (3 * e,),
                                "attn.c_proj.weight": (e, e), "attn.c_proj.bias": (e,),
                                "ln_2.weight": (e,), "ln_2.bias": (e,),
                                "mlp.c_fc.weight": (e, 4 * e), "mlp.c_fc.bias": (4 * e,),
                                "mlp.c_proj.weight": (4 * e, e), "mlp.c_proj.bias": (e,)}.items():
                expect[f"h.{i}.{name}"] = shape
        for name, shape in expect.items():
            if w[name].shape != shape:
                raise ValueError(f"{name}: shape {w[name].shape}, expected {shape}")

    def product(self, x, name):
        """x @ W (+ b): a Conv1D layer, weights [n_in][n_out]."""
        if self.bf16_products:
            x = round_bf16(x)
        return x @ self.w[name + ".weight"] + self.w[name + ".bias"]

    def layer_norm(self, x, name):
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        eps = self.dtype(self.eps)
        return (x - mean) / np.sqrt(var + eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def attention(self, x, prefix, cache):
        """Causal attention of the new rows x over cache + x; extends cache."""
        t, e, n_head = x.shape[0], self.n_embd, self.n_head
        hd = e // n_head
        qkv = self.product(x, prefix + "c_attn")
        q, k, v = (qkv[:, i * e:(i + 1) * e].reshape(t, n_head, hd).transpose(1, 0, 2)
                   for i in range(3))
        if self.kv_f16:
            k, v = (x.astype(np.float16).astype(self.dtype) for x in (k, v))
        if prefix in cache:
            k = np.concatenate([cache[prefix][0], k], axis=1)
            v = np.concatenate([cache[prefix][1], v], axis=1)
        cache[prefix] = (k, v)
        past = k.shape[1] - t
        scores = (q @ k.transpose(0, 2, 1)) * self.dtype(1.0 / math.sqrt(hd))
        future = np.arange(k.shape[1])[None, :] > past + np.arange(t)[:, None]
        scores = np.where(future, -np.inf, scores)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        out = (probs @ v).transpose(1, 0, 2).reshape(t, e)
        return self.product(out, prefix + "c_proj")

    def mlp(self, x, prefix):
        up = self.gelu(self.product(x, prefix + "c_fc"))
        return self.product(up, prefix + "c_proj")

    def final_hidden(self, tokens, cache, rows=None):
        """The hidden states after the final layer norm (what the logits are
        made from, gpt2_embeddings) of `tokens` after `cache`, as forward()."""
        start = cache.get("length", 0)
        tokens = np.asarray(tokens, dtype=np.int64)
        if start + len(tokens) > self.n_ctx or tokens.min() < 0 or tokens.max() >= self.n_vocab:
            raise ValueError("token ids or length out of range")
        h = self.w["wte.weight"][tokens] + self.w["wpe.weight"][start:start + len(tokens)]
        for i in range(self.n_layer):
            p = f"h.{i}."
            h = h + self.attention(self.layer_norm(h, p + "ln_1"), p + "attn.", cache)
            h = h + self.mlp(self.layer_norm(h, p + "ln_2"), p + "mlp.")
        cache["length"] = start + len(tokens)
        if rows is not None:
            h = h[list(rows)]
        return self.layer_norm(h, "ln_f")

    def forward(self, tokens, cache, rows=None):
        """Logits of `tokens` appended after the len(cache) positions already
        in `cache` (a dict, empty to start; it is extended). All rows by
        default, else the listed rows of this call's tokens."""
        h = self.final_hidden(tokens, cache, rows)
        unembedding = self.w.get("lm_head.weight", self.w["wte.weight"])
        return (round_bf16(h) if self.bf16_products else h) @ unembedding.T

    def logits(self, tokens, rows=None):
        """Logits [len(rows), n_vocab] of the sequence `tokens` (all rows by default)."""
        return self.forward(tokens, {}, rows)

    def greedy(self, prompt, n_new):
        """n_new greedy tokens after `prompt`, and the top-1 minus top-2 logit
        gap at each step (a small gap could flip under rounding)."""
        cache, tokens, margins = {}, list(prompt), []
        row = self.forward(prompt, cache, rows=[len(prompt) - 1])[0]
        for step in range(n_new):
            top2 = np.partition(row, -2)[-2:]
            margins.append(float(top2[1] - top2[0]))
            tokens.append(int(np.argmax(row)))
            if step + 1 < n_new:
                row = self.forward(tokens[-1:], cache)[0]
        return tokens[len(prompt):], margins


def default_prompt(model, n=12):
    """A fixed prompt: ids spread over the vocabulary, EOT excluded."""
    return [(7919 * (i + 1)) % (model.n_vocab - 1) for i in range(n)]


def command_stats(path, prompt):
    model = Model(path)
    prompt = prompt or default_prompt(model)
    logits = model.logits(prompt)
    stds = logits.std(axis=1)
    print(f"{path}: vocab {model.n_vocab}, prompt {prompt}")
    print(f"logit std across vocab per position: min {stds.min():.3f} max {stds.max():.3f}")
    print(f"logit range: {logits.min():.3f} .. {logits.max():.3f}")
    continuation, margins = model.greedy(prompt, 32)
    print(f"greedy: {continuation}")
    print(f"distinct: {len(set(continuation))}, min top-2 margin {min(margins):.4g}")


def command_sensitivity(path, prompt):
    """The smallest realistic bugs, planted in this reference, and how far
    each moves the logits: the numbers the test bounds must stay under."""
    model = Model(path)
    prompt = prompt or default_prompt(model)
    exact = model.logits(prompt)
    rms = np.sqrt((exact ** 2).mean())

    def report(label, other):
        diff = other - exact
        print(f"  {label:<30} max |delta logit| {np.abs(diff).max():.3g}"
              f"  RMS relative {np.sqrt((diff ** 2).mean()) / rms:.3g}")

    def planted(label, **changes):
        saved = {name: getattr(model, name) for name in changes}
        for name, value in changes.items():
            setattr(model, name, value)
        report(label, model.logits(prompt))
        for name, value in saved.items():
            setattr(model, name, value)

    print(f"{path}: max |logit| {np.abs(exact).max():.3g}, RMS logit {rms:.3g}")
    report("float32 compute", Model(path, np.float32).logits(prompt).astype(np.float64))
    report("float16 K and V", Model(path, kv_f16=True).logits(prompt))
    for eps in (1e-6, 1e-4, 0.0):
        planted(f"LayerNorm eps {eps:g}", eps=eps)
    planted("erf GELU", gelu=gelu_erf)
    planted("GELU 0.044715 -> 0.04472", gelu=lambda x: 0.5 * x * (1.0 + np.tanh(
        math.sqrt(2.0 / math.pi) * (x + 0.04472 * x ** 3))))
    w = dict(model.w)
    last = model.n_layer - 1
    for name in (f"h.{last}.mlp.c_proj.bias", f"h.{last}.attn.c_proj.bias"):
        planted(f"{name} dropped", w={**w, name: 0 * w[name]})
    wpe = np.concatenate([w["wpe.weight"][1:], w["wpe.weight"][-1:]])
    planted("positions off by one", w={**w, "wpe.weight": wpe})


def main(argv):
    if len(argv) < 3 or argv[1] not in ("stats", "sensitivity"):
        print(__doc__, file=sys.stderr)
        return 2
    prompt = [int(t) for t in argv[3:]]
    {"stats": command_stats, "sensitivity": command_sensitivity}[argv[1]](argv[2], prompt)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
