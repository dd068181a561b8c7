#!/bin/sh
# Writes the Windows module-definition file of libgpt2.dll: EXPORTS and the
# GPT2_API functions of the header (argument 1), one per line, to argument 2.
# mk/windows.mk and meson.build (Windows hosts) both use it.
{ echo EXPORTS; sed -n 's/^GPT2_API[^(]*[ *]\(gpt2_[a-z0-9_]*\)(.*/  \1/p' "$1"; } > "$2"
