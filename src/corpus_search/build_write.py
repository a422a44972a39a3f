"""The build's last stage: write a generation (store, keyword index, vectors, manifest), then verify it.

The generation starts as a copy of the previous one when there is one, and only what changed is
written; the store, the keyword index and the vectors go through the store and the chosen backends
(backends.py), never Whoosh or .npy files directly. Nothing is published until `verify` passes.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corpus_search import backends, generations
from corpus_search.backends import KeywordDoc
from corpus_search.build_plan import Source, corpus_hash
from corpus_search.build_report import Progress, SourceReport
from corpus_search.build_vectors import Digests, save_sentences
from corpus_search.entities import AliasTable, Tagger
from corpus_search.errors import CorpusSearchError
from corpus_search.generations import KEYWORD, STORE
from corpus_search.models import STATUS_SKIPPED, Mention
from corpus_search.store import Store


def write(gen: Path, sources: list[Source], previous: Path | None, mentions: list[Mention], table: AliasTable,
          vectors: dict[str, np.ndarray], models: dict, progress: Progress, unindexed: Sequence[SourceReport] = (),
          corpus_dir: Path | None = None, sentence_vectors: dict | None = None, digests: Digests | None = None) -> None:
    """Write the generation: from a copy of the previous one when there is one, changing only what changed.

    `digests`: what the model read for each passage, kept so a later build finds these vectors by text."""
    kept = {s.record.doc_id for s in sources if s.reused}
    # Without a previous generation to copy (a first build, or a purge's fresh files) every source is written.
    new_sources = sources if previous is None else [s for s in sources if not s.reused]
    if previous is not None:
        shutil.copy2(previous / STORE, gen / STORE)
        shutil.copytree(previous / KEYWORD, gen / KEYWORD)

    store = Store.create(gen / STORE)
    gone = [d for d in store.source_keys() if d not in kept]
    for doc_id in gone:
        store.delete_document(doc_id)
    for i, src in enumerate(new_sources):
        store.add_document(src.doc, i, src.text, src.passages, src.key)
        store.add_raw_mentions(src.raw_mentions)
    store.set_order([s.record.doc_id for s in sources])
    # Canonical names can change for every document when a new source teaches an alias.
    store.clear_mentions()
    store.add_mentions(mentions)
    store.set_aliases(table.rows())
    # Files that are no document (skipped formats, broken records): `documents` lists them with their reason.
    store.set_meta("unindexed", json.dumps([{"path": r.path, "status": r.status, "message": r.message}
                                            for r in unindexed], ensure_ascii=False))
    store.set_meta("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    store.set_meta("corpus_dir", str(corpus_dir))  # where curation.toml lives, for the query-time curation
    store.commit()
    ids = store.passage_ids_in_order()
    n_mentions = store.stored_mention_count()
    store.close()
    progress.advance(1)

    keyword_docs = (
        KeywordDoc(p.passage_id, p.doc_id, p.kind, p.text, p.section) for s in new_sources for p in s.passages
    )
    if previous is not None:
        backends.keyword_backend().update(gen / KEYWORD, gone, keyword_docs).close()
    else:
        backends.keyword_backend().create(gen / KEYWORD, keyword_docs).close()
    progress.advance(2)

    dim = next(iter(vectors.values())).shape[0] if vectors else 384
    matrix = np.zeros((len(ids), dim), dtype=np.float32)
    for i, pid in enumerate(ids):
        matrix[i] = vectors[pid]
    backends.vector_backend().save(gen, ids, matrix)
    if sentence_vectors is not None:
        save_sentences(gen, ids, sentence_vectors, dim)
    (digests or Digests()).save(gen, ids)
    progress.advance(3)

    generations.write_manifest(
        gen,
        {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "corpus_hash": corpus_hash(sources, [r for r in unindexed if r.status == STATUS_SKIPPED],
                                       corpus_dir / "_entities" if corpus_dir is not None else None),
            "models": models,
            "tagger": Tagger().fingerprint(),  # tags of an equal text are taken from this generation while it matches
            **backends.chosen(),  # keyword_backend, vector_backend: only they may open this generation
            "vector_dim": dim,
            "counts": {"documents": len(sources), "passages": len(ids), "mentions": n_mentions},
            "documents": {s.record.doc_id: s.doc.status for s in sources},
        },
    )


def verify(gen: Path) -> None:
    """Open what was written, check the three parts agree and answer; raise before publishing if not."""
    manifest = generations.read_manifest(gen)
    problems = generations.verify_files(gen, manifest)
    store = Store.open(gen / STORE)
    keyword = backends.keyword_backend().open(gen / KEYWORD)
    vec = backends.vector_backend().open(gen)
    try:
        n = store.passage_count()
        # Whoosh also keeps a NumPy export that must agree; another backend has only its count.
        exported = getattr(keyword, "exported_count", keyword.count)()
        counts = (n, keyword.count(), exported, len(vec), manifest["counts"]["passages"])
        if len(set(counts)) != 1:
            problems.append(f"counts disagree (store, keyword, keyword export, vectors, manifest): {counts}")
        if n:
            words = [w for w in (store.first_passage_text() or "").split() if w.isalpha()][:3]
            if words and not keyword.search(" ".join(words), limit=5).ids:
                problems.append("canary keyword query found nothing")
    except sqlite3.DatabaseError as exc:
        problems.append(f"store unreadable: {exc}")
    finally:
        keyword.close()
        store.close()
    if problems:
        raise CorpusSearchError(f"the new index failed verification and was not used: {problems[0]}")
