"""Citations of a passage or a quotation in the common styles, with a page or paragraph locator.

One entry, `cite(record, passage, style)`, over the styles' modules: cite_styles (Chicago, APA,
MLA prose), cite_records (BibTeX, RIS, CSL-JSON), cite_names (names and dates), and locators
(which pages or paragraphs). The names callers have always imported from here are re-exported.
"""

from __future__ import annotations

import json

from corpus_search.cite_names import date_parts, split_name
from corpus_search.cite_records import bibtex, csl_json, ris
from corpus_search.cite_styles import apa, chicago_bibliography, chicago_note, mla
from corpus_search.errors import UsageError
from corpus_search.locators import Locator, find_locator, locator
from corpus_search.models import Passage, Record

STYLES = ("chicago", "chicago-bib", "apa", "mla", "bibtex", "ris", "csl-json")

__all__ = ["STYLES", "Locator", "apa", "bibtex", "chicago_bibliography", "chicago_note", "cite", "csl_json", "date_parts",
           "find_locator", "locator", "mla", "ris", "split_name"]


def cite(
    record: Record,
    passage: Passage | None = None,
    style: str = "chicago",
    offset: int | None = None,
    end_offset: int | None = None,
    *,
    last: Passage | None = None,
    em: tuple[str, str] = ("", ""),
) -> str:
    """A citation of the record, pointing at the passage (or the quotation inside it) when given."""
    style = style.lower()
    if style not in STYLES:
        raise UsageError(f"unknown citation style {style!r}; choose one of {', '.join(STYLES)}")
    loc = find_locator(record, passage, offset, end_offset, last)
    if style == "chicago":
        return chicago_note(record, loc, em)
    if style == "chicago-bib":
        return chicago_bibliography(record, em)
    if style == "apa":
        return apa(record, loc, em)
    if style == "mla":
        return mla(record, loc, em)
    if style == "bibtex":
        return bibtex(record, loc)
    if style == "ris":
        return ris(record, loc)
    return json.dumps(csl_json(record, loc), ensure_ascii=False, indent=2)
