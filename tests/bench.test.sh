# gpt2-bench on the generated test models: the JSON is complete and its
# figures follow the documented formulas (docs/performance.md), the table
# is printed, and bad command lines and missing models give exit 2 and 1.
. "$(dirname "$0")/lib.sh"
bench=$BUILD/gpt2-bench
[ -x "$bench" ] || { fail "$bench is not built"; exit 1; }
[ -d "$MODELS/mid-f32" ] || { fail "model $MODELS/mid-f32 missing (tools/gen/make_models.sh)"; exit 1; }

# A small bandwidth buffer keeps the test quick; the figures are checked
# for consistency, not for speed.
quick="--bw-mib 32 -r 3"
"$bench" -m "$MODELS/mid-f32" -t 1,2 -p 16,40 -n 8 -d 0,24 -np 1,3 $quick --type auto,q8_0,bf16 --kv f16 --json \
  >"$tmp/out.json" 2>"$tmp/err"
status=$?
check "gpt2-bench --json on mid-f32 exits 0 (exit $status; stderr: $(head -n 1 "$tmp/err"))" test $status -eq 0

# The JSON checks print ok/FAIL lines; empty, cut or key-less JSON stops
# them with an exception, which is one more FAIL naming it.
"$PYTHON" - "$tmp/out.json" >"$tmp/checks" 2>"$tmp/checks-err" <<'PY'
import json, math, statistics, sys
def check(cond, name):
    print(("ok " if cond else "FAIL ") + name)
doc = json.load(open(sys.argv[1]))
limits = {l["threads"]: l for l in doc["machine"]["limits"]}
check(sorted(limits) == [1, 2] and all(l["read_gbs"] > 0 and l["fma_gflops"] > 0 and l["bf16_gflops"] >= 0
                                       and l["int8_gops"] >= 0 and l["int8_avx2_gops"] >= 0
                                       for l in limits.values()),
      "machine limits measured for 1 and 2 threads")
results = doc["results"]
check(len(results) == 3 * 2 * 6, "36 results: 3 types x 2 thread counts x (pp16, pp40, tg8, tg8 @ d24, np1 tg8, np3 tg8)")
check(sorted(r["test"] for r in results if r["n_depth"]) == ["tg8 @ d24"] * 6, "tg8 @ d24 rows: depth 24 (-d 0,24)")
check(sorted((r["n_parallel"], r["n_prompt"], r["n_gen"]) for r in results if r["n_parallel"] > 1 or r["test"].startswith("np"))
      == sorted([(1, 16, 8), (3, 16, 8)] * 6), "np rows: 1 and 3 sequences after 16-token prompts, 8 steps")
check(all(math.isclose(r["per_sequence_ts"], r["avg_ts"] / r["n_parallel"], rel_tol=1e-3) for r in results),
      "per-sequence t/s = aggregate t/s / sequences")
ok_stats = ok_flops = ok_bytes = ok_limits = ok_rss = True
for r in results:
    s = r["samples_ts"]
    ok_stats &= (r["reps"] == 3 == len(s) and min(s) > 0
                 and math.isclose(r["avg_ts"], statistics.mean(s), rel_tol=1e-3)
                 and math.isclose(r["median_ts"], statistics.median(s), rel_tol=1e-3)
                 and math.isclose(r["stddev_ts"], statistics.stdev(s), rel_tol=1e-2, abs_tol=1e-3))
    L, E, V = r["n_layer"], r["n_embd"], r["n_vocab"]
    if r["n_gen"] == 0:
        P = r["n_prompt"]
        flops = 24 * L * E * E * P + 2 * V * E + 2 * L * E * P * (P + 1)
        ok_flops &= math.isclose(r["gflops"], r["avg_ts"] / P * flops / 1e9, rel_tol=1e-2)
        # BF16 weights on the vdpbf16ps kernels are bounded by that instruction's peak, block-quantized
        # ones (under 1.1 bytes a parameter) on the int8 tables by vpdpbusd's, on avx2int8 by vpmaddubsw's
        blocks = r["bytes_per_token_weights"] < 1.1 * r["n_params"]
        peak = ("bf16_gflops" if r["type"] == "bf16" and r["kernels"] == "avx512bf16"
                else "int8_gops" if blocks and r["kernels"] in ("avx512vnni", "avx512bf16")
                else "int8_avx2_gops" if blocks and r["kernels"] == "avx2int8" else "fma_gflops")
        ok_limits &= limits[r["threads"]][peak] > 0
        ok_limits &= math.isclose(r["limit_gflops"], limits[r["threads"]][peak], rel_tol=1e-4)
        ok_limits &= math.isclose(r["fraction_of_limit"], r["gflops"] / r["limit_gflops"], rel_tol=1e-2)
    else:
        # tg: a 1-token prompt (-d D: a D-token one); np: S sequences after 16-token prompts, the
        # weights read once per step
        N, S, P0 = r["n_gen"], r["n_parallel"], r["n_prompt"] or r["n_depth"] or 1
        total = sum(r["bytes_per_token_weights"] + S * 2 * L * E * (P0 + i + 1) * 2 for i in range(N))
        ok_bytes &= math.isclose(r["gbs"], r["avg_ts"] / (N * S) * total / 1e9, rel_tol=1e-2)
        ok_limits &= math.isclose(r["limit_gbs"], limits[r["threads"]]["read_gbs"], rel_tol=1e-4)
        ok_limits &= math.isclose(r["fraction_of_limit"], r["gbs"] / r["limit_gbs"], rel_tol=1e-2)
    ok_rss &= 0 < r["peak_rss_bytes"] <= r["rss_budget_bytes"]
