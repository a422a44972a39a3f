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

A query is one fan-out (ShardServer.retrieve): each shard answers its keyword and semantic candidates
and the sentences (spans, cosines to the query) that the rerank and evidence may read, in one call.

Replicas of a shard go on different nodes when the cluster has enough (a placement group per shard,
STRICT_SPREAD; SPREAD when it has fewer nodes than replicas), so losing one node never loses every
replica of a shard. When a replica dies (ray.kill, a lost node) the query is sent to another replica
of its shard and a new replica is started in the background; a query fails only when no replica of a
shard is left.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from corpus_search import config, ranking, shards
from corpus_search.errors import CorpusSearchError, IndexMissingError, UsageError
from corpus_search.keyword_index import KeywordHits
from corpus_search.models import SearchResult
from corpus_search.search import MAX_QUERY_CHARS, MODES, Filters, Searcher, _clean_query, check_limit, stem

READY_TIMEOUT = 300  # seconds a replica may take to load its shard (a big shard on a slow disk)
QUERY_TIMEOUT = 120  # seconds one shard may take to answer before the query fails
_ALLOWED_KEPT = 64  # filters each server keeps as allowed-id sets (like Searcher's own cache)
# How merged candidate lists are ordered: keyword by score, ties by place in the unsharded index; semantic by
# score, ties by id. A shard's own list in the same order is the merged list's restriction to that shard.
_KEYWORD_ORDER = lambda hit: (-hit[1], hit[2])  # noqa: E731
_SEMANTIC_ORDER = lambda hit: (-hit[1], hit[0])  # noqa: E731


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

    def retrieve(self, query: str, qvec, kw_depth: int, sem_depth: int, info_ranks: int, allowed):
        """A query's whole share of this shard in one call: its keyword top `kw_depth`, its semantic top
        `sem_depth` (0: that side is not asked), and the sentences (spans, cosines to qvec) of the passages
        ranked within `info_ranks` on either side, which the coordinator's evidence and rerank read."""
        kw, total, warnings = self.keyword_search(query, kw_depth, allowed) if kw_depth else ([], 0, [])
        sem = self.semantic(qvec, sem_depth, allowed) if sem_depth else []
        wanted = dict.fromkeys(pid for pid, _, _ in sorted(kw, key=_KEYWORD_ORDER)[:info_ranks])
        wanted.update(dict.fromkeys(pid for pid, _ in sorted(sem, key=_SEMANTIC_ORDER)[:info_ranks]))
        return kw, total, warnings, sem, self.sentence_info(list(wanted), qvec)

    def sentence_info(self, passage_ids: Sequence[str], qvec, allowed=None):
        """Each passage's sentence spans and their cosines to qvec (zeros without one), packed in flat arrays
        (a few small arrays cross the wire much faster than a dict of many). A passage the index holds no
        sentences for has count -1."""
        import numpy as np

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


class _Replica:
    def __init__(self, handle, ready_ref, bundle: int):
        self.handle = handle
        self.ready_ref = ready_ref
        self.bundle = bundle  # its place in the shard's placement group (a replacement takes the same one)
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
        self.groups: list = []
        self.replicas = []
        try:
            self.groups = _placement_groups(n, replicas)
            self.replicas = [[self._start(k, b) for b in range(replicas)] for k in range(n)]
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
    def _start(self, k: int, bundle: int) -> _Replica:
        """A new replica of shard k in its group's `bundle` (a node of its own), loading in the background; it
        answers once its ready call returns."""
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        group = self.groups[k] if self.groups else None
        where = PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=bundle) if group else "SPREAD"
        handle = self._actor.options(scheduling_strategy=where).remote(str(self.gen), k, self.listed[k])
        if self._stats_ref is not None:
            handle.use_stats.remote(self._stats_ref)  # an actor runs calls in order: before it says ready
        return _Replica(handle, handle.ready.remote(), bundle)

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
            # Its bundle: on a lost node, Ray moves the bundle to a node without one of this shard's.
            self.replicas[k].append(self._start(k, replica.bundle))
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
        _remove_groups(self.groups)
        self.groups = []


PLACEMENT_TIMEOUT = 60  # seconds for a shard's nodes to be reserved before its replicas go anywhere (SPREAD)
# What a replica reserves on its node: a token, as a replica holds no CPU (it answers between other work), but a
# placement group needs some resource to place. Memory, not CPU: a build's workers may hold every CPU.
_BUNDLE = {"memory": 2**20}


def _placement_groups(n: int, replicas: int) -> list:
    """One placement group per shard, a bundle per replica: STRICT_SPREAD (each replica on a node of its own)
    when the cluster has at least `replicas` nodes, else SPREAD (as apart as it can). Empty when the groups
    cannot be placed in time: the replicas are then spread by Ray's SPREAD strategy alone."""
    import ray
    from ray.util.placement_group import placement_group

    alive = sum(1 for node in ray.nodes() if node.get("Alive"))
    strategy = "STRICT_SPREAD" if alive >= replicas else "SPREAD"
    groups = [placement_group([dict(_BUNDLE) for _ in range(replicas)], strategy=strategy) for _ in range(n)]
    ready, _ = ray.wait([g.ready() for g in groups], num_returns=len(groups), timeout=PLACEMENT_TIMEOUT)
    if len(ready) < len(groups):
        _remove_groups(groups)
        return []
    return groups


def _remove_groups(groups: list) -> None:
    from ray.util.placement_group import remove_placement_group

    for group in groups:
        try:
            remove_placement_group(group)
        except Exception:  # noqa: BLE001 - the cluster is going or gone
            pass


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


