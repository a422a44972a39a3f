"""Retrieval quality on the frozen question set (bench/eval/): pass@5 and MRR@10.

Scores our keyword, semantic and hybrid modes (hybrid also with the issue-16 ranking switched off,
through its settings) beside peers on the same passages: bm25s, MiniLM brute force over the passage
texts (the same model, one vector per passage, nothing else), and a plain RRF of the two.
A question is answered by the passage of its document that contains its answer span.

Run:  .venv/bin/python bench/eval_ranking.py --index DIR [--set dev|heldout|all] [--json FILE] [--misses]
(DIR: an index of corpus/, e.g. `corpus-search --index DIR build`.)

The fresh held-out sets (bench/eval/README.md) run over a bigger corpus, which this script assembles
and indexes with the project's own build (incremental, so a second run only checks it):
      .venv/bin/python bench/eval_ranking.py --set fresh|fresh2|fresh3|fresh4|fresh5|fresh6|fresh7|fresh8|fresh9|fresh10 [--scratch DIR] [--json FILE] [--misses]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import emit, machine  # noqa: E402

EVAL = ROOT / "bench" / "eval"
# The issue-16 ranking switched off: plain RRF of passage-level keyword and semantic ranks.
OLD_RANKING = {"CORPUS_SEARCH_KIND_WEIGHT": "1", "CORPUS_SEARCH_LONG_PASSAGE_CHARS": "-1", "CORPUS_SEARCH_RERANK_DEPTH": "0"}
# The held-out sets that build their own corpus: the bundled corpus plus these bench/eval folders
# (folder -> its name in the scratch corpus). Each set's reports are distractors for the later sets.
FRESH_SETS = {"fresh": [("ranking_docs", "fresh"), ("entity_dev", "entity_dev")]}
FRESH_SETS["fresh2"] = FRESH_SETS["fresh"] + [("fresh2_docs", "fresh2")]
FRESH_SETS["fresh3"] = FRESH_SETS["fresh2"] + [("fresh3_docs", "fresh3")]
FRESH_SETS["fresh4"] = FRESH_SETS["fresh3"] + [("fresh4_docs", "fresh4")]
FRESH_SETS["fresh5"] = FRESH_SETS["fresh4"] + [("fresh5_docs", "fresh5")]
FRESH_SETS["fresh6"] = FRESH_SETS["fresh5"] + [("fresh6_docs", "fresh6")]
FRESH_SETS["fresh7"] = FRESH_SETS["fresh6"] + [("fresh7_docs", "fresh7")]
FRESH_SETS["fresh8"] = FRESH_SETS["fresh7"] + [("fresh8_docs", "fresh8")]
FRESH_SETS["fresh9"] = FRESH_SETS["fresh8"] + [("fresh9_docs", "fresh9")]
FRESH_SETS["fresh10"] = FRESH_SETS["fresh9"] + [("fresh10_docs", "fresh10")]


def norm(text: str) -> str:
    for a, b in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("—", "-"), ("–", "-")):
        text = text.replace(a, b)
    text = re.sub(r"[\[\]]", "", text)
    return re.sub(r"\s+", " ", text).casefold().strip()


def load(which: str) -> list[dict]:
    names = {"dev": ["questions_dev.jsonl"], "heldout": ["questions_heldout.jsonl"],
             "all": ["questions_dev.jsonl", "questions_heldout.jsonl"], "fresh": ["questions_fresh.jsonl"],
             "fresh2": ["questions_fresh2.jsonl"], "fresh3": ["questions_fresh3.jsonl"],
             "fresh4": ["questions_fresh4.jsonl"], "fresh5": ["questions_fresh5.jsonl"],
             "fresh6": ["questions_fresh6.jsonl"], "fresh7": ["questions_fresh7.jsonl"],
             "fresh8": ["questions_fresh8.jsonl"], "fresh9": ["questions_fresh9.jsonl"],
             "fresh10": ["questions_fresh10.jsonl"]}[which]
    return [json.loads(line) for n in names for line in (EVAL / n).read_text(encoding="utf-8").splitlines() if line]


def fresh_index(scratch: Path, which: str = "fresh") -> Path:
    """A fresh set's corpus (bundled corpus + the folders FRESH_SETS names for it) built in `scratch`."""
    from corpus_search.api import build

    corpus, index = scratch / "corpus", scratch / "index"
    # Copied afresh each run, so the scratch corpus is always exactly what the README names;
    # unchanged files keep their content hashes, so the build below reuses what it already did.
    if corpus.exists():
        shutil.rmtree(corpus)
    shutil.copytree(ROOT / "corpus", corpus)
    for folder, name in FRESH_SETS[which]:
        shutil.copytree(EVAL / folder, corpus / name)
    started = time.perf_counter()
    report = build(corpus, index)
    failed = [s for s in report.sources if s.status == "failed"]
    if failed:
        raise SystemExit(f"{which} corpus: {len(failed)} source(s) did not build: {failed[0].path}: {failed[0].message}")
    print(f"{which} corpus: {len(report.sources)} sources, {report.passages} passages, built in "
          f"{time.perf_counter() - started:.1f} s ({index})", file=sys.stderr)
    return index


