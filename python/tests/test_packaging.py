"""Installing the package offline with Debian's pip and setuptools (no build
isolation, no index), and the example script."""
import os
import shutil
import subprocess
import sys

import pytest

from support import REPO, model_path, run_python

import gpt2

EXAMPLE = os.path.join(REPO, "examples", "python", "generate.py")


def pip_environment():
    """No pip configuration from the machine: index, find-links, config files."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_NO_INPUT="1", PIP_ROOT_USER_ACTION="ignore")
    return env


@pytest.fixture
def source(tmp_path):
    """A copy of python/ (the build writes into the source directory)."""
    copy = tmp_path / "src" / "python"
    shutil.copytree(os.path.join(REPO, "python"), copy,
                    ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
    return copy


def run(args, cwd, env=None):
    result = subprocess.run(args, cwd=cwd, env=env or pip_environment(), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, "%s\n%s\n%s" % (args, result.stdout, result.stderr)
    return result


def check_installed(python, site, tmp_path):
    """The installed package (not the source tree's) loads and generates."""
    code = ("import gpt2, sys\n"
            "print(gpt2.__file__)\n"
            "m = gpt2.Model(sys.argv[1])\n"
            "print(len(list(m.generate('Hi', max_tokens=4, stop_at_eot=False))) > 0)\n")
    env = dict(pip_environment(), GPT2_LIBRARY=gpt2.load_library().path)
    if site:
        env["PYTHONPATH"] = site
    result = run([python, "-c", code, model_path("tiny-f32")], cwd=tmp_path, env=env)
    location, generated = result.stdout.split()
    assert location.startswith(str(site or tmp_path)) and generated == "True"


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
    env = dict(pip_environment(), GPT2_LIBRARY=gpt2.load_library().path)
    result = run([python, EXAMPLE, model_path("tiny-f32"), "Hello", "8"], cwd=tmp_path, env=env)
    assert result.stdout.startswith("Hello") and result.stdout.endswith("\n")


def test_example_script():
    python_dir = os.path.dirname(os.path.dirname(gpt2.__file__))
    result = run_python([EXAMPLE, model_path("tiny-f32"), "Once upon a time", "12"],
                        env={"PYTHONPATH": python_dir})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Once upon a time")
    assert len(result.stdout) > len("Once upon a time") + 1
