"""Query latency of sharded search on a local Ray cluster against the local backend, on one scale index.

For each shard count (default 1, 2, 4): the index is opened twice in one process, with the local backend
and with the cluster backend (a local Ray cluster), and after warm-up the two take turns query by query
(so both see the same load on a shared machine): p50/p95 of Corpus.search for keyword, semantic and hybrid
(query encoding included: the query vector cache is emptied before each query) and hybrid filtered by an
entity, with the load average beside each figure. The cluster overhead per query is, with 1 shard, the
cluster p50 minus the local p50: the same index, searched by one Ray actor instead of in-process.

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


def measure(corpora: dict, rounds: int) -> dict:
    """p50/p95 per mode of each opened corpus, the corpora taking turns query by query (same load for each)."""
    for corpus in corpora.values():
        for q in WARMUP:  # loads the query encoder, the actors' first calls, Whoosh's segments
            for mode in MODES:
                corpus.search(q, mode=mode)
            corpus.search(q, mode="hybrid", entities=[ENTITY])

    def run(corpus, q, mode, entities=()):
        corpus._query_cache.clear()  # pay for encoding every time, as a new query does
        corpus.store._passage_cache.clear()
        t = time.perf_counter()
        corpus.search(q, mode=mode, entities=entities)
        return (time.perf_counter() - t) * 1000

    res: dict = {name: {} for name in corpora}
    for mode, entities in [(m, ()) for m in MODES] + [("hybrid", (ENTITY,))]:
        ms: dict[str, list[float]] = {name: [] for name in corpora}
        for _ in range(rounds):
            for q in QUERIES:
                for name, corpus in corpora.items():
                    ms[name].append(run(corpus, q, mode, entities))
        for name in corpora:
            res[name][mode + (f"+entity {ENTITY}" if entities else "")] = _stats(ms[name])
    return res


def _rss_mb(pid: int) -> float | None:
    try:
        for line in open(f"/proc/{pid}/status", encoding="utf-8"):
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def memory() -> dict:
    """Resident memory of this process (both opened corpora) and of each Ray worker it started (its shard servers).

    Only this process's descendants: other people's Ray clusters on the machine run the same actor classes.
    """
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    workers, todo = [], list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            title = (Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]).decode("utf-8", "replace")
        except OSError:
            continue
        if title.startswith("ray::") and "ShardServer" in title:
            workers.append({"pid": pid, "title": title, "rss_mb": _rss_mb(pid)})
    return {"bench_process_rss_mb": _rss_mb(os.getpid()), "shard_servers": sorted(workers, key=lambda w: w["pid"])}


def _open(index: Path, backend: str, **settings: str):
    from corpus_search.api import Corpus

    os.environ.update({f"CORPUS_SEARCH_{k.upper()}": v for k, v in settings.items()}, CORPUS_SEARCH_BACKEND=backend)
    t = time.perf_counter()
    corpus = Corpus.open(index)
    return corpus, round(time.perf_counter() - t, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True, help="a scale index (make_scale_corpus.py index)")
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the linked copy and its shards")
    ap.add_argument("--shards", type=int, nargs="*", default=[1, 2, 4])
    ap.add_argument("--replicas", type=int, default=1, help="replicas per shard (a query uses one)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default=None)
    ap.add_argument("--keep", action="store_true",
                    help="reuse the linked copy and its shards left in --work by an earlier --keep run, and leave them there"
                         " (writing 1M passages into shards takes about half an hour here)")
    args = ap.parse_args()

    from corpus_search import cluster, shards

    work = args.work / args.index.name
    if not (args.keep and work.exists()):
        shutil.rmtree(work, ignore_errors=True)
        work.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-al", str(args.index), str(work)], check=True)  # links: the index stays untouched
    results = {"bench": "cluster_query", "index": str(args.index), "machine": machine(), "rounds": args.rounds}
    for n in args.shards:
        t = time.perf_counter()
        _, counts = shards.publish(work, n)
        shard_s = time.perf_counter() - t
        local, local_open = _open(work, "local")
        sharded, cluster_open = _open(work, "cluster", shards=str(n), replicas=str(args.replicas))
        try:
            res = measure({"local": local, "cluster": sharded}, args.rounds)
            res["memory"] = memory()
        finally:
            sharded.close()
            local.close()
            cluster.disconnect()
        res["local"]["open_s"], res["cluster"]["open_s"] = local_open, cluster_open
        res["cluster"].update(shard_write_s=round(shard_s, 1), passages_per_shard=counts, replicas=args.replicas)
        res["cluster - local p50_ms"] = {m: round(res["cluster"][m]["p50_ms"] - res["local"][m]["p50_ms"], 2)
                                         for m in MODES}
        results[f"{n} shards"] = res
        print(f"{n} shards: {res}", file=sys.stderr)
    results["machine_after"] = machine()
    emit(results, args.json)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
