"""The semantic index: sentence-transformers embeddings, cosine over a float32 matrix.

Vectors are L2-normalised, so cosine is a dot product. The matrix is saved as a
plain .npy (loaded with allow_pickle=False, memory-mapped) beside a JSON list of
passage ids: nothing executable is ever read back from an index folder.

The first pass: scanning 100k x 384 float32 (150 MB) costs ~7 ms a query, at memory
bandwidth. The build also saves the vectors projected on their first principal directions
(`vectors_reduced.npy`, 96 of 384 by default, and the basis in `vector_basis.npy`); a large
index is scanned in that quarter of the bytes, and the best `first_pass_rescore` rows are
re-scored exactly with the full vectors, so the scores returned are exact and only a passage
that the reduced scan ranks below 2,000 others could be missed (measured in BENCHMARKS.md).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from corpus_search import config
from corpus_search.backends import mapped, row_order
from corpus_search.errors import IndexMissingError, UsageError

VECTORS = "vectors.npy"
IDS = "vector_ids.json"
ROWS = "vector_rows.json"  # backends.row_order of IDS, so the keyword backend can share a filter's row mask
BASIS = "vector_basis.npy"
REDUCED = "vectors_reduced.npy"
_FIT_ROWS = 50_000  # rows the basis is fitted on: at 100k the directions are already settled


def fit_basis(matrix: np.ndarray, dims: int) -> np.ndarray | None:
    """(dim, dims) directions that keep most of the vectors' dot products (uncentred PCA), or None for none."""
    if dims <= 0 or dims >= matrix.shape[1] or len(matrix) <= dims:
        return None
    sample = matrix
    if len(matrix) > _FIT_ROWS:  # seeded, so a rebuild of the same vectors writes the same files
        sample = matrix[np.sort(np.random.default_rng(0).choice(len(matrix), _FIT_ROWS, replace=False))]
    sample = np.asarray(sample, dtype=np.float64)
    _, vectors = np.linalg.eigh(sample.T @ sample)  # ascending eigenvalues
    return np.ascontiguousarray(vectors[:, ::-1][:, :dims], dtype=np.float32)


def first_pass_pool(rows: int, k: int) -> int | None:
    """Rows a first pass re-scores exactly for a top k of `rows`, or None when an exact scan is the better way."""
    if rows < config.get_int("first_pass_min_rows"):
        return None
    pool = max(config.get_int("first_pass_rescore"), 4 * k)
    return pool if pool < rows // 2 else None


_threads = None


def blas_threads(n: int):
    """A context in which BLAS uses at most n threads (0: as many as it likes)."""
    global _threads
    if n <= 0:
        return contextlib.nullcontext()
    if _threads is None:
        from threadpoolctl import ThreadpoolController

        _threads = ThreadpoolController()  # made once: making one scans the loaded libraries
    return _threads.limit(limits=n, user_api="blas")


def to_bf16(reduced: np.ndarray):
    """Reduced vectors as a torch bfloat16 tensor (a copy in RAM) for `reduced_scores`.

    A first pass in bfloat16 reads half the bytes of one in float32. The bytes are what counted: at 100k passages
    the scans (passages and long passages' sentences, 110 MB in float32) pushed the query encoder's weights out of
    the caches, and encoding a query took 6.7 ms inside a search against 4.2 ms alone. Only the first pass's
    ranking changes: its best rows are re-scored exactly in float32 (`rescored`), as before."""
    import torch

    return torch.from_numpy(np.array(reduced, dtype=np.float32)).to(torch.bfloat16)


def reduced_scores(reduced, qr: np.ndarray) -> np.ndarray:
    """Approximate scores of reduced rows (float32 NumPy, or a to_bf16 tensor) against a reduced query."""
    if isinstance(reduced, np.ndarray):
        return np.asarray(reduced @ qr)
    import torch

    from corpus_search.query_encoder import one_torch_thread

    with one_torch_thread(), torch.inference_mode():
        q = torch.from_numpy(np.ascontiguousarray(qr, dtype=np.float32)).to(torch.bfloat16)
        return torch.mv(reduced, q).float().numpy()


