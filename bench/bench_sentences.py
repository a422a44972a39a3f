"""What sentence vectors cost at build time: embedding every passage vs every sentence of it, same process.

Run:  .venv/bin/python bench/bench_sentences.py --index DIR [--json FILE]   (DIR: an index of corpus/)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import emit, machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--json")
    args = ap.parse_args()
    from corpus_search import sentences
    from corpus_search.api import Corpus
    from corpus_search.vector_index import Encoder

    corpus = Corpus.open(args.index)
    texts = [p.text for p in corpus.passages()]
    before = machine()
    encoder = Encoder()
    encoder.encode(texts[:32])  # warm-up
    t = time.perf_counter()
    encoder.encode(texts)
    passages_s = time.perf_counter() - t
    t = time.perf_counter()
    per_text, matrix = sentences.embed(encoder, texts)
    sentences_s = time.perf_counter() - t
    gen = corpus.generation
    size = {name: (gen / name).stat().st_size for name in ("vectors.npy", sentences.VECTORS, sentences.SPANS)}
    emit({"bench": "sentence_vectors", "passages": len(texts), "sentences": int(matrix.shape[0]),
          "embed_passages_s": round(passages_s, 2), "embed_sentences_s": round(sentences_s, 2),
          "bytes": size, "machine_before": before, "load_after": machine()["load"]}, args.json)


if __name__ == "__main__":
    main()
