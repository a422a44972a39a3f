"""One extractor per source format, found by file suffix: the build never branches on the format.

An extractor is a function `(path, record, isolated) -> ingest.Extraction`: the file's pages (models.Page),
a status and a one-line message, plus any record fields the file states and any documents inside it
(an e-mail's attachments). It never raises for a bad file, except `Unreadable` with the reason a user
reads. It runs inside the per-source worker (source_worker.py) under its time and memory caps;
`isolated` says so, for extractors that would otherwise start a worker of their own (PDF).

Adding a format is one new module here (with `SUFFIXES` and `extract`) and one line in `_MODULES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from corpus_search.extractors import docx, epub, html, mail, pdf, text
from corpus_search.extractors.common import Unreadable

if TYPE_CHECKING:
    from corpus_search.ingest import Extraction
    from corpus_search.models import Record

__all__ = ["Extractor", "SUFFIXES", "Unreadable", "for_suffix", "unsupported_message"]


class Extractor(Protocol):
    def __call__(self, path: Path, record: Record, isolated: bool) -> Extraction: ...


# The registration: a format's module lists its suffixes and offers `extract`.
_MODULES = (pdf, text, docx, html, mail, epub)
_BY_SUFFIX: dict[str, Extractor] = {suffix: module.extract for module in _MODULES for suffix in module.SUFFIXES}
SUFFIXES: tuple[str, ...] = tuple(_BY_SUFFIX)


def for_suffix(suffix: str) -> Extractor | None:
    """The extractor for a lower-case suffix (".docx"), or None when no module reads it."""
    return _BY_SUFFIX.get(suffix.lower())


def unsupported_message(suffix: str) -> str:
    what = suffix if suffix else "a file without a suffix"
    return f"{what} is not a supported format (supported: {', '.join(SUFFIXES)})"
