"""ctypes mirrors of the params structs and constants in include/gpt2.h.

Each struct's `size` field is set to its ctypes size, as the *_PARAMS_INIT
macros do, and the other fields to the macro's defaults. python/tests/
test_layout.py compares sizes, offsets, defaults and constants with a C
program compiled against the header, so a drift fails a test.
"""
import ctypes

# Weight types (gpt2_load_params.weight_type).
WTYPE_AUTO = 0
WTYPE_F32 = 1
WTYPE_F16 = 2
WTYPE_BF16 = 3
WTYPE_Q8_0 = 4
WTYPE_Q4_0 = 5
WTYPE_Q4_K_M = 6
WTYPE_Q5_K_M = 7
WTYPE_Q6_K = 8
WTYPE_Q4_K_S = 9
WTYPE_Q5_K_S = 10
WTYPE_Q3_K_S = 11
WTYPE_Q3_K_M = 12
WTYPE_Q3_K_L = 13
WEIGHT_TYPES = {"auto": WTYPE_AUTO, "f32": WTYPE_F32, "f16": WTYPE_F16,
                "bf16": WTYPE_BF16, "q8_0": WTYPE_Q8_0, "q4_0": WTYPE_Q4_0,
                "q4_k_m": WTYPE_Q4_K_M, "q5_k_m": WTYPE_Q5_K_M, "q6_k": WTYPE_Q6_K,
                "q4_k_s": WTYPE_Q4_K_S, "q5_k_s": WTYPE_Q5_K_S, "q3_k_s": WTYPE_Q3_K_S,
                "q3_k_m": WTYPE_Q3_K_M, "q3_k_l": WTYPE_Q3_K_L}

# KV cache element types (gpt2_context_params.kv_type).
KV_F32 = 0
KV_F16 = 1
KV_TYPES = {"f32": KV_F32, "f16": KV_F16}

TOKENIZE_SPECIAL = 1


class _Params(ctypes.Structure):
    """A params struct: `size` first, defaults from the header's INIT macro."""

    _defaults = {}

    def __init__(self, **fields):
        values = dict(self._defaults)
        values.update(fields)
        super().__init__(size=ctypes.sizeof(type(self)), **values)


# int (*progress_callback)(float done, void *data) of gpt2_load_params.
ProgressCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_float, ctypes.c_void_p)


class LoadParams(_Params):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("weight_type", ctypes.c_uint32),
        ("use_mmap", ctypes.c_uint32),
        ("fp32_products", ctypes.c_uint32),
        ("n_threads", ctypes.c_uint32),
        ("progress_callback", ProgressCallback),
        ("progress_data", ctypes.c_void_p),
    ]
    _defaults = {"weight_type": WTYPE_AUTO, "use_mmap": 1}


# int (*abort_callback)(void *data) of gpt2_context_params.
AbortCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class ContextParams(_Params):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("n_ctx", ctypes.c_uint32),
        ("n_threads", ctypes.c_uint32),
        ("logits_all", ctypes.c_uint32),
        ("seed", ctypes.c_uint64),
        ("kv_type", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("abort_callback", AbortCallback),
        ("abort_data", ctypes.c_void_p),
        ("embeddings", ctypes.c_uint32),  # 0.3
    ]
    _defaults = {"kv_type": KV_F32}


class SaveParams(_Params):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("weight_type", ctypes.c_uint32),
        ("omit_tied_output", ctypes.c_uint32),
    ]
    _defaults = {"weight_type": WTYPE_AUTO, "omit_tied_output": 0}


class LogitBias(ctypes.Structure):
    _fields_ = [
        ("token", ctypes.c_int32),
        ("bias", ctypes.c_float),
    ]


class SampleParams(_Params):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("top_p", ctypes.c_float),
        ("min_p", ctypes.c_float),
        ("repetition_penalty", ctypes.c_float),
        ("repeat_last_n", ctypes.c_int32),
        ("presence_penalty", ctypes.c_float),
        ("frequency_penalty", ctypes.c_float),
        ("n_logit_bias", ctypes.c_uint32),
        ("logit_bias", ctypes.POINTER(LogitBias)),
        ("typical_p", ctypes.c_float),  # 0.3
        ("no_repeat_ngram_size", ctypes.c_int32),
    ]
    _defaults = {"temperature": 1.0, "top_k": 50, "top_p": 1.0, "min_p": 0.0,
                 "repetition_penalty": 1.0, "repeat_last_n": -1,
                 "presence_penalty": 0.0, "frequency_penalty": 0.0, "typical_p": 1.0,
                 "no_repeat_ngram_size": 0}


class TokenLogprob(ctypes.Structure):
    _fields_ = [
        ("token", ctypes.c_int32),
        ("logprob", ctypes.c_double),
    ]


class ScoreParams(_Params):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("window", ctypes.c_uint32),
        ("stride", ctypes.c_uint32),
        ("n_threads", ctypes.c_uint32),
        ("prefix", ctypes.POINTER(ctypes.c_int32)),
        ("n_prefix", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]


# C struct name -> mirror, for the layout test.
MIRRORS = {
    "gpt2_load_params": LoadParams,
    "gpt2_context_params": ContextParams,
    "gpt2_save_params": SaveParams,
    "gpt2_logit_bias": LogitBias,
    "gpt2_sample_params": SampleParams,
    "gpt2_token_logprob": TokenLogprob,
    "gpt2_score_params": ScoreParams,
}