def gold_passages(questions: list[dict], passages) -> dict[str, set[str]]:
    gold = {}
    for q in questions:
        span = norm(q["answer"])
        gold[q["id"]] = {p.passage_id for p in passages if p.doc_id == q["doc_id"] and span in norm(p.text)}
        if not gold[q["id"]]:
            raise SystemExit(f"{q['id']}: answer span not found in {q['doc_id']}: {q['answer']!r}")
    return gold


def score(ranked: list[str], gold: set[str]) -> tuple[float, float]:
    """(pass@5, reciprocal rank within the top 10)."""
    first = next((i for i, pid in enumerate(ranked[:10], 1) if pid in gold), None)
    return (1.0 if first and first <= 5 else 0.0), (1.0 / first if first else 0.0)


def rrf(*rankings: list[str], k: int = 60) -> list[str]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for i, pid in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + i + 1)
    return sorted(scores, key=lambda pid: (-scores[pid], pid))


class Peers:
    """bm25s and MiniLM brute force over the same passage texts."""

    def __init__(self, passages):
        import bm25s
        from corpus_search.vector_index import Encoder

        self.ids = [p.passage_id for p in passages]
        texts = [p.text for p in passages]
        self.bm25 = bm25s.BM25()
        self.bm25.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
        self.encoder = Encoder()
        self.matrix = self.encoder.encode(texts)

    def bm25s(self, query: str, k: int = 200) -> list[str]:
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        docs, _ = self.bm25.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False)
        return [self.ids[i] for i in docs[0]]

    def minilm(self, query: str, k: int = 200) -> list[str]:
        scores = self.matrix @ self.encoder.encode_query(query)
        return [self.ids[i] for i in np.argsort(-scores, kind="stable")[:k]]


NON_BODY: dict[str, list] = {}  # system -> per question: headings, captions, notes in its top 5
EVIDENCE: dict[str, list] = {}  # system -> per question: does the answer passage's evidence hold the answer?


