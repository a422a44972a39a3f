"""Prototype: ways to make the semantic path fast at 100k passages, measured on a scale index.

  * query encoding (NumPy encoder) with BLAS on 2 threads vs 1 (threadpoolctl): small matmuls on
    a shared 2-core machine suffer badly from OpenBLAS threads waiting on busy cores;
  * exact top-200: NumPy float32 (1 and 2 BLAS threads) vs usearch's exact SIMD scan over
    float32 / float16 / int8 copies of the matrix, with recall@10 against float32;
  * HNSW (usearch) recall@10 per passage and per base passage: the scale corpus's replicas are
    near-duplicates (noise around one vector), so passage-level recall understates what a user
    sees; "by base" counts a hit when the same source passage is found in any replica.

Run:  .venv/bin/python bench/prototypes/proto_vectors.py --index bench/out/scale-100k [--json FILE]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from common import emit, QUERIES, machine, percentile  # noqa: E402


def base_of(pid: str) -> str:
    return re.sub(r"-x\d{4}(?=:)", "", pid)


def lat(fn, items) -> dict:
    ms = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        ms.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "n": len(ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    from corpus_search.generations import Generations
    from corpus_search.query_encoder import QueryEncoder
    from corpus_search.vector_index import VectorIndex, model_path

    gen = Generations(args.index).current()
    vec = VectorIndex.open(gen)
    ids = vec.ids
    matrix = np.ascontiguousarray(vec.matrix, dtype=np.float32)
    out: dict = {"index": str(args.index), "passages": len(ids), "machine_before": machine()}
    enc = QueryEncoder(model_path())
    enc.encode("warm up")
    items = QUERIES * 2
    out["encode 2 BLAS threads"] = lat(enc.encode, items)
    with threadpool_limits(1, user_api="blas"):
        out["encode 1 BLAS thread"] = lat(enc.encode, items)
    qs = [enc.encode(q) for q in QUERIES]
    qs += [matrix[i] for i in range(0, len(ids), max(1, len(ids) // 100))][:100]

    def exact(q, k=200, m=matrix):
        s = m @ q
        top = np.argpartition(-s, k - 1)[:k]
        return top[np.argsort(-s[top])]

    out["numpy f32 exact top-200, 2 threads"] = lat(exact, qs[:20] * 2)
    with threadpool_limits(1, user_api="blas"):
        out["numpy f32 exact top-200, 1 thread"] = lat(exact, qs[:20] * 2)
    truth = [exact(q, 10) for q in qs]
    truth_sets = [set(t.tolist()) for t in truth]
    truth_base = [{base_of(ids[i]) for i in t} for t in truth]

    def recall(found) -> tuple[float, float]:
        r = np.mean([len(truth_sets[i] & set(f)) / 10 for i, f in enumerate(found)])
        rb = np.mean([len(truth_base[i] & {base_of(ids[j]) for j in f}) / max(1, len(truth_base[i]))
                      for i, f in enumerate(found)])
        return float(r), float(rb)

    try:
        from usearch.index import Index, search
    except ImportError:
        out["usearch"] = "not installed"
    else:
        for dtype, arr in (("f32", matrix), ("f16", matrix.astype(np.float16)),
                           ("i8", np.clip(np.round(matrix * 127 / np.abs(matrix).max()), -127, 127).astype(np.int8))):
            qcast = (lambda q, a=arr: q.astype(a.dtype)) if dtype != "i8" else (
                lambda q: np.clip(np.round(q * 127 / np.abs(q).max()), -127, 127).astype(np.int8))
            metric = "ip" if dtype != "i8" else "cos"

            def run(q, k=200, a=arr, c=qcast, m=metric):
                return search(a, c(q), k, metric=m, exact=True, threads=1).keys

            found = [run(q, 10).tolist() for q in qs]
            r, rb = recall(found)
            out[f"usearch exact {dtype} top-200"] = dict(lat(run, qs[:20] * 2), recall_at_10=r,
                                                         recall_at_10_by_base=rb, mb=arr.nbytes / 2**20)
        for dtype in ("f32", "i8"):
            t = time.perf_counter()
            index = Index(ndim=matrix.shape[1], metric="ip", dtype=dtype, connectivity=16, expansion_add=128,
                          expansion_search=128)
            index.add(np.arange(len(ids)), matrix, threads=1)
            build_s = time.perf_counter() - t
            found = [index.search(q, 10).keys.tolist() for q in qs]
            r, rb = recall(found)
            out[f"usearch hnsw {dtype} (ef 128) top-200"] = dict(
                lat(lambda q, ix=index: ix.search(q, 200), qs[:20] * 2), build_s=build_s, recall_at_10=r,
                recall_at_10_by_base=rb, mb=index.memory_usage / 2**20)
    out["load_after"] = [round(x, 2) for x in __import__("os").getloadavg()]
    emit(out, args.json)


if __name__ == "__main__":
    main()
