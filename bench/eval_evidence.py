"""How well the evidence points at the answer: for each question of the fresh sets whose answer passage
is in the hybrid top 10, whether the evidence span holds the answer (or the answer holds it, when the
answer runs over two sentences) and how long the evidence is. Table questions are listed one by one:
a sentence cut through a joined table is up to 600 characters of rows, the row that answers is ~50.

Run (after `eval_ranking.py --set freshN` has built each set's scratch index in /tmp/eval-ranking-SET):
      .venv/bin/python bench/eval_evidence.py [--sets fresh fresh2 ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import eval_ranking as E  # noqa: E402
from common import emit, machine  # noqa: E402

ALL = ["fresh", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "fresh7", "fresh8"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=ALL)
    ap.add_argument("--scratch", default="/tmp/eval-ranking-{set}/index", help="each set's index ({set} is its name)")
    ap.add_argument("--json")
    args = ap.parse_args()
    from corpus_search.api import Corpus

    found: dict[str, dict] = {}
    for name in args.sets:
        questions = E.load(name)
        corpus = Corpus.open(args.scratch.format(set=name))
        gold = E.gold_passages(questions, corpus.passages())
        for q in questions:
            for hit in corpus.search(q["question"], mode="hybrid", limit=10).hits:
                if hit.passage.passage_id in gold[q["id"]] and hit.evidence is not None:
                    evidence = E.norm(hit.passage.text[hit.evidence[0]:hit.evidence[1]])
                    answer = E.norm(q["answer"])
                    found[q["id"]] = {"set": name, "about": q.get("about"), "rank": hit.rank, "chars": len(evidence),
                                      "holds": answer in evidence or evidence in answer}
                    break
        corpus.close()
    tables = {k: v for k, v in found.items() if v["about"] == "table"}
    lines = [f"{len(found)} answers in the hybrid top 10; the evidence holds the answer for "
             f"{sum(v['holds'] for v in found.values())}; median evidence {statistics.median(v['chars'] for v in found.values()):.0f} characters"]
    lines += [f"table questions found: {len(tables)}, evidence holds the answer {sum(v['holds'] for v in tables.values())}, "
              f"median {statistics.median(v['chars'] for v in tables.values()) if tables else 0:.0f} characters"]
    lines += [f"  {k} ({v['set']}): rank {v['rank']}, evidence {v['chars']} characters, holds the answer: {v['holds']}"
              for k, v in sorted(tables.items())]
    print("\n".join(lines))
    if args.json:
        emit({"bench": "eval_evidence", "sets": args.sets, "questions": found, "machine": machine()}, args.json)


if __name__ == "__main__":
    main()
