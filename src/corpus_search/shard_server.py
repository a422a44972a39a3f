"""One replica of one shard, a Ray actor: the shard's local index, loaded once, answering the coordinator.

A query is one call (ShardServer.retrieve): the shard's keyword and semantic candidates, and the
sentences (spans, cosines to the query) that the coordinator's rerank and evidence may read. Keyword
scores use the corpus-wide BM25 statistics the coordinator hands every server (use_stats), so a shard
scores as the whole index would.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corpus_search import generations, shards
from corpus_search.backends import keyword_backend, vector_backend
from corpus_search.errors import IndexMissingError
from corpus_search.generations import KEYWORD
from corpus_search.search import Allowed, Searcher
from corpus_search.sentences import SentenceIndex
from corpus_search.shard_merge import keyword_order, semantic_order

_ALLOWED_KEPT = 64  # filters each server keeps as allowed-id sets (like Searcher's own cache)


class ShardServer:
    """One replica of one shard: today's local index of the shard's passages, loaded once (a Ray actor)."""

    def __init__(self, gen: str, k: int, listed: dict[str, dict]):
        folder = shards.folder(Path(gen), k)
        if not generations.secret_path().exists():
            # secret_key() would make a new key here, and every file would then look changed.
            raise IndexMissingError(f"the index key {generations.secret_path()} is not on this node, so shard {k} "
                                    "cannot be checked; copy it from the machine that built the index "
                                    "(CORPUS_SEARCH_SECRET_FILE names it)")
        # The coordinator checked the generation where it runs; this node's copy is checked here.
        problems = generations.verify_files(folder, {"files": listed})
        if not listed or problems:
            raise IndexMissingError(f"shard {k} of {gen} is damaged: {problems[0] if problems else 'no files listed'}; "
                                    "run `corpus-search shard` (or `corpus-search build`) to rewrite it")
        self.keyword = keyword_backend().open(folder / KEYWORD)
        self.vectors = vector_backend().open(folder)
        # Searcher's own semantic scoring (passage vectors, long passages by their best sentence).
        self.local = Searcher(None, self.keyword, self.vectors, None, SentenceIndex.open(folder))
        order = np.load(folder / shards.ORDER, allow_pickle=False)
        self.place = dict(zip(self.vectors.ids, order.tolist()))
        self._allowed: dict[str, object] = {}

    def ready(self) -> int:
        return len(self.vectors)

    def stats(self):
        return self.keyword.stats()

    def use_stats(self, stats) -> None:
        self.keyword.use_stats(stats)

    def _filter(self, allowed):
        """The allowed-id set of a filter: (key, [object ref]) fetched once per filter, then kept."""
        if allowed is None:
            return None
        key, (ref,) = allowed
        found = self._allowed.get(key)
        if found is None:
            import ray  # heavy (~2 s): imported where it runs, so that importing this module never loads it

            found = Allowed(ray.get(ref))  # Allowed: the index masks for it are worked out once too
            if len(self._allowed) >= _ALLOWED_KEPT:
                self._allowed.pop(next(iter(self._allowed)))
            self._allowed[key] = found
        return found

    def keyword_search(self, query: str, limit: int, allowed) -> tuple[list[tuple[str, float, int]], int, list[str]]:
        hits = self.keyword.search(query, limit=limit, allowed=self._filter(allowed))
        return [(pid, score, self.place[pid]) for pid, score in hits.ids], hits.total, hits.warnings

    def semantic(self, qvec, depth: int, allowed) -> list[tuple[str, float]]:
        return self.local._semantic(qvec, depth, self._filter(allowed))

    def vector_search(self, qvec, k: int, allowed) -> list[tuple[str, float]]:
        return self.vectors.search(qvec, k=k, allowed=self._filter(allowed))

    def retrieve(self, query: str, qvec, kw_depth: int, sem_depth: int, info_ranks: int, allowed):
        """A query's whole share of this shard in one call: its keyword top `kw_depth`, its semantic top
        `sem_depth` (0: that side is not asked), and the sentences (spans, cosines to qvec) of the passages
        ranked within `info_ranks` on either side, which the coordinator's evidence and rerank read."""
        kw, total, warnings = self.keyword_search(query, kw_depth, allowed) if kw_depth else ([], 0, [])
        sem = self.semantic(qvec, sem_depth, allowed) if sem_depth else []
        wanted = dict.fromkeys(pid for pid, _, _ in sorted(kw, key=keyword_order)[:info_ranks])
        wanted.update(dict.fromkeys(pid for pid, _ in sorted(sem, key=semantic_order)[:info_ranks]))
        return kw, total, warnings, sem, self.sentence_info(list(wanted), qvec)

    def sentence_info(self, passage_ids: Sequence[str], qvec, allowed=None):
        """Each passage's sentence spans and their cosines to qvec (zeros without one), packed in flat arrays
        (a few small arrays cross the wire much faster than a dict of many). A passage the index holds no
        sentences for has count -1."""
        q = None if qvec is None else np.asarray(qvec).astype(np.float32)
        counts, spans, cos = [], [], []
        for pid in passage_ids:
            s, v = self.local._sentences_of(pid)
            if s is None:
                counts.append(-1)
                continue
            counts.append(len(s))
            spans.append(s)
            # ranking.best_sentence's own product, one passage at a time, so the cosines are its to the bit.
            if q is not None and v is not None and len(v) == len(s):
                cos.append(v @ q)
            else:
                cos.append(np.zeros(len(s), dtype=np.float32))
        return (list(passage_ids), np.array(counts, dtype=np.int32),
                np.concatenate(spans).astype(np.int32) if spans else np.zeros((0, 2), np.int32),
                np.concatenate(cos).astype(np.float32) if cos else np.zeros(0, np.float32), q is not None)