def ours(corpus, query: str, mode: str, env: dict[str, str] | None = None, name: str = "",
         answer: tuple[set[str], str] | None = None) -> list[str]:
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        hits = corpus.search(query, mode=mode, limit=10).hits
        if answer is not None:
            NON_BODY.setdefault(name, []).append(sum(h.passage.kind != "body" for h in hits[:5]))
            for h in hits:
                if h.passage.passage_id in answer[0] and h.evidence is not None:
                    # The evidence is one sentence; an answer span may run over two, so either way round counts.
                    ev = norm(h.passage.text[h.evidence[0]:h.evidence[1]])
                    EVIDENCE.setdefault(name, []).append(answer[1] in ev or ev in answer[1])
                    break
        return [h.passage.passage_id for h in hits]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", help="an index of corpus/ (not with --set fresh, fresh2, fresh3, fresh4, fresh5, fresh6, "
                                    "fresh7, fresh8, fresh9 or fresh10, which build their own)")
    ap.add_argument("--set", default="dev", choices=("dev", "heldout", "all", *FRESH_SETS))
    ap.add_argument("--scratch", help="--set fresh, fresh2, fresh3, fresh4, fresh5, fresh6, fresh7, fresh8, fresh9 or fresh10: "
                                      "where its corpus copy and index go (default /tmp/eval-ranking-SET)")
    ap.add_argument("--json")
    ap.add_argument("--misses", action="store_true", help="print the questions each system misses in its top 5")
    ap.add_argument("--ablations", action="store_true", help="also score each part of the ranking switched off alone")
    args = ap.parse_args()

    from corpus_search.api import Corpus

    if args.set in FRESH_SETS:
        if args.index:
            ap.error(f"--set {args.set} builds its own index (see --scratch); leave out --index")
        index = fresh_index(Path(args.scratch or f"/tmp/eval-ranking-{args.set}"), args.set)
    elif not args.index:
        ap.error("--index is required with --set dev, heldout or all")
    else:
        index = Path(args.index)
    corpus = Corpus.open(index)
    passages = corpus.passages()
    questions = load(args.set)
    gold = gold_passages(questions, passages)
    peers = Peers(passages)
    variants = {
        "keyword": ("keyword", {}),
        "semantic": ("semantic", {}),
        "semantic, passage vectors only": ("semantic", {"CORPUS_SEARCH_LONG_PASSAGE_CHARS": "-1"}),
        "hybrid, ranking before issue 16": ("hybrid", OLD_RANKING),
        "hybrid (issue-16 ranking)": ("hybrid", {}),
    }
    if args.ablations:
        variants.update({
            "semantic, best sentence of every passage": ("semantic", {"CORPUS_SEARCH_LONG_PASSAGE_CHARS": "0"}),
            "hybrid, no best-sentence scan": ("hybrid", {"CORPUS_SEARCH_LONG_PASSAGE_CHARS": "-1"}),
            "hybrid, best sentence of every passage": ("hybrid", {"CORPUS_SEARCH_LONG_PASSAGE_CHARS": "0"}),
            "hybrid, no kind weight": ("hybrid", {"CORPUS_SEARCH_KIND_WEIGHT": "1"}),
            "hybrid, no sentence rerank": ("hybrid", {"CORPUS_SEARCH_RERANK_DEPTH": "0"}),
            "hybrid, rerank depth 10": ("hybrid", {"CORPUS_SEARCH_RERANK_DEPTH": "10"}),
            "hybrid, rerank depth 50": ("hybrid", {"CORPUS_SEARCH_RERANK_DEPTH": "50"}),
        })
    current: dict = {}
    systems = {name: (lambda q, m=m, e=e, n=name: ours(corpus, q, m, e, n, current.get("answer")))
               for name, (m, e) in variants.items()}
    systems.update({
        "peer: bm25s": peers.bm25s,
        "peer: MiniLM brute force": peers.minilm,
        "peer: RRF(bm25s, MiniLM)": lambda q: rrf(peers.bm25s(q), peers.minilm(q)),
    })
    rows = {}
    for name, run in systems.items():
        p5, rr, missed = [], [], []
        by_about: dict[str, list[float]] = {}
        started = time.perf_counter()
        for q in questions:
            current["answer"] = (gold[q["id"]], norm(q["answer"]))
            ranked = run(q["question"])
            a, b = score(ranked, gold[q["id"]])
            p5.append(a)
            rr.append(b)
            if "about" in q:
                by_about.setdefault(q["about"], []).append(b)
            if not a:
                missed.append(q["id"])
        rows[name] = {"pass@5": round(float(np.mean(p5)), 3), "found@5": int(sum(p5)), "mrr@10": round(float(np.mean(rr)), 3),
                      "ms_per_query": round((time.perf_counter() - started) * 1000 / len(questions), 1), "missed@5": missed}
        if by_about:
            rows[name]["mrr@10_by_about"] = {k: round(float(np.mean(v)), 3) for k, v in sorted(by_about.items())}
        ev = EVIDENCE.get(name)
        if ev:
            rows[name]["evidence_holds_answer"] = f"{sum(ev)}/{len(ev)}"
        if NON_BODY.get(name):
            rows[name]["non_body_in_top5"] = sum(NON_BODY[name])
        print(f"{name:42s} pass@5 {rows[name]['pass@5']:.3f} ({int(sum(p5))}/{len(questions)})  "
              f"MRR@10 {rows[name]['mrr@10']:.3f}" + (f"  evidence holds the answer {sum(ev)}/{len(ev)}" if ev else "")
              + (f"  non-body in top 5: {sum(NON_BODY[name])}" if NON_BODY.get(name) else ""),
              file=sys.stderr)
        if args.misses:
            for qid in missed:
                q = next(x for x in questions if x["id"] == qid)
                print(f"    miss {qid}: {q['question']}", file=sys.stderr)
    emit({"bench": "eval_ranking", "set": args.set, "questions": len(questions), "passages": len(passages),
          "systems": rows, "machine": machine()}, args.json)


if __name__ == "__main__":
    main()
