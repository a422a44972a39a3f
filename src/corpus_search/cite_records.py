"""Citations as records a reference manager imports: BibTeX (bibtexparser), RIS (rispy) and CSL-JSON."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from corpus_search.cite_names import date_parts, people_of, split_name
from corpus_search.locators import Locator
from corpus_search.models import Record

_RIS_TYPES = {"report": "RPRT", "article": "JOUR", "book": "BOOK", "chapter": "CHAP", "webpage": "ELEC",
              "email": "PCOMM"}
_CSL_TYPES = {"report": "report", "article": "article-journal", "book": "book", "chapter": "chapter",
              "webpage": "webpage", "email": "personal_communication"}
_BIBTEX_TYPES = {"report": "techreport", "article": "article", "book": "book", "chapter": "incollection",
                 "webpage": "online"}


_BIB_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"$\lbrace$", "}": r"$\rbrace$",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
}
_BIB_SPECIAL_RE = re.compile("|".join(re.escape(ch) for ch in _BIB_SPECIAL))


def _bib_escape(value: str, verbatim: bool = False) -> str:
    """A field value as LaTeX text that cannot end its field or entry (a hostile title is only a title).

    BibTeX counts braces without regard to backslashes, so "\\}" would still close the field: braces
    become $\\lbrace$ and $\\rbrace$ (no brace left to count), and the macros that stand for other
    specials end in an empty, balanced "{}". Whitespace, line breaks included, is collapsed, so no
    line of the value can start a new "@entry".
    """
    value = " ".join(value.split())
    if verbatim:  # url and doi are read verbatim: percent-encode what could end the field instead
        return "".join(_URL_UNSAFE.get(ch, ch) for ch in value)
    return _BIB_SPECIAL_RE.sub(lambda m: _BIB_SPECIAL[m.group()], value)


_URL_UNSAFE = {"{": "%7B", "}": "%7D", "\\": "%5C", " ": "%20"}


def _page_range(record: Record, loc: Locator) -> tuple[str, str]:
    """(first, last) page to put in a reference: the quotation's pages, else the item's own range."""
    if loc.label == "page":
        return loc.first, loc.last or loc.first
    if record.pages:
        ends = re.split(r"\s*[-\u2013]+\s*", record.pages, maxsplit=1)
        return ends[0], ends[-1]
    return "", ""


def bibtex(record: Record, loc: Locator, key: str | None = None, note: str = "") -> str:
    kind = _BIBTEX_TYPES.get(record.type, "misc")
    if kind == "article" and not record.journal:
        kind = "misc"
    fields: list[tuple[str, str]] = []
    if record.authors:
        people = []
        for name in record.authors:
            family, given = split_name(name)
            people.append(f"{family}, {given}".strip(", "))
        fields.append(("author", " and ".join(people)))
    fields.append(("title", record.title))
    _, translators, editors = people_of(record)
    if translators:
        fields.append(("translator", " and ".join(", ".join(split_name(t)) for t in translators)))
    if editors:
        fields.append(("editor", " and ".join(", ".join(split_name(t)) for t in editors)))
    if kind == "article":
        fields += [("journal", record.journal or ""), ("volume", record.volume or ""), ("number", record.issue or "")]
    elif kind == "techreport":
        fields += [("institution", record.publisher or ""), ("type", record.series or ""),
                   ("number", record.number or "")]
    else:
        fields += [("publisher", record.publisher or ""), ("series", record.series or "")]
    if kind == "techreport":
        # BibTeX reads `institution`; Zotero and biblatex also look for `publisher`.
        fields.append(("publisher", record.publisher or ""))
    fields.append(("address", record.place or ""))
    parts = date_parts(record)
    fields.append(("year", str(parts[0]) if parts else ""))
    if len(parts) > 1:
        fields.append(("month", str(parts[1])))
    first, final = _page_range(record, loc)
    fields.append(("pages", first if final in ("", first) else f"{first}--{final}"))
    if loc.label == "paragraph":
        note = "; ".join(p for p in (loc.text(), note) if p)
    if record.type == "email":
        fields.append(("howpublished", "Email" + (f" to {' and '.join(record.recipients)}" if record.recipients else "")))
    fields += [("edition", record.version or ""), ("doi", record.doi or ""), ("url", record.url or ""),
               ("note", note)]
    # Imported here: bibtexparser takes ~0.1-0.3 s to import, and every search cites its hits in Chicago.
    import bibtexparser

    # bibtexparser writes the entry; the values are escaped and braced here, so its middlewares stay out of the way.
    entry = bibtexparser.model.Entry(kind, key or record.doc_id, [
        bibtexparser.model.Field(name, "{" + _bib_escape(value, name in ("url", "doi")) + "}")
        for name, value in fields if value])
    layout = bibtexparser.BibtexFormat()
    layout.indent = "  "
    return bibtexparser.write_string(bibtexparser.Library([entry]), unparse_stack=[],
                                     bibtex_format=layout).rstrip("\n")


@lru_cache(maxsize=1)
def _ris_writer() -> type:
    """rispy's writer without the "1." line it puts before each reference (Zotero and EndNote write none)."""
    import rispy  # here, not at the top: see bibtex()

    class RisWriter(rispy.RisWriter):
        def set_header(self, count: int) -> str:
            return ""

    return RisWriter


