"""The query encoder's backends side by side: ms per query, warm and after a scan has pushed the weights out of the
caches (as inside a semantic search at 100k passages), and how far each vector is from the numpy backend's.

Run:  OMP_NUM_THREADS=1 .venv/bin/python bench/bench_query_encoder.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QUERIES, machine, percentile  # noqa: E402

from corpus_search.query_encoder import BACKENDS, QueryEncoder  # noqa: E402
from corpus_search.vector_index import model_path  # noqa: E402


def timed(encoder: QueryEncoder, rounds: int, evict: np.ndarray | None) -> list[float]:
    out = []
    for _ in range(rounds):
        for q in QUERIES:
            if evict is not None:
                evict @ evict[0]  # 100k x 384 float32, 154 MB: what the scans of a search read
            start = time.perf_counter()
            encoder.encode(q)
            out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    big = np.random.default_rng(0).standard_normal((100_000, 384), dtype=np.float32)
    reference = QueryEncoder(model_path(), "numpy")
    ref = [reference.encode(q) for q in QUERIES]
    res: dict = {"machine": machine(), "queries": len(QUERIES)}
    for backend in BACKENDS:
        started = time.perf_counter()
        encoder = QueryEncoder(model_path(), backend)
        encoder.encode("warm up")
        ready_s = time.perf_counter() - started
        warm, evicted = timed(encoder, args.rounds, None), timed(encoder, args.rounds, big)
        cosine = min(float(encoder.encode(q) @ r) for q, r in zip(QUERIES, ref))
        res[backend] = {"ready_s": round(ready_s, 3), "warm_p50_ms": round(percentile(warm, 50), 2),
                        "after_scan_p50_ms": round(percentile(evicted, 50), 2), "min_cosine_to_numpy": round(cosine, 7)}
        print(backend, res[backend], flush=True)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
