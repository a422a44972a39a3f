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

This module is the driver (Engine: the connection, the extraction tasks, the pools, the retry log).
The rest, one module each:
  cluster_workers  what runs on the workers: the extraction task, the NER and embedding actors
  cluster_pool     a stage's workers, replaced when lost, and the batches fed to them
  cluster_jobs     ClusterEncoder and TagJob: the local build's encoder and NER job over the pools
  cluster_pace     progress lines with rates and the time left
"""

from __future__ import annotations

import secrets
from pathlib import Path

from corpus_search import build_sources, cluster, config
from corpus_search.cluster_jobs import ClusterEncoder, TagJob
from corpus_search.cluster_pace import Pace
from corpus_search.cluster_pool import Pool, ray_reason
from corpus_search.cluster_workers import EncoderActor, TaggerActor, _extract
from corpus_search.models import STATUS_FAILED
from corpus_search.records import with_found
from corpus_search.source_worker import Processed

# Engine: the name build.py imports; ClusterEncoder: the encoder a cluster build embeds with.
__all__ = ["ClusterEncoder", "Engine"]


class Engine:
    """One cluster build's connection, workers and retry log; `close` leaves the cluster (a local one stops)."""

    def __init__(self, where: str | None, progress):
        import ray  # heavy (~2 s): imported where it runs, so that a local build never loads it

        self.progress = progress
        self.joined = not ray.is_initialized()  # a caller already connected keeps its cluster
        cluster.connect(where or None)
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.retries = config.get_int("cluster_retries")
        self.batch = max(1, config.get_int("cluster_batch"))
        self.retried: list[str] = []
        self.tag = secrets.token_hex(4)  # this build's actor names, apart from any other build on the cluster
        self._taggers: Pool | None = None
        self._encoders: Pool | None = None

    def close(self) -> None:
        for pool in (self._taggers, self._encoders):
            if pool is not None:
                pool.close()
        self._taggers = self._encoders = None
        if self.joined:
            cluster.disconnect()

    def note_retry(self, what: str, why: BaseException | str) -> None:
        line = f"retried {what}: {why if isinstance(why, str) else ray_reason(why)}"
        self.retried.append(line)
        self.progress.log(line)

    # -- extraction ---------------------------------------------------------------------
    def process_all(self, todo: list, progress, ocr_cache: Path | None = None) -> None:
        """Each source as a task on the cluster, a few per CPU in flight; fills each Source as build_sources does."""
        import ray  # heavy: as above
        from ray.exceptions import RayError, RayTaskError

        remote = ray.remote(num_cpus=1, max_retries=0)(_extract)
        queue = [(src, 0) for src in todo]
        pending: dict = {}
        pace = Pace(progress, "extract and clean", len(todo), "documents", self.cpus)
        done = passages = 0
        try:
            while queue or pending:
                while queue and len(pending) < 2 * self.cpus:
                    src, attempt = queue.pop(0)
                    data = _source_bytes(src.path)
                    if data is None:  # over max_source_mb or unreadable: the local worker says so, in today's words
                        build_sources.process(src, ocr_cache)
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
                        result = Processed(STATUS_FAILED, f"its worker died {attempt + 1} times ({ray_reason(exc)}); "
                                                     "raise CORPUS_SEARCH_CLUSTER_RETRIES or build it locally")
                    build_sources.take(src, result, with_found(src.record, result.found))
                    done, passages = done + 1, passages + len(src.passages)
                progress.advance(done)
                pace.update(done, f"{passages} passages")
            pace.finish(done, f"{passages} passages")
        except BaseException:
            for ref in pending:  # stopped (Ctrl-C, an error): start nothing further
                ray.cancel(ref, force=True)
            raise

    # -- NER and embedding ----------------------------------------------------------------
    def tagger(self, passages: list) -> TagJob:
        return TagJob(self, passages)

    def encoder(self) -> ClusterEncoder:
        return ClusterEncoder(self)

    def taggers(self) -> Pool:
        if self._taggers is None:
            # NER is a small share of the work next to embedding (see BENCHMARKS.md), so its actors hold no
            # CPU of their own and share the cores with the embedders, as the local build's NER process does.
            self._taggers = Pool(self, TaggerActor, 0, "ner", "NER", max(1, self.cpus // 4))
        return self._taggers

    def encoders(self) -> Pool:
        if self._encoders is None:
            self._encoders = Pool(self, EncoderActor, 1, "embed", "embedding", self.cpus)
        return self._encoders


def _source_bytes(path: Path) -> bytes | None:
    """The file's bytes to send to a worker, or None when it is over max_source_mb or unreadable."""
    limit = config.get_int("max_source_mb") * 1024 * 1024
    try:
        if not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_bytes()
    except OSError:
        return None
