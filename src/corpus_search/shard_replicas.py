"""The replicas serving one generation's shards, and the fan-out to them with failover.

Each shard (shards.py) is served by `replicas` Ray actors (shard_server.ShardServer), each loading its
shard once, spread over the cluster's nodes (shard_placement.py). When a replica dies (ray.kill, a lost
node) the call is sent to another replica of its shard and a new replica is started in the background;
a call fails only when no replica of a shard is left.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from corpus_search import cluster, config, shards
from corpus_search.bm25 import CorpusStats
from corpus_search.errors import CorpusSearchError, IndexMissingError, UsageError
from corpus_search.shard_placement import placement_groups, remove_groups, strategy
from corpus_search.shard_server import ShardServer

READY_TIMEOUT = 300  # seconds a replica may take to load its shard (a big shard on a slow disk)
QUERY_TIMEOUT = 120  # seconds one shard may take to answer before the query fails


class ShardUnavailableError(CorpusSearchError):
    """No replica of a shard is left to answer."""


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
        import ray  # heavy (~2 s): imported where it runs, so that importing this module never loads it

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
            self.groups = placement_groups(n, replicas)
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
        where = strategy(self.groups[k] if self.groups else None, bundle)
        handle = self._actor.options(scheduling_strategy=where).remote(str(self.gen), k, self.listed[k])
        if self._stats_ref is not None:
            handle.use_stats.remote(self._stats_ref)  # an actor runs calls in order: before it says ready
        return _Replica(handle, handle.ready.remote(), bundle)

    @staticmethod
    def _settle(replica: _Replica) -> None:
        """Note whether a replica whose ready call has returned loaded its shard (ready) or not (failed, why)."""
        import ray  # heavy: as above

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
        import ray  # heavy: as above

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
        import ray  # heavy: as above

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
        """Call method on one replica of each shard (shard k with args[k]), all at once; results in shard order.

        Every call to the shards comes through here (the sharded searcher's too), so a test can count them."""
        import ray  # heavy: as above

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
            import ray  # heavy: as above

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
        import ray  # heavy: as above

        if not ray.is_initialized():
            return
        for reps in self.replicas:
            for r in reps:
                try:
                    ray.kill(r.handle, no_restart=True)
                except Exception:  # already gone
                    pass
        self.replicas = [[] for _ in range(self.n)]
        remove_groups(self.groups)
        self.groups = []


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
