"""Installing the package offline with Debian's pip and setuptools (no build
isolation, no index): pip compiles libgpt2 from the repository's C sources
into the package, so the installed `gpt2` needs no GPT2_LIBRARY and no
`make`; the compile commands are the Makefile's; and the example script."""
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from support import REPO, model_path, run_python

sys.path.insert(0, os.path.join(REPO, "python"))
import libgpt2_build  # noqa: E402 - python/, not installed

import gpt2

EXAMPLE = os.path.join(REPO, "examples", "python", "generate.py")


def pip_environment():
    """No pip configuration from the machine: index, find-links, config files."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1", PIP_ROOT_USER_ACTION="ignore")
    return env


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A copy of the parts of the checkout the package builds from: python/
    (the build writes into it), lib/ and include/ (no build/ directory).
    The installs share it, as a user's repeated installs share a checkout:
    the first compiles, the next relink (libgpt2_build.up_to_date)."""
    root = tmp_path_factory.mktemp("package") / "src"
    copy = root / "python"
    shutil.copytree(os.path.join(REPO, "python"), copy,
                    ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
    for part in ("lib", "include"):
        shutil.copytree(os.path.join(REPO, part), root / part)
    return copy


def run(args, cwd, env=None):
    result = subprocess.run(args, cwd=cwd, env=env or pip_environment(), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, "%s\n%s\n%s" % (args, result.stdout, result.stderr)
    return result


def check_installed(python, site, tmp_path):
    """The installed package (not the source tree's) loads the library
    built into it, with no GPT2_LIBRARY, and generates."""
    code = ("import gpt2, sys\n"
            "print(gpt2.__file__)\n"
            "print(gpt2.load_library().path)\n"
            "m = gpt2.Model(sys.argv[1])\n"
            "print(len(list(m.generate('Hi', max_tokens=4, stop_at_eot=False))) > 0)\n")
    env = pip_environment()
    env.pop("GPT2_LIBRARY", None)
    env.pop("LD_LIBRARY_PATH", None)
    if site:
        env["PYTHONPATH"] = site
    result = run([python, "-c", code, model_path("tiny-f32")], cwd=tmp_path, env=env)
    location, library, generated = result.stdout.split()
    package = os.path.dirname(location)
    assert location.startswith(str(site or tmp_path)) and generated == "True"
    assert library == os.path.join(package, "libgpt2.so")


def test_pip_install_target_offline(source, tmp_path):
    target = tmp_path / "target"
    run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)], cwd=tmp_path)
    def modules(directory):
        return {f for f in os.listdir(directory) if f.endswith(".py")}

    assert modules(target / "gpt2") == modules(os.path.dirname(gpt2.__file__))
    assert (target / ("libgpt2-%s.dist-info" % gpt2.__version__)).is_dir()
    check_installed(sys.executable, str(target), tmp_path)


def test_readme_install_command_in_a_venv(source, tmp_path):
    """The README's commands: a venv seeing Debian's setuptools and wheel,
    then `python -m pip install --no-build-isolation ./python`."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "--no-build-isolation", "--no-index", "./python"],
        cwd=source.parent)
    check_installed(python, None, tmp_path)
    env = pip_environment()
    env.pop("GPT2_LIBRARY", None)
    result = run([python, EXAMPLE, model_path("tiny-f32"), "Hello", "8"], cwd=tmp_path, env=env)
    assert result.stdout.startswith("Hello") and result.stdout.endswith("\n")


FAKE_COMPILER = """#!/bin/sh
# writes the file after -o and logs the source it compiled (or "link")
echo " $*" | grep -o -e ' -c [^ ]*' -e ' -shared' >>"$COMPILE_LOG"
while [ $# -gt 1 ]; do [ "$1" = -o ] && : >"$2"; shift; done
"""


def test_package_build_recompiles_only_what_changed(tmp_path, monkeypatch):
    """A second build compiles nothing and relinks; a changed source
    recompiles that file, a changed header or compiler every file. On a
    copy of lib/ and include/, with a stand-in compiler that logs what it
    is asked to build."""
    repo = tmp_path / "repo"
    for part in ("lib", "include"):
        shutil.copytree(os.path.join(REPO, part), repo / part)
    (repo / "python").mkdir()
    shutil.copy(os.path.join(REPO, "python", "libgpt2_build.py"), repo / "python")
    spec = importlib.util.spec_from_file_location("copied_build", repo / "python" / "libgpt2_build.py")
    copied = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copied)
    compiler = tmp_path / "cc"
    compiler.write_text(FAKE_COMPILER)
    compiler.chmod(0o755)
    log = tmp_path / "log"
    monkeypatch.setenv("COMPILE_LOG", str(log))
    output, work = str(tmp_path / "out" / "libgpt2.so"), str(tmp_path / "obj")
    sources = copied.sources(str(repo))

    def build(compiler_command):
        log.write_text("")
        copied.build(output, work, compiler=compiler_command, jobs=2)
        lines = log.read_text().split("\n")
        return sorted(line.split()[1] for line in lines if line.startswith(" -c")), lines.count(" -shared")

    assert build(str(compiler)) == (sources, 1)
    assert build(str(compiler)) == ([], 1)
    later = os.path.getmtime(os.path.join(work, sources[0][:-2] + ".o")) + 10
    os.utime(repo / sources[0], (later, later))
    assert build(str(compiler)) == ([sources[0]], 1)
    os.utime(repo / "include" / "gpt2.h", (later + 10, later + 10))
    assert build(str(compiler)) == (sources, 1)
    assert build(str(compiler) + " -DOTHER") == (sources, 1)
    assert not [f for _, _, files in os.walk(work) for f in files if f.endswith(".part")]


def test_package_build_compiles_as_the_makefile_does(tmp_path):
    """Every compile and the link of libgpt2_build.py are the commands
    `make -n` prints for the shared library (same flags per file), so the
    package's library is the one make builds."""
    build = str(tmp_path / "b")
    result = subprocess.run(["make", "-n", "-B", "CC=cc", "BUILD=" + build, "CFLAGS=", "NATIVE=",
                             "SANITIZE=", "OPT=-O2", build + "/libgpt2.so"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    make = {}
    for line in result.stdout.replace("\\\n", " ").splitlines():  # joins continued lines
        words = line.split()
        if words and words[0] == "cc" and "-c" in words:
            make[words[words.index("-c") + 1]] = [w for w in words[1:] if w not in ("-MMD", "-MP")]
        elif words and words[0] == "cc" and "-shared" in words:
            make["link"] = words[1:]
    sources = libgpt2_build.sources(REPO)
    assert sorted(k for k in make if k != "link") == sources
    for source in sources:
        obj = os.path.join(build, "obj", source[:-2] + ".o")
        assert make[source] == libgpt2_build.compile_command([], source, obj), source
    objects = [os.path.join(build, "obj", s[:-2] + ".o") for s in sources]
    shared = "%s/libgpt2.so.%s" % (build, ".".join(libgpt2_build.version(REPO)))
    assert make["link"] == libgpt2_build.link_command([], REPO, objects, shared)


def test_example_script():
    python_dir = os.path.dirname(os.path.dirname(gpt2.__file__))
    result = run_python([EXAMPLE, model_path("tiny-f32"), "Once upon a time", "12"],
                        env={"PYTHONPATH": python_dir})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Once upon a time")
    assert len(result.stdout) > len("Once upon a time") + 1
