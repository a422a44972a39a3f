"""Export passages and quotations with their citations, in formats reference managers import."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from corpus_search import cite as citing
from corpus_search.errors import UsageError
from corpus_search.models import Passage, Record

FORMATS = ("csv", "bibtex", "ris", "csl-json", "markdown")
CSV_COLUMNS = ("passage_id", "doc_id", "authors", "title", "year", "publisher", "journal", "page", "page_end",
               "paragraph", "locator", "quote", "note", "citation")
# Spreadsheets read a cell starting with these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_:.\-]+")


@dataclass(frozen=True)
class ExportItem:
    """A passage to export; with `quote` (and its offsets in the passage) a quotation from it."""

    passage: Passage
    record: Record
    quote: str | None = None
    offset: int | None = None
    end_offset: int | None = None
    note: str = ""

    @property
    def text(self) -> str:
        return self.quote if self.quote is not None else self.passage.text

    def locator(self) -> citing.Locator:
        return citing.find_locator(self.record, self.passage, self.offset, self.end_offset)


def export(items: Sequence[ExportItem], fmt: str) -> str:
    """The items in one of FORMATS; each item is one entry, so every quotation keeps its own page."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    keys = _keys(items)
    if fmt == "csv":
        return _csv(items)
    if fmt == "bibtex":
        return "\n\n".join(citing.bibtex(i.record, i.locator(), key, _note(i)) for i, key in zip(items, keys)) + "\n"
    if fmt == "ris":
        return "\n".join(_ris(i, key) for i, key in zip(items, keys))
    if fmt == "csl-json":
        data = [citing.csl_json(i.record, i.locator(), key, _note(i)) for i, key in zip(items, keys)]
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return _markdown(items)


def _safe_key(doc_id: str) -> str:
    # A key is written bare (BibTeX "@misc{KEY,", RIS "ID  - KEY"): keep only characters that cannot
    # end it or start another entry, whatever a file name held.
    return _KEY_UNSAFE.sub("-", doc_id).strip("-") or "item"


def _keys(items: Sequence[ExportItem]) -> list[str]:
    """Citation keys: the doc id, made unique per item ("makocki2016", "makocki2016-p34")."""
    counts = Counter(_safe_key(i.record.doc_id) for i in items)
    keys: list[str] = []
    for item in items:
        key = _safe_key(item.record.doc_id)
        if counts[key] > 1:
            loc = item.locator()
            key = _safe_key(f"{key}-{'p' if loc.label == 'page' else 'para'}{loc.value}") if loc.label else key
        base, n = key, 2
        while key in keys:
            key, n = f"{base}-{n}", n + 1
        keys.append(key)
    return keys


def _note(item: ExportItem) -> str:
    """What a reference manager keeps as the entry's note: the quotation (or passage) and the user's note."""
    quoted = f"“{item.text}” ({item.locator().text() or item.passage.passage_id})"
    return f"{quoted} {item.note}".strip()


def _ris(item: ExportItem, key: str) -> str:
    # citing.ris writes every value on one line (whitespace, line breaks included, collapsed), so no
    # value can start a tag of its own; the ID line is replaced by the safe key.
    entry = citing.ris(item.record, item.locator(), _note(item))
    head, _, rest = entry.partition("\n")
    _, _, rest = rest.partition("\n")
    return f"{head}\nID  - {key}\n{rest}"


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: one starting like a formula gets a leading quote (OWASP).
    Every CSV the tool writes (this export, `screen --csv`, the app's downloads) passes its cells here."""
    if isinstance(value, str) and value and value[0] in _FORMULA_START:
        return "'" + value
    return value


def _csv(items: Sequence[ExportItem]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        r, p, loc = item.record, item.passage, item.locator()
        writer.writerow(csv_cell(v) for v in [
            p.passage_id, p.doc_id, "; ".join(r.authors), r.title, r.year or "", r.publisher or "", r.journal or "",
            loc.first if loc.label == "page" else (p.page or ""),
            loc.last if loc.label == "page" else (p.page_end or ""),
            p.paragraph if p.paragraph is not None else "", loc.text(), item.text, item.note,
            citing.cite(r, p, "chicago", item.offset, item.end_offset),
        ])
    return out.getvalue()


def _markdown(items: Sequence[ExportItem]) -> str:
    blocks = []
    for n, item in enumerate(items, 1):
        # The record's words are escaped before the citation adds its own emphasis around the title.
        cited = citing.cite(_md_record(item.record), item.passage, "chicago", item.offset, item.end_offset,
                            em=("*", "*"))
        quoted = "\n".join(f"> {line}" if line else ">" for line in _md_escape(item.text).splitlines())
        block = f"{n}. {cited} [`{item.passage.passage_id.replace('`', '')}`]\n\n{_indent(quoted)}"
        if item.note:
            block += f"\n\n{_indent(_md_escape(item.note))}"
        blocks.append(block)
    return "\n\n".join(blocks) + "\n"


def _md_record(record: Record) -> Record:
    """The record with every text field on one line and Markdown-escaped."""
    changes = {f.name: _md_escape(" ".join(v.split())) for f in dataclasses.fields(record)
               if f.name not in ("doc_id", "url", "doi") and isinstance(v := getattr(record, f.name), str)}
    changes["authors"] = tuple(_md_escape(" ".join(a.split())) for a in record.authors)
    changes["contributors"] = tuple(_md_escape(" ".join(a.split())) for a in record.contributors)
    return dataclasses.replace(record, **changes)


def _md_escape(text: str) -> str:
    # Source text may hold characters Markdown reads as markup; show them as written.
    return "".join(f"\\{ch}" if ch in "\\`*_[]<>#|!()" else ch for ch in text)


def _indent(text: str) -> str:
    return "\n".join(f"   {line}" for line in text.splitlines())
