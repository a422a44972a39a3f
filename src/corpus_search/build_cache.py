"""What a build has paid for so far: model outputs saved as they are made, so a stopped build loses little.

Embedding and NER are nearly all of a large build's time (100k passages: about an hour here). A build
that stops before it publishes (Ctrl-C, a killed process, a full disk, a power cut) used to lose all of
it; the OCR cache alone survived. Now the build saves, in `<index>/build-cache/`, each part of its work
as soon as it is done:

  vec-*.npz    passage vectors, by the digest of what the model read (build_vectors.digest)
  sent-*.npz   sentence spans and vectors, by the digest of the passage's sentences as read
  tags-*.json  the tagger's mentions (start, end, label), by the digest of the passage text and the
               tagger's fingerprint

and the next build takes from it what it would otherwise make again. Keys are content digests, so a
file edited meanwhile or a model changed simply finds nothing.

Each part is written to a temporary name, flushed to disk and renamed; its name carries a digest of its
bytes, checked on reading, so a torn or damaged part is skipped (and deleted), never trusted. Nothing is
unpickled. The folder is emptied once a build publishes (all of it is in the generation then) and
before a purge's build, so the text of a purged source outlives it here no more than in the generations.

A build that removed documents (moved to the trash, or out of the folder) then saves their work here, read
from the generation before it: restoring one, the usual undo, runs no model on it. The next build that
publishes empties it again, and a purge's build saves nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from corpus_search import config
from corpus_search.entity_keys import RawMention
from corpus_search.models import Passage

CACHE_DIR = "build-cache"
_DIGEST = 16


def tag_key(fingerprint: str, text: str) -> str:
    """The key of a passage text's tags under one tagger (Tagger.fingerprint)."""
    h = hashlib.blake2b(fingerprint.encode(), digest_size=_DIGEST)
    h.update(b"\0" + text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def chunks(items: Sequence) -> Iterable[Sequence]:
    """The parts a build saves one by one (setting checkpoint_passages): at most this much model work is lost
    to a stop."""
    size = max(1, config.get_int("checkpoint_passages"))
    for i in range(0, len(items), size):
        yield items[i:i + size]


class BuildCache:
    """The model outputs of unfinished builds in one index folder (see the module's text)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._vectors: dict[bytes, np.ndarray] | None = None
        self._sentences: dict[bytes, tuple[np.ndarray, np.ndarray]] | None = None
        self._tags: dict[str, list[tuple[int, int, str]]] | None = None

    @classmethod
    def of_index(cls, index_root: Path) -> BuildCache:
        return cls(Path(index_root) / CACHE_DIR)

    # -- reading ---------------------------------------------------------------------------
    def vectors(self) -> dict[bytes, np.ndarray]:
        """passage digest -> vector."""
        if self._vectors is None:
            self._vectors = {}
            for arrays in self._parts("vec-", ".npz"):
                keys, matrix = arrays.get("keys"), arrays.get("vectors")
                if _keys_ok(keys) and matrix is not None and matrix.ndim == 2 and len(matrix) == len(keys) \
                        and matrix.dtype == np.float32:
                    self._vectors.update(zip((k.tobytes() for k in keys), matrix))
        return self._vectors

    def sentences(self) -> dict[bytes, tuple[np.ndarray, np.ndarray]]:
        """sentence-set digest -> (spans, vectors)."""
        if self._sentences is None:
            self._sentences = {}
            for arrays in self._parts("sent-", ".npz"):
                keys, counts = arrays.get("keys"), arrays.get("counts")
                spans, matrix = arrays.get("spans"), arrays.get("vectors")
                if not (_keys_ok(keys) and counts is not None and spans is not None and matrix is not None
                        and counts.shape == (len(keys),) and counts.dtype.kind == "i" and (counts >= 0).all()
                        and spans.ndim == 2 and spans.shape[1:] == (2,) and spans.dtype.kind == "i"
                        and matrix.ndim == 2 and matrix.dtype == np.float32
                        and len(spans) == len(matrix) == int(counts.sum())):
                    continue
                at = 0
                for key, n in zip(keys, counts):
                    self._sentences[key.tobytes()] = (spans[at:at + n].astype(np.int32), matrix[at:at + n])
                    at += int(n)
        return self._sentences

    def tags(self, fingerprint: str, passages: Sequence[Passage]) -> dict[str, list[RawMention]]:
        """passage id -> the tagger's mentions, for the passages whose text this tagger tagged before."""
        if self._tags is None:
            self._tags = {}
            for data in self._parts("tags-", ".json"):
                if isinstance(data, dict):
                    for key, spans in data.items():
                        if isinstance(key, str) and _spans_ok(spans):
                            self._tags[key] = [tuple(s) for s in spans]
        out: dict[str, list[RawMention]] = {}
        for p in passages:
            spans = self._tags.get(tag_key(fingerprint, p.text))
            if spans is not None and all(0 <= a < b <= len(p.text) for a, b, _ in spans):
                out[p.passage_id] = [RawMention(p.passage_id, a, b, p.text[a:b], label) for a, b, label in spans]
        return out

    def _parts(self, prefix: str, suffix: str):
        try:
            names = sorted(n for n in os.listdir(self.folder) if n.startswith(prefix) and n.endswith(suffix))
        except OSError:
            return
        for name in names:
            path = self.folder / name
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if name != f"{prefix}{_digest(data)}{suffix}":
                _unlink(path)  # torn or damaged: never trusted
                continue
            try:
                if suffix == ".npz":
                    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                        yield {k: npz[k] for k in npz.files}
                else:
                    yield json.loads(data)
            except (ValueError, OSError, KeyError, UnicodeDecodeError):
                continue

    # -- writing ---------------------------------------------------------------------------
    def add_vectors(self, keys: Sequence[bytes], matrix: np.ndarray) -> None:
        if len(keys):
            self._write("vec-", ".npz", _npz(keys=_key_array(keys), vectors=np.asarray(matrix, dtype=np.float32)))

    def add_sentences(self, items: Sequence[tuple[bytes, np.ndarray, np.ndarray]]) -> None:
        """(sentence-set digest, spans, vectors) per passage."""
        if not items:
            return
        self._write("sent-", ".npz", _npz(
            keys=_key_array([k for k, _, _ in items]),
            counts=np.array([len(s) for _, s, _ in items], dtype=np.int64),
            spans=np.concatenate([np.asarray(s, dtype=np.int64).reshape(-1, 2) for _, s, _ in items]),
            vectors=np.concatenate([np.asarray(v, dtype=np.float32).reshape(len(s), -1)
                                    for _, s, v in items])))

    def add_tags(self, fingerprint: str, passages: Sequence[Passage], raw: Iterable[RawMention]) -> None:
        """The tagger's mentions of these passages (a passage with none is saved too: it needs no tagging)."""
        if not passages:
            return
        by_pid: dict[str, list[list]] = {p.passage_id: [] for p in passages}
        for m in raw:
            if m.passage_id in by_pid:
                by_pid[m.passage_id].append([m.start, m.end, m.label])
        data = {tag_key(fingerprint, p.text): by_pid[p.passage_id] for p in passages}
        self._write("tags-", ".json", json.dumps(data, ensure_ascii=False).encode("utf-8"))

    def _write(self, prefix: str, suffix: str, data: bytes) -> None:
        """One part, whole or not at all; a cache that cannot be written costs the next build time, not this one."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            final = self.folder / f"{prefix}{_digest(data)}{suffix}"
            tmp = final.with_name(final.name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except OSError:
            pass

    def clear(self) -> None:
        """Forget every part (a build published, or a purge begins)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self._vectors = self._sentences = self._tags = None


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=_DIGEST).hexdigest()


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _key_array(keys: Sequence[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), _DIGEST)


def _keys_ok(keys: np.ndarray | None) -> bool:
    return keys is not None and keys.dtype == np.uint8 and keys.ndim == 2 and keys.shape[1] == _DIGEST


def _spans_ok(spans: object) -> bool:
    return isinstance(spans, list) and all(
        isinstance(s, list) and len(s) == 3 and type(s[0]) is int and type(s[1]) is int and isinstance(s[2], str)
        for s in spans)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
