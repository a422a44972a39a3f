"""Adding and removing sources from the app: safe names, one copy per content, hand-written TOML records.

An uploaded file is stored as `uploads/<sha256[:16]>.<ext>` inside the corpus
folder, whatever the browser called it (names like `../../x.pdf`, absolute
paths, NUL bytes and 300-character names never reach the file system). The
same bytes uploaded twice are stored once. Its record is written beside it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from corpus_search import config
from corpus_search.errors import UsageError
from corpus_search.ingest import sha256_file
from corpus_search.records import (SOURCE_SUFFIXES, default_doc_id, find_sources, inside, load_record, read_record_text,
                                   sidecar)
from corpus_search.trash import remove

UPLOAD_DIR = "uploads"
RECORD_TYPES = ("report", "article", "book", "chapter", "webpage", "document")
_MAX_FIELD = 1000


@dataclass(frozen=True)
class UploadRecord:
    """The bibliographic fields the upload form asks for."""

    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    type: str = "report"
    publisher: str | None = None
    journal: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # further string fields (place, url, doi, ...)


@dataclass(frozen=True)
class Saved:
    """Where an upload ended up."""

    path: Path  # the stored source
    record_path: Path
    doc_id: str
    duplicate: bool  # True when the same content was already in the corpus (nothing written)


def suffix_of(filename: str) -> str:
    """The lower-case source suffix of a browser-supplied file name ('.pdf'), or UsageError."""
    name = filename.replace("\x00", "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    _, dot, ext = name.rpartition(".")
    suffix = ("." + ext.lower()) if dot else ""
    if suffix not in SOURCE_SUFFIXES:
        allowed = ", ".join(s.lstrip(".") for s in SOURCE_SUFFIXES)
        raise UsageError(f"cannot add {_shown(filename)}: only {allowed} files can be added")
    return suffix


def check_content(data: bytes, suffix: str) -> None:
    """Refuse content that cannot be the kind of file its suffix says, before it is stored."""
    if not data:
        raise UsageError("the file is empty")
    limit = config.get_int("max_source_mb") * 1024 * 1024
    if len(data) > limit:
        raise UsageError(f"the file is larger than {limit // (1024 * 1024)} MiB (setting CORPUS_SEARCH_MAX_SOURCE_MB)")
    if suffix == ".pdf":
        if b"%PDF-" not in data[:1024]:
            raise UsageError("the file does not look like a PDF (no %PDF- header)")
    elif suffix in (".docx", ".epub"):
        if not data.startswith(b"PK\x03\x04"):
            raise UsageError(f"the file does not look like a {suffix} (it is not a zip archive)")
    elif suffix in (".txt", ".md", ".markdown"):
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UsageError(f"a {suffix} file must be UTF-8 text") from None
    elif b"\x00" in data[:65536] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Web pages and mail may be in any 8-bit encoding, but never hold NUL bytes.
        raise UsageError(f"the file does not look like a {suffix} (it holds binary bytes)")


def save_upload(corpus: Path, filename: str, data: bytes, record: UploadRecord) -> Saved:
    """Store `data` under a generated name in `corpus/uploads/` with its TOML record; dedupe by content."""
    suffix = suffix_of(filename)
    check_content(data, suffix)
    title = _clean(record.title) or _clean(_stem(filename)) or "Untitled upload"
    if record.type not in RECORD_TYPES:
        raise UsageError(f"unknown record type {record.type!r}; choose from {', '.join(RECORD_TYPES)}")
    if record.year is not None and not 0 < int(record.year) < 10000:
        raise UsageError(f"year {record.year} is not a four-digit year")
    corpus = Path(corpus)
    if not corpus.is_dir():
        raise UsageError(f"corpus folder {corpus} does not exist")

    digest = hashlib.sha256(data).hexdigest()
    existing = find_duplicate(corpus, digest, len(data))
    if existing is not None:
        return Saved(existing, sidecar(existing), _doc_id_of(existing, corpus), duplicate=True)

    folder = corpus / UPLOAD_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"{digest[:_NAME_HEX]}{suffix}"
    doc_id = default_doc_id(path, corpus)
    fields: dict[str, object] = {
        "id": doc_id,
        "title": title,
        "authors": [a for a in (_clean(a) for a in record.authors) if a],
        "type": record.type,
    }
    if record.year is not None:
        fields["year"] = int(record.year)
    for key in ("publisher", "journal"):
        value = _clean(getattr(record, key) or "")
        if value:
            fields[key] = value
    for key, value in record.extra.items():
        if re.fullmatch(r"[a-z_]{1,30}", key) and key not in fields and _clean(value):
            fields[key] = _clean(value)
    if not _clean(record.title):
        # Only the file name: the title a web page, e-mail or Word file states (its <title>, Subject) wins at the build.
        fields["title_guessed"] = True
    fields["uploaded_as"] = _clean(filename.rsplit("/", 1)[-1])[:200]
    fields["sha256"] = digest

    # Record first, then the source: a build never sees a source without its record.
    record_path = sidecar(path)
    _write_atomic(record_path, to_toml(fields).encode("utf-8"))
    _write_atomic(path, data)
    return Saved(path, record_path, doc_id, duplicate=False)


_NAME_HEX = 16  # an upload is stored as the first hex digits of its SHA-256


def generated_name(rel_path: str) -> bool:
    """Whether a source's path is a name save_upload made (not one a person chose): the app names it by its title."""
    path = Path(rel_path)
    return path.parent.as_posix() == UPLOAD_DIR and re.fullmatch(f"[0-9a-f]{{{_NAME_HEX}}}", path.stem) is not None


