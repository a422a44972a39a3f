"""The workers of one stage of a cluster build (NER or embedding), and the batches fed to them.

Workers load their model once each and are never waited on: one that died, or whose node the cluster
declared dead, is dropped and replaced, and the batches it held go to the others, each at most
`cluster_retries` times. A batch that cannot be done stops the build before anything is written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from corpus_search import config
from corpus_search.errors import CorpusSearchError

if TYPE_CHECKING:  # the engine makes the pools: imported at run time, it would be an import cycle
    from corpus_search.cluster_build import Engine


class Member:
    """One NER or embedding worker of a pool: starting (loading its model), ready, or gone."""

    def __init__(self, handle, name: str, ready_ref):
        self.handle, self.name, self.ready_ref = handle, name, ready_ref
        self.number = name.rsplit("-", 1)[1]
        self.started = time.monotonic()
        self.node: str | None = None  # Ray node id, once it said it was ready
        self.info = None  # what its ready() answered: (pid, node id, node address, the model's output size or None)
        self.load = 0
        self.state = "starting"


class Pool:
    """The workers of one stage, loading their model once each. Ray does not restart them (max_restarts=0): a
    restart on a lost node waits for a free CPU that may never come, and calls queued to it would wait too.
    Instead the pool drops a worker that died or whose node is gone, and starts a new one in its place (at most
    `cluster_retries` times), which takes work only once it says it is ready."""

    NODES_EVERY = 2.0  # seconds between looks at which nodes the cluster still counts alive

    def __init__(self, engine: Engine, cls, cpus: float, short: str, what: str, size: int):
        self.engine, self.cls, self.cpus, self.short, self.what = engine, cls, cpus, short, what
        self.members: list[Member] = []
        self.size = size
        self.replacements = engine.retries
        self.why = ""  # why the last worker was lost
        self._serial = 0
        self._nodes_checked = 0.0
        self._lock = threading.Lock()
        for _ in range(size):
            self._start()

    def _start(self) -> None:
        import ray  # heavy (~2 s): imported where it runs, so that a local build never loads it

        name = f"corpus-search-{self.engine.tag}-{self.short}-{self._serial}"
        self._serial += 1
        handle = ray.remote(num_cpus=self.cpus, max_restarts=0, max_task_retries=0, max_concurrency=2)(
            self.cls).options(name=name).remote()
        self.members.append(Member(handle, name, handle.ready.remote()))

    def ready(self) -> list[Member]:
        return [m for m in self.members if m.state == "ready"]

    def starting(self) -> list:
        """The ready() calls of the workers still loading."""
        return [m.ready_ref for m in self.members if m.state == "starting"]

    def refresh(self) -> list[tuple[Member, str]]:
        """Note the workers that became ready; return (worker, why) for those lost since the last look."""
        import ray  # heavy: as above
        from ray.exceptions import RayError

        lost = []
        loading = [m for m in self.members if m.state == "starting"]
        if loading:
            done, _ = ray.wait([m.ready_ref for m in loading], num_returns=len(loading), timeout=0)
            for m in loading:
                if m.ready_ref not in done:
                    continue
                try:
                    m.info = ray.get(m.ready_ref)
                except RayError as exc:
                    lost.append((m, ray_reason(exc)))
                    continue
                m.node, m.state = m.info[1], "ready"
                # Where each model loaded, and how long it took: what a user checks first when a host is slow.
                self.engine.progress.log(f"{self.what} worker {m.number} ready on {m.info[2]} "
                                         f"({time.monotonic() - m.started:.1f}s)")
        now = time.monotonic()
        if now - self._nodes_checked >= self.NODES_EVERY:
            self._nodes_checked = now
            # A cut cable closes no connection: calls to a lost node's worker may wait for minutes (gRPC
            # keepalive) after the cluster has declared the node dead. Its health checks decide, not our calls.
            alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
            lost += [(m, "its node was lost") for m in self.ready() if m.node not in alive]
        return lost

    def drop(self, member: Member, why: str) -> bool:
        """Take a lost worker out of the pool and start another in its place if allowed; False if already out."""
        import ray  # heavy: as above

        with self._lock:
            if member.state == "gone":
                return False
            member.state = "gone"
        self.why = why
        try:
            ray.kill(member.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone, which is the point
            pass
        started = ""
        if self.replacements > 0:
            self.replacements -= 1
            self._start()
            started = "; starting another"
        self.engine.progress.log(f"lost {self.what} worker {member.number} ({why}){started}")
        return True

    def first_ready(self) -> Member:
        """The first worker to be ready (waits, within `ner_stall`, for one to load)."""
        import ray  # heavy: as above

        stall = config.get_float("ner_stall")
        until = time.monotonic() + stall
        while not self.ready():
            for member, why in self.refresh():
                self.drop(member, why)
            if self.ready():
                break
            if not self.starting():
                raise CorpusSearchError(f"{self.what} failed: every worker was lost ({self.why}); nothing was written")
            if time.monotonic() > until:
                raise CorpusSearchError(f"{self.what} failed: no worker was ready for {stall:g} s (does the cluster "
                                        "have a free CPU?); nothing was written (raise CORPUS_SEARCH_NER_STALL "
                                        "to allow more)")
            ray.wait(self.starting(), num_returns=1, timeout=1.0)
        return self.ready()[0]

    def run(self, method: str, batches: Sequence, on_done: Callable[[int, object], None],
            per_actor: int = 2) -> None:
        """Call `method` on the pool's ready workers for each batch, at most `per_actor` in flight each.

        A worker that dies, or whose node is lost, gets no more work; the batches it held are sent again to
        the others (each at most `cluster_retries` times) and it is replaced when the cluster has room for
        another. `on_done(i, result)` as batches finish. Never waits on one worker: a build that cannot go on
        (every worker lost, or none able to start) stops with one line within `ner_stall` seconds.
        """
        import ray  # heavy: as above
        from ray.exceptions import RayError, RayTaskError

        queue = [(i, 0) for i in range(len(batches))]
        pending: dict = {}  # call -> (batch, attempt, member)
        # A batch is bounded work (passages are capped in length), so silence this long is a stuck worker,
        # not a slow one: the same cap as the local build's NER process.
        stall = config.get_float("ner_stall")
        last_news = time.monotonic()

        def lose(member: Member, why: str) -> None:
            self.drop(member, why)
            for ref, (i, attempt, m) in list(pending.items()):
                if m is not member:
                    continue
                del pending[ref]
                if attempt >= self.engine.retries:
                    raise CorpusSearchError(f"{self.what} failed: batch {i + 1} lost its worker {attempt + 1} times "
                                            f"({why}); nothing was written")
                self.engine.note_retry(f"{self.what} batch {i + 1} of {len(batches)} (attempt {attempt + 2})", why)
                queue.insert(0, (i, attempt + 1))

        try:
            while queue or pending:
                for member, why in self.refresh():
                    lose(member, why)
                for member in self.ready():
                    while queue and member.load < per_actor:
                        i, attempt = queue.pop(0)
                        pending[getattr(member.handle, method).remote(batches[i])] = (i, attempt, member)
                        member.load += 1
                if queue and not pending and not self.starting():
                    raise CorpusSearchError(f"{self.what} failed: every worker was lost ({self.why}) and none could be "
                                            "started again; nothing was written")
                ready, _ = ray.wait([*pending, *self.starting()], num_returns=1, timeout=1.0)
                if ready:
                    last_news = time.monotonic()
                elif time.monotonic() - last_news > stall:
                    doing = (f"no batch finished for {stall:g} s" if self.ready() else
                             f"no {self.what} worker was ready for {stall:g} s (does the cluster have a free CPU?)")
                    raise CorpusSearchError(f"{self.what} failed: {doing}; nothing was written "
                                            "(raise CORPUS_SEARCH_NER_STALL to allow more)")
                for ref in ready:
                    if ref not in pending:
                        continue  # a worker's ready answer: taken by the next refresh
                    i, attempt, member = pending.pop(ref)
                    member.load -= 1
                    try:
                        result = ray.get(ref)
                    except RayTaskError as exc:
                        raise exc.as_instanceof_cause() from None
                    except RayError as exc:
                        pending[ref] = (i, attempt, member)  # lose() sends it again with the worker's other batches
                        lose(member, ray_reason(exc))
                        continue
                    on_done(i, result)
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise

    def close(self) -> None:
        import ray  # heavy: as above

        for m in self.members:
            try:
                ray.kill(m.handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.members = []


def ray_reason(exc: BaseException) -> str:
    """The first line of a Ray error, which names what died (a worker, an actor, a node)."""
    text = str(exc).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first[:160]}" if first else type(exc).__name__
