#!/usr/bin/env bash
# Tokenizer benchmark: libgpt2 and the npm GPT-2 tokenizers on the same
# English and CJK texts, single-threaded, in one run.
#
#   bench/tokenizer_bench.sh [MODEL]
#
# MODEL: any model with GPT-2's vocabulary (default: the 124M-shaped test
# model, made by `make check` or tools/gen/make_models.sh). The English text is
# 3 MB of this machine's licence texts and Debian changelogs; the CJK text
# is the Chinese of the Rust-by-example book when rustup installed it, else
# skipped. The npm packages are looked up in NODE_PATH (default
# /tmp/tokref/node_modules; install them there with
# `npm install --prefix /tmp/tokref gpt-3-encoder js-tiktoken gpt-tokenizer
# tiktoken`).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MODEL=${1:-$BUILD/models/124m-f16}
work=$BUILD/bench-tokenizer
mkdir -p "$work"

make -s BUILD="$BUILD" all >/dev/null  # builds $BUILD/bench/tokenizer_bench

english=$work/english.txt
if [ ! -s "$english" ]; then
  { cat /usr/share/common-licenses/* 2>/dev/null
    for f in /usr/share/doc/*/changelog.Debian.gz; do zcat "$f" 2>/dev/null; done
  } | head -c 3000000 > "$english"
fi
files=$english
cjk=$work/cjk.txt
zh_book=$(ls -d "$HOME"/.rustup/toolchains/*/share/doc/rust/html/rust-by-example/zh 2>/dev/null | head -1)
if [ ! -s "$cjk" ] && [ -n "$zh_book" ]; then
  # The prose of the HTML pages: tags dropped, lines with CJK kept.
  find "$zh_book" -name '*.html' | sort | xargs cat | sed -e 's/<[^>]*>//g' |
    grep -P '[\x{4e00}-\x{9fff}]' | head -c 1000000 > "$cjk" || true
fi
[ -s "$cjk" ] && files="$files $cjk"

echo "single-threaded; MB = 10^6 bytes of UTF-8 input; wall-clock and CPU time"
printf '%-14s %-12s %8s %8s %11s %11s %9s %9s\n' tokenizer text "MB/s" "MB/s cpu" \
  "tokens/s" "tok/s cpu" bytes tokens
"$BUILD/bench/tokenizer_bench" "$MODEL" $files
if command -v node >/dev/null; then
  NODE_PATH=${NODE_PATH:-/tmp/tokref/node_modules} node bench/tokenizer_bench.js $files
fi
