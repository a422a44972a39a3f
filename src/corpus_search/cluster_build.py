"""The build's heavy stages on a Ray cluster: `corpus-search build --cluster ADDRESS`.

build.py still decides what changed, and the one driver process still writes, verifies and
switches the generation; only the work moves. Each source to read is a Ray task that gets the
file's bytes (so a worker on another host needs no shared folder) and runs today's capped source
worker on them (source_worker.process: same time and memory caps, same hostile-input defences).
NER and embedding run on actors that load spaCy or MiniLM once and are fed batches.

A worker that dies (killed, out of memory, its node lost) costs only the work it held: that source
or batch is sent again, at most `cluster_retries` times, and each retry is logged and listed in the
build report. NER and embedding workers are never waited on: one that died, or whose node the
cluster declared dead, is dropped and replaced (_Pool), and its batches go to the others. Finished work stays in the driver. A source whose worker dies every time fails like a
broken file; a batch of NER or embedding that cannot be done stops the build before anything is
written. Results equal the local build's: the same code runs on the same inputs, and embedding
batches are cut exactly as Encoder.encode cuts them locally.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from corpus_search import cluster, config
from corpus_search.errors import CorpusSearchError
from corpus_search.models import STATUS_FAILED

EVERY = 10.0  # seconds between the progress lines a cluster build logs (rates and ETA)


class Engine:
    """One cluster build's connection, workers and retry log; `close` leaves the cluster (a local one stops)."""

    def __init__(self, where: str | None, progress):
        import ray

        self.progress = progress
        self.joined = not ray.is_initialized()  # a caller already connected keeps its cluster
        cluster.connect(where or None)
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.retries = config.get_int("cluster_retries")
        self.batch = max(1, config.get_int("cluster_batch"))
        self.retried: list[str] = []
        self.tag = secrets.token_hex(4)  # this build's actor names, apart from any other build on the cluster
        self._taggers: _Pool | None = None
        self._encoders: _Pool | None = None

    def close(self) -> None:
        for pool in (self._taggers, self._encoders):
            if pool is not None:
                pool.close()
        self._taggers = self._encoders = None
        if self.joined:
            cluster.disconnect()

    def note_retry(self, what: str, why: BaseException | str) -> None:
        line = f"retried {what}: {why if isinstance(why, str) else _reason(why)}"
        self.retried.append(line)
        self.progress.log(line)

    # -- extraction ---------------------------------------------------------------------
    def process_all(self, todo: list, progress, ocr_cache: Path | None = None) -> None:
        """Each source as a task on the cluster, a few per CPU in flight; fills each _Source like build._process."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        from corpus_search import build
        from corpus_search.records import with_found
        from corpus_search.source_worker import Processed

        remote = ray.remote(num_cpus=1, max_retries=0)(_extract)
        queue = [(src, 0) for src in todo]
        pending: dict = {}
        pace = _Pace(progress, "extract and clean", len(todo), "documents", self.cpus)
        done = passages = 0
        try:
            while queue or pending:
                while queue and len(pending) < 2 * self.cpus:
                    src, attempt = queue.pop(0)
                    data = _source_bytes(src.path)
                    if data is None:  # over max_source_mb or unreadable: the local worker says so, in today's words
                        build._process(src, ocr_cache)
                        done, passages = done + 1, passages + len(src.passages)
                        continue
                    ref = remote.remote(src.path.name, data, src.record.to_json(),
                                        str(ocr_cache) if ocr_cache is not None else None)
                    pending[ref] = (src, attempt)
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0) if pending else ([], [])
                for ref in ready:
                    src, attempt = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except RayTaskError as exc:
                        raise exc.as_instanceof_cause() from None  # our own error (a bad setting): the build's
                    except RayError as exc:
                        if attempt < self.retries:
                            self.note_retry(f"{src.rel} (attempt {attempt + 2})", exc)
                            queue.insert(0, (src, attempt + 1))
                            continue
                        result = Processed(STATUS_FAILED, f"its worker died {attempt + 1} times ({_reason(exc)}); "
                                                     "raise CORPUS_SEARCH_CLUSTER_RETRIES or build it locally")
                    build._take(src, result, with_found(src.record, result.found))
                    done, passages = done + 1, passages + len(src.passages)
                progress.advance(done)
                pace.update(done, f"{passages} passages")
            pace.finish(done, f"{passages} passages")
        except BaseException:
            for ref in pending:  # stopped (Ctrl-C, an error): start nothing further
                ray.cancel(ref, force=True)
            raise

    # -- NER and embedding ----------------------------------------------------------------
    def tagger(self, passages: list) -> _TagJob:
        return _TagJob(self, passages)

    def encoder(self) -> ClusterEncoder:
        return ClusterEncoder(self)

    def taggers(self) -> _Pool:
        if self._taggers is None:
            # NER is a small share of the work next to embedding (see BENCHMARKS.md), so its actors hold no
            # CPU of their own and share the cores with the embedders, as the local build's NER process does.
            self._taggers = _Pool(self, _TaggerActor, 0, "ner", "NER", max(1, self.cpus // 4))
        return self._taggers

    def encoders(self) -> _Pool:
        if self._encoders is None:
            self._encoders = _Pool(self, _EncoderActor, 1, "embed", "embedding", self.cpus)
        return self._encoders

    def run_batches(self, what: str, pool: _Pool, method: str, batches: Sequence, on_done: Callable[[int, object], None],
                    per_actor: int = 2) -> None:
        """Call `method` on the pool's ready workers for each batch, at most `per_actor` in flight each.

        A worker that dies, or whose node is lost, gets no more work; the batches it held are sent again to
        the others (each at most `cluster_retries` times) and it is replaced when the cluster has room for
        another. `on_done(i, result)` as batches finish. Never waits on one worker: a build that cannot go on
        (every worker lost, or none able to start) stops with one line within `ner_stall` seconds.
        """
        import ray
        from ray.exceptions import RayError, RayTaskError

        queue = [(i, 0) for i in range(len(batches))]
        pending: dict = {}  # call -> (batch, attempt, member)
        # A batch is bounded work (passages are capped in length), so silence this long is a stuck worker,
        # not a slow one: the same cap as the local build's NER process.
        stall = config.get_float("ner_stall")
        last_news = time.monotonic()

        def lose(member: _Member, why: str) -> None:
            pool.drop(member, why)
            for ref, (i, attempt, m) in list(pending.items()):
                if m is not member:
                    continue
                del pending[ref]
                if attempt >= self.retries:
                    raise CorpusSearchError(f"{what} failed: batch {i + 1} lost its worker {attempt + 1} times "
                                            f"({why}); nothing was written")
                self.note_retry(f"{what} batch {i + 1} of {len(batches)} (attempt {attempt + 2})", why)
                queue.insert(0, (i, attempt + 1))

        try:
            while queue or pending:
                for member, why in pool.refresh():
                    lose(member, why)
                for member in pool.ready():
                    while queue and member.load < per_actor:
                        i, attempt = queue.pop(0)
                        pending[getattr(member.handle, method).remote(batches[i])] = (i, attempt, member)
                        member.load += 1
                if queue and not pending and not pool.starting():
                    raise CorpusSearchError(f"{what} failed: every worker was lost ({pool.why}) and none could be "
                                            "started again; nothing was written")
                ready, _ = ray.wait([*pending, *pool.starting()], num_returns=1, timeout=1.0)
                if ready:
                    last_news = time.monotonic()
                elif time.monotonic() - last_news > stall:
                    doing = (f"no batch finished for {stall:g} s" if pool.ready() else
                             f"no {what} worker was ready for {stall:g} s (does the cluster have a free CPU?)")
                    raise CorpusSearchError(f"{what} failed: {doing}; nothing was written "
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
                        lose(member, _reason(exc))
                        continue
                    on_done(i, result)
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise


class _Member:
    """One NER or embedding worker of a pool: starting (loading its model), ready, or gone."""

    def __init__(self, handle, name: str, ready_ref):
        self.handle, self.name, self.ready_ref = handle, name, ready_ref
        self.number = name.rsplit("-", 1)[1]
        self.started = time.monotonic()
        self.node: str | None = None  # Ray node id, once it said it was ready
        self.info = None  # what its ready() answered: (pid, node id, node address, the model's output size or None)
        self.load = 0
        self.state = "starting"


class _Pool:
    """The workers of one stage, loading their model once each. Ray does not restart them (max_restarts=0): a
    restart on a lost node waits for a free CPU that may never come, and calls queued to it would wait too.
    Instead the pool drops a worker that died or whose node is gone, and starts a new one in its place (at most
    `cluster_retries` times), which takes work only once it says it is ready."""

    NODES_EVERY = 2.0  # seconds between looks at which nodes the cluster still counts alive

    def __init__(self, engine: Engine, cls, cpus: float, short: str, what: str, size: int):
        self.engine, self.cls, self.cpus, self.short, self.what = engine, cls, cpus, short, what
        self.members: list[_Member] = []
        self.size = size
        self.replacements = engine.retries
        self.why = ""  # why the last worker was lost
        self._serial = 0
        self._nodes_checked = 0.0
        self._lock = threading.Lock()
        for _ in range(size):
            self._start()

    def _start(self) -> None:
        import ray

        name = f"corpus-search-{self.engine.tag}-{self.short}-{self._serial}"
        self._serial += 1
        handle = ray.remote(num_cpus=self.cpus, max_restarts=0, max_task_retries=0, max_concurrency=2)(
            self.cls).options(name=name).remote()
        self.members.append(_Member(handle, name, handle.ready.remote()))

    def ready(self) -> list[_Member]:
        return [m for m in self.members if m.state == "ready"]

    def starting(self) -> list:
        """The ready() calls of the workers still loading."""
        return [m.ready_ref for m in self.members if m.state == "starting"]

    def refresh(self) -> list[tuple[_Member, str]]:
        """Note the workers that became ready; return (worker, why) for those lost since the last look."""
        import ray
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
                    lost.append((m, _reason(exc)))
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

    def drop(self, member: _Member, why: str) -> bool:
        """Take a lost worker out of the pool and start another in its place if allowed; False if already out."""
        import ray

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

    def first_ready(self) -> _Member:
        """The first worker to be ready (waits, within `ner_stall`, for one to load)."""
        import ray

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

    def close(self) -> None:
        import ray

        for m in self.members:
            try:
                ray.kill(m.handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.members = []


class ClusterEncoder:
    """Encoder's interface (dim, encode) with the batches embedded by the cluster's embedding actors."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        """Asked of a worker the first time it is needed: a build with nothing to embed starts no embedder."""
        if self._dim is None:
            self._dim = int(self.engine.encoders().first_ready().info[3])
        return self._dim

    def encode(self, texts: Sequence[str], batch_size: int | None = None,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        batch = batch_size or config.get_int("embed_batch_size")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        # Encoder.encode's own order and batches, grouped whole into work items: each vector is made from
        # exactly the batch it is made from locally, so the two builds agree to rounding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = max(batch, self.engine.batch // batch * batch)
        groups = [order[a:a + size] for a in range(0, len(order), size)]
        work = [([texts[i] for i in g], batch) for g in groups]
        done = [0]
        # The build embeds passages with a progress callback, then their sentences without one.
        unit = "passages" if progress is not None else "sentences"
        pace = _Pace(self.engine.progress, f"embedding {unit}", len(texts), unit, self.engine.encoders().size)

        def take(i: int, vecs) -> None:
            out[groups[i]] = vecs
            done[0] += len(groups[i])
            if progress:
                progress(done[0])
            pace.update(done[0])

        self.engine.run_batches("embedding", self.engine.encoders(), "encode", work, take)
        pace.finish(done[0])
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


class _TagJob:
    """_NerJob's interface (done, result) over the cluster's NER actors; the batches start at once."""

    def __init__(self, engine: Engine, passages: list):
        self.engine = engine
        step = max(config.get_int("ner_batch_size"), engine.batch)
        self.batches = [passages[a:a + step] for a in range(0, len(passages), step)]
        self.results: list = [None] * len(self.batches)
        self.count = 0
        self.error: BaseException | None = None
        # The driver embeds meanwhile (ClusterEncoder blocks), so the NER batches are fed from a thread.
        self.thread = threading.Thread(target=self._run, daemon=True)
        if self.batches:
            self.thread.start()

    def _run(self) -> None:
        def take(i: int, raw) -> None:
            self.results[i] = raw
            self.count += len(self.batches[i])

        try:
            self.engine.run_batches("NER", self.engine.taggers(), "tag", self.batches, take)
        except BaseException as exc:  # noqa: BLE001 - raised in the driver by result()
            self.error = exc

    def done(self) -> int:
        return self.count

    def result(self, progress: Callable[[int], None]) -> list:
        while self.thread.is_alive():
            self.thread.join(timeout=0.5)
            progress(self.count)
        if self.error is not None:
            raise self.error
        progress(self.count)
        return [m for raw in self.results for m in raw]


class _Pace:
    """Progress lines with the rate and time left across all workers, every EVERY seconds and at the end."""

    def __init__(self, progress, stage: str, total: int, unit: str, workers: int):
        self.progress, self.stage, self.total, self.unit, self.workers = progress, stage, total, unit, workers
        self.started = self.last = time.monotonic()

    def update(self, done: int, extra: str = "") -> None:
        now = time.monotonic()
        if now - self.last >= EVERY and done < self.total:
            self.last = now
            self.progress.log(self.line(done, extra, now))

    def finish(self, done: int, extra: str = "") -> None:
        if self.total:
            self.progress.log(self.line(done, extra, time.monotonic()))

    def line(self, done: int, extra: str, now: float) -> str:
        took = max(now - self.started, 1e-9)
        rate = done / took
        also = ""
        if extra:
            n, word = extra.split(" ", 1)
            also = f", {extra} ({int(n) / took:.1f} {word}/s)"
        left = f", about {_clock((self.total - done) / rate)} left" if 0 < done < self.total else ""
        where = f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        return (f"{self.stage} on {where}: {done}/{self.total} {self.unit} in {took:.1f}s "
                f"({rate:.1f} {self.unit}/s){also}{left}")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}:{secs:02d}"


def _reason(exc: BaseException) -> str:
    """The first line of a Ray error, which names what died (a worker, an actor, a node)."""
    text = str(exc).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first[:160]}" if first else type(exc).__name__


def _source_bytes(path: Path) -> bytes | None:
    """The file's bytes to send to a worker, or None when it is over max_source_mb or unreadable."""
    limit = config.get_int("max_source_mb") * 1024 * 1024
    try:
        if not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_bytes()
    except OSError:
        return None


