"""NER and embedding on a cluster, behind the interfaces the local build calls (build_entities, build_vectors).

ClusterEncoder is vector_index.Encoder's (dim, encode) and TagJob is build_entities.NerJob's (done, result);
both hand their batches to the engine's worker pools (cluster_pool.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from corpus_search import config
from corpus_search.cluster_pace import Pace

if TYPE_CHECKING:  # the engine makes these: imported at run time, it would be an import cycle
    from corpus_search.cluster_build import Engine


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
        pace = Pace(self.engine.progress, f"embedding {unit}", len(texts), unit, self.engine.encoders().size)

        def take(i: int, vecs) -> None:
            out[groups[i]] = vecs
            done[0] += len(groups[i])
            if progress:
                progress(done[0])
            pace.update(done[0])

        self.engine.encoders().run("encode", work, take)
        pace.finish(done[0])
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


class TagJob:
    """build_entities.NerJob's interface (done, result) over the cluster's NER actors; the batches start at once."""

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
            self.engine.taggers().run("tag", self.batches, take)
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
