"""Build throughput: the local build against `build --cluster local` with 1 and 2 worker CPUs.

The corpus is the bundled one plus the CRS reports of ../shared/testdata (copied to a temporary
folder; `--copies N` adds N renamed copies of every source without its record, for a longer run).
Each build runs from cold in its own subprocess, so imports, the Ray start and every model load are
paid as a user pays them. Printed per run: wall seconds (process start to exit), build seconds (the
build's own clock: sources found to generation switched), the stage seconds, and passages/s over
both. The overhead is the 1-worker cluster against the local build; the driver-only part (what no
added machine shortens: writing, verifying and switching the generation, entity canonicalisation,
language tags) is the build seconds outside the extract, embed and NER stages.

Run:  .venv/bin/python bench/bench_cluster_build.py [--copies N] [--runs local,local1t,cluster1,cluster2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
REPORTS = ROOT.parent / "shared" / "testdata" / "extra" / "crs-reports" / "pdf"
sys.path.insert(0, str(ROOT / "bench"))

from common import emit, machine  # noqa: E402

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from corpus_search.build import build
report = build(__import__("pathlib").Path(sys.argv[1]), __import__("pathlib").Path(sys.argv[2]),
               cluster=None if sys.argv[3] == "-" else sys.argv[3])
print(json.dumps({"inner_wall_s": time.perf_counter() - t0, "build_s": report.seconds,
                  "stage_s": report.stage_seconds, "passages": report.passages,
                  "sources": len(report.sources), "failed": [s.path for s in report.sources if not s.status.startswith("ok")],
                  "retries": report.retries}))
"""


def make_corpus(folder: Path, copies: int) -> Path:
    corpus = folder / "corpus"
    shutil.copytree(CORPUS, corpus)
    for pdf in sorted(REPORTS.rglob("*.pdf")):
        shutil.copy(pdf, corpus / f"testdata-{pdf.name}")
    sources = [p for p in corpus.rglob("*") if p.suffix in (".pdf", ".txt") and "_entities" not in p.parts]
    for k in range(1, copies + 1):
        for src in sources:
            shutil.copy(src, corpus / f"copy{k}-{src.parent.name}-{src.name}")
    return corpus


def run(corpus: Path, where: str | None, cpus: int | None, threads: int | None = None) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if threads:
        # What Ray gives an actor holding one CPU: torch then runs one thread, as in the cluster's embedders.
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if cpus:
        env["CORPUS_SEARCH_CLUSTER_CPUS"] = str(cpus)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-index-") as index:
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD, str(corpus), index, where or "-"], capture_output=True,
                              text=True, env=env, timeout=3600)
        wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"build failed ({where}): {proc.stderr.strip().splitlines()[-1:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    st = out["stage_s"]
    parallel = sum(st.get(k, 0.0) for k in ("extract_clean", "embeddings", "entities"))
    return {
        **out,
        "wall_s": wall,
        "passages_per_s_build": out["passages"] / out["build_s"],
        "passages_per_s_wall": out["passages"] / wall,
        "driver_only_s": out["build_s"] - parallel,
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=0)
    ap.add_argument("--runs", default="local,cluster1,cluster2")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    # local1t: the local build with torch on one thread, the like-for-like base for the cluster's overhead.
    plans = {"local": (None, None, None), "local1t": (None, None, 1), "cluster1": ("local", 1, None),
             "cluster2": ("local", 2, None)}
    with tempfile.TemporaryDirectory(prefix="bench-cluster-corpus-") as tmp:
        corpus = make_corpus(Path(tmp), args.copies)
        results = {}
        for name in args.runs.split(","):
            where, cpus, threads = plans[name]
            results[name] = run(corpus, where, cpus, threads)
            emit({"bench": "cluster_build", "run": name, **results[name], "machine": machine()}, args.json)
    if "local" in results and "cluster1" in results:
        local, one = results["local"], results["cluster1"]
        summary = {
            "overhead_build_s": one["build_s"] - local["build_s"],
            "overhead_wall_s": one["wall_s"] - local["wall_s"],
            "cluster1_vs_local_build": one["build_s"] / local["build_s"],
        }
        if "local1t" in results:
            summary["overhead_vs_local1t_build_s"] = one["build_s"] - results["local1t"]["build_s"]
            summary["overhead_vs_local1t_wall_s"] = one["wall_s"] - results["local1t"]["wall_s"]
        if "cluster2" in results:
            two = results["cluster2"]
            summary["speedup_2_vs_1_build"] = one["build_s"] / two["build_s"]
            summary["speedup_2_vs_1_embeddings"] = one["stage_s"]["embeddings"] / two["stage_s"]["embeddings"]
            # Amdahl with the driver-only part serial: what N machines of 2 such CPUs would give at best.
            serial = two["driver_only_s"]
            parallel_2 = two["build_s"] - serial
            summary["driver_only_share"] = serial / two["build_s"]
            summary["expected_build_s_per_machines"] = {n: serial + parallel_2 / n for n in (1, 2, 4, 8)}
        emit({"bench": "cluster_build", "run": "summary", **summary}, args.json)


if __name__ == "__main__":
    main()
