"""What the extractors share: the one exception they raise, and zip archives read within a budget."""

from __future__ import annotations

import datetime
import re
import zipfile
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from corpus_search import config
from corpus_search.datelines import printed_date
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


_FILE_NAME = re.compile(r"\.(?:docx?|pdf|rtf|odt|tex|dvi|ps|indd|qxd|pages|pptx?|xlsx?|txt|html?)\s*$", re.I)
_MADE_BY = re.compile(r"^(?:Microsoft (?:Word|PowerPoint|Excel)|Word|PowerPoint)\s+-\s+", re.I)
_PLACEHOLDER = re.compile(r"^(?:untitled|document|doc|title|presentation|slide|new document|no title|none|unknown|"
                          r"default|draft|report|pdf|print|scan|scanned document|image)[\s_-]*\d*$", re.I)
_ACCOUNTS = {"admin", "administrator", "user", "owner", "author", "unknown", "default", "windows user",
             "microsoft office user", "office user", "staff", "guest", "root", "none", "anonymous", "pc", "home"}


def stated_metadata(info: dict[str, str]) -> dict[str, Any]:
    """The title and authors a file's properties (a PDF's, a Word file's) state, where they read as a title and
    names: a cited PDF with no .toml record was "R48903.3 (n.d.)" though its properties said "The Strait of
    Hormuz in Brief ..." by "John Frittelli, Ben Goldman". Left out: a file name ("Microsoft Word - draft3.docx"), a placeholder
    ("Untitled-1"), an identifier with no space, an account name ("Administrator", "jsmith")."""
    found: dict[str, Any] = {}
    title = " ".join(str(info.get("title") or "").split())
    if (len(title) > 3 and re.search(r"[^\W\d_]", title) and " " in title and not _FILE_NAME.search(title)
            and not _MADE_BY.match(title) and not _PLACEHOLDER.match(title)):
        found["title"] = title[:500]
    names = [n for n in _names(" ".join(str(info.get("author") or "").split())) if _is_name(n)]
    if names:
        found["authors"] = names[:20]
    return found


def _names(author: str) -> list[str]:
    """'A; B' as a list of names; 'A, B', 'A and B', 'A & B' too when every part reads as a person's whole name
    ("John Frittelli, Ben Goldman"), not for "Smith, John" or "Department of Health and Human Services"."""
    if ";" in author:
        return [p.strip() for p in author.split(";") if p.strip()]
    parts = [p.strip() for p in re.split(r",\s*(?:and\s+)?|\s+and\s+|\s+&\s+", author) if p.strip()]
    if len(parts) > 1 and all(_person(p) for p in parts):
        return parts
    return [author] if author else []


def _person(name: str) -> bool:
    """A person's whole name: two to four capitalised words or initials ("Anya L. Fink", "Paul K. Kerr")."""
    words = name.split()
    return 2 <= len(words) <= 4 and all(w[0].isupper() and not re.search(r"[\d@/]", w) for w in words)


def _is_name(name: str) -> bool:
    """A person's or a body's name, not an account: letters, a capital, two words or more or all capitals."""
    if not name or len(name) > 100 or name.casefold() in _ACCOUNTS or re.search(r"[\d@\\/_]", name):
        return False
    return bool(re.search(r"[^\W\d_]", name)) and name[0].isupper() and (" " in name or (name.isupper() and len(name) > 2))


def with_printed_date(found: dict[str, Any], first_page: str) -> dict[str, Any]:
    """`found` with the date the first page prints (`printed_date`), where the file's own metadata gave none."""
    if not found.get("date"):
        date = printed_date(first_page, datetime.date.today().year + 1)
        if date:
            found = {**found, "date": date}
    return found
