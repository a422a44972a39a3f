"""What a cluster build runs on the workers: a source's extraction as a task, NER and embedding as actors.

Each is today's local code on the same inputs (source_worker.process, entities.Tagger, vector_index.Encoder),
so a cluster build's results equal the local build's. The driver side is cluster_build.py.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from corpus_search.entities import Tagger
from corpus_search.models import Record
from corpus_search.source_worker import process, sweep_orphaned_scratch
from corpus_search.vector_index import Encoder


CLUSTER_PREFIX = "corpus-search-cluster-"


# Named with its underscore because a worker running it is titled ray::_extract, which the tests look for.
def _extract(name: str, data: bytes, record: dict, ocr_cache: str | None):
    """One source on a worker: its bytes written to a private folder under the same name, then today's capped
    source worker on them. The OCR cache is the driver's when this host sees that folder, else one on this host."""
    cache = Path(ocr_cache) if ocr_cache and _writable(Path(ocr_cache)) else Path(tempfile.gettempdir()) / "corpus-search-ocr-cache"
    # Named with this worker's process id: if the worker is killed before it deletes the copy, the next
    # source this host reads deletes it (source_worker.sweep_orphaned_scratch).
    sweep_orphaned_scratch(prefix=CLUSTER_PREFIX)
    with tempfile.TemporaryDirectory(prefix=f"{CLUSTER_PREFIX}{os.getpid()}-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        del data
        return process(path, Record.from_json(record), cache)


def _writable(folder: Path) -> bool:
    probe = folder if folder.is_dir() else folder.parent
    return probe.is_dir() and os.access(probe, os.W_OK)


def _where() -> tuple[int, str, str]:
    """This worker's pid, Ray node id and node address: where a model loaded, for the build's log."""
    import ray  # heavy (~2 s): imported where it runs, so that a local build never loads it

    return os.getpid(), ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()


class TaggerActor:
    """spaCy loaded once per worker; tags the batches it is sent."""

    def __init__(self):
        self.tagger = Tagger()
        self.tagger.nlp  # load now, not inside the first batch
        self.lock = threading.Lock()

    def pid(self) -> int:
        return os.getpid()

    def ready(self) -> tuple[int, str, str, None]:
        return (*_where(), None)

    def tag(self, passages: list) -> list:
        with self.lock:
            return self.tagger.tag(passages)


class EncoderActor:
    """MiniLM loaded once per worker; embeds the batches it is sent."""

    def __init__(self):
        self.encoder = Encoder()
        self.lock = threading.Lock()

    def pid(self) -> int:
        return os.getpid()

    def ready(self) -> tuple[int, str, str, int]:
        return (*_where(), self.encoder.dim)

    def dim(self) -> int:
        return self.encoder.dim

    def encode(self, work: tuple[list[str], int]) -> np.ndarray:
        texts, batch = work
        with self.lock:
            return self.encoder.encode(texts, batch_size=batch)
