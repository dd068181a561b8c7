#!/usr/bin/env python3
"""Scores a corpus with libgpt2 across a Dask cluster: each document's
per-token log-probabilities (Model.score, HF's sliding window past n_ctx),
summed into its total and perplexity, and the corpus perplexity.

    python3 examples/python/dask_score.py MODEL CORPUS [--scheduler ADDRESS]
                                          [--workers 2] [--batch 8]

CORPUS holds one document per line. Without --scheduler a LocalCluster of
--workers processes (one thread each) runs on this machine; with it, the
cluster at ADDRESS (tcp://host:8786) does the work: every worker must see
MODEL at the same path and import gpt2 (docs/python.md, "Dask").

Each worker process loads the model once (the first task it runs) and
keeps it; libgpt2 maps the weight file (use_mmap), so workers on one
machine share its pages in the page cache instead of holding a copy each.
Prints one JSON line per document, then a summary line.
"""
import argparse
import json
import math
import os
import sys

_models = {}
_loads = {"count": 0}


def worker_model(path):
    """This process's model at `path`, loaded on first use and kept."""
    import gpt2

    model = _models.get(path)
    if model is None:
        model = _models[path] = gpt2.Model(path, use_mmap=True)
        _loads["count"] += 1
    return model


def loads():
    """How many times this process loaded a model (client.run reads it)."""
    return _loads["count"]


def score_batch(path, documents):
    """[(index, tokens, total log-probability)] for (index, text) pairs, on
    one thread (the cluster's parallelism is its workers)."""
    model = worker_model(path)
    results = []
    for index, text in documents:
        if not text:
            results.append((index, 0, 0.0))
            continue
        score = model.score(text, n_threads=1)
        results.append((index, score.n, score.total))
    return results


def score_corpus(client, path, documents, batch=8):
    """Per-document (tokens, total) in corpus order, computed on the cluster."""
    batches = [list(enumerate(documents))[start:start + batch]
               for start in range(0, len(documents), batch)]
    futures = client.map(score_batch, [path] * len(batches), batches, pure=False)
    results = [None] * len(documents)
    for part in client.gather(futures):
        for index, n, total in part:
            results[index] = (n, total)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("corpus", help="one document per line")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster processes")
    parser.add_argument("--batch", type=int, default=8, help="documents per task")
    args = parser.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    with open(args.corpus, encoding="utf-8") as corpus:
        documents = [line.rstrip("\n") for line in corpus]
    model = os.path.abspath(args.model)
    if args.scheduler:
        cluster, client = None, Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        # The workers run this file's functions as the module dask_score
        # (sent to them by upload_file), not as __main__: functions of
        # __main__ would travel by value with fresh globals each task, and
        # the model cache would not survive from one task to the next.
        client.upload_file(os.path.abspath(__file__))
        import dask_score

        results = dask_score.score_corpus(client, model, documents, args.batch)
        worker_loads = client.run(dask_score.loads)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    for index, (n, total) in enumerate(results):
        print(json.dumps({"document": index, "tokens": n, "logprob": total,
                          "perplexity": math.exp(-total / n) if n else None}))
    tokens = sum(n for n, _ in results)
    total = math.fsum(t for _, t in results)
    print(json.dumps({"documents": len(results), "tokens": tokens, "logprob": total,
                      "perplexity": math.exp(-total / tokens) if tokens else None,
                      "model_loads_per_worker": worker_loads}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
