"""Word (.docx): paragraphs, headings, tables and footnotes, read from the zip without inflating a bomb.

Pages: a Word file has no fixed pages (they depend on the printer and fonts), so a .docx is one page
unless it holds explicit page breaks (a break of type "page", or "page break before" on a
paragraph); then each break starts a page, numbered from 1 (plus the record's page_offset).
Footnotes and endnotes: the reference becomes a number glued to the word before it ("ceasefire.3") and
the note's text goes to the foot of its page, as in a PDF, so the passage splitter lifts both the same way (and puts
each note in the section of the paragraph that refers to it, not under the page's last heading).
Tables: one line per row, cells separated by " | ", the table one paragraph (the splitter cuts a long
one between rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from corpus_search.extraction import Extraction
from corpus_search.extractors.common import (
    Unreadable,
    ZipBudget,
    local,
    open_zip,
    parse_xml,
    stated_metadata,
    with_printed_date,
)
from corpus_search.models import STATUS_EMPTY, STATUS_OK, Page, Record


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCUMENT, _CORE = "word/document.xml", "docProps/core.xml"
# Where each kind of note is kept; endnotes are numbered on with the footnotes, in the order the text refers to them.
_NOTES = {"footnote": "word/footnotes.xml", "endnote": "word/endnotes.xml"}
_PAGE = "\f"


def extract(path: Path, record: Record, isolated: bool = False) -> Extraction:
    with open_zip(path) as archive:
        names = set(archive.namelist())
        if _DOCUMENT not in names:
            raise Unreadable("not a Word document (the zip holds no word/document.xml)")
        budget = ZipBudget(archive)
        budget.check([n for n in (_DOCUMENT, *_NOTES.values(), _CORE) if n in names])
        notes = {key: text for kind, member in _NOTES.items() if member in names
                 for key, text in _notes(budget, member, kind).items()}
        body = _Body(notes)
        with budget.open(_DOCUMENT) as stream:
            body.read(stream)
        found = _core(budget) if _CORE in names else {}
    texts = body.pages()
    if not any(t.strip() for t in texts):
        return Extraction(pages=[], status=STATUS_EMPTY, message="the document holds no text", found=found)
    paged = len(texts) > 1
    pages = [Page(index=i, text=t, label=str(i + 1 + (record.page_offset or 0)) if paged else None)
             for i, t in enumerate(texts)]
    return Extraction(pages=pages, status=STATUS_OK, message="", found=with_printed_date(found, texts[0]))


def _paragraph_text(node: Element, notes: dict[str, str] | None = None, refs: list[str] | None = None) -> str:
    """A paragraph's text: runs, tabs, line and page breaks, footnote references as glued numbers."""
    parts: list[str] = []

    def walk(el: Element) -> None:
        tag = el.tag
        if local(tag) == "Fallback":
            return  # mc:AlternateContent repeats its content for old readers
        if tag == f"{_W}t" and el.text:
            parts.append(el.text)
        elif tag == f"{_W}tab":
            parts.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            parts.append(_PAGE if el.get(f"{_W}type") == "page" else "\n")
        elif tag == f"{_W}pageBreakBefore" and el.get(f"{_W}val", "true") not in ("0", "false"):
            parts.insert(0, _PAGE)
        elif tag in (f"{_W}footnoteReference", f"{_W}endnoteReference") and notes is not None and refs is not None:
            note_id = f"{local(tag)[:-len('Reference')]}:{el.get(f'{_W}id', '')}"  # "footnote:2", "endnote:2"
            if note_id in notes:
                refs.append(note_id)
                # Glued to the word before it, like a superscript in a PDF's text layer.
                while parts and parts[-1].endswith(" "):
                    parts[-1] = parts[-1].rstrip(" ")
                parts.append(str(len(refs)))
        for child in el:
            walk(child)

    walk(node)
    return "".join(parts)


