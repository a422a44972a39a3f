"""Sharded search on Ray (backend = cluster): the coordinator fans each query out to every shard and merges.

The coordinator is this process: it holds the store (passages, documents, mentions), resolves filters
into allowed passage ids, encodes the query once and runs search.Searcher's own fusion, rerank and facets
over the merged candidate lists. The parts, one module each:
  shard_server     ShardServer, the Ray actor serving one replica of one shard (its local index)
  shard_replicas   Shards: the replicas of every shard, the fan-out to them, failover to another replica
  shard_placement  replicas of a shard on different nodes (a placement group per shard)
  shard_merge      how the shards' candidate lists merge

Ranking does not depend on the sharding:
  * keyword: every shard scores BM25 with the corpus-wide statistics (term document frequencies,
    passage count, field lengths summed over all shards once per opened generation), and equal
    scores break by each passage's place in the unsharded index, as that index breaks them;
  * semantic: each shard returns its top candidates, scored as Searcher._semantic scores them
    (passage vector, or a long passage's best sentence); the best of the union are the index's best;
  * hybrid: the merged lists go through Searcher's fusion and rerank unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corpus_search import config, ranking, shards
from corpus_search import sentences as sent
from corpus_search.backends import KeywordHits
from corpus_search.embedding_text import float_title
from corpus_search.errors import UsageError
from corpus_search.models import SearchResult
from corpus_search.search import MAX_QUERY_CHARS, MODES, Filters, Searcher, _clean_query, check_limit, stem
from corpus_search.shard_merge import merge_keyword, merge_semantic
from corpus_search.shard_replicas import Shards, ShardUnavailableError

# ShardUnavailableError: the error a caller of the sharded searcher catches, imported from here.
__all__ = ["ShardUnavailableError", "ShardedKeyword", "ShardedSearcher", "ShardedVectors", "Shards", "open_searcher"]


class ShardedKeyword:
    """KeywordBackend over the shards: the merged top hits, as the unsharded index would rank them."""

    def __init__(self, shards_: Shards, prefetched=None):
        self.shards = shards_
        self.prefetched = prefetched  # (query, limit, allowed) -> the hits a query's one fan-out already holds

    def search(self, query: str, limit: int = 100, allowed: set[str] | None = None) -> KeywordHits:
        hits = self.prefetched(query, limit, allowed) if self.prefetched else None
        if hits is not None:
            return hits
        return merge_keyword(self.shards.call("keyword_search", query, limit, allowed=allowed), limit)

    def count(self) -> int:
        return len(self.shards.owner)

    def close(self) -> None:
        pass  # the shards are closed by their Corpus


class ShardedVectors:
    """The VectorBackend search over the shards (quotation and draft checks use it); rows stay on the shards."""

    ids: Sequence[str] = ()

    def __init__(self, shards_: Shards):
        self.shards = shards_

    def __len__(self) -> int:
        return len(self.shards.owner)

    def row(self, passage_id: str) -> None:
        return None

    def search(self, query_vec, k: int = 100, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        parts = self.shards.call("vector_search", query_vec, k, allowed=allowed)
        return merge_semantic(parts, k)


class ShardedSearcher(Searcher):
    """search.Searcher over the shards: its filters, fusion, rerank and facets, with shard-merged candidates.

    A query costs one fan-out: before Searcher.search runs, each shard is asked at once for its keyword and
    semantic candidates and for the sentences of every candidate the rerank and evidence could read, so the
    keyword search, semantic search and sentence reads of Searcher.search are answered from that one call.

    Which candidates that is, so a sharded answer still equals the unsharded one: in keyword or semantic mode
    the top `limit` is within the union of each shard's own top `limit`. In hybrid mode the rerank and the
    evidence read the fused head of D = max(limit, rerank_depth) passages; a passage whose better rank in the two merged lists
    is g scores at most 2/(k+g), and every passage ranked above (g-k)/2 in that list scores more, so a passage
    of the head has g <= k + 2D (k = rrf_k), and its rank on its own shard is no worse; the head also takes each
    side's top rerank_side_depth. Each shard sends the sentences of its passages ranked within the larger of the
    two on either side. Anything else asked later (a passage
    outside those) is fetched from its shard then, as before.
    """

    def __init__(self, store, shards_: Shards, encode_query):
        # Like an unsharded index built before sentence vectors, shards without them rerank by fused order.
        held = all((shards.folder(shards_.gen, k) / sent.VECTORS).exists() for k in range(shards_.n))
        super().__init__(store, ShardedKeyword(shards_, self._prefetched_keyword), ShardedVectors(shards_),
                         self._encode, sentences=shards_ if held else None)
        self.shards = shards_
        self._encode_query = encode_query
        self._query = threading.local()  # the one query this thread is answering (the app shares a searcher)

    def search(self, query: str, mode: str = "hybrid", filters: Filters = Filters(), limit: int = 10) -> SearchResult:
        self._query.__dict__.clear()
        try:
            self._prefetch(query, mode, filters, limit)
            return super().search(query, mode=mode, filters=filters, limit=limit)
        finally:
            self._query.__dict__.clear()

    def _prefetch(self, query: str, mode: str, filters: Filters, limit: int) -> None:
        """The one fan-out of a query, with the arguments Searcher.search will ask with (anything it would
        refuse is left to it, to refuse in its own words)."""
        query = _clean_query(query)[:MAX_QUERY_CHARS]
        if not query or mode not in MODES:
            return
        try:
            limit = check_limit(limit)
        except UsageError:
            return
        allowed = self.allowed_passages(filters)
        if allowed is not None and not allowed:
            return
        depth = max(limit, config.get_int("candidates"))
        evidence_vectors = mode == "keyword" and self.sentences is not None and config.get_int("evidence_vectors")
        qvec = self._encode(self.model_query(query)) if mode != "keyword" or evidence_vectors else None
        if self.sentences is None:
            ranks = 0
        elif mode == "hybrid":
            ranks = max(config.get_int("rrf_k") + 2 * max(limit, config.get_int("rerank_depth") or 30),
                        config.get_int("rerank_side_depth"))
        else:
            ranks = limit
        kw_query, _ = self.keyword_query(query, mode)  # what Searcher.search will ask the keyword side
        parts = self.shards.call("retrieve", kw_query, qvec, 0 if mode == "semantic" else depth,
                                 0 if mode == "keyword" else depth, ranks, allowed=allowed)
        q = self._query
        q.key = (kw_query, depth, allowed)
        q.text = self.model_query(query)
        q.qvec = qvec
        q.keyword = merge_keyword([(kw, total, ws) for kw, total, ws, _, _ in parts], depth)
        q.semantic = merge_semantic([sem for _, _, _, sem, _ in parts], depth)
        q.sentences = {}
        for *_, info in parts:
            self._take_sentences(info)

    def _same_query(self, query: str, depth: int, allowed) -> bool:
        key = getattr(self._query, "key", None)
        return key is not None and key[0] == query and key[1] == depth and (key[2] is allowed or key[2] == allowed)

    def _prefetched_keyword(self, query: str, limit: int, allowed) -> KeywordHits | None:
        return self._query.keyword if self._same_query(query, limit, allowed) else None

    def _encode(self, text: str):
        if getattr(self._query, "text", None) == text and self._query.qvec is not None:
            return self._query.qvec
        return self._encode_query(text)

    def _semantic(self, qvec, depth: int, allowed) -> list[tuple[str, float]]:
        q = self._query
        if getattr(q, "key", None) is not None and q.qvec is qvec and q.key[1] == depth and \
                (q.key[2] is allowed or q.key[2] == allowed):
            return q.semantic
        # Each shard's top `depth` by Searcher._semantic holds every passage of the index's top `depth` it owns.
        return merge_semantic(self.shards.call("semantic", qvec, depth, allowed=allowed), depth)

    # -- sentences: spans and cosines to this query, from the shards -----------------------------------------
    def _take_sentences(self, info) -> None:
        ids, counts, spans, cos, with_query = info
        held = self._query.__dict__.setdefault("sentences", {})
        ends = np.cumsum(np.maximum(counts, 0))
        for pid, n, end in zip(ids, counts.tolist(), ends.tolist()):
            held[pid] = (None, None, with_query) if n < 0 else (spans[end - n:end], cos[end - n:end], with_query)

    def _fetch_sentences(self, passage_ids: Sequence[str], qvec=None) -> None:
        if self.sentences is None:
            return
        held = self._query.__dict__.setdefault("sentences", {})
        qvec = qvec if qvec is not None else getattr(self._query, "qvec", None)
        wanted: dict[int, list[str]] = {}
        for pid in passage_ids:
            have = held.get(pid)
            if (have is None or (qvec is not None and not have[2])) and pid in self.shards.owner:
                wanted.setdefault(self.shards.owner[pid], []).append(pid)
        if wanted:
            asked = sorted(wanted)
            found = self.shards._call_all("sentence_info", {k: (wanted[k], qvec) for k in asked}, only=asked)
            for info in found:
                self._take_sentences(info)

    def _best_sentence(self, passage, qvec, terms: list[str], same=(), wants=None) -> tuple[tuple[int, int] | None, float]:
        """Searcher._best_sentence, with the sentences' cosines computed on their shard (ranking.best_sentence
        is given each cosine as a one-column vector and the unit query, which reproduces it exactly)."""
        pid = passage.passage_id
        have = self._query.__dict__.get("sentences", {}).get(pid)
        if have is None or (qvec is not None and not have[2]):
            self._fetch_sentences([pid], qvec)
            have = self._query.__dict__.get("sentences", {}).get(pid, (None, None, False))
        spans, cos, _ = have
        vectors = None if cos is None or qvec is None else cos[:, None]
        if spans is None or len(spans) == 0 or spans[-1][1] > len(passage.text):
            spans, vectors = sent.spans(passage.text), None
        unit = np.ones(1, dtype=np.float32) if vectors is not None else None
        best = ranking.best_sentence(passage.text, spans, vectors, unit, set(terms), stem, same, wants,
                                     float_title(passage.section))
        return (None, 0.0) if best is None else ((best[0], best[1]), best[2])


def open_searcher(store, gen: Path, manifest: dict, encode_query) -> ShardedSearcher:
    """The searcher of a generation served by the cluster (backend = cluster)."""
    started = time.perf_counter()
    searcher = ShardedSearcher(store, Shards.open(gen, manifest), encode_query)
    searcher.opened_seconds = time.perf_counter() - started
    return searcher
