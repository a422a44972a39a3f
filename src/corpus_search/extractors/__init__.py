"""One extractor per source format, found by file suffix: the build never branches on the format.

An extractor is a function `(path, record, isolated) -> extraction.Extraction`: the file's pages (models.Page),
a status and a one-line message, plus any record fields the file states and any documents inside it
(an e-mail's attachments). It never raises for a bad file, except `Unreadable` with the reason a user
reads. It runs inside the per-source worker (source_worker.py) under its time and memory caps;
`isolated` says so, for extractors that would otherwise start a worker of their own (PDF).

Adding a format is one new module here (with `extract`) and one line in `_REGISTRY`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

from corpus_search.extraction import Extraction
from corpus_search.models import Record

__all__ = ["Extractor", "SUFFIXES", "Unreadable", "for_suffix", "reader_version", "unsupported_message"]


class Extractor(Protocol):
    def __call__(self, path: Path, record: Record, isolated: bool) -> Extraction: ...


class Unreadable(Exception):
    """A source that cannot be read; the message is the one line the user sees."""


# The registration: suffix -> the module of this package that reads it (its `extract`). Modules are
# imported on first use, so listing the formats (records, the CLI's start) costs nothing.
_REGISTRY = {
    ".pdf": "pdf",
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".eml": "mail",
    ".mbox": "mail",
    ".epub": "epub",
}
SUFFIXES: tuple[str, ...] = tuple(_REGISTRY)
# A reader's own version, raised when what it makes of a file changes: the next build reads again only the
# files of that reader (build_plan.source_key), where a PIPELINE_VERSION bump reads every source. A reader
# missing here has none. Kept here, not in the modules, so planning a build imports no reader.
_READER_VERSIONS = {"markdown": "1", "pdf": "1"}  # pdf 1: the title and authors of its information dictionary
# Readers whose files hold documents read by other readers (an e-mail's attachments): their key carries
# every reader's version, as an attached .md is read by the Markdown reader.
_CONTAINERS = frozenset({"mail"})


def for_suffix(suffix: str) -> Extractor | None:
    """The extractor for a suffix (".docx"), or None when no module reads it."""
    name = _REGISTRY.get(suffix.lower())
    return None if name is None else importlib.import_module(f"{__name__}.{name}").extract


def reader_version(suffix: str) -> str:
    """The own version of the reader of `suffix` (_READER_VERSIONS), or "" when it has none; for a container
    (an e-mail), those of every reader its attachments may need."""
    name = _REGISTRY.get(suffix.lower(), "")
    if name in _CONTAINERS:
        return ",".join(f"{reader}={version}" for reader, version in sorted(_READER_VERSIONS.items()))
    return _READER_VERSIONS.get(name, "")


def unsupported_message(suffix: str) -> str:
    what = suffix if suffix else "a file without a suffix"
    return f"{what} is not a supported format (supported: {', '.join(SUFFIXES)})"
