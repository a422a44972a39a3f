"""Quotation matching time against quotation length: real corpus text, text that occurs nowhere,
and a quotation whose ellipses make a regular expression backtrack.

Verbatim and closest-text matching only (no vector index: semantic=None), so the figure is the
matcher's own. Each case runs once after a warm-up that prepares the corpus.

Run:  .venv/bin/python bench/bench_quote.py --index indexes [--label after] [--json bench/results/quote.jsonl]
To measure another checkout's code, put its src/ first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from common import machine  # noqa: E402


def _cut(text: str, start: int, length: int) -> str:
    """`length` characters of text from a word boundary at or after `start`."""
    start = text.index(" ", start) + 1
    piece = text[start : start + length]
    return piece[: piece.rfind(" ")] if len(piece) == length else piece


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=ROOT / "indexes")
    parser.add_argument("--label", default="after", help="what code is measured (before / after)")
    parser.add_argument("--lengths", default="625,1250,2500,5000")
    parser.add_argument("--gaps", default="2,3,4", help="ellipses in the backtracking case")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from corpus_search.api import Corpus
    from corpus_search.quote import verify

    corpus = Corpus.open(args.index)
    docs = corpus.documents()
    text = max((corpus.store.document_text(d.doc_id) for d in docs), key=len)
    words = text.split()
    rng = random.Random(7)
    verify(corpus.store, "warm up the prepared corpus")
    rows = []

    def run(case: str, quote: str) -> None:
        started = time.perf_counter()
        report = verify(corpus.store, quote, semantic=None)
        seconds = time.perf_counter() - started
        rows.append({"label": args.label, "case": case, "chars": len(quote), "verdict": report.verdict,
                     "seconds": round(seconds, 3)})
        print(f"{args.label:<7} {case:<10} {len(quote):>6} chars  {seconds:7.2f} s  {report.verdict}", flush=True)

    for n in (int(x) for x in args.lengths.split(",")):
        run("corpus", _cut(text, len(text) // 3, n))
        # The corpus's own words in a random order: every word is there, the sentence is not.
        absent = " ".join(rng.choice(words) for _ in range(n // 4))
        run("absent", absent[: absent.rfind(" ", 0, n)] if len(absent) > n else absent)
    for k in (int(x) for x in args.gaps.split(",")):
        run(f"gaps-{k}", " ... ".join(["of the"] * k + ["xqzjw vvkq"]))
    if args.json:
        with args.json.open("a") as f:
            for row in rows:
                f.write(json.dumps({**row, "machine": machine(), "passages": corpus.store.passage_count()}) + "\n")


if __name__ == "__main__":
    main()
