"""Fixtures shared by the tests (paths and helpers are in support.py)."""
import os

import pytest

from support import LIBRARY, model_path

import gpt2  # after support has put python/ first on sys.path


@pytest.fixture(scope="session", autouse=True)
def library():
    assert os.path.exists(LIBRARY), "%s missing: run `make` (or set GPT2_LIBRARY)" % LIBRARY
    return gpt2.load_library()


@pytest.fixture(scope="session")
def gpt2_vocab():
    """A model with GPT-2's own vocabulary (the 124M shape, random weights)."""
    with gpt2.Model(model_path("124m-f32")) as model:
        yield model


@pytest.fixture(scope="session")
def tiny():
    """A small model (252 merges: every byte token, vocabulary of 509)."""
    with gpt2.Model(model_path("tiny-f32")) as model:
        yield model


@pytest.fixture(scope="session")
def mid():
    with gpt2.Model(model_path("mid-f32")) as model:
        yield model