# ---------------------------------------------------------------- on the workers


def _extract(name: str, data: bytes, record: dict, ocr_cache: str | None):
    """One source on a worker: its bytes written to a private folder under the same name, then today's capped
    source worker on them. The OCR cache is the driver's when this host sees that folder, else one on this host."""
    from corpus_search.models import Record
    from corpus_search.source_worker import process

    cache = Path(ocr_cache) if ocr_cache and _writable(Path(ocr_cache)) else Path(tempfile.gettempdir()) / "corpus-search-ocr-cache"
    with tempfile.TemporaryDirectory(prefix="corpus-search-cluster-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        del data
        return process(path, Record.from_json(record), cache)


def _writable(folder: Path) -> bool:
    probe = folder if folder.is_dir() else folder.parent
    return probe.is_dir() and os.access(probe, os.W_OK)


class _TaggerActor:
    """spaCy loaded once per worker; tags the batches it is sent."""

    def __init__(self):
        from corpus_search.entities import Tagger

        self.tagger = Tagger()
        self.tagger.nlp  # load now, not inside the first batch
        self.lock = threading.Lock()

    def pid(self) -> int:
        return os.getpid()

    def ready(self) -> tuple[int, str, str, None]:
        import ray

        return os.getpid(), ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address(), None

    def tag(self, passages: list) -> list:
        with self.lock:
            return self.tagger.tag(passages)


class _EncoderActor:
    """MiniLM loaded once per worker; embeds the batches it is sent."""

    def __init__(self):
        from corpus_search.vector_index import Encoder

        self.encoder = Encoder()
        self.lock = threading.Lock()

    def pid(self) -> int:
        return os.getpid()

    def ready(self) -> tuple[int, str, str, int]:
        import ray

        return os.getpid(), ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address(), self.encoder.dim

    def dim(self) -> int:
        return self.encoder.dim

    def encode(self, work: tuple[list[str], int]) -> np.ndarray:
        texts, batch = work
        with self.lock:
            return self.encoder.encode(texts, batch_size=batch)
