"""Run every speed benchmark and write BENCHMARKS.md (every figure with the command that reproduces it).

Run:  .venv/bin/python bench/run_all.py [--quick] [--skip build,query,incremental]
      --quick: scale indexes of 2k and 10k passages, fewer variants, a 100-document folder.
Raw results go to bench/results/*.jsonl (one JSON object per run, appended), the report to
BENCHMARKS.md, built from the newest line of each file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
OUT = BENCH / "out"
PY = sys.executable
sys.path.insert(0, str(BENCH))
from common import machine  # noqa: E402

TARGETS = {
    "cold_build_s": 30.0,
    "ner_words_per_s": 10_000,
    "embed_passages_per_s": 50,
    "keyword_p50_ms": 10,
    "semantic_p50_ms": 15,
    "hybrid_p50_ms": 40,
    "cli_keyword_s": 1.5,
    "cli_help_s": 1.0,
    "incremental_over_alone": 2.0,
}


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"))


def last(name: str) -> list[dict]:
    path = RESULTS / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip", default="", help="comma-separated: build,query,incremental")
    parser.add_argument("--report-only", action="store_true", help="rewrite BENCHMARKS.md from bench/results")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    sizes = (2_000, 10_000) if args.quick else (10_000, 100_000)
    RESULTS.mkdir(parents=True, exist_ok=True)
    quick = ["--quick"] if args.quick else []
    if not args.report_only:
        if "build" not in skip:
            run([PY, "bench/bench_build.py", *quick, "--json", str(RESULTS / "build.jsonl")])
        if "query" not in skip:
            indexes = []
            for n in sizes:
                folder = OUT / f"scale-{n // 1000}k"
                if not (folder / "CURRENT").exists():
                    run([PY, "bench/make_scale_corpus.py", "index", "--passages", str(n), "--out", str(folder)])
                indexes += ["--index", str(folder)]
            run([PY, "bench/bench_query.py", *indexes, "--json", str(RESULTS / "query.jsonl")])
        if "incremental" not in skip:
            docs = "100" if args.quick else "1000"
            run([PY, "bench/bench_incremental.py", "--documents", docs, "--json", str(RESULTS / "incremental.jsonl")])
    from report import write_report

    write_report(ROOT / "BENCHMARKS.md", last("build.jsonl"), last("query.jsonl"), last("incremental.jsonl"),
                 machine(), TARGETS)
    print(f"wrote {ROOT / 'BENCHMARKS.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
