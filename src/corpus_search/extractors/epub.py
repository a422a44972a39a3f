"""EPUB: the book's chapters in reading order, each read as a web page; title, author, date from its package.

Pages: an e-book has no fixed pages, so each chapter file of the spine is one page, without a
printed number. The zip is read within the same budget as a .docx; the package files are XML that
may not declare entities; the chapters go through the HTML reader, which expands none.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from corpus_search.extraction import Extraction
from corpus_search.extractors.common import Unreadable, ZipBudget, local, open_zip, parse_xml
from corpus_search.extractors.html import decode_html, normalise_date, read_html
from corpus_search.models import STATUS_EMPTY, STATUS_OK, Page, Record



def extract(path: Path, record: Record, isolated: bool = False) -> Extraction:
    with open_zip(path) as archive:
        names = set(archive.namelist())
        if "META-INF/container.xml" not in names:
            raise Unreadable("not an EPUB (the zip holds no META-INF/container.xml)")
        budget = ZipBudget(archive)
        opf = _rootfile(budget)
        if opf not in names:
            raise Unreadable(f"not a readable EPUB (its package file {opf} is missing)")
        spine, found = _package(budget, opf)
        chapters = [n for n in spine if n in names]
        budget.check(chapters)
        texts = [read_html(decode_html(budget.read(n)))[0] for n in chapters]
    pages = [Page(index=i, text=t) for i, t in enumerate(t for t in texts if t.strip())]
    if not pages:
        return Extraction(pages=[], status=STATUS_EMPTY, message="the book holds no text", found=found)
    return Extraction(pages=pages, status=STATUS_OK, message="", found=found)


def _rootfile(budget: ZipBudget) -> str:
    with budget.open("META-INF/container.xml") as stream:
        for _, el in parse_xml(stream):
            if local(el.tag) == "rootfile" and el.get("full-path"):
                return el.get("full-path", "")
    raise Unreadable("not a readable EPUB (its container names no package file)")


def _package(budget: ZipBudget, opf: str) -> tuple[list[str], dict[str, Any]]:
    """The spine's chapter files (zip names, in reading order) and the book's title, authors, date."""
    base = posixpath.dirname(opf)
    manifest: dict[str, str] = {}
    order: list[str] = []
    found: dict[str, Any] = {"type": "book"}
    authors: list[str] = []
    with budget.open(opf) as stream:
        for _, el in parse_xml(stream):
            tag, text = local(el.tag), " ".join((el.text or "").split())
            if tag == "item" and el.get("id") and el.get("href"):
                manifest[el.get("id", "")] = posixpath.normpath(posixpath.join(base, el.get("href", "")))
            elif tag == "itemref" and el.get("idref"):
                order.append(el.get("idref", ""))
            elif tag == "title" and text and "title" not in found:
                found["title"] = text
            elif tag == "creator" and text:
                authors.append(text)
            elif tag == "date" and text and "date" not in found:
                found["date"] = normalise_date(text)
    if authors:
        found["authors"] = authors
    return [manifest[i] for i in order if i in manifest], found
