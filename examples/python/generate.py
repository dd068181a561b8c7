#!/usr/bin/env python3
"""Generates text with libgpt2 from Python, printing it as it comes.

    python3 examples/python/generate.py MODEL [PROMPT] [MAX_TOKENS]

MODEL is a Hugging Face GPT-2 directory or a .gguf file. Needs the gpt2
package (`python3 -m pip install --no-build-isolation ./python`, or
PYTHONPATH=python) and libgpt2 (GPT2_LIBRARY=build/libgpt2.so after make).
"""
import sys

import gpt2

model_path = sys.argv[1]
prompt = sys.argv[2] if len(sys.argv) > 2 else "The meaning of life is"
max_tokens = int(sys.argv[3]) if len(sys.argv) > 3 else 32

with gpt2.Model(model_path) as model:
    print(prompt, end="", flush=True)
    for piece in model.generate(prompt, max_tokens=max_tokens, temperature=0.8, top_p=0.95):
        print(piece, end="", flush=True)
    print()