def _merge_keyword(parts: list, limit: int) -> KeywordHits:
    merged = sorted((hit for ids, _, _ in parts for hit in ids), key=_KEYWORD_ORDER)[:limit]
    warnings = list(dict.fromkeys(w for _, _, ws in parts for w in ws))
    return KeywordHits(ids=[(pid, score) for pid, score, _ in merged], total=sum(t for _, t, _ in parts),
                       warnings=warnings)


def _merge_semantic(parts: list, depth: int) -> list[tuple[str, float]]:
    return sorted((hit for part in parts for hit in part), key=_SEMANTIC_ORDER)[:depth]


class ShardedKeyword:
    """KeywordBackend over the shards: the merged top hits, as the unsharded index would rank them."""

    def __init__(self, shards_: Shards, prefetched=None):
        self.shards = shards_
        self.prefetched = prefetched  # (query, limit, allowed) -> the hits a query's one fan-out already holds

    def search(self, query: str, limit: int = 100, allowed: set[str] | None = None) -> KeywordHits:
        hits = self.prefetched(query, limit, allowed) if self.prefetched else None
        if hits is not None:
            return hits
        return _merge_keyword(self.shards.call("keyword_search", query, limit, allowed=allowed), limit)

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
        return sorted((hit for part in parts for hit in part), key=_SEMANTIC_ORDER)[:k]


class ShardedSearcher(Searcher):
    """search.Searcher over the shards: its filters, fusion, rerank and facets, with shard-merged candidates.

    A query costs one fan-out: before Searcher.search runs, each shard is asked at once for its keyword and
    semantic candidates and for the sentences of every candidate the rerank and evidence could read, so the
    keyword search, semantic search and sentence reads of Searcher.search are answered from that one call.

    Which candidates that is, so a sharded answer still equals the unsharded one: in keyword or semantic mode
    the top `limit` is within the union of each shard's own top `limit`. In hybrid mode the rerank reads the
    fused head of D = max(limit, rerank_depth) passages; a passage whose better rank in the two merged lists
    is g scores at most 2/(k+g), and every passage ranked above (g-k)/2 in that list scores more, so a passage
    of the head has g <= k + 2D (k = rrf_k), and its rank on its own shard is no worse. Each shard sends the
    sentences of its passages ranked within k + 2D on either side. Anything else asked later (a passage
    outside those) is fetched from its shard then, as before.
    """

    def __init__(self, store, shards_: Shards, encode_query):
        from corpus_search.sentences import VECTORS

        # Like an unsharded index built before sentence vectors, shards without them rerank by fused order.
        held = all((shards.folder(shards_.gen, k) / VECTORS).exists() for k in range(shards_.n))
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
        qvec = self._encode(query) if mode != "keyword" or evidence_vectors else None
        if self.sentences is None:
            ranks = 0
        elif mode == "hybrid":
            ranks = config.get_int("rrf_k") + 2 * max(limit, config.get_int("rerank_depth") or 30)
        else:
            ranks = limit
        parts = self.shards.call("retrieve", query, qvec, 0 if mode == "semantic" else depth,
                                 0 if mode == "keyword" else depth, ranks, allowed=allowed)
        q = self._query
        q.key = (query, depth, allowed)
        q.qvec = qvec
        q.keyword = _merge_keyword([(kw, total, ws) for kw, total, ws, _, _ in parts], depth)
        q.semantic = _merge_semantic([sem for _, _, _, sem, _ in parts], depth)
        q.sentences = {}
        for *_, info in parts:
            self._take_sentences(info)

    def _same_query(self, query: str, depth: int, allowed) -> bool:
        key = getattr(self._query, "key", None)
        return key is not None and key[0] == query and key[1] == depth and (key[2] is allowed or key[2] == allowed)

    def _prefetched_keyword(self, query: str, limit: int, allowed) -> KeywordHits | None:
        return self._query.keyword if self._same_query(query, limit, allowed) else None

    def _encode(self, text: str):
        if getattr(self._query, "key", None) is not None and self._query.key[0] == text and self._query.qvec is not None:
            return self._query.qvec
        return self._encode_query(text)

    def _semantic(self, qvec, depth: int, allowed) -> list[tuple[str, float]]:
        q = self._query
        if getattr(q, "key", None) is not None and q.qvec is qvec and q.key[1] == depth and \
                (q.key[2] is allowed or q.key[2] == allowed):
            return q.semantic
        # Each shard's top `depth` by Searcher._semantic holds every passage of the index's top `depth` it owns.
        return _merge_semantic(self.shards.call("semantic", qvec, depth, allowed=allowed), depth)

    # -- sentences: spans and cosines to this query, from the shards -----------------------------------------
    def _take_sentences(self, info) -> None:
        import numpy as np

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

    def _best_sentence(self, passage, qvec, terms: list[str]) -> tuple[tuple[int, int] | None, float]:
        """Searcher._best_sentence, with the sentences' cosines computed on their shard (ranking.best_sentence
        is given each cosine as a one-column vector and the unit query, which reproduces it exactly)."""
        import numpy as np

        from corpus_search import sentences as sent

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
        best = ranking.best_sentence(passage.text, spans, vectors, unit, set(terms), stem)
        return (None, 0.0) if best is None else ((best[0], best[1]), best[2])


def open_searcher(store, gen: Path, manifest: dict, encode_query) -> ShardedSearcher:
    """The searcher of a generation served by the cluster (backend = cluster)."""
    started = time.perf_counter()
    searcher = ShardedSearcher(store, Shards.open(gen, manifest), encode_query)
    searcher.opened_seconds = time.perf_counter() - started
    return searcher
