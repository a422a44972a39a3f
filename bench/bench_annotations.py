"""Annotation store and re-anchoring costs on a built index of the bundled corpus.

  save      annotations saved per second, one durable transaction each (WAL, synchronous=FULL)
  reanchor  seconds to re-anchor N annotations after every document gained a paragraph at the top
            (every offset moves: the exact-quote path), and after one word of each quote changed
            (the fuzzy path)

Run:  .venv/bin/python bench/bench_annotations.py INDEX_DIR [--n 1000]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from corpus_search.annotations import AnnotationStore, DocumentText
from corpus_search.annotations.anchor import reanchor
from corpus_search.annotations.store import new_annotation
from corpus_search.api import Corpus


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("index", type=Path)
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    corpus = Corpus.open(args.index)
    rng = random.Random(15)
    docs = {d.doc_id: DocumentText.load(corpus.store, d.doc_id) for d in corpus.documents()}
    body = [p for p in corpus.passages() if p.kind == "body" and len(p.text) > 120]

    made = []
    with tempfile.TemporaryDirectory() as tmp:
        store = AnnotationStore.open(tmp)
        started = time.perf_counter()
        for _ in range(args.n):
            p = rng.choice(body)
            a = rng.randrange(0, len(p.text) - 80)
            fields = docs[p.doc_id].fields(p.start + a, p.start + a + 60)
            made.append(store.add(new_annotation(**fields, note="bench", tags=("t",))))
        save = time.perf_counter() - started

    def moved(doc: DocumentText, text: str) -> DocumentText:
        return DocumentText(doc.doc_id, "changed", text, [])

    shifted = {k: moved(d, "A new paragraph at the top.\n\n" + d.text) for k, d in docs.items()}
    started = time.perf_counter()
    exact = [reanchor(a, shifted[a.doc_id])[0] for a in made]
    t_exact = time.perf_counter() - started

    started = time.perf_counter()
    fuzzy = []
    for a in made:
        words = a.exact.split(" ")
        if len(words) < 3:
            continue
        words[len(words) // 2] += "x"
        text = docs[a.doc_id].text.replace(a.exact, " ".join(words), 1)
        fuzzy.append(reanchor(a, moved(docs[a.doc_id], text))[0])
    t_fuzzy = time.perf_counter() - started

    print(json.dumps({
        "annotations": args.n,
        "save_per_second": round(args.n / save, 1),
        "reanchor_exact_seconds": round(t_exact, 3),
        "reanchor_exact_outcomes": {k: exact.count(k) for k in set(exact)},
        "reanchor_fuzzy_seconds": round(t_fuzzy, 3),
        "reanchor_fuzzy_outcomes": {k: fuzzy.count(k) for k in set(fuzzy)},
    }))


if __name__ == "__main__":
    main()
