"""Finding the shared library, and the error classes."""
import ctypes.util
import os

import pytest

from support import BUILD, LIBRARY, model_path, run_python

import gpt2
from gpt2 import _library, errors


def test_explicit_path_argument():
    library = gpt2.load_library(LIBRARY)
    assert isinstance(library, gpt2.Library)
    assert library.version == gpt2.version()
    assert gpt2.load_library(LIBRARY) is library  # loaded once per file
    with gpt2.Model(model_path("tiny-f32"), library=LIBRARY) as model:
        assert model.library is library


def test_explicit_path_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("GPT2_LIBRARY", "/nonexistent/libgpt2.so")
    assert gpt2.load_library(LIBRARY).path == LIBRARY


def test_bad_explicit_path_is_named_and_not_replaced():
    with pytest.raises(gpt2.LibraryNotFoundError) as caught:
        gpt2.load_library("/nonexistent/libgpt2.so")
    assert "path argument '/nonexistent/libgpt2.so'" in caught.value.message
    assert caught.value.status == errors.E_IO
    assert isinstance(caught.value, OSError)


def test_environment_variable():
    code = "import gpt2; print(gpt2.load_library().path)"
    result = run_python(code, env={"GPT2_LIBRARY": LIBRARY, "PYTHONPATH": _python_dir()})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == LIBRARY


def test_bad_environment_variable_is_named(monkeypatch):
    monkeypatch.setenv("GPT2_LIBRARY", "/nonexistent/libgpt2.so")
    with pytest.raises(gpt2.LibraryNotFoundError) as caught:
        gpt2.load_library()
    assert "GPT2_LIBRARY='/nonexistent/libgpt2.so'" in caught.value.message


def test_system_loader_finds_it_in_ld_library_path():
    code = "import gpt2; print(gpt2.version())"
    env = {"GPT2_LIBRARY": "", "LD_LIBRARY_PATH": BUILD, "PYTHONPATH": _python_dir()}
    result = run_python(code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == gpt2.version()


def test_not_found_anywhere_names_everything_tried(tmp_path):
    code = ("import gpt2\n"
            "try:\n    gpt2.load_library()\n"
            "except gpt2.LibraryNotFoundError as e:\n    print(e.message)\n"
            "else:\n    print('LOADED')\n")
    env = {"GPT2_LIBRARY": "", "LD_LIBRARY_PATH": str(tmp_path), "PYTHONPATH": _python_dir()}
    result = run_python(code, env=env)
    assert result.returncode == 0, result.stderr
    if ctypes.util.find_library("gpt2"):  # installed system-wide: it must load
        assert result.stdout.strip() == "LOADED"
        return
    message = result.stdout
    for tried in ("no path argument", "GPT2_LIBRARY not set",
                  "ctypes.util.find_library('gpt2') = None",
                  "the dynamic loader for 'libgpt2.so.0'"):
        assert tried in message


def test_a_library_that_is_not_libgpt2():
    with pytest.raises(gpt2.LibraryNotFoundError, match="has no gpt2_version"):
        gpt2.load_library(ctypes.util.find_library("m"))


def test_other_library_version_is_refused(monkeypatch):
    monkeypatch.setattr(_library, "_loaded", {})
    monkeypatch.setattr(_library, "ABI_VERSION", (0, 99))
    with pytest.raises(gpt2.UnsupportedError, match="this binding needs 0.99.x"):
        gpt2.load_library(LIBRARY)


@pytest.mark.parametrize("status,cls,builtin", [
    (errors.E_INVALID, gpt2.InvalidArgumentError, ValueError),
    (errors.E_NOMEM, gpt2.OutOfMemoryError, MemoryError),
    (errors.E_IO, gpt2.FileError, OSError),
    (errors.E_FORMAT, gpt2.FormatError, gpt2.Error),
    (errors.E_UNSUPPORTED, gpt2.UnsupportedError, gpt2.Error),
    (errors.E_RANGE, gpt2.RangeError, ValueError),
    (errors.E_BUFFER, gpt2.BufferSizeError, gpt2.Error),
    (errors.E_STATE, gpt2.StateError, gpt2.Error),
])
def test_error_class_per_status(library, status, cls, builtin):
    error = errors.error_for(status, "detail")
    assert type(error) is cls and isinstance(error, gpt2.Error) and isinstance(error, builtin)
    assert error.status == status and error.message == "detail"
    assert str(error) == "detail [%s]" % errors._STATUS_NAMES[status]
    assert library.strerror(status)  # the library has a name for every code


def test_unknown_status_is_a_plain_error():
    error = errors.error_for(-99, "detail")
    assert type(error) is gpt2.Error and error.status == -99


def test_library_error_carries_status_and_message(library):
    """A raw call through Library raises with gpt2_last_error()'s detail."""
    out = ctypes.c_void_p()
    with pytest.raises(gpt2.FileError) as caught:
        library.gpt2_load(b"/nonexistent/model", None, ctypes.byref(out))
    assert caught.value.status == errors.E_IO
    assert "/nonexistent/model" in caught.value.message
    assert out.value is None


def _python_dir():
    return os.path.dirname(os.path.dirname(gpt2.__file__))
