#!/usr/bin/env bash
# The layers of lib/ point down only: every `#include "dir/file.h"` of a
# lib/**/*.[ch] file must be an edge of ALLOWED below (or within its own
# folder, or gpt2.h, the public header, which any layer may include).
# An edge not listed prints "FAIL layers FILE -> HEADER (from -> to)".
# This list is the one place where the layering is written down
# (docs/architecture.md explains it).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
LIB=${LAYERS_LIB:-lib} # another tree to check (the test of this test)

# folder: the folders it may include, besides itself
ALLOWED='
core:
tensor: core
format: core tensor
tokenizer: core
kernels: core tensor
sample: core
model: core tensor format tokenizer kernels sample
api: core tensor format tokenizer kernels sample model
'

allowed_targets() { # folder -> its allowed list, or "?" for an unknown folder
  local line
  line=$(printf '%s\n' "$ALLOWED" | grep "^$1:") || { echo "?"; return; }
  echo "${line#*:}"
}

n_files=0 n_edges=0 bad=0
while IFS= read -r file; do
  n_files=$((n_files + 1))
  rel=${file#"$LIB"/}
  from=${rel%%/*}
  targets=$(allowed_targets "$from")
  if [ "$targets" = "?" ] || [ "$from" = "$rel" ]; then
    fail "layers $file: folder '$from' is not in the list of layers"; bad=$((bad + 1)); continue
  fi
  while IFS= read -r header; do
    [ -n "$header" ] || continue
    n_edges=$((n_edges + 1))
    [ "$header" = gpt2.h ] && continue
    case $header in
      */*) to=${header%%/*} ;;
      *) # a bare name: a file beside the includer
        [ -f "$(dirname "$file")/$header" ] && continue
        fail "layers $file -> $header: neither a layer's header nor beside the file"; bad=$((bad + 1)); continue ;;
    esac
    [ "$to" = "$from" ] && continue
    case " $targets " in
      *" $to "*) ;;
      *) fail "layers $file -> $header ($from -> $to is not an allowed edge)"; bad=$((bad + 1)) ;;
    esac
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(find "$LIB" -name '*.[ch]' | sort)

if [ "$n_files" -lt 10 ] || [ "$n_edges" -lt 50 ]; then
  fail "layers: read only $n_files files and $n_edges includes under $LIB (is the tree there?)"
elif [ "$bad" -eq 0 ]; then
  ok "layers ($n_files files, $n_edges includes, every edge points down)"
fi
