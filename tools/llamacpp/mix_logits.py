"""mix_logits.py F32_GGUF [QUANTIZED_GGUF...]: for each quantized file, the
error of its logits against the F32 file's, as tools/check_llamacpp.sh and
docs/gguf.md state it: RMS of the difference over RMS of the F32 logits, at
every position of a fixed 32-token prompt (ids spread over the vocabulary),
and the text of 8 tokens generated greedily after 4 of them. One line per
file:
    PATH rel_rms R max_abs M generated N      (N: characters generated)
    PATH error MESSAGE                        (it did not load or run)
Needs the Python binding (PYTHONPATH=python, GPT2_LIBRARY=build/libgpt2.so)
and numpy."""
import sys

import numpy as np

import gpt2

N_PROMPT = 32


def prompt_ids(n_vocab):
    return [(7919 * (i + 1)) % (n_vocab - 1) for i in range(N_PROMPT)]


def run(path):
    with gpt2.Model(path) as model:
        ids = prompt_ids(model.n_vocab)
        with model.context(logits_all=True, n_ctx=64) as ctx:
            ctx.eval(ids)
            logits = np.array([ctx.logits(i) for i in range(N_PROMPT)], dtype=np.float64)
        text = "".join(model.generate(ids[:4], max_tokens=8, stop_at_eot=False, temperature=0))
    return logits, text


def main(argv):
    reference, _ = run(argv[1])
    rms = np.sqrt((reference ** 2).mean())
    for path in argv[2:]:
        try:
            logits, text = run(path)
        except gpt2.Error as error:
            print("%s error %s" % (path, error))
            continue
        diff = logits - reference
        print("%s rel_rms %.4f max_abs %.3f generated %d" % (
            path, np.sqrt((diff ** 2).mean()) / rms, np.abs(diff).max(), len(text)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
