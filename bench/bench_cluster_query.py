"""Query latency of sharded search on a local Ray cluster against the local backend, on one scale index.

For the local backend and for each shard count (default 1, 2, 4): Corpus.open time, then after warm-up
p50/p95 of Corpus.search for keyword, semantic and hybrid (query encoding included: the query vector
cache is emptied before each query) and hybrid filtered by an entity; the load average is taken with
each figure (the machine is shared). The cluster overhead per query is the 1-shard cluster p50 minus the
local p50 (the better of two local runs, one before and one after the clusters): the same index, searched
by one Ray actor instead of in-process.

The index is used read-only: it is linked (cp -al) into --work, and `corpus-search shard` writes each
shard count there as a new generation (links, not copies, of the index files).

Run:  .venv/bin/python bench/bench_cluster_query.py --index bench/out/scale-100k --work /tmp/cluster-bench \
          [--shards 1 2 4] [--replicas 1] [--rounds 2] [--json bench/results/cluster_query.jsonl]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import QUERIES, WARMUP, emit, machine, percentile  # noqa: E402

ENTITY = "Gazprom"
MODES = ("keyword", "semantic", "hybrid")


def _stats(ms: list[float]) -> dict:
    return {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2), "n": len(ms),
            "load": [round(x, 2) for x in os.getloadavg()]}


def measure(index: Path, rounds: int) -> dict:
    """Open the index with the backend the environment names and time the modes."""
    from corpus_search.api import Corpus

    t = time.perf_counter()
    corpus = Corpus.open(index)
    res: dict = {"open_s": round(time.perf_counter() - t, 2), "passages": corpus.store.passage_count()}
    for q in WARMUP:  # loads the query encoder, the actors' first calls, Whoosh's segments
        for mode in MODES:
            corpus.search(q, mode=mode)
        corpus.search(q, mode="hybrid", entities=[ENTITY])

    def run(q, mode, entities=()):
        corpus._query_cache.clear()  # pay for encoding every time, as a new query does
        corpus.store._passage_cache.clear()
        corpus.search(q, mode=mode, entities=entities)

    for mode, entities in [(m, ()) for m in MODES] + [("hybrid", (ENTITY,))]:
        ms = []
        for _ in range(rounds):
            for q in QUERIES:
                t = time.perf_counter()
                run(q, mode, entities)
                ms.append((time.perf_counter() - t) * 1000)
        res[mode + (f"+entity {ENTITY}" if entities else "")] = _stats(ms)
    corpus.close()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True, help="a scale index (make_scale_corpus.py index)")
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the linked copy and its shards")
    ap.add_argument("--shards", type=int, nargs="*", default=[1, 2, 4])
    ap.add_argument("--replicas", type=int, default=1, help="replicas per shard (a query uses one)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from corpus_search import cluster, shards

    work = args.work / args.index.name
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(args.index), str(work)], check=True)  # links: the index stays untouched
    os.environ["CORPUS_SEARCH_BACKEND"] = "local"
    results = {"bench": "cluster_query", "index": str(args.index), "machine": machine(), "rounds": args.rounds,
               "local": measure(work, args.rounds)}
    print(f"local: {results['local']}", file=sys.stderr)
    for n in args.shards:
        t = time.perf_counter()
        _, counts = shards.publish(work, n)
        shard_s = time.perf_counter() - t
        os.environ.update({"CORPUS_SEARCH_BACKEND": "cluster", "CORPUS_SEARCH_SHARDS": str(n),
                           "CORPUS_SEARCH_REPLICAS": str(args.replicas)})
        try:
            res = measure(work, args.rounds)
        finally:
            cluster.disconnect()
        res.update(shard_write_s=round(shard_s, 1), passages_per_shard=counts, replicas=args.replicas)
        results[f"cluster {n} shards"] = res
        print(f"{n} shards: {res}", file=sys.stderr)
        os.environ["CORPUS_SEARCH_BACKEND"] = "local"
    # Local again: on a shared machine the load moves while the shards are written; both are reported.
    results["local, again after the clusters"] = measure(work, args.rounds)
    one = results.get("cluster 1 shards")
    if one:
        local = {m: min(results["local"][m]["p50_ms"], results["local, again after the clusters"][m]["p50_ms"])
                 for m in MODES}
        results["cluster overhead p50_ms (1 shard - best local)"] = {
            m: round(one[m]["p50_ms"] - local[m], 2) for m in MODES}
    results["machine_after"] = machine()
    emit(results, args.json)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
