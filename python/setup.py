"""Builds the package with libgpt2 inside it: build_py also compiles the
repository's lib/ into gpt2/libgpt2.so (libgpt2_build.py), which the
binding loads when no library is named (docs/python.md)."""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import libgpt2_build  # noqa: E402 - found next to this file


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        output = os.path.join(self.build_lib, "gpt2", "libgpt2.so")
        work = os.path.join(os.path.dirname(os.path.abspath(self.build_lib)), "libgpt2-obj")
        libgpt2_build.build(output, work)


class BinaryDistribution(Distribution):
    """A wheel with a compiled library is platform-specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
