"""The ctypes mirrors against the C header: every mirrored struct's size,
field offsets and sizes, its *_PARAMS_INIT defaults, and the constants, as
printed by tests/python/print_layout.c compiled against include/gpt2.h."""
import ctypes
import os
import re
import subprocess

import pytest

from support import REPO

import gpt2
from gpt2 import _library, _structs


@pytest.fixture(scope="module")
def header(tmp_path_factory):
    """The lines of print_layout's output, parsed by kind."""
    program = str(tmp_path_factory.mktemp("layout") / "print_layout")
    compiler = os.environ.get("CC", "cc")
    subprocess.run([compiler, "-std=c99", "-Wall", "-Wextra", "-Werror",
                    "-I", os.path.join(REPO, "include"),
                    os.path.join(REPO, "tests", "python", "print_layout.c"), "-o", program],
                   check=True)
    output = subprocess.run([program], check=True, capture_output=True, text=True).stdout
    parsed = {"struct": {}, "field": {}, "init": {}, "const": {}, "version": None}
    for line in output.splitlines():
        kind, name, *values = line.split()
        if kind == "version":
            parsed["version"] = name
        elif kind == "init":
            parsed["init"][name] = bytes.fromhex(values[0])
        else:
            parsed[kind][name] = tuple(int(v) for v in values)
    return parsed


HEADER = open(os.path.join(REPO, "include", "gpt2.h")).read()


def test_every_struct_is_mirrored(header):
    """Every struct the header defines is printed by print_layout.c and
    mirrored: a struct added to the header fails here until it is."""
    declared = set(re.findall(r"typedef struct (gpt2_\w+) \{", HEADER))
    assert declared == set(header["struct"]) == set(_structs.MIRRORS)


def test_every_function_is_declared_to_ctypes():
    """Every GPT2_API function has a prototype (restype and argtypes) in the
    binding: a function added to the header fails here until it has."""
    declared = set(re.findall(r"GPT2_API[^;(]*?\b(gpt2_\w+)\s*\(", HEADER))
    assert len(declared) > 30
    assert declared == set(_library._PROTOTYPES)


@pytest.mark.parametrize("name", sorted(_structs.MIRRORS))
def test_struct_size_and_field_offsets(header, name):
    mirror = _structs.MIRRORS[name]
    assert ctypes.sizeof(mirror) == header["struct"][name][0]
    c_fields = {key.split(".", 1)[1]: value for key, value in header["field"].items()
                if key.startswith(name + ".")}
    py_fields = {field: (getattr(mirror, field).offset, getattr(mirror, field).size)
                 for field, _ in mirror._fields_}
    assert py_fields == c_fields
    # in declaration order, as C lays them out
    assert [f for f, _ in mirror._fields_] == sorted(c_fields, key=lambda f: c_fields[f][0])


@pytest.mark.parametrize("name", ["gpt2_load_params", "gpt2_context_params",
                                  "gpt2_save_params", "gpt2_sample_params",
                                  "gpt2_score_params"])
def test_defaults_are_the_init_macro(header, name):
    mirror = _structs.MIRRORS[name]()
    assert mirror.size == ctypes.sizeof(mirror)
    assert ctypes.string_at(ctypes.addressof(mirror), ctypes.sizeof(mirror)) == header["init"][name]


def test_sample_params_function_defaults_are_the_init_macro(header):
    params = gpt2.sample_params()
    assert ctypes.string_at(ctypes.addressof(params), ctypes.sizeof(params)) == \
        header["init"]["gpt2_sample_params"]


def test_constants(header):
    constants = header["const"]
    for name, (value,) in constants.items():
        short = name[len("GPT2_"):]
        if short.startswith("E_") or short == "OK":
            assert getattr(gpt2.errors, short) == value, name
        else:
            assert getattr(gpt2, short) == value, name
    statuses = {value for name, (value,) in constants.items() if name.startswith("GPT2_E_")}
    assert statuses == {cls.status for cls in gpt2.errors._BY_STATUS.values()}
    assert set(_structs.WEIGHT_TYPES.values()) == {
        value for name, (value,) in constants.items() if name.startswith("GPT2_WTYPE_")}
    assert set(_structs.KV_TYPES.values()) == {
        value for name, (value,) in constants.items() if name.startswith("GPT2_KV_")}


def test_versions_agree(header):
    """The package, pyproject.toml, the header and the loaded library."""
    pyproject = open(os.path.join(REPO, "python", "pyproject.toml")).read()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == header["version"]
    assert gpt2.__version__ == header["version"]
    assert gpt2.version() == header["version"]
    assert tuple(int(p) for p in header["version"].split(".")[:2]) == gpt2._library.ABI_VERSION
