"""The semantic index: sentence-transformers embeddings, exact cosine over a float32 matrix.

Vectors are L2-normalised, so cosine is a dot product. The matrix is saved as a
plain .npy (loaded with allow_pickle=False, memory-mapped) beside a JSON list of
passage ids: nothing executable is ever read back from an index folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from corpus_search import config
from corpus_search.errors import IndexMissingError

VECTORS = "vectors.npy"
IDS = "vector_ids.json"


def model_path() -> str:
    """Folder of the embedding model, from the installed package that carries it."""
    import importlib

    package = config.get("embedding_model")
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise IndexMissingError(
            f"embedding model package {package!r} is not installed; run `make install`"
        ) from None
    return str(module.get_model_path())


def model_name() -> str:
    return "sentence-transformers/all-MiniLM-L6-v2"


class Encoder:
    """Text -> normalised embeddings, with the real model loaded once, on the CPU, offline."""

    def __init__(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        # The build draws its own progress; the libraries' bars would garble it.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TQDM_DISABLE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path(), device="cpu")
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())

    def encode(
        self, texts: Sequence[str], batch_size: int | None = None, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        batch = batch_size or config.get_int("embed_batch_size")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Length-sorted batches pad less, which is most of the cost on a CPU.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        done = 0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            vecs = self.model.encode(
                [texts[i] for i in idx], batch_size=batch, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[idx] = vecs.astype(np.float32)
            done += len(idx)
            if progress:
                progress(done)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


class VectorIndex:
    """Passage ids and their normalised embeddings; exact top-k by dot product."""

    def __init__(self, ids: list[str], matrix: np.ndarray):
        self.ids = ids
        self.matrix = matrix
        self._row = {pid: i for i, pid in enumerate(ids)}

    @staticmethod
    def save(folder: Path, ids: Sequence[str], matrix: np.ndarray) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / VECTORS, np.ascontiguousarray(matrix, dtype=np.float32), allow_pickle=False)
        (folder / IDS).write_text(json.dumps(list(ids)), encoding="utf-8")

    @classmethod
    def open(cls, folder: Path) -> VectorIndex:
        try:
            matrix = np.load(folder / VECTORS, mmap_mode="r", allow_pickle=False)
            ids = json.loads((folder / IDS).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexMissingError(f"vector index in {folder} is unreadable ({exc}); run `corpus-search build`") from None
        if matrix.ndim != 2 or matrix.shape[0] != len(ids):
            raise IndexMissingError(f"vector index in {folder} is inconsistent; run `corpus-search build`")
        return cls(ids, matrix)

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, passage_id: str) -> int | None:
        return self._row.get(passage_id)

    def vectors_for(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {pid: np.asarray(self.matrix[self._row[pid]]) for pid in ids if pid in self._row}

    def allowed_mask(self, allowed: set[str]) -> np.ndarray:
        """Which rows the filter allows (memoised on the filter's set when it can hold it: search.Allowed)."""
        def make() -> np.ndarray:
            mask = np.zeros(len(self.ids), dtype=bool)
            mask[[self._row[p] for p in allowed if p in self._row]] = True
            return mask

        memo = getattr(allowed, "memo", None)
        return memo(("vectors", id(self)), make) if memo else make()

    def search(self, query_vec: np.ndarray, k: int = 100, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        if len(self.ids) == 0:
            return []
        q = query_vec.astype(np.float32)
        if allowed is None:
            rows = None
            scores = np.asarray(self.matrix @ q)
        else:
            mask = self.allowed_mask(allowed)
            rows = np.flatnonzero(mask)
            if len(rows) == 0:
                return []
            if len(rows) > len(self.ids) // 4:
                # A common filter: scanning every row and masking beats gathering the allowed ones.
                scores = np.asarray(self.matrix @ q)[rows]
            else:
                scores = np.asarray(self.matrix[rows] @ q)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        index = top if rows is None else rows[top]
        return [(self.ids[i], float(s)) for i, s in zip(index, scores[top])]
