"""Hybrid MRR@10 / pass@5 on each fresh set's existing scratch index (made by `eval_ranking.py --set SET`),
for variants of the query-time settings: a quick way to see whether a ranking change moves any question.

Run:  SETS="fresh fresh2 ..." .venv/bin/python bench/sweep_ranking.py 'NAME=VAL,NAME=VAL' ['...']
(an empty string is the shipped settings; NAME is a setting without its CORPUS_SEARCH_ prefix). Per-question
reciprocal ranks of the last run go to /tmp/sweep_last.json, to diff two runs question by question.
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eval_ranking as E  # noqa: E402

from corpus_search.api import Corpus  # noqa: E402
sets = os.environ.get("SETS", "fresh fresh2 fresh3 fresh4 fresh5 fresh6 fresh7 fresh8").split()
variants = sys.argv[1:] or [""]
res = {}
for s in sets:
    qs = E.load(s); c = Corpus.open(f"/tmp/eval-ranking-{s}/index"); gold = E.gold_passages(qs, c.passages())
    for v in variants:
        env = dict(kv.split("=") for kv in v.split(",") if kv)
        os.environ.update({f"CORPUS_SEARCH_{k.upper()}": val for k, val in env.items()})
        p5 = rr = 0.0; per = {}
        for q in qs:
            ids = [h.passage.passage_id for h in c.search(q["question"], mode="hybrid", limit=10).hits]
            a, b = E.score(ids, gold[q["id"]]); p5 += a; rr += b; per[q["id"]] = b
        for k in env: os.environ.pop(f"CORPUS_SEARCH_{k.upper()}", None)
        res.setdefault(v, {})[s] = (rr / len(qs), p5 / len(qs), per)
        print(f"{s:7} {v or 'default':40} MRR {rr/len(qs):.3f} pass@5 {p5/len(qs):.3f}", flush=True)
print()
for v in variants:
    m = [res[v][s][0] for s in sets]
    print(f"{v or 'default':40} mean MRR {sum(m)/len(m):.4f}  " + " ".join(f"{x:.3f}" for x in m))
json.dump({v: {s: res[v][s][2] for s in sets} for v in variants}, open("/tmp/sweep_last.json", "w"))
