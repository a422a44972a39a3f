"""Shards: an index generation split by document into N parts, each today's local index.

  gen-000007/shards/shards.json          {"format": 1, "shards": N, "passages": [per shard]}
  gen-000007/shards/<k>/keyword/         Whoosh folder (+ its NumPy BM25 export) of shard k's passages
  gen-000007/shards/<k>/vectors.npy ...  passage vectors, ids and sentence vectors, as in a generation
  gen-000007/shards/<k>/order.npy        each passage's place in the unsharded keyword index

A document, with its attachments (an e-mail's, an mbox's messages), lives on one shard, chosen by a
hash of its top-level document id, so the assignment never depends on what else is in the corpus.
Shards are files of the generation like any other: listed and checksummed in its manifest, so a
changed shard file is refused like a changed index. They are written from the finished generation,
by the build (backend = cluster) or by `corpus-search shard --shards N` (a new generation, switched
atomically like a build's). Search over them: shard_search.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from corpus_search.errors import CorpusSearchError, IndexMissingError, UsageError

FOLDER = "shards"
META = "shards.json"
ORDER = "order.npy"
FORMAT = 1
MAX_SHARDS = 256
PARALLEL_MIN = 5000  # passages below which shards are written in this process: starting one costs more


def shard_of(top_doc_id: str, n: int) -> int:
    """The shard a top-level document lives on: stable across builds, machines and Python versions."""
    digest = hashlib.blake2b(top_doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % n


def check_count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SHARDS:
        raise UsageError(f"shards must be a whole number from 1 to {MAX_SHARDS}, not {n!r} (CORPUS_SEARCH_SHARDS)")
    return n


def count(gen: Path) -> int | None:
    """How many shards the generation holds, or None when it has none."""
    try:
        meta = json.loads((gen / FOLDER / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("shards"), int):
        return None
    return meta["shards"]


def folder(gen: Path, k: int) -> Path:
    return gen / FOLDER / str(k)


def write(gen: Path, n: int, workers: int | None = None) -> list[int]:
    """Split the generation's index into n shards under gen/shards (replacing any there); passages per shard.

    Each shard is written by a process of its own, at most `workers` at once (default: one per core this
    process may use, from PARALLEL_MIN passages up; below that, here), and holds exactly what one process
    writing them all would write. The processes are spawned, so a script calling this (like one calling
    build) needs the `if __name__ == "__main__":` guard. Does not touch the manifest: the caller lists the
    files (add, or the shard command's new generation).
    """
    from corpus_search.backends import vector_backend
    from corpus_search.build import KEYWORD, STORE
    from corpus_search.store import Store

    n = check_count(n)
    store = Store.open(gen / STORE)
    try:
        parent = {d.doc_id: d.parent for d in store.documents()}
        doc_of = {p.passage_id: p.doc_id for p in store.passages()}
    finally:
        store.close()
    vectors = vector_backend().open(gen)
    # Passages go into each shard in the unsharded keyword index's order, and carry their place in it,
    # so equal scores break the way the unsharded index breaks them.
    try:
        pids = np.load(gen / KEYWORD / "bm25_pids.npy", allow_pickle=False)
    except (OSError, ValueError):
        raise IndexMissingError(f"index {gen} has no keyword export to shard; run `corpus-search build --force`") from None
    place = {str(pid): i for i, pid in enumerate(pids) if pid}
    ordered = sorted((pid for pid in vectors.ids if pid in doc_of), key=lambda pid: place.get(pid, len(place)))

    tmp = gen / f".{FOLDER}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    members: list[list[str]] = [[] for _ in range(n)]
    for pid in ordered:
        members[shard_of(_top(doc_of[pid], parent), n)].append(pid)
    jobs = [(gen, tmp / str(k), ids, [place.get(pid, len(place)) for pid in ids]) for k, ids in enumerate(members)]
    procs = min(n, workers or (_cores() if len(ordered) >= PARALLEL_MIN else 1))
    if procs <= 1:
        for job in jobs:
            _write_one(*job)
    else:
        _write_parallel(jobs, procs)
    counts = [len(ids) for ids in members]
    (tmp / META).write_text(json.dumps({"format": FORMAT, "shards": n, "passages": counts}), encoding="utf-8")
    old = gen / f".{FOLDER}.old"
    if (gen / FOLDER).exists():
        os.replace(gen / FOLDER, old)
    os.replace(tmp, gen / FOLDER)
    shutil.rmtree(old, ignore_errors=True)
    return counts


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _write_parallel(jobs: list[tuple], procs: int) -> None:
    """Each shard in a process of its own: almost all of the time is Whoosh analysing and indexing text in
    pure Python, which one process runs on one core."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: the caller (a build) may hold torch or Ray threads.
    with ProcessPoolExecutor(max_workers=procs, mp_context=mp.get_context("spawn")) as pool:
        try:
            for done in [pool.submit(_write_one, *job) for job in jobs]:
                done.result()  # a shard that failed fails the write, with its own error
        except BrokenProcessPool:
            raise CorpusSearchError(f"a process writing shards died ({procs} ran at once, each holding its shard's "
                                    "passages: out of memory?); free memory and run the command again") from None


def _write_one(gen: Path, out: Path, ids: list[str], order: list[int]) -> None:
    """Shard files of the passages `ids` (in the unsharded keyword index's order; `order`: their places in it)."""
    from corpus_search.backends import keyword_backend, vector_backend
    from corpus_search.build import KEYWORD, STORE
    from corpus_search.keyword_index import KeywordDoc
    from corpus_search.sentences import SentenceIndex
    from corpus_search.store import Store

    out.mkdir()
    store = Store.open(gen / STORE)
    try:
        passages = store.get_passages(ids)
    finally:
        store.close()
    docs = (KeywordDoc(pid, passages[pid].doc_id, passages[pid].kind, passages[pid].text, passages[pid].section)
            for pid in ids)
    keyword_backend().create(out / KEYWORD, docs).close()
    del passages
    vectors = vector_backend().open(gen)
    rows = np.array([vectors.row(pid) for pid in ids], dtype=np.int64)
    vector_backend().save(out, ids, np.asarray(vectors.matrix[rows]) if len(rows) else
                          np.zeros((0, vectors.matrix.shape[1]), np.float32))
    sentences = SentenceIndex.open(gen)
    if sentences is not None:
        _save_sentences(out, sentences, rows, vectors.matrix.shape[1])
    np.save(out / ORDER, np.array(order, dtype=np.int64), allow_pickle=False)


def _top(doc_id: str, parent: dict[str, str | None]) -> str:
    """The top-level document of an attachment (its message's, its mbox's)."""
    seen = {doc_id}
    while parent.get(doc_id) and parent[doc_id] not in seen:
        doc_id = parent[doc_id]
        seen.add(doc_id)
    return doc_id


def _save_sentences(out: Path, sentences, rows: np.ndarray, dim: int) -> None:
    from corpus_search.sentences import SentenceIndex

    spans, mats = [], []
    for new_row, row in enumerate(rows):
        s, v = sentences.of_passage(int(row))
        spans.append(np.column_stack([np.full(len(s), new_row, dtype=np.int32), s]))
        mats.append(v)
    SentenceIndex.save(out, np.concatenate(mats) if mats else np.zeros((0, dim), np.float32),
                       np.concatenate(spans) if spans else np.zeros((0, 3), np.int32))


def add(gen: Path, n: int) -> list[int]:
    """Write n shards into a generation this process is building, and list them in its manifest."""
    from corpus_search import generations

    counts = write(gen, n)
    manifest = generations.read_manifest(gen)
    generations.write_manifest(gen, dict(manifest, shards=n))
    return counts


def publish(root: Path, n: int) -> tuple[Path, list[int] | None]:
    """Make the current generation's index n shards: a new generation (its files linked, not copied), switched
    atomically like a build's. Returns (generation, passages per shard), or (current, None) when it has n already.
    """
    from corpus_search import generations

    n = check_count(n)
    gens = generations.Generations(root)
    with gens.lock():
        current, manifest, _ = gens.good()
        if count(current) == n:
            return current, None
        gen = gens.new()
        try:
            for rel in manifest["files"]:
                if rel.split("/", 1)[0] in (FOLDER, f".{FOLDER}.tmp"):
                    continue
                (gen / rel).parent.mkdir(parents=True, exist_ok=True)
                try:  # a generation's files are never written after it is published, so a link is safe
                    os.link(current / rel, gen / rel)
                except OSError:
                    shutil.copy2(current / rel, gen / rel)
            counts = write(gen, n)
            generations.write_manifest(gen, dict(manifest, shards=n))
            problem = gens.problem(gen)
            if problem is not None:
                raise IndexMissingError(f"the sharded index failed verification and was not used: {problem}")
        except BaseException:
            shutil.rmtree(gen, ignore_errors=True)
            raise
        gens.publish(gen)
        gens.remember_sound(gen)
        gens.prune()
    return gen, counts


def files(gen: Path, manifest: dict, k: int) -> dict[str, dict]:
    """The manifest's entries of shard k's files, relative to the shard's folder (what its server checks)."""
    prefix = f"{FOLDER}/{k}/"
    return {rel[len(prefix):]: info for rel, info in manifest.get("files", {}).items() if rel.startswith(prefix)}