check(ok_stats, "mean, median and sample sd are those of the 3 samples")
check(ok_flops, "pp GFLOP/s = tok/s / P x (24 L E^2 P + 2 V E + 2 L E P (P+1))")
check(ok_bytes, "tg GB/s = steps/s x sum of (weights per token + S x F16 KV rows 2 L E (pos+1) x 2)")
check(ok_limits, "each fraction is of the limit measured for its thread count")
check(ok_rss, "peak RSS within the budget (weights read + KV cache + 32 MiB)")
by_type = {r["type"]: r for r in results}
check(by_type["q8_0"]["bytes_per_token_weights"] * 3 < by_type["auto"]["bytes_per_token_weights"],
      "Q8_0 reads less than a third of the F32 bytes per token (%d vs %d)"
      % (by_type["q8_0"]["bytes_per_token_weights"], by_type["auto"]["bytes_per_token_weights"]))
check(all(r["kv_type"] == "f16" and r["kernels"] for r in results), "KV type and kernel table reported")
PY
status=$?
relay "$tmp/checks"
check "the JSON checks ran to the end (exit $status: $(tail -n 1 "$tmp/checks-err"))" test $status -eq 0

"$bench" -m "$MODELS/tiny-f32" -t 1 -p 16,100 -n 4 -d 0,30,62 -np 2 $quick >"$tmp/out" 2>"$tmp/err"
status=$?
check "table output exits 0" [ $status -eq 0 ]
check "table has the machine limits, the model line and pp16/tg4 rows" \
  grep -q "machine limits" "$tmp/out"
check "table rows for pp16 and tg4" sh -c "grep -q '| tiny-f32 .*pp16 ' '$tmp/out' && grep -q '| tiny-f32 .*tg4 ' '$tmp/out'"
check "table row for np2 tg4" grep -q '| tiny-f32 .*np2 tg4 ' "$tmp/out"
check "table row for tg4 at depth 30" grep -q '| tiny-f32 .* tg4 @ d30 ' "$tmp/out"
check "tg4 at depth 62 beyond the model's 64 positions is skipped with a message" \
  grep -q "tg4 @ d62 needs 66 positions, the model has 64: skipped" "$tmp/err"
check "pp100 beyond the model's 64 positions is skipped with a message" \
  grep -q "pp100 needs 100 positions, the model has 64: skipped" "$tmp/err"

expect() {
  local name=$1 want=$2 message=$3; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local status=$?
  if [ "$status" -eq "$want" ] && grep -qF -- "$message" "$tmp/err"; then
    ok "$name (exit $status: $(head -n 1 "$tmp/err"))"
  else
    fail "$name: exit $status, want $want with '$message'; stderr: $(head -n 2 "$tmp/err")"
  fi
}
expect "no model" 2 "no model given" "$bench"
expect "bad thread list" 2 "-t: 'x' is not an integer" "$bench" -m x -t 1,x
expect "zero sequences" 2 "-np: 0 is out of range" "$bench" -m x -np 0
expect "unknown type" 2 "--type: unknown type" "$bench" -m x --type q5_1
expect "zero repetitions" 2 "-r: 0 is out of range" "$bench" -m x -r 0
expect "unknown option" 2 "unknown option '--fast'" "$bench" -m x --fast
expect "missing model" 1 "cannot load $tmp/none" "$bench" -m "$tmp/none" $quick -p 4 -n 0
