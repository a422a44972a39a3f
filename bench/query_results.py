"""The benchmark queries' results as JSON, to check that a speed change left them alone (run it on both trees).

Writes the semantic side's 200 candidates (with scores) for the 20 benchmark queries and for 200 passage
vectors used as queries, each mode's top 10 (ids, scores, evidence spans) and facets, and the hybrid top
10 filtered by "Russia" and by "Gazprom". Two files from two code trees compare with `--compare`.

Run:  PYTHONPATH=OLD/src .venv/bin/python bench/query_results.py --index DIR --out before.json
      PYTHONPATH=src .venv/bin/python bench/query_results.py --index DIR --out after.json
      .venv/bin/python bench/query_results.py --compare before.json after.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QUERIES  # noqa: E402


def results(index: Path) -> dict:
    from corpus_search.api import Corpus

    corpus = Corpus.open(index)
    qvecs = [corpus.encode_query(q) for q in QUERIES]
    matrix = corpus.vectors.matrix
    pvecs = [np.asarray(matrix[i]) for i in range(0, len(matrix), max(1, len(matrix) // 200))][:200]
    out: dict = {
        "semantic candidates, queries": [corpus.searcher._semantic(v, 200, None) for v in qvecs],
        "semantic candidates, passage vectors": [corpus.searcher._semantic(v, 200, None) for v in pvecs],
    }
    for mode in ("semantic", "hybrid", "keyword"):
        found = [corpus.search(q, mode=mode) for q in QUERIES]
        out[f"{mode} top 10"] = [[(h.passage.passage_id, h.score, h.evidence) for h in r.hits] for r in found]
        out[f"{mode} facets"] = [r.facets for r in found]
    for ent in ("Russia", "Gazprom"):
        out[f"hybrid + {ent} top 10"] = [[(h.passage.passage_id, h.score) for h in corpus.search(
            q, mode="hybrid", entities=[ent]).hits] for q in QUERIES]
    corpus.close()
    # Through JSON, so a fresh result compares equal to one read back from a file.
    return json.loads(json.dumps(out, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", type=Path, nargs=2)
    args = parser.parse_args()
    if args.compare:
        a, b = (json.loads(p.read_text()) for p in args.compare)
        for key in a:
            same = sum(x == y for x, y in zip(a[key], b.get(key, [])))
            print(f"{key}: {same}/{len(a[key])} identical")
        return
    if not (args.index and args.out):
        parser.error("--index and --out (or --compare A B)")
    args.out.write_text(json.dumps(results(args.index)))


if __name__ == "__main__":
    main()
