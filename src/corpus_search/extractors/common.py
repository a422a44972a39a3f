"""What the extractors share: the one exception they raise, and zip archives read within a budget."""

from __future__ import annotations

import re
import zipfile
from typing import IO
from xml.etree.ElementTree import ParseError

from corpus_search import config
from corpus_search.extractors import Unreadable

__all__ = ["Unreadable", "ZipBudget", "local", "open_zip", "parse_xml", "slug"]


_MIB = 1024 * 1024


class ZipBudget:
    """Reads members of a zip (a .docx, an .epub) without letting a zip bomb inflate.

    Checked twice: before inflating, the sizes and ratios the archive declares; while inflating,
    the bytes actually produced, since a hostile archive can declare anything.
    """

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.left = config.get_int("max_unzipped_mb") * _MIB
        self.max_ratio = config.get_float("max_zip_ratio")

    def check(self, names: list[str]) -> None:
        """Refuse before inflating anything when the members to read declare too much."""
        infos = [self.archive.getinfo(n) for n in names]
        declared = sum(i.file_size for i in infos)
        if declared > self.left:
            raise Unreadable(f"refused: it would unzip to {declared / _MIB:.0f} MiB, over the "
                             f"{self.left // _MIB} MiB limit (a zip bomb?); raise CORPUS_SEARCH_MAX_UNZIPPED_MB to allow more")
        for info in infos:
            # Small members may compress well by chance; a bomb is large and absurdly compressed.
            if info.file_size > _MIB and info.file_size > self.max_ratio * max(info.compress_size, 1):
                ratio = info.file_size / max(info.compress_size, 1)
                raise Unreadable(f"refused: {info.filename} is compressed {ratio:.0f}:1, over the "
                                 f"{self.max_ratio:g}:1 limit (a zip bomb?); raise CORPUS_SEARCH_MAX_ZIP_RATIO to allow more")

    def open(self, name: str) -> IO[bytes]:
        self.check([name])
        return _Capped(self.archive.open(name), self)

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            return stream.read()


class _Capped:
    """A file-like view of one zip member that stops at the budget's byte limit."""

    def __init__(self, stream: IO[bytes], budget: ZipBudget):
        self.stream = stream
        self.budget = budget

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(min(size, self.budget.left + 1) if size and size > 0 else self.budget.left + 1)
        self.budget.left -= len(chunk)
        if self.budget.left < 0:
            raise Unreadable("refused: it unzips to more than CORPUS_SEARCH_MAX_UNZIPPED_MB allows (a zip bomb?)")
        return chunk

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> _Capped:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_zip(path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise Unreadable(f"not a readable zip archive ({exc})") from None


def parse_xml(stream: IO[bytes], events: tuple[str, ...] = ("end",)):
    """Iterate (event, element) over XML that may not declare entities (no billion laughs) or fetch anything."""
    # defusedxml only when a zip format is read: the CLI's start loads this module to list the formats.
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    try:
        yield from iterparse(stream, events=events, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Unreadable(f"refused: its XML declares entities ({type(exc).__name__}; an entity-expansion bomb?)") from None
    except ParseError as exc:
        raise Unreadable(f"broken XML ({exc})") from None


def local(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def slug(name: str, most: int = 30) -> str:
    """A doc-id-safe short form of a name ("Q3 report (final).pdf" -> "q3-report-final")."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:most].strip("-")
