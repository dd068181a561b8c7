#!/usr/bin/env bash
# examples/python/dask_score.py on a Dask LocalCluster of 2 worker processes
# (Debian's python3-distributed): every document's score equals Model.score
# run here, and each worker loaded the model exactly once although it ran
# several tasks (6 tasks of 4 documents). No dask: a skip, never a pass.
. "$(dirname "$0")/lib.sh"
library=$PWD/$BUILD/libgpt2.so
[ -e "$library" ] || { fail "dask: $library is missing (run make)"; exit 1; }
if ! "$PYTHON" -c "import dask.distributed" 2>/dev/null; then
  skip "dask: $PYTHON has no dask.distributed (apt-get install python3-distributed)"
  exit 0
fi
export GPT2_LIBRARY=$library PYTHONPATH=$PWD/python
MODELS=$(cd "$MODELS" && pwd) # the example runs in $tmp
"$PYTHON" - "$tmp/corpus.txt" <<'PY'
import random, sys
random.seed(7)
words = "the cat sat on a mat and then it ran far away from home while birds sang".split()
with open(sys.argv[1], "w") as corpus:
    for i in range(24):  # one document past tiny's 64 positions: the sliding window
        n = 90 if i == 5 else random.randint(1, 40)
        corpus.write(" ".join(random.choice(words) for _ in range(n)) + "\n")
PY
if ! (cd "$tmp" && timeout 600 "$PYTHON" "$OLDPWD/examples/python/dask_score.py" \
        "$MODELS/tiny-f32" corpus.txt --workers 2 --batch 4 >out.jsonl 2>err.log); then
  fail "dask: dask_score.py failed"; tail -n 20 "$tmp/err.log"; exit 1
fi
"$PYTHON" - "$MODELS/tiny-f32" "$tmp/corpus.txt" "$tmp/out.jsonl" >"$tmp/report" <<'PY'
import json, sys
import gpt2
model = gpt2.Model(sys.argv[1])
documents = [line.rstrip("\n") for line in open(sys.argv[2])]
lines = [json.loads(line) for line in open(sys.argv[3])]
results, summary = lines[:-1], lines[-1]
local = [model.score(text, n_threads=1) for text in documents]
# gpt2_score on one thread in both processes: the same arithmetic, so the
# same bits (measured: equal); a document scored twice or swapped differs
# by far more than 1e-9.
same = len(results) == len(documents) and all(
    r["document"] == i and r["tokens"] == s.n and abs(r["logprob"] - s.total) <= 1e-9
    for i, (r, s) in enumerate(zip(results, local)))
print(("ok" if same else "FAIL") + " dask: every document's score equals Model.score here "
      "(one of them past n_ctx)")
loads = summary["model_loads_per_worker"]
print(("ok" if len(loads) == 2 and set(loads.values()) == {1} else "FAIL") +
      " dask: 2 workers, each loaded the model once over 6 tasks: %s" % loads)
tokens = sum(s.n for s in local)
print(("ok" if summary["tokens"] == tokens and summary["documents"] == 24 else "FAIL") +
      " dask: corpus totals")
PY
relay "$tmp/report"
exit 0
