"""Sharded search on Ray: a coordinator fans each query out to one replica of every shard and merges.

The coordinator is this process: it holds the store (passages, documents, mentions), resolves
filters into allowed passage ids, encodes the query once and runs search.Searcher's own fusion,
rerank and facets over the merged candidate lists. Each shard (shards.py) is served by `replicas`
Ray actors (ShardServer), each loading its shard once, spread over the cluster's nodes.

Ranking does not depend on the sharding:
  * keyword: every shard scores BM25 with the corpus-wide statistics (term document frequencies,
    passage count, field lengths summed over all shards once per opened generation), and equal
    scores break by each passage's place in the unsharded index, as that index breaks them;
  * semantic: each shard returns its top candidates, scored as Searcher._semantic scores them
    (passage vector, or a long passage's best sentence); the best of the union are the index's best;
  * hybrid: the merged lists go through Searcher's fusion and rerank unchanged.

When a replica dies (ray.kill, a lost node) the query is sent to another replica of its shard and
a new replica is started in the background; a query fails only when no replica of a shard is left.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from corpus_search import config, shards
from corpus_search.errors import CorpusSearchError, IndexMissingError, UsageError
from corpus_search.keyword_index import KeywordHits
from corpus_search.search import Searcher

READY_TIMEOUT = 300  # seconds a replica may take to load its shard (a big shard on a slow disk)
QUERY_TIMEOUT = 120  # seconds one shard may take to answer before the query fails
_ALLOWED_KEPT = 64  # filters each server keeps as allowed-id sets (like Searcher's own cache)


class ShardUnavailableError(CorpusSearchError):
    """No replica of a shard is left to answer."""


class ShardServer:
    """One replica of one shard: today's local index of the shard's passages, loaded once (a Ray actor)."""

    def __init__(self, gen: str, k: int, listed: dict[str, dict]):
        import numpy as np

        from corpus_search import generations
        from corpus_search.backends import keyword_backend, vector_backend
        from corpus_search.build import KEYWORD
        from corpus_search.sentences import SentenceIndex

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
            import ray

            from corpus_search.search import Allowed

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

    def sentences_of(self, passage_ids: Sequence[str]) -> dict[str, tuple]:
        return {pid: self.local._sentences_of(pid) for pid in passage_ids}


class _Replica:
    def __init__(self, handle, ready_ref):
        self.handle = handle
        self.ready_ref = ready_ref
        self.ready = False
        self.failed: str | None = None  # why it could not load its shard


class Shards:
    """The replicas serving one generation's shards, and the fan-out with failover."""

    def __init__(self, gen: Path, manifest: dict, n: int, replicas: int):
        import json

        import ray

        from corpus_search import cluster
        from corpus_search.bm25 import CorpusStats

        self.gen, self.n = gen, n
        self.listed = [shards.files(gen, manifest, k) for k in range(n)]
        self._lock = threading.Lock()
        self._turn = [0] * n
        self._stats_ref = None
        cluster.connect()
        self._actor = ray.remote(num_cpus=0, max_restarts=0)(ShardServer)
        self.replicas = [[self._start(k) for _ in range(replicas)] for k in range(n)]
        try:
            refs = [r.ready_ref for reps in self.replicas for r in reps]
            ray.wait(refs, num_returns=len(refs), timeout=READY_TIMEOUT)
            for k, reps in enumerate(self.replicas):
                for r in reps:
                    self._settle(r)
                    if r.failed:
                        raise IndexMissingError(r.failed) if "damaged" in r.failed else ShardUnavailableError(
                            f"shard {k} could not be loaded: {r.failed}")
            # Corpus-wide BM25 statistics: each shard's, summed once; every server (and any replacement) uses them.
            stats = CorpusStats.merge(self._call_all("stats", [()] * n))
            self._stats_ref = ray.put(stats)
            ray.get([r.handle.use_stats.remote(self._stats_ref) for reps in self.replicas for r in reps])
        except BaseException:
            self.close()
            raise
        # passage id -> shard, to split a filter's allowed ids (the shards' own id lists, not the store)
        self.owner: dict[str, int] = {}
        for k in range(n):
            ids = json.loads((shards.folder(gen, k) / "vector_ids.json").read_text(encoding="utf-8"))
            self.owner.update(dict.fromkeys(ids, k))

    @classmethod
    def open(cls, gen: Path, manifest: dict) -> Shards:
        n = shards.check_count(config.get_int("shards"))
        replicas = config.get_int("replicas")
        if replicas < 1:
            raise UsageError(f"replicas must be at least 1, not {replicas} (CORPUS_SEARCH_REPLICAS)")
        found = shards.count(gen)
        if found != n:
            held = f"is split into {found} shards" if found else "is not split into shards"
            raise IndexMissingError(f"the index {gen.parent} {held}, and CORPUS_SEARCH_SHARDS is {n}; "
                                    f"run `corpus-search shard --shards {n}`")
        return cls(gen, manifest, n, replicas)

    # -- replicas ----------------------------------------------------------------------------------
    def _start(self, k: int) -> _Replica:
        """A new replica of shard k, loading in the background; it answers once its ready call returns."""
        handle = self._actor.options(scheduling_strategy="SPREAD").remote(str(self.gen), k, self.listed[k])
        if self._stats_ref is not None:
            handle.use_stats.remote(self._stats_ref)  # an actor runs calls in order: before it says ready
        return _Replica(handle, handle.ready.remote())

    @staticmethod
    def _settle(replica: _Replica) -> None:
        """Note whether a replica whose ready call has returned loaded its shard (ready) or not (failed, why)."""
        import ray

        try:
            ray.get(replica.ready_ref, timeout=0)
            replica.ready = True
        except ray.exceptions.RayActorError as exc:
            replica.failed = _reason(exc)
        except ray.exceptions.RayTaskError as exc:
            replica.failed = str(_cause(exc))
        except ray.exceptions.GetTimeoutError:
            replica.failed = f"it did not load within {READY_TIMEOUT} s"

    def _pick(self, k: int) -> _Replica:
        """A ready replica of shard k, taken in turn; waits for one being started when none is ready."""
        import ray

        with self._lock:
            reps = self.replicas[k]
            loading = [r for r in reps if not r.ready and r.failed is None]
            if loading:
                done, _ = ray.wait([r.ready_ref for r in loading], num_returns=len(loading), timeout=0)
                for r in loading:
                    if r.ready_ref in done:
                        self._settle(r)
            reason = next((r.failed for r in reps if r.failed), None)
            # One that could not load its shard would not on a second try either: it is not replaced.
            reps[:] = [r for r in reps if r.failed is None]
            ready = [r for r in reps if r.ready]
            if ready:
                self._turn[k] += 1
                return ready[self._turn[k] % len(ready)]
            if not reps:
                raise ShardUnavailableError(f"no replica of shard {k} is left to answer"
                                            f"{f' ({reason})' if reason else ''}; open the index again")
            waiting = reps[0]
        # Every replica died at once: wait for a replacement to load.
        ray.wait([waiting.ready_ref], timeout=READY_TIMEOUT)
        self._settle(waiting)
        if waiting.failed:
            with self._lock:
                if waiting in self.replicas[k]:
                    self.replicas[k].remove(waiting)
            raise ShardUnavailableError(f"no replica of shard {k} is left to answer ({waiting.failed})")
        return waiting

    def _lost(self, k: int, replica: _Replica) -> None:
        """Drop a dead replica and start another in its place (it loads while the others answer)."""
        import ray

        with self._lock:
            if replica not in self.replicas[k]:
                return  # another thread saw it die first
            self.replicas[k].remove(replica)
            self.replicas[k].append(self._start(k))
        try:
            ray.kill(replica.handle, no_restart=True)
        except Exception:  # already gone, which is the point
            pass

    # -- calls -------------------------------------------------------------------------------------
    def _call_all(self, method: str, args: Sequence[tuple], only: Sequence[int] | None = None) -> list:
        """Call method on one replica of each shard (shard k with args[k]), all at once; results in shard order."""
        import ray

        shards_asked = list(range(self.n)) if only is None else list(only)
        sent = {}
        for k in shards_asked:
            replica = self._pick(k)
            sent[k] = (replica, getattr(replica.handle, method).remote(*args[k]))
        out = []
        for k in shards_asked:
            replica, ref = sent[k]
            while True:
                try:
                    out.append(ray.get(ref, timeout=QUERY_TIMEOUT))
                    break
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
                    # RayActorError covers ActorDiedError: the replica is gone; ask another.
                    self._lost(k, replica)
                    replica = self._pick(k)
                    ref = getattr(replica.handle, method).remote(*args[k])
                except ray.exceptions.RayTaskError as exc:
                    raise _cause(exc) from None
                except ray.exceptions.GetTimeoutError:
                    raise ShardUnavailableError(f"shard {k} did not answer within {QUERY_TIMEOUT} s") from None
        return out

    def call(self, method: str, *args, allowed=None) -> list:
        """method(*args, allowed) on every shard, each with its part of the allowed ids."""
        per_shard = self.split(allowed)
        return self._call_all(method, [(*args, per_shard[k]) for k in range(self.n)])

    def split(self, allowed) -> list:
        """A filter's allowed ids as each shard's part: put in the object store once per filter (memoised on
        the search.Allowed, like its index masks), fetched by each server once and kept there."""
        if allowed is None:
            return [None] * self.n

        def make():
            import ray

            parts: list[set[str]] = [set() for _ in range(self.n)]
            for pid in allowed:
                k = self.owner.get(pid)
                if k is not None:
                    parts[k].add(pid)
            # In a list, so Ray hands the server the reference, not the (maybe large) set on every query.
            return [(uuid.uuid4().hex, [ray.put(frozenset(p))]) for p in parts]

        memo = getattr(allowed, "memo", None)
        return memo(("shards", id(self)), make) if memo else make()

    def close(self) -> None:
        import ray

        if not ray.is_initialized():
            return
        for reps in self.replicas:
            for r in reps:
                try:
                    ray.kill(r.handle, no_restart=True)
                except Exception:  # already gone
                    pass
        self.replicas = [[] for _ in range(self.n)]


