#!/usr/bin/env bash
# Runs one fuzzer (built by `make fuzz`) for a time budget, growing a working
# corpus in build-fuzz/corpus/TARGET from the committed seeds, and writes
# the log to build-fuzz/logs/TARGET.log; a crash leaves its input in
# build-fuzz/artifacts/ (copy it to tests/regressions/TARGET/ and fix).
#   tests/fuzz/run.sh TARGET [SECONDS=300] [extra libFuzzer flags...]
# Prints the final libFuzzer stats line (execs, cov, ft).
set -eu
cd "$(dirname "$0")/../.."
target=$1; seconds=${2:-300}; shift; [ $# -gt 0 ] && shift
out=${FUZZ_BUILD:-build-fuzz}
fuzzer=$out/fuzz/$target
[ -x "$fuzzer" ] || { echo "$fuzzer not built: run make fuzz" >&2; exit 1; }
export GPT2_TEST_MODELS=${GPT2_TEST_MODELS:-build/models}
export GPT2_TEST_DATA=${GPT2_TEST_DATA:-tests/data}
mkdir -p "$out/corpus/$target" "$out/logs" "$out/artifacts"
seeds=(tests/fuzz/corpus/"$target")
[ "$target" = gguf ] && seeds+=("$GPT2_TEST_DATA/gguf_bad")
[ -d "tests/regressions/$target" ] && seeds+=("tests/regressions/$target")
dict=()
case $target in
  json|safetensors) dict=(-dict=tests/fuzz/json.dict) ;;
  gguf) dict=(-dict=tests/fuzz/gguf.dict -max_len=16384) ;;
esac
status=0
"$fuzzer" "$out/corpus/$target" "${seeds[@]}" "${dict[@]}" -max_total_time="$seconds" \
  -timeout=20 -print_final_stats=1 -artifact_prefix="$out/artifacts/$target-" "$@" \
  >"$out/logs/$target.log" 2>&1 || status=$?
grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$out/logs/$target.log" | tail -1
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$out/logs/$target.log" || true
[ "$status" -eq 0 ] || { echo "$target: fuzzer exited with status $status; see $out/logs/$target.log" >&2; exit "$status"; }
