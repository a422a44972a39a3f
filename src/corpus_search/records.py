"""Bibliographic records: one TOML sidecar per source, or a guess from the file."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import replace
from pathlib import Path

from corpus_search import capped, shown
from corpus_search.errors import SourceError, UsageError
from corpus_search.extractors import SUFFIXES as SOURCE_SUFFIXES
from corpus_search.extractors import unsupported_message
from corpus_search.extractors.common import slug
from corpus_search.models import Record

__all__ = ["SOURCE_SUFFIXES", "find_sources", "find_unsupported", "load_record", "with_found"]
_ID_OK = re.compile(r"[^A-Za-z0-9_.-]+")
# Control characters (C0, DEL, C1) and bidi embeddings/overrides/isolates: in a title or a name they
# could rewrite a terminal (ESC, OSC) or reorder what a reader sees; a field is one line of text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")
MAX_RECORD_KIB = 256  # a record is a few lines; a bigger one is a mistake (or /dev/zero behind a link)


def plain(value: str) -> str:
    """A record field as one line of printable text."""
    return " ".join(_CONTROL.sub(" ", value).split())


def sidecar(path: Path) -> Path:
    return path.with_suffix(".toml")


def default_doc_id(path: Path, corpus: Path) -> str:
    rel = path.relative_to(corpus).with_suffix("")
    return _ID_OK.sub("-", "-".join(rel.parts)).strip("-").lower() or "doc"


def load_record(path: Path, corpus: Path) -> Record:
    """The record beside `path`, or one guessed from the file name (marked `guessed`)."""
    toml_path = sidecar(path)
    if not os.path.lexists(toml_path):
        title = plain(path.stem.replace("_", " ").replace("-", " ")) or plain(path.name) or "untitled"
        return Record(doc_id=default_doc_id(path, corpus), title=title, type="document", guessed=True)
    if not inside(toml_path, corpus.resolve()):
        raise SourceError(f"its record {toml_path.name} is a link to a file outside the corpus folder; copy it in instead")
    try:
        data = tomllib.loads(read_record_text(toml_path))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{toml_path.name}: record is not valid TOML ({exc}); fix or delete it") from None
    return record_from_dict(data, default_doc_id(path, corpus))


def read_record_text(toml_path: Path) -> str:
    """A record file's text; a FIFO, a device or an endless file fails at once instead of hanging the build."""
    try:
        mode, data = capped.read_head(toml_path, MAX_RECORD_KIB * 1024, only_regular=True)
    except OSError as exc:
        raise SourceError(f"its record {toml_path.name} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):  # a FIFO, a device such as /dev/zero: nothing was read from it
        raise SourceError(f"its record {toml_path.name} is not a regular file; replace it with a .toml file")
    if len(data) > MAX_RECORD_KIB * 1024:
        raise SourceError(f"its record {toml_path.name} is over {MAX_RECORD_KIB} KiB; a record is a few lines of TOML")
    return data.decode("utf-8")


def record_from_dict(data: dict, fallback_id: str) -> Record:
    doc_id = str(data.get("id") or fallback_id)
    if _ID_OK.search(doc_id):
        raise SourceError(f"record id {doc_id!r} may hold only letters, digits, '.', '_' and '-'")

    def text(key: str) -> str | None:
        value = data.get(key)
        return None if value is None else plain(str(value))

    def names(key: str) -> tuple[str, ...]:
        value = data.get(key) or ()
        if isinstance(value, str):
            value = value.split(";")
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise SourceError(f"{key} {_shown(data.get(key))} is not a name or a list of names "
                              '(authors = ["Ann Author", "Bo Li"])')
        return tuple(plain(v) for v in value if plain(v))

    year = _year(data.get("year"))
    if year is None and data.get("date"):
        match = re.match(r"(\d{4})", str(data["date"]))
        year = int(match.group(1)) if match else None
    return Record(
        doc_id=doc_id,
        title=plain(str(data.get("title") or "")) or doc_id,
        authors=names("authors"),
        contributors=names("contributors"),
        type=str(data.get("type") or "report"),
        year=year,
        date=text("date"),
        publisher=text("publisher"),
        place=text("place"),
        journal=text("journal"),
        volume=text("volume"),
        issue=text("issue"),
        pages=text("pages"),
        series=text("series"),
        number=text("number"),
        version=text("version"),
        url=text("url"),
        doi=text("doi"),
        page_starts=text("page_starts"),
        page_offset=_page_offset(data.get("page_offset")),
        numbered_paragraphs=_flag(data, "numbered_paragraphs"),
        cite_by=str(data.get("cite_by") or "page"),
        password=None if data.get("password") is None else str(data["password"]),  # exactly as typed
        recipients=names("recipients"),
        title_guessed=data.get("title_guessed") is True,
    )


def _shown(value: object) -> str:
    """A value as the record holds it, on one short line, for an error message."""
    text = plain(value if isinstance(value, str) else repr(value))
    return '"' + (text if len(text) <= 40 else text[:37] + "...") + '"' if isinstance(value, str) else text[:40]


def _year(value: object) -> int | None:
    """A record's year: a whole number (2016, "2016", 2016.0), or None when not given."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceError(f"year {_shown(value)} is not a whole number (year = 2016)")
    return value


def _flag(data: dict, key: str) -> bool:
    """A yes-or-no field: true or false (or the strings "true" and "false"); "no" is not read as yes."""
    value = data.get(key, False)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise SourceError(f"{key} {_shown(value)} is not true or false ({key} = true)")
    return value


def _page_offset(value: object) -> int | None:
    """A record's page_offset: None when not given; a whole number (0 included) when it is."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)  # "4" was always read as 4
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceError(f"page_offset {value!r} is not a whole number (printed page minus the PDF's page)")
    return value


def find_sources(corpus: Path) -> list[Path]:
    """Every source file under the corpus folder, in a stable order (hidden and _ folders skipped)."""
    return [p for p in _walk(corpus) if p.suffix.lower() in SOURCE_SUFFIXES]


def _walk(corpus: Path, outside: bool = False):
    """Every file under the corpus folder that could be a source, in a stable order (hidden and _ folders skipped).

    A symbolic link to a file outside the corpus folder is no source (it would index /etc/passwd, say), nor
    a file whose name is not UTF-8 (it cannot be stored or printed): with `outside`, only those are listed.
    """
    if not corpus.is_dir():
        raise UsageError(f"corpus folder {corpus} does not exist; pass --corpus DIR")
    root = corpus.resolve()
    for path in sorted(corpus.rglob("*")):
        rel = path.relative_to(corpus)
        if any(part.startswith((".", "_")) for part in rel.parts) or not path.is_file():
            continue
        if path.name.lower() == "readme.md":
            continue
        if (inside(path, root) and shown.utf8(str(rel))) != outside:
            yield path


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, its links followed, is a file inside the (resolved) folder `root`."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a link loop
        return False


def find_unsupported(corpus: Path) -> list[tuple[Path, str]]:
    """Files under the corpus folder the build does not read, each with the reason (shown as status "skipped")."""
    found: list[tuple[Path, str]] = [
        (path, "a link to a file outside the corpus folder, which is not read; copy the file in instead"
         if shown.utf8(str(path.relative_to(corpus))) else "its name is not valid UTF-8; rename it")
        for path in _walk(corpus, outside=True)]
    files = list(_walk(corpus))
    stems = {p.with_suffix("") for p in files if p.suffix.lower() != ".toml"}
    for path in files:
        suffix = path.suffix.lower()
        if suffix == ".toml":
            if path.with_suffix("") not in stems:
                found.append((path, "a record with no source file of the same name beside it"))
        elif suffix not in SOURCE_SUFFIXES:
            found.append((path, unsupported_message(suffix)))
    return found


def with_found(record: Record, found: dict) -> Record:
    """The record with the fields a file states about itself (an HTML title, an e-mail's From) filled in
    where the .toml record leaves them empty; what the .toml says always wins."""
    if not found:
        return record
    changes: dict = {}
    title = plain(str(found.get("title") or ""))
    if title and (record.guessed or record.title_guessed or record.title == record.doc_id):
        changes["title"] = title[:500]
    for key in ("authors", "recipients"):
        names = tuple(plain(str(n)) for n in found.get(key) or () if plain(str(n)))
        if names and not getattr(record, key):
            changes[key] = names
    for key in ("date", "url", "publisher"):
        value = plain(str(found.get(key) or ""))
        if value and getattr(record, key) is None:
            changes[key] = value
    date = changes.get("date") or record.date
    if record.year is None and date:
        match = re.match(r"(\d{4})", date)
        if match:
            changes["year"] = int(match.group(1))
    if found.get("type") and record.guessed:
        changes["type"] = str(found["type"])
    return replace(record, **changes) if changes else record


def child_id(parent_id: str, key: str, name: str) -> str:
    """The doc id of a document inside another (an attachment, an mbox's message), derived from the parent's:
    "memo.att2-budget-2026", "inbox.msg14"."""
    tail = slug(name) if key.startswith("att") else ""
    return f"{parent_id}.{key}" + (f"-{tail}" if tail else "")
