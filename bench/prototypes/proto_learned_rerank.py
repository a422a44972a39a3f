"""A learned rerank against the shipped formula, scored leaving one fresh set out at a time.

For every question of the 8 fresh sets (bench/eval/, each on its scratch index made by
`bench/eval_ranking.py --set SET`), the hybrid search runs as shipped, and each passage of its reranked head
gets 21 features: the shipped rerank score and its parts (best-sentence score, retrieval share, kind factor),
each side's rank, the best sentence's cosine and term share, the passage's best cosine and term share,
whether the best sentence or the passage holds what the question asks for (a date, an amount), length,
the section title's share of the query terms, the passage's kind, and whether the query is a question.
Each feature also enters minus its maximum over the head, so the model sees how a passage compares with
the others for the same query.

Two models, each fitted on 7 sets and scored on the 8th: a pairwise logistic regression (gold passage
against every other passage of the head, linear) and gradient-boosted trees (pointwise). The bundled
dev/held-out sets are scored by a model fitted on all 8. The passages below the head keep the shipped order,
as in the product. Needs scikit-learn (installed with sentence-transformers).

Run:  HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python bench/prototypes/proto_learned_rerank.py [--index-dir /tmp]
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import eval_ranking as E  # noqa: E402

from corpus_search import embedding_text, keyword_index, ranking  # noqa: E402
from corpus_search import sentences as sent  # noqa: E402
from corpus_search.api import Corpus  # noqa: E402

FRESH = ["fresh"] + [f"fresh{i}" for i in range(2, 9)]
_WORD = re.compile(r"\w+")


def _terms(text: str) -> set[str]:
    return {keyword_index.term_of(w.casefold()) for w in _WORD.findall(text)}


def head_features(searcher, query, qvec, terms, wants, retrieved, info, head) -> list[list[float]]:
    """The features of each passage of a reranked head (see the module's docstring)."""
    passages = searcher.store.get_passages(head)
    tset = set(terms)
    rows = []
    for pid in head:
        p = passages[pid]
        factor, span, ev = info[pid]
        kr, sr = retrieved.get(pid, (None, None))
        spans, vecs = searcher._sentences_of(pid)
        if spans is None or len(spans) == 0 or spans[-1][1] > len(p.text):
            spans, vecs = sent.spans(p.text), None
        cos = np.zeros(len(spans)) if vecs is None else vecs @ qvec.astype(np.float32)
        seen: set[str] = set()
        best_share = best_cos = 0.0
        for i, (a, b) in enumerate(spans):
            words = _terms(p.text[a:b])
            seen |= words
            if span and a <= span[0] < b:
                best_share, best_cos = (len(words & tset) / len(tset) if tset else 0.0), float(cos[i])
        kind = ranking.effective_kind(p.kind, p.text)
        share = (lambda words: len(words & tset) / len(tset) if tset else 0.0)
        rows.append([
            ev, ranking.retrieval_share((kr, sr)), factor,
            11 / (10 + kr) if kr else 0.0, 11 / (10 + sr) if sr else 0.0,
            float(cos.max()) if len(cos) else 0.0, share(seen), best_share, best_cos,
            float(bool(wants is not None and span and wants.search(p.text, span[0], span[1]))),
            float(bool(wants is not None and wants.search(p.text))),
            math.log(len(p.text) + 1), share(_terms(embedding_text.float_title(p.section) if p.section else "")),
            float(kind == "heading"), float(kind == "caption"), float(kind == "footnote"), float(" | " in p.text),
            float(wants is not None), float(ranking.is_question(query)),
            math.log(1 + kr) if kr else math.log(201), math.log(1 + sr) if sr else math.log(201),
        ])
    return rows


def dump(name: str, index: Path) -> dict:
    """Features, gold flags, question numbers and shipped order of every head passage of a set's questions."""
    questions = E.load(name)
    corpus = Corpus.open(index)
    gold = E.gold_passages(questions, corpus.passages())
    searcher = corpus.searcher
    shipped = searcher._rerank
    caught = []

    def rerank(ranked, query, qvec, terms, limit, same=(), wants=None, retrieved=None):
        scored, info = shipped(ranked, query, qvec, terms, limit, same, wants, retrieved)
        head = [pid for pid, _ in scored if pid in info]
        caught.append((head, head_features(searcher, query, qvec, terms, wants, retrieved or {}, info, head)))
        return scored, info

    searcher._rerank = rerank
    X, y, q, order = [], [], [], []
    for i, question in enumerate(questions):
        caught.clear()
        corpus.search(question["question"], mode="hybrid", limit=10)
        head, rows = caught[0]
        for rank, (pid, row) in enumerate(zip(head, rows)):
            X.append(row), y.append(int(pid in gold[question["id"]])), q.append(i), order.append(rank)
    corpus.close()
    return {"X": np.array(X), "y": np.array(y), "q": np.array(q), "order": np.array(order), "n": len(questions)}


def with_relative(d: dict) -> np.ndarray:
    out = np.zeros_like(d["X"])
    for i in np.unique(d["q"]):
        m = d["q"] == i
        out[m] = d["X"][m] - d["X"][m].max(0)
    return np.hstack([d["X"], out])


def mrr(d: dict, score: np.ndarray) -> float:
    total = 0.0
    for i in range(d["n"]):
        m = d["q"] == i
        ys = d["y"][m][np.argsort(-score[m], kind="stable")][:10]
        hit = np.nonzero(ys)[0]
        total += 1 / (hit[0] + 1) if len(hit) else 0.0
    return total / d["n"]


def pairwise(ds: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    diffs = []
    for d in ds:
        F = with_relative(d)
        for i in np.unique(d["q"]):
            m = np.nonzero(d["q"] == i)[0]
            for p in m[d["y"][m] == 1]:
                diffs.extend(F[p] - F[n] for n in m[d["y"][m] == 0])
    A = np.array(diffs)
    return np.vstack([A, -A]), np.r_[np.ones(len(A)), np.zeros(len(A))]


def fit_linear(ds: list[dict], c: float):
    from sklearn.linear_model import LogisticRegression

    X, y = pairwise(ds)
    sd = X.std(0) + 1e-9
    w = LogisticRegression(C=c, fit_intercept=False, max_iter=2000).fit(X / sd, y).coef_[0] / sd
    return lambda d: with_relative(d) @ w


def fit_trees(ds: list[dict]):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = np.vstack([with_relative(d) for d in ds])
    y = np.concatenate([d["y"] for d in ds])
    model = HistGradientBoostingClassifier(max_depth=3, max_iter=200, learning_rate=0.05, random_state=0).fit(X, y)
    return lambda d: model.predict_proba(with_relative(d))[:, 1] - 1e-6 * d["order"]  # ties keep the shipped order


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", default="/tmp", help="where eval_ranking.py made the eval-ranking-SET scratch indexes")
    args = ap.parse_args()
    data = {s: dump(s, Path(args.index_dir) / f"eval-ranking-{s}" / "index") for s in FRESH}
    data.update({s: dump(s, ROOT / "indexes") for s in ("dev", "heldout")})
    rows = {"shipped formula": {s: mrr(d, -d["order"].astype(float)) for s, d in data.items()}}
    for name, fit in (("pairwise logistic, C=0.1", lambda ds: fit_linear(ds, 0.1)),
                      ("pairwise logistic, C=1", lambda ds: fit_linear(ds, 1.0)),
                      ("gradient-boosted trees", fit_trees)):
        out = {s: mrr(data[s], fit([data[t] for t in FRESH if t != s])(data[s])) for s in FRESH}
        everything = fit([data[t] for t in FRESH])
        out.update({s: mrr(data[s], everything(data[s])) for s in ("dev", "heldout")})
        rows[name] = out
    print(f"| ranking | mean of 8 (each left out) | {' '.join(FRESH)} | dev | held-out |")
    print("| --- | ---: | --- | ---: | ---: |")
    for name, out in rows.items():
        print(f"| {name} | {np.mean([out[s] for s in FRESH]):.4f} | {' '.join(f'{out[s]:.3f}' for s in FRESH)} | "
              f"{out['dev']:.3f} | {out['heldout']:.3f} |")


if __name__ == "__main__":
    main()