def ris(record: Record, loc: Locator, note: str = "") -> str:
    kind = _RIS_TYPES.get(record.type, "GEN")
    if kind == "JOUR" and not record.journal:
        kind = "GEN"
    _, translators, editors = people_of(record)
    fields: dict[str, Any] = {
        "type_of_reference": kind, "id": record.doc_id,
        "authors": [", ".join(p for p in split_name(name) if p) for name in record.authors],
        "subsidiary_authors": [", ".join(split_name(t)) for t in translators],  # A4: translators
        "secondary_authors": [", ".join(split_name(e)) for e in editors],  # A2: editors
        "title": record.title,
    }
    if kind == "JOUR":
        fields.update(secondary_title=record.journal, volume=record.volume, number=record.issue)
    else:
        fields.update(tertiary_title=record.series, volume=record.number)
    parts = date_parts(record)
    if parts:
        fields["year"] = str(parts[0])
        fields["date"] = "/".join(f"{p:02d}" if i else str(p) for i, p in enumerate(parts)) + "/"
    first, final = _page_range(record, loc)
    fields.update(publisher=record.publisher, place_published=record.place, start_page=first,
                  end_page=final if final != first else "")
    if loc.label == "paragraph":
        note = "; ".join(p for p in (loc.text(), note) if p)
    fields.update(edition=record.version, doi=record.doi, urls=[record.url or ""], notes=[note])

    # One line per value, whitespace and line breaks collapsed: a value can never start a tag of its own.
    def line(value: str | None) -> str:
        return " ".join((value or "").split())

    kept = {}
    for name, value in fields.items():
        value = [line(v) for v in value if line(v)] if isinstance(value, list) else line(value)
        if value:
            kept[name] = value
    import rispy

    return rispy.dumps([kept], implementation=_ris_writer())


def csl_json(record: Record, loc: Locator, item_id: str | None = None, note: str = "") -> dict[str, Any]:
    """One CSL-JSON item (the format Zotero, Pandoc and citeproc read); `locator`/`label` say where."""
    kind = _CSL_TYPES.get(record.type, "document")
    if kind == "article-journal" and not record.journal:
        kind = "document"
    item: dict[str, Any] = {"id": item_id or record.doc_id, "type": kind, "title": record.title}
    _, translators, editors = people_of(record)

    def people(names: list[str]) -> list[dict[str, str]]:
        out = []
        for name in names:
            family, given = split_name(name)
            out.append({"family": family, "given": given} if given else {"literal": family})
        return out

    if record.authors:
        item["author"] = people(list(record.authors))
    if translators:
        item["translator"] = people(translators)
    if editors:
        item["editor"] = people(editors)
    if date_parts(record):
        item["issued"] = {"date-parts": [date_parts(record)]}
    optional = {
        "container-title": record.journal,
        "collection-title": record.series,
        "publisher": record.publisher,
        "publisher-place": record.place,
        "volume": record.volume,
        "issue": record.issue,
        "number": record.number,
        "version": record.version,
        "DOI": record.doi,
        "URL": record.url,
        "note": note or None,
    }
    item.update({k: v for k, v in optional.items() if v})
    first, final = _page_range(record, loc)
    if first:
        item["page"] = first if final in ("", first) else f"{first}-{final}"
    if loc.label:
        item["locator"] = loc.value
        item["label"] = loc.label
    return item