def _reason(exc) -> str:
    """Why a replica died, in one line: the error its loading raised, else that it died."""
    if getattr(exc, "actor_init_failed", False):
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        for line in reversed(lines):
            if line.startswith("corpus_search.errors.") and ": " in line:
                return line.split(": ", 1)[1]
        return lines[-1] if lines else "it failed to start"
    return "it died"


def _cause(exc) -> Exception:
    """The project error a server raised (its one-line message), else a one-line error naming it."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, CorpusSearchError):
        return cause
    first = str(cause or exc).strip().splitlines()
    return CorpusSearchError(f"a shard server failed: {first[-1] if first else type(exc).__name__}")


class ShardedKeyword:
    """KeywordBackend over the shards: the merged top hits, as the unsharded index would rank them."""

    def __init__(self, shards_: Shards):
        self.shards = shards_

    def search(self, query: str, limit: int = 100, allowed: set[str] | None = None) -> KeywordHits:
        parts = self.shards.call("keyword_search", query, limit, allowed=allowed)
        merged = sorted((hit for ids, _, _ in parts for hit in ids), key=lambda h: (-h[1], h[2]))[:limit]
        warnings = list(dict.fromkeys(w for _, _, ws in parts for w in ws))
        return KeywordHits(ids=[(pid, score) for pid, score, _ in merged], total=sum(t for _, t, _ in parts),
                           warnings=warnings)

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
        return sorted((hit for part in parts for hit in part), key=lambda h: (-h[1], h[0]))[:k]


class ShardedSearcher(Searcher):
    """search.Searcher over the shards: its filters, fusion, rerank and facets, with shard-merged candidates."""

    def __init__(self, store, shards_: Shards, encode_query):
        from corpus_search.sentences import VECTORS

        # Like an unsharded index built before sentence vectors, shards without them rerank by fused order.
        held = all((shards.folder(shards_.gen, k) / VECTORS).exists() for k in range(shards_.n))
        super().__init__(store, ShardedKeyword(shards_), ShardedVectors(shards_), encode_query,
                         sentences=shards_ if held else None)
        self.shards = shards_
        self._sentence_cache: dict[str, tuple] = {}

    def _semantic(self, qvec, depth: int, allowed) -> list[tuple[str, float]]:
        # Each shard's top `depth` by Searcher._semantic holds every passage of the index's top `depth` it owns.
        parts = self.shards.call("semantic", qvec, depth, allowed=allowed)
        return sorted((hit for part in parts for hit in part), key=lambda h: (-h[1], h[0]))[:depth]

    def _fetch_sentences(self, passage_ids: Sequence[str]) -> None:
        if self.sentences is None:
            return
        wanted: dict[int, list[str]] = {}
        for pid in passage_ids:
            if pid not in self._sentence_cache and pid in self.shards.owner:
                wanted.setdefault(self.shards.owner[pid], []).append(pid)
        if not wanted:
            return
        asked = sorted(wanted)
        found = self.shards._call_all("sentences_of", {k: (wanted[k],) for k in asked}, only=asked)
        if len(self._sentence_cache) > 20_000:  # a generation never changes: only the size needs bounding
            self._sentence_cache.clear()
        for part in found:
            self._sentence_cache.update(part)

    def _sentences_of(self, passage_id: str):
        if self.sentences is None:
            return None, None
        if passage_id not in self._sentence_cache:
            self._fetch_sentences([passage_id])
        return self._sentence_cache.get(passage_id, (None, None))


def open_searcher(store, gen: Path, manifest: dict, encode_query) -> ShardedSearcher:
    """The searcher of a generation served by the cluster (backend = cluster)."""
    started = time.perf_counter()
    searcher = ShardedSearcher(store, Shards.open(gen, manifest), encode_query)
    searcher.opened_seconds = time.perf_counter() - started
    return searcher
