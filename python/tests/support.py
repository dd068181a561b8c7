"""Paths and helpers shared by the tests. The tests run against the source
tree's python/gpt2 and the library named by $GPT2_LIBRARY (tests/run.sh:
$BUILD/libgpt2.so), on the models tools/gen/make_models.sh writes into
$GPT2_TEST_MODELS. A missing library or model is an error, never a skip."""
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
sys.path.insert(0, os.path.join(REPO, "python"))
os.environ.setdefault("GPT2_LIBRARY", os.path.join(BUILD, "libgpt2.so"))
MODELS = os.path.abspath(os.environ.get("GPT2_TEST_MODELS", os.path.join(BUILD, "models")))
DATA = os.path.abspath(os.environ.get("GPT2_TEST_DATA", os.path.join(REPO, "tests", "data")))
LIBRARY = os.path.abspath(os.environ["GPT2_LIBRARY"])

# name: (n_layer, n_head, n_embd, n_ctx_train), as tools/gen/make_models.sh makes them
SHAPES = {"tiny": (2, 2, 64, 64), "mid": (4, 4, 256, 256),
          "odd": (3, 3, 96, 128), "124m": (12, 12, 768, 1024)}
MODEL_NAMES = [line.strip() for line in open(os.path.join(DATA, "golden", "models.txt"))
               if line.strip() and not line.startswith("#")]


def model_path(name):
    path = os.path.join(MODELS, name)
    assert os.path.isdir(path), "%s missing: run `make` and tools/gen/make_models.sh" % path
    return path


def run_python(code_or_args, env=None, cwd=None, executable=sys.executable):
    """Runs a Python interpreter in a subprocess; returns the CompletedProcess."""
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([executable] + args, env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
