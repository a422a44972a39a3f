"""The index seam: what a keyword backend and a vector backend must do, and the factory that picks them.

The build writes an index generation through these protocols and `api.Corpus` / `search.Searcher`
read it through them, so a second backend is one module implementing a protocol plus one line in
KEYWORD or VECTOR below. The embedding model (vector_index.Encoder, query_encoder) is not part of a
backend: a vector backend stores and searches vectors it is given.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from corpus_search import config
from corpus_search.errors import IndexMissingError, UsageError

if TYPE_CHECKING:  # numpy stays out of `--help`
    import numpy as np

# setting value -> "module:class"; imported only when chosen
KEYWORD = {"whoosh": "corpus_search.keyword_index:KeywordIndex"}
VECTOR = {"numpy": "corpus_search.vector_index:VectorIndex"}
# The manifest names the backends that wrote a generation (setting -> name); a manifest from before
# it did was written by the only backends there were.
SETTINGS = ("keyword_backend", "vector_backend")
_BEFORE_NAMED = {"keyword_backend": "whoosh", "vector_backend": "numpy"}


# What goes into and comes out of any keyword backend: here, not in a backend's module, so a second
# backend does not import Whoosh for its types.
@dataclass(frozen=True)
class KeywordDoc:
    """One passage as a keyword backend indexes it."""

    passage_id: str
    doc_id: str
    kind: str
    text: str
    section: str


@dataclass(frozen=True)
class KeywordHits:
    """A keyword search's answer."""

    ids: list[tuple[str, float]]  # (passage_id, bm25 score), best first
    total: int
    warnings: list[str]


class KeywordBackend(Protocol):
    """Passages by words: BM25-like scores over passage ids, optionally only among `allowed` ids."""

    @classmethod
    def create(cls, folder: Path, docs: Iterable[KeywordDoc]) -> KeywordBackend: ...

    @classmethod
    def update(cls, folder: Path, remove_doc_ids: Iterable[str], docs: Iterable[KeywordDoc]) -> KeywordBackend:
        """Change a copy of the previous generation's folder: drop documents' passages, add new ones."""

    @classmethod
    def open(cls, folder: Path) -> KeywordBackend:
        """Raise IndexMissingError (saying which command rebuilds it) when the folder is unreadable."""

    @classmethod
    def is_current(cls, folder: Path) -> bool:
        """Whether a folder this backend wrote is in its current format; if not, the build writes it anew."""

    def search(self, query: str, limit: int = 100, allowed: set[str] | None = None) -> KeywordHits: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class VectorBackend(Protocol):
    """Passages by meaning: one normalised vector per passage id, top-k by dot product.

    Rows are numbered: the sentence vectors (sentences.py) refer to their passage by this row, which
    is why `ids`, `row` and `allowed_mask` are part of the protocol.
    """

    ids: Sequence[str]  # row -> passage id

    @staticmethod
    def save(folder: Path, ids: Sequence[str], matrix: np.ndarray) -> None: ...

    @classmethod
    def open(cls, folder: Path) -> VectorBackend: ...

    def __len__(self) -> int: ...

    def row(self, passage_id: str) -> int | None: ...

    def allowed_mask(self, allowed: set[str]) -> np.ndarray:
        """A boolean per row: whether the filter allows its passage."""

    def search(self, query_vec: np.ndarray, k: int = 100, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        """(passage id, cosine), best first."""


def row_order(ids: Sequence[str]) -> str:
    """A digest of an index's passage ids in row order, written by each backend at build time.

    Two backends whose digests are equal hold the same passages in the same rows (after a full build,
    the keyword and vector backends do), so a filter's boolean row mask is made once and shared by both
    (search.Allowed): a first filtered query then asks the filter about each row once, not twice.
    """
    return hashlib.sha256(json.dumps(list(ids)).encode("utf-8")).hexdigest()


def _chosen(setting: str, choices: dict[str, str]):
    name = config.get(setting).strip().lower()
    if name not in choices:
        raise UsageError(f"unknown {setting.replace('_', ' ')} {name!r} (CORPUS_SEARCH_{setting.upper()}); "
                         f"choose from {', '.join(choices)}")
    module, cls = choices[name].split(":")
    return getattr(importlib.import_module(module), cls)


def keyword_backend() -> type[KeywordBackend]:
    """The keyword backend class the `keyword_backend` setting names."""
    return _chosen("keyword_backend", KEYWORD)


def vector_backend() -> type[VectorBackend]:
    """The vector backend class the `vector_backend` setting names."""
    return _chosen("vector_backend", VECTOR)


def chosen() -> dict[str, str]:
    """The backends the settings choose, by name (setting -> name), as a manifest records them."""
    keyword_backend(), vector_backend()  # an unknown name is its own error
    return {setting: config.get(setting).strip().lower() for setting in SETTINGS}


def written_by(manifest: dict[str, Any]) -> dict[str, str]:
    """The backends that wrote a generation, from its manifest."""
    return {setting: str(manifest.get(setting, _BEFORE_NAMED[setting])) for setting in SETTINGS}


def check_written_by(manifest: dict[str, Any], generation: Path) -> None:
    """Refuse to read a generation through backends other than the ones that wrote it: one clear line."""
    wrote, chose = written_by(manifest), chosen()
    for setting in SETTINGS:
        if wrote[setting] != chose[setting]:
            raise IndexMissingError(
                f"the index {generation} was written by the {setting.replace('_', ' ')} {wrote[setting]!r}, "
                f"not {chose[setting]!r}: set CORPUS_SEARCH_{setting.upper()}={wrote[setting]}, "
                f"or run `corpus-search build` to rebuild it with {chose[setting]!r}")


def mapped(path: Path):
    """A saved array (.npy) mapped read-only from disk, as a plain ndarray; never unpickled.

    np.memmap's Python-level indexing costs: a row gather of 1,500 rows of 100k took 457 us against 219 us
    through a plain view of the same map, and a 4-row slice 0.9 us against 0.1 us. The view keeps the map open."""
    import numpy as np

    return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
