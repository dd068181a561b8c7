"""Compiles libgpt2 from the repository's C sources for the Python package
(used by setup.py; not installed). The compile and link commands are the
Makefile's for the shared library: the same flags for every file of lib/
(the kernels pick their instruction sets at run time, with per-function
target attributes), the same version script and SONAME. A test
(python/tests/test_packaging.py) compares them with `make -n`, so a flag
added to the Makefile, for all files or for one, fails it until it is
added here too.

An object is kept when it is newer than its source and than every header
of lib/ and include/ and was compiled by the same command (kept beside it
in NAME.o.cmd): pip installing from the same directory again, its build/
left there, relinks without recompiling. Each object is written under a
temporary name and renamed when its compile succeeds, so an interrupted
build leaves no object that looks finished."""
import os
import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor

CFLAGS = ["-std=c11", "-O2", "-g", "-Wall", "-Wextra", "-Wpedantic", "-Werror",
          "-fvisibility=hidden", "-fPIC", "-D_GNU_SOURCE", "-Iinclude", "-Ilib"]
LIBS = ["-lm", "-lpthread"]


def repository():
    """The checkout this python/ directory belongs to."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sources(repo):
    """lib/**/*.c but the Windows bodies (*_win32.c), relative to the
    repository, sorted as the Makefile sorts."""
    found = []
    for directory, _, files in os.walk(os.path.join(repo, "lib")):
        found += [os.path.relpath(os.path.join(directory, f), repo)
                  for f in files if f.endswith(".c") and not f.endswith("_win32.c")]
    return sorted(found)


def version(repo):
    """major, minor, patch from include/gpt2.h, as the Makefile reads them."""
    with open(os.path.join(repo, "include", "gpt2.h")) as header:
        text = header.read()
    return tuple(re.search(r"#define GPT2_VERSION_%s (\d+)" % part, text).group(1)
                 for part in ("MAJOR", "MINOR", "PATCH"))


def newest_header(repo):
    """The latest modification time of a header a source of lib/ can
    include (lib/**/*.h, include/**/*.h)."""
    newest = 0.0
    for part in ("lib", "include"):
        for directory, _, files in os.walk(os.path.join(repo, part)):
            for f in files:
                if f.endswith(".h"):
                    newest = max(newest, os.path.getmtime(os.path.join(directory, f)))
    return newest


def up_to_date(obj, command, source, headers_time):
    """Whether obj exists, was compiled by command and is newer than its
    source and than headers_time."""
    try:
        built = os.path.getmtime(obj)
        with open(obj + ".cmd") as stamp:
            if stamp.read() != shlex.join(command):
                return False
        return os.path.getmtime(source) < built and headers_time < built
    except OSError:
        return False


def compile_command(compiler, source, object_path):
    return compiler + CFLAGS + ["-c", source, "-o", object_path]


def link_command(compiler, repo, objects, output):
    soname = "libgpt2.so.%s" % version(repo)[0]
    return (compiler + ["-shared", "-Wl,-soname," + soname,
                        "-Wl,--version-script=lib/libgpt2.map", "-Wl,--no-undefined",
                        "-o", output] + objects + LIBS)


def build(output, work, compiler=None, jobs=None):
    """Compiles lib/ into the shared library `output`, objects under `work`."""
    repo = repository()
    if not os.path.isfile(os.path.join(repo, "include", "gpt2.h")):
        raise RuntimeError("%s is not a libgpt2 checkout: the package is built from the "
                           "repository's python/ directory" % repo)
    compiler = shlex.split(compiler or os.environ.get("CC") or "cc")
    objects = []
    stale = []  # (source, object, command) of the objects to compile
    headers_time = newest_header(repo)
    for source in sources(repo):
        obj = os.path.join(work, source[:-2] + ".o")
        os.makedirs(os.path.dirname(obj), exist_ok=True)
        objects.append(obj)
        command = compile_command(compiler, source, obj)
        if not up_to_date(obj, command, os.path.join(repo, source), headers_time):
            stale.append((source, obj, command))

    def run(command):
        subprocess.run(command, cwd=repo, check=True)

    def compile_one(job):
        source, obj, command = job
        run(compile_command(compiler, source, obj + ".part"))
        os.replace(obj + ".part", obj)
        with open(obj + ".cmd", "w") as stamp:
            stamp.write(shlex.join(command))

    with ThreadPoolExecutor(jobs or os.cpu_count() or 1) as pool:
        list(pool.map(compile_one, stale))
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    run(link_command(compiler, repo, objects, os.path.abspath(output)))
