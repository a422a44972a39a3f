"""Prototype: plain-word keyword scoring by bm25s against today's Whoosh + NumPy BM25F (bm25.py).

Both read text through the index's own analysis (keyword_index.analyze: Whoosh's tokenizer,
lower case, accent folding, Porter stems) and drop the same stop words from the query, so what
differs is only the scorer: bm25.py's BM25F over two fields (text, section at boost 0.5,
Whoosh's quantised lengths, k1 1.2, b 0.75) against bm25s's one-field Lucene BM25 with the same
k1 and b over the passage text. Speed: plain-word queries of bench/common.py, top-10 and
top-200, short runs. Quality: bench/ holds no relevance-judged queries for search, so this
reports agreement with today's ranking (overlap@10, and by source passage on a scale index
whose replicas tie) and whether the top hit is the same source passage.

Run:  .venv/bin/python bench/prototypes/proto_bm25s.py --index bench/out/scale-100k [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from common import QUERIES, machine, percentile  # noqa: E402

from corpus_search.keyword_index import STOP_WORDS, KeywordIndex, analyze  # noqa: E402


def _base_of(pid: str) -> str:
    return re.sub(r"-x\d{4}(?=:)", "", pid)


def _query_terms(query: str) -> list[str]:
    """What the keyword index searches for a plain-word query: its terms, stop words dropped."""
    kept = [w for w in query.split() if w.casefold() not in STOP_WORDS] or query.split()
    return [term for word in kept for term, _, _ in analyze(word)]


def _stats(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"p50 {percentile(ms, 50):.2f} / p95 {percentile(ms, 95):.2f} ms"


def main() -> None:
    import bm25s

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from corpus_search.build import KEYWORD, STORE
    from corpus_search.generations import Generations
    from corpus_search.store import Store

    gen = Generations(args.index).current()
    store = Store.open(gen / STORE)
    ours = KeywordIndex.open(gen / KEYWORD)
    rows = store.conn.execute("SELECT passage_id, text FROM passages ORDER BY passage_id").fetchall()
    ids = [pid for pid, _ in rows]
    out: dict = {"machine": machine(), "passages": len(ids)}

    t = time.perf_counter()
    corpus_tokens = [[term for term, _, _ in analyze(text)] for _, text in rows]
    out["analysis of every passage, s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    retriever.index(corpus_tokens, show_progress=False)
    out["bm25s index, s"] = round(time.perf_counter() - t, 2)
    sparse = retriever.scores
    out["bm25s score matrix MB"] = round(sum(sparse[k].nbytes for k in ("data", "indices", "indptr")) / 2**20, 1)
    vocab = retriever.vocab_dict

    def theirs(query: str, k: int) -> list[str]:
        terms = [vocab[term] for term in _query_terms(query) if term in vocab]
        if not terms:
            return []
        scores = retriever.get_scores_from_ids(terms)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [ids[i] for i in top if scores[i] > 0]

    def mine(query: str, k: int) -> list[str]:
        return [pid for pid, _ in ours.search(query, limit=k).ids]

    for q in QUERIES:  # warm both
        theirs(q, 10), mine(q, 10)
    for name, fn in (("bm25.py (ours)", mine), ("bm25s", theirs)):
        for k in (10, 200):
            times = []
            for _ in range(args.rounds):
                for q in QUERIES:
                    t = time.perf_counter()
                    fn(q, k)
                    times.append(time.perf_counter() - t)
            out[f"{name} top-{k}"] = _stats(times)

    overlap, by_base, top1 = [], [], []
    for q in QUERIES:
        a, b = mine(q, 10), theirs(q, 10)
        overlap.append(len(set(a) & set(b)) / max(1, len(a)))
        base_a = {_base_of(p) for p in a}
        by_base.append(len(base_a & {_base_of(p) for p in b}) / max(1, len(base_a)))
        top1.append(bool(a and b and _base_of(a[0]) == _base_of(b[0])))
    out["overlap@10 with ours"] = round(float(np.mean(overlap)), 3)
    out["overlap@10 with ours, by source passage"] = round(float(np.mean(by_base)), 3)
    out["same top-1 source passage"] = f"{sum(top1)} of {len(top1)}"
    print(json.dumps(out, indent=1, ensure_ascii=False))
    ours.close()


if __name__ == "__main__":
    main()
