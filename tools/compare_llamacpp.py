#!/usr/bin/env python3
"""Speed of libgpt2 against llama.cpp on the same GGUF files, measured in
one run: gpt2-bench and llama-bench take turns, one repetition each, so
that a noisy machine slows both alike; the medians are compared.

  tools/compare_llamacpp.py --llama DIR [options] FILE...

DIR holds llama.cpp's llama-bench (and llama-batched-bench for --np).
docs/performance.md says how the compared llama.cpp builds were made.

  --rounds N       turns of each program (default 5)
  -p N -n N        prompt and generated tokens (default 512, 64)
  -d D,...         also generation after a D-token prompt (llama-bench -d)
  --kv f32|f16     both libraries' KV cache type (default f16, llama.cpp's)
  --np S,...       aggregate generation of S sequences instead (16-token
                   prompts, -n tokens each): gpt2-bench -np against
                   llama-batched-bench -npl
  --isa NAME       GPT2_ISA for gpt2-bench (default: its own choice)
  --threads N      both programs' threads (default 2)

Prints one markdown row per file and test: both medians, their ratio and,
for generation, gpt2-bench's fraction of the measured read bandwidth.
Needs only the standard library."""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd, env=None):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout


def ours(args, path, tests):
    """gpt2-bench, one repetition: {test name: (tokens/s, fraction of limit)}."""
    cmd = [args.bench, "-m", path, "-t", str(args.threads), "-r", "1", "--kv", args.kv, "--json",
           "--bw-mib", "256"]
    if args.np:
        cmd += ["-p", "0", "-n", str(args.n), "-np", args.np]
    else:
        cmd += ["-p", str(args.p), "-n", str(args.n), "-d", args.d]
    env = dict(os.environ)
    if args.isa:
        env["GPT2_ISA"] = args.isa
    got = {}
    for r in json.loads(run_json(cmd, env))["results"]:
        if args.np:
            if r["n_gen"]:
                got[f"np{r['n_parallel']}"] = (r["median_ts"], None)
        elif r["n_gen"]:
            got[f"tg{r['n_gen']}@d{r['n_depth']}"] = (r["median_ts"], r["fraction_of_limit"])
        else:
            got[f"pp{r['n_prompt']}"] = (r["median_ts"], r["fraction_of_limit"])
    tests.update(got.keys())
    return got


def llama(args, path):
    """llama-bench or llama-batched-bench, one repetition: {test name: tokens/s}."""
    kv = ["-ctk", args.kv, "-ctv", args.kv]
    if args.np:
        out = run_json([os.path.join(args.llama, "llama-batched-bench"), "-m", path, "-t", str(args.threads),
                        "-c", str(max(int(s) for s in args.np.split(",")) * (16 + args.n)), "-npp", "16",
                        "-ntg", str(args.n), "-npl", args.np, "--output-format", "jsonl"] + kv)
        got = {}
        for line in out.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                if "pl" in row:
                    got[f"np{row['pl']}"] = row["speed_tg"]
        return got
    cmd = [os.path.join(args.llama, "llama-bench"), "-m", path, "-t", str(args.threads), "-r", "1", "-o", "json",
           "-p", str(args.p), "-n", str(args.n), "-d", args.d] + kv
    got = {}
    for r in json.loads(run_json(cmd)):
        if r["n_gen"]:
            got[f"tg{r['n_gen']}@d{r['n_depth']}"] = r["avg_ts"]
        else:
            got[f"pp{r['n_prompt']}"] = r["avg_ts"]
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--llama", required=True)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "gpt2-bench"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("-d", default="0")
    ap.add_argument("--kv", default="f16", choices=["f32", "f16"])
    ap.add_argument("--np", default="")
    ap.add_argument("--isa", default="")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print(f"| file | test | libgpt2 t/s{' (' + args.isa + ')' if args.isa else ''} | llama.cpp t/s | ratio | "
          "libgpt2 % of limit |")
    print("|---|---|---:|---:|---:|---:|")
    for path in args.files:
        samples_ours, samples_llama, fractions, tests = {}, {}, {}, set()
        for _ in range(args.rounds):
            for name, (ts, frac) in ours(args, path, tests).items():
                samples_ours.setdefault(name, []).append(ts)
                if frac is not None:
                    fractions.setdefault(name, []).append(frac)
            for name, ts in llama(args, path).items():
                samples_llama.setdefault(name, []).append(ts)
        for name in sorted(tests, key=lambda t: (t[:2] != "pp", len(t), t)):
            a = statistics.median(samples_ours[name])
            b = statistics.median(samples_llama[name]) if name in samples_llama else float("nan")
            frac = f"{100 * statistics.median(fractions[name]):.0f}%" if name in fractions else ""
            print(f"| {os.path.basename(path.rstrip('/'))} | {name} | {a:.1f} | {b:.1f} | {a / b:.2f}x | {frac} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