def rescored(approx: np.ndarray, full: np.ndarray, q: np.ndarray, pool: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, exact scores) of the `pool` rows with the best approximate scores (-inf rows left out)."""
    cand = np.argpartition(-approx, pool - 1)[:pool]
    cand = np.sort(cand[approx[cand] > -np.inf])  # in row order, the gather reads the memory map forward
    return cand, np.asarray(full[cand]) @ q


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
    """Passage ids and their normalised embeddings; top-k by dot product (exact scores; a large index first
    scans its reduced vectors, see the module's docstring)."""

    def __init__(self, ids: list[str], matrix: np.ndarray, basis: np.ndarray | None = None,
                 reduced: np.ndarray | None = None, rows: str | None = None):
        self.ids = ids
        self.rows = rows  # backends.row_order(ids) as the build wrote it; None: share no row mask
        self.matrix = matrix
        self.basis = basis  # None: an index built without a first pass (or before it existed) is scanned exactly
        self.reduced = reduced
        self.bf16 = False  # first pass in bfloat16 wanted (set where torch is loaded anyway; see scans_bf16)
        self._bf16 = None
        self._bf16_ok: bool | None = None
        self._row = {pid: i for i, pid in enumerate(ids)}

    @staticmethod
    def save(folder: Path, ids: Sequence[str], matrix: np.ndarray) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        np.save(folder / VECTORS, matrix, allow_pickle=False)
        (folder / IDS).write_text(json.dumps(list(ids)), encoding="utf-8")
        (folder / ROWS).write_text(json.dumps({"rows": row_order(ids)}), encoding="utf-8")
        # Derived from the whole matrix on every build, so an incremental build's is that of a full one.
        basis = fit_basis(matrix, config.get_int("first_pass_dims"))
        if basis is None:
            (folder / BASIS).unlink(missing_ok=True)
            (folder / REDUCED).unlink(missing_ok=True)
        else:
            np.save(folder / BASIS, basis, allow_pickle=False)
            np.save(folder / REDUCED, matrix @ basis, allow_pickle=False)

    @classmethod
    def open(cls, folder: Path) -> VectorIndex:
        try:
            matrix = mapped(folder / VECTORS)
            ids = json.loads((folder / IDS).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexMissingError(f"vector index in {folder} is unreadable ({exc}); run `corpus-search build`") from None
        if matrix.ndim != 2 or matrix.shape[0] != len(ids):
            raise IndexMissingError(f"vector index in {folder} is inconsistent; run `corpus-search build`")
        basis = reduced = None
        if (folder / BASIS).exists():
            try:
                basis = np.load(folder / BASIS, allow_pickle=False)
                reduced = mapped(folder / REDUCED)
            except (OSError, ValueError) as exc:
                raise IndexMissingError(f"vector index in {folder} is unreadable ({exc}); "
                                        "run `corpus-search build`") from None
            if (basis.ndim != 2 or basis.shape[0] != matrix.shape[1] or basis.dtype != np.float32
                    or reduced.dtype != np.float32 or reduced.shape != (len(ids), basis.shape[1])):
                raise IndexMissingError(f"vector index in {folder} is inconsistent; run `corpus-search build`")
        try:  # an index from before the digest existed shares no mask
            rows = json.loads((folder / ROWS).read_text(encoding="utf-8")).get("rows")
        except (OSError, ValueError, AttributeError):
            rows = None
        return cls(ids, matrix, basis, reduced, rows if isinstance(rows, str) and rows else None)

    def __len__(self) -> int:
        return len(self.ids)

    def scans_bf16(self) -> bool:
        """Whether first passes run in bfloat16: wanted (`bf16`), allowed (setting first_pass_bf16, read each time),
        and this CPU multiplies bfloat16 natively (else torch emulates it, slower than float32; asked once)."""
        if not self.bf16 or self.reduced is None:
            return False
        setting = config.get("first_pass_bf16").strip().lower()
        if setting not in ("auto", "0"):
            raise UsageError(f"unknown first_pass_bf16 {setting!r} (CORPUS_SEARCH_FIRST_PASS_BF16); choose auto or 0")
        if setting == "0":
            return False
        if self._bf16_ok is None:
            from corpus_search.query_encoder import bf16_is_fast

            self._bf16_ok = bf16_is_fast()
        return self._bf16_ok

    def row(self, passage_id: str) -> int | None:
        return self._row.get(passage_id)

    def vectors_for(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {pid: np.asarray(self.matrix[self._row[pid]]) for pid in ids if pid in self._row}

    def allowed_mask(self, allowed: set[str]) -> np.ndarray:
        """Which rows the filter allows (memoised on the filter's set when it can hold it: search.Allowed)."""
        def make() -> np.ndarray:
            if len(allowed) > len(self.ids) // 8:
                # A common filter: asking the filter about each row, in C, is 3x faster than looking up
                # each allowed id (25 -> 8 ms of CPU for "Russia"'s 40,635 of 100k passages).
                return np.fromiter(map(allowed.__contains__, self.ids), dtype=bool, count=len(self.ids))
            mask = np.zeros(len(self.ids), dtype=bool)
            mask[[self._row[p] for p in allowed if p in self._row]] = True
            return mask

        memo = getattr(allowed, "memo", None)
        key = ("rows", self.rows) if self.rows else ("vectors", id(self))  # shared with a keyword backend in the same rows
        return memo(key, make) if memo else make()

    def search(self, query_vec: np.ndarray, k: int = 100, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        if len(self.ids) == 0:
            return []
        q = query_vec.astype(np.float32)
        if allowed is None:
            rows = None
            fast = self._first_pass(q, k)
            if fast is not None:
                return fast
            scores = np.asarray(self.matrix @ q)
        else:
            mask = self.allowed_mask(allowed)
            rows = np.flatnonzero(mask)
            if len(rows) == 0:
                return []
            fast = self._first_pass(q, k, mask, len(rows)) if len(rows) > len(self.ids) // 4 else None
            if fast is not None:
                return fast
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

    def _first_pass(self, q: np.ndarray, k: int, mask: np.ndarray | None = None,
                    allowed: int | None = None) -> list[tuple[str, float]] | None:
        """Top k by a scan of the reduced vectors, its best rows re-scored exactly; None: scan exactly instead."""
        pool = None if self.basis is None else first_pass_pool(allowed or len(self.ids), k)
        if pool is None:
            return None
        reduced = self.reduced
        if self.scans_bf16():
            if self._bf16 is None:
                self._bf16 = to_bf16(self.reduced)
            reduced = self._bf16
        approx = reduced_scores(reduced, q @ self.basis)
        if mask is not None:
            approx[~mask] = -np.inf
        rows, scores = rescored(approx, self.matrix, q, pool)
        k = min(k, len(rows))
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(s)) for i, s in zip(rows[top], scores[top])]
