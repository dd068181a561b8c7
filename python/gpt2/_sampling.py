"""Sampling keyword arguments to a gpt2_sample_params."""
from . import _convert
from ._structs import LogitBias, SampleParams
from .errors import RangeError


def sample_params(temperature=1.0, top_k=50, top_p=1.0, min_p=0.0,
                  repetition_penalty=1.0, repeat_last_n=-1, presence_penalty=0.0,
                  frequency_penalty=0.0, logit_bias=None, typical_p=1.0,
                  no_repeat_ngram_size=0):
    """A gpt2_sample_params from keyword arguments (defaults as the header's
    GPT2_SAMPLE_PARAMS_INIT). logit_bias: {token: bias} or (token, bias)
    pairs; -math.inf bans a token. The library checks the values."""
    params = SampleParams(
        temperature=temperature, top_k=_convert.int32("top_k", top_k), top_p=top_p,
        min_p=min_p, repetition_penalty=repetition_penalty,
        repeat_last_n=_convert.int32("repeat_last_n", repeat_last_n),
        presence_penalty=presence_penalty, frequency_penalty=frequency_penalty,
        typical_p=typical_p,
        no_repeat_ngram_size=_convert.int32("no_repeat_ngram_size", no_repeat_ngram_size))
    if logit_bias:
        pairs = list(logit_bias.items() if hasattr(logit_bias, "items") else logit_bias)
        entries = (LogitBias * len(pairs))()
        for entry, (token, bias) in zip(entries, pairs):
            entry.token = _convert.int32("logit_bias token", token, RangeError)
            entry.bias = bias
        params.n_logit_bias = len(pairs)
        params.logit_bias = entries  # ctypes keeps `entries` alive with params
    return params