def set_password(corpus: Path, rel_path: str, password: str) -> Path:
    """Give an encrypted source's record its password (`password = "..."`, what a user would type there), so the
    next build can open it. The record's other lines, comments included, are kept as they are."""
    if not password or "\n" in password or "\r" in password:
        raise UsageError("type the document's password (one line)")
    source = (Path(corpus) / rel_path).resolve()
    if not source.is_relative_to(Path(corpus).resolve()) or not source.is_file():
        raise UsageError(f"no source {rel_path!r} in the corpus folder")
    record = sidecar(source)
    line = tomli_w.dumps({"password": password})  # quoted and escaped as TOML wants
    text = read_record_text(record) if os.path.lexists(record) else ""
    lines = text.splitlines(keepends=True)
    kept = [x for x in lines if not re.match(r"\s*password\s*=", x)]
    # A top-level key goes before the first [table] header.
    at = next((i for i, x in enumerate(kept) if x.lstrip().startswith("[")), len(kept))
    if at and not kept[at - 1].endswith("\n"):
        kept[at - 1] += "\n"
    kept.insert(at, line)
    _write_atomic(record, "".join(kept).encode("utf-8"))
    return record


def find_duplicate(corpus: Path, digest: str, size: int) -> Path | None:
    """A source already in the corpus with these exact bytes, if any."""
    guess = list((corpus / UPLOAD_DIR).glob(f"{digest[:16]}.*")) if (corpus / UPLOAD_DIR).is_dir() else []
    root = corpus.resolve()
    candidates = [p for p in guess if p.suffix.lower() in SOURCE_SUFFIXES and inside(p, root)] + find_sources(corpus)
    for path in candidates:
        try:
            if path.stat().st_size == size and sha256_file(path) == digest:
                return path
        except OSError:
            continue
    return None


def remove_source(corpus: Path, rel_path: str):
    """Move a source (given relative to the corpus, as Document.path has it) to the corpus trash; see trash.py.

    Never a plain delete: a removal can be undone (`restore`), and `purge` is the one way to delete for good.
    """
    return remove(corpus, rel_path)


# -- TOML ------------------------------------------------------------------------------------
def to_toml(fields: dict[str, object]) -> str:
    """Top-level keys holding strings, ints, bools or lists of strings, as TOML (written by tomli_w)."""
    for key, value in fields.items():
        # Only the record's own bare keys: a key that needs quoting is a caller's mistake, not data.
        if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
            raise ValueError(f"bad TOML key {key!r}")
        if not isinstance(value, (bool, int, str, list, tuple)):
            raise ValueError(f"cannot write {type(value).__name__} to TOML")
    values = {k: [str(v) for v in value] if isinstance(value, (list, tuple)) else value for k, value in fields.items()}
    return "# Bibliographic record written by the corpus-search app (see corpus/README.md).\n" + tomli_w.dumps(values)


# -- helpers ---------------------------------------------------------------------------------
def _clean(text: str) -> str:
    """One line of printable text, bounded in length."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return " ".join(text.split())[:_MAX_FIELD]


def _stem(filename: str) -> str:
    name = filename.replace("\x00", "").replace("\\", "/").rsplit("/", 1)[-1]
    return name.rpartition(".")[0] or name


def _shown(name: str) -> str:
    name = _clean(name)
    return repr(name if len(name) <= 60 else name[:57] + "...")


def _doc_id_of(path: Path, corpus: Path) -> str:
    try:
        return load_record(path, corpus).doc_id
    except Exception:  # a broken record still names a document the user can find
        return default_doc_id(path, corpus)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
