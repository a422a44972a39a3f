"""The build's heavy stages on a Ray cluster: `corpus-search build --cluster ADDRESS`.

build.py still decides what changed, and the one driver process still writes, verifies and
switches the generation; only the work moves. Each source to read is a Ray task that gets the
file's bytes (so a worker on another host needs no shared folder) and runs today's capped source
worker on them (source_worker.process: same time and memory caps, same hostile-input defences).
NER and embedding run on actors that load spaCy or MiniLM once and are fed batches.

A worker that dies (killed, out of memory, its node lost) costs only the work it held: that source
or batch is sent again, at most `cluster_retries` times, and each retry is logged and listed in the
build report. Finished work stays in the driver. A source whose worker dies every time fails like a
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
        self._taggers: list = []
        self._encoders: list = []

    def close(self) -> None:
        import ray

        for actor in self._taggers + self._encoders:
            ray.kill(actor, no_restart=True)
        self._taggers, self._encoders = [], []
        if self.joined:
            cluster.disconnect()

    def note_retry(self, what: str, exc: BaseException) -> None:
        line = f"retried {what}: {_reason(exc)}"
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

    def taggers(self) -> list:
        if not self._taggers:
            # NER is a small share of the work next to embedding (see BENCHMARKS.md), so its actors hold no
            # CPU of their own and share the cores with the embedders, as the local build's NER process does.
            n = max(1, self.cpus // 4)
            self._taggers = [self._actor(_TaggerActor, 0, f"ner-{i}") for i in range(n)]
        return self._taggers

    def encoders(self) -> list:
        if not self._encoders:
            self._encoders = [self._actor(_EncoderActor, 1, f"embed-{i}") for i in range(self.cpus)]
        return self._encoders

    def _actor(self, cls, cpus: float, name: str):
        import ray

        # Restarted by Ray when its process dies (the model loads again); the call it held fails and is sent again here.
        # max_concurrency: `pid` answers while a batch runs (the actor's own lock keeps batches one at a time).
        return ray.remote(num_cpus=cpus, max_restarts=self.retries, max_task_retries=0, max_concurrency=2)(cls).options(
            name=f"corpus-search-{self.tag}-{name}").remote()

    def run_batches(self, what: str, actors: list, method: str, batches: Sequence, on_done: Callable[[int, object], None],
                    per_actor: int = 2) -> None:
        """Call `method` on `actors` for each batch, at most `per_actor` in flight each; a call whose actor died is
        sent again (to whichever actor is free) up to `cluster_retries` times; `on_done(i, result)` as they finish."""
        import ray
        from ray.exceptions import ActorUnavailableError, RayError, RayTaskError

        queue = [(i, 0) for i in range(len(batches))]
        pending: dict = {}  # call -> (batch, attempt, actor)
        load = {j: 0 for j in range(len(actors))}
        alive = set(load)  # actors taking work; one whose call failed waits out its restart first
        probes: dict = {}  # pid() call -> actor: answers once a restarted actor has its model again
        later: dict[int, float] = {}  # actor -> when to probe it again (it was still restarting)
        # A batch is bounded work (passages are capped in length), so silence this long is a stuck worker,
        # not a slow one: the same cap as the local build's NER process.
        stall = config.get_float("ner_stall")
        last_news = time.monotonic()
        try:
            while queue or pending:
                for j, when in list(later.items()):
                    if time.monotonic() >= when:
                        del later[j]
                        probes[actors[j].pid.remote()] = j
                while queue and any(load[j] < per_actor for j in alive):
                    j = min(alive, key=load.get)
                    i, attempt = queue.pop(0)
                    pending[getattr(actors[j], method).remote(batches[i])] = (i, attempt, j)
                    load[j] += 1
                if queue and not pending and not probes and not later:
                    raise CorpusSearchError(f"{what} failed: every worker died and none restarted; nothing was written")
                ready, _ = ray.wait([*pending, *probes], num_returns=1, timeout=1.0)
                if ready:
                    last_news = time.monotonic()
                elif time.monotonic() - last_news > stall:
                    raise CorpusSearchError(f"{what} failed: no batch finished for {stall:g} s; nothing was written "
                                            "(raise CORPUS_SEARCH_NER_STALL to allow more)")
                for ref in ready:
                    if ref in probes:
                        j = probes.pop(ref)
                        try:
                            ray.get(ref)
                            alive.add(j)
                        except ActorUnavailableError:
                            later[j] = time.monotonic() + 1.0
                        except RayError:
                            pass  # its restarts are used up: the others carry on
                        continue
                    i, attempt, j = pending.pop(ref)
                    load[j] -= 1
                    try:
                        result = ray.get(ref)
                    except RayTaskError as exc:
                        raise exc.as_instanceof_cause() from None
                    except RayError as exc:
                        if attempt >= self.retries:
                            raise CorpusSearchError(f"{what} failed: batch {i + 1} lost its worker {attempt + 1} times "
                                                    f"({_reason(exc)}); nothing was written") from None
                        self.note_retry(f"{what} batch {i + 1} of {len(batches)} (attempt {attempt + 2})", exc)
                        queue.insert(0, (i, attempt + 1))
                        if j in alive:
                            alive.discard(j)
                            probes[actors[j].pid.remote()] = j
                        continue
                    on_done(i, result)
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise


class ClusterEncoder:
    """Encoder's interface (dim, encode) with the batches embedded by the cluster's embedding actors."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        """Asked of a worker the first time it is needed: a build with nothing to embed starts no embedder."""
        import ray

        if self._dim is None:
            self._dim = int(ray.get(self.engine.encoders()[0].dim.remote()))
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
        pace = _Pace(self.engine.progress, f"embedding {unit}", len(texts), unit, len(self.engine.encoders()))

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

    def dim(self) -> int:
        return self.encoder.dim

    def encode(self, work: tuple[list[str], int]) -> np.ndarray:
        texts, batch = work
        with self.lock:
            return self.encoder.encode(texts, batch_size=batch)