class _Body:
    """Streams word/document.xml into pages of blank-line paragraphs, with each page's footnotes."""

    def __init__(self, notes: dict[str, str]):
        self.notes = notes
        self.refs: list[str] = []  # footnote ids in the order the text refers to them
        self.page: list[str] = []
        self.page_refs_from = 0
        self.done: list[str] = []
        self.table_depth = 0
        self.rows: list[str] = []
        self.cells: list[str] = []
        self.cell: list[str] = []

    def read(self, stream) -> None:
        depth = 0  # of w:p: a text box's paragraphs sit inside another paragraph
        for event, el in parse_xml(stream, ("start", "end")):
            tag = el.tag
            if tag == f"{_W}p":
                depth += 1 if event == "start" else -1
                if event == "end" and depth == 0:
                    self._paragraph(el)
                    el.clear()  # done with it: a whole parsed body is what fills memory
            elif tag == f"{_W}tbl":
                self.table_depth += 1 if event == "start" else -1
                if event == "end" and self.table_depth == 0:
                    if self.rows:
                        self.page.append("\n".join(self.rows))
                    self.rows = []
                    el.clear()
            elif event == "end" and self.table_depth == 1 and tag == f"{_W}tc":
                self.cells.append(" ".join(self.cell))
                self.cell = []
            elif event == "end" and self.table_depth == 1 and tag == f"{_W}tr":
                # An empty cell stays a cell: dropped, the cells after it moved one column left
                # ("Georgia | $3,394" under "State | 2023 | 2024"), and the row said what the table does not.
                if any(self.cells):
                    self.rows.append(" | ".join(self.cells))
                self.cells = []

    def _paragraph(self, el: Element) -> None:
        text = _paragraph_text(el, self.notes, self.refs)
        if self.table_depth:
            text = " ".join(text.replace(_PAGE, " ").split())
            if text:
                self.cell.append(text)
            return
        pieces = text.split(_PAGE)
        for i, piece in enumerate(pieces):
            if i:
                self._break()
            if piece.strip():
                self.page.append(piece.strip("\n"))

    def _break(self) -> None:
        self.done.append(self._page_text())
        self.page = []

    def _page_text(self) -> str:
        """The page's paragraphs, then the notes referred to on it, each "N text" (as a PDF's foot)."""
        feet = [f"{n} {self.notes[self.refs[n - 1]]}" for n in range(self.page_refs_from + 1, len(self.refs) + 1)]
        self.page_refs_from = len(self.refs)
        return "\n\n".join(self.page + feet)

    def pages(self) -> list[str]:
        last = self._page_text()
        pages = self.done + [last]
        # Breaks at the very start or end open no real page.
        while len(pages) > 1 and not pages[-1].strip():
            pages.pop()
        while len(pages) > 1 and not pages[0].strip():
            pages.pop(0)
        return pages


def _notes(budget: ZipBudget, member: str, kind: str) -> dict[str, str]:
    """"footnote:id" (or "endnote:id") -> the note's text (the separator pseudo-notes left out)."""
    notes: dict[str, str] = {}
    with budget.open(member) as stream:
        for _, el in parse_xml(stream):
            if el.tag == f"{_W}{kind}":
                if el.get(f"{_W}type") in (None, "normal"):
                    paragraphs = [_paragraph_text(p) for p in el.iter(f"{_W}p")]
                    text = " ".join(" ".join(paragraphs).split())
                    if text:
                        notes[f"{kind}:{el.get(f'{_W}id', '')}"] = text
                el.clear()
    return notes


def _core(budget: ZipBudget) -> dict[str, Any]:
    """The title Word keeps in the file's properties, and its author where it reads as a name (not an account
    name such as "Administrator" or "jsmith": the rules a PDF's author gets)."""
    info: dict[str, str] = {}
    with budget.open(_CORE) as stream:
        for _, el in parse_xml(stream):
            tag = local(el.tag)
            if tag in ("title", "creator") and (el.text or "").strip() and tag not in info:
                info[tag] = el.text
    found = stated_metadata({"author": info.get("creator", "")})
    if info.get("title", "").strip():
        found["title"] = " ".join(info["title"].split())
    return found
