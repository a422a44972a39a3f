"""The build's embedding stage: a vector per passage and per sentence, carried over where unchanged.

The encoder is given (vector_index.Encoder here, cluster_build.ClusterEncoder on a cluster), so the
same passages make the same vectors either way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from corpus_search import backends, embedding_text, sentences
from corpus_search.build_plan import Previous, Source
from corpus_search.models import Passage
from corpus_search.sentences import SentenceIndex
from corpus_search.vector_index import Encoder


def carried(previous: Previous | None, sources: list[Source]) -> dict[str, np.ndarray]:
    """passage id -> vector, from the previous generation, for the passages of the sources carried over."""
    if previous is None:
        return {}
    return previous.vectors.vectors_for([p.passage_id for s in sources if s.reused for p in s.passages])


def embed(encoder: Encoder, passages: list[Passage], progress: Callable[[int], None],
          defined: dict[str, dict[str, str]] | None = None) -> dict[str, np.ndarray]:
    """passage id -> vector for passages that have none yet; `defined`: each document's abbreviations
    (embedding_text.definitions), spelled out in what the model reads."""
    encoded = encoder.encode(embedding_text.texts_for(passages, defined or {}), progress=progress)
    return {p.passage_id: encoded[i] for i, p in enumerate(passages)}


def sentence_vectors(passages: list[Passage], need: list[Passage], previous_gen: Path | None,
                     encoder: Encoder | None, vectors: dict[str, np.ndarray],
                     defined: dict[str, dict[str, str]] | None = None) -> dict:
    """passage id -> (sentence spans, vectors): carried over from the previous generation, else embedded.

    `need` are the passages whose own vectors were just made (their sentences are new too); `encoder`
    is None when no passage needed one; `defined` as for `embed`, spelled out in each sentence.
    """
    out: dict = {}
    if previous_gen is not None:
        old = SentenceIndex.open(previous_gen)
        if old is not None:
            old_vectors = backends.vector_backend().open(previous_gen)
            needed = {p.passage_id for p in need}
            for p in passages:
                row = old_vectors.row(p.passage_id)
                if p.passage_id not in needed and row is not None:
                    spans, vecs = old.of_passage(row)
                    if len(spans):
                        out[p.passage_id] = (spans, vecs)
    todo = []
    for p in passages:
        if p.passage_id in out:
            continue
        spans, _ = sentences.model_sentences(p.text)
        if len(spans) == 1 and p.passage_id in vectors:
            # One sentence (a heading, a caption, a short note): its vector is the passage's, already made.
            out[p.passage_id] = (np.asarray(spans, dtype=np.int32).reshape(-1, 2), vectors[p.passage_id][None, :])
        else:
            todo.append(p)
    if todo:
        per_text, matrix = sentences.embed(encoder or Encoder(), [p.text for p in todo],
                                           [(defined or {}).get(p.doc_id, {}) for p in todo],
                                           [embedding_text.float_title(p.section) for p in todo])
        i = 0
        for p, spans in zip(todo, per_text):
            out[p.passage_id] = (np.asarray(spans, dtype=np.int32).reshape(-1, 2), matrix[i:i + len(spans)])
            i += len(spans)
    return out


def save_sentences(gen: Path, ids: list[str], sentence_vectors: dict, dim: int) -> None:
    """Write the sentence index: each sentence's row points at its passage's row in the vector backend."""
    rows, mats = [], []
    for i, pid in enumerate(ids):
        spans, vecs = sentence_vectors[pid]
        rows.append(np.column_stack([np.full(len(spans), i, dtype=np.int32), spans]))
        mats.append(vecs)
    SentenceIndex.save(gen, np.concatenate(mats) if mats else np.zeros((0, dim), np.float32),
                       np.concatenate(rows) if rows else np.zeros((0, 3), np.int32))
