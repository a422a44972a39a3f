"""Citations of a passage or a quotation in the common styles, with a page or paragraph locator.

Plain text throughout: callers that render markup (the Markdown export) pass `em` to mark titles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from corpus_search.errors import UsageError
from corpus_search.locators import locator_text
from corpus_search.models import Passage, Record

STYLES = ("chicago", "chicago-bib", "apa", "mla", "bibtex", "ris", "csl-json")

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_MLA_MONTHS = ("Jan.", "Feb.", "Mar.", "Apr.", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")
_RIS_TYPES = {"report": "RPRT", "article": "JOUR", "book": "BOOK", "chapter": "CHAP", "webpage": "ELEC",
              "email": "PCOMM"}
_CSL_TYPES = {"report": "report", "article": "article-journal", "book": "book", "chapter": "chapter",
              "webpage": "webpage", "email": "personal_communication"}
_BIBTEX_TYPES = {"report": "techreport", "article": "article", "book": "book", "chapter": "incollection",
                 "webpage": "online"}
_ROLE = re.compile(r"^(?P<name>.*?)\s*\((?P<role>[^)]*)\)\s*$")


# ---------------------------------------------------------------- locators


@dataclass(frozen=True)
class Locator:
    """Where in a work: a page range or a paragraph range (both ends may be equal)."""

    label: str  # "page" | "paragraph" | "" (the whole work)
    first: str = ""
    last: str = ""

    @property
    def value(self) -> str:
        """The bare locator, "17" or "17-18"."""
        return self.first if self.last in ("", self.first) else f"{self.first}-{self.last}"

    def text(self, mla: bool = False) -> str:
        return locator_text(self.label, self.first, self.last, mla=mla)


def find_locator(
    record: Record,
    passage: Passage | None,
    offset: int | None = None,
    end_offset: int | None = None,
    last: Passage | None = None,
) -> Locator:
    """The locator of a passage, or of the quotation at [offset, end_offset) in it.

    `last` is the passage a quotation ends in when it runs over into the next one; `end_offset`
    is then an offset in `last`.
    """
    if passage is None:
        return Locator("")
    end_passage = last or passage
    if record.cite_by == "paragraph" and passage.paragraph is not None:
        final = end_passage.paragraph if end_passage.paragraph is not None else passage.paragraph
        return Locator("paragraph", str(passage.paragraph), str(final))
    if offset is None:
        first = passage.page_at(0)
        final_page = end_passage.page_at(max(len(end_passage.text) - 1, 0))
    else:
        first = passage.page_at(offset)
        stop = end_offset if end_offset is not None else offset + 1
        # The page of the quotation's last character, not of the position after it.
        final_page = end_passage.page_at(max(stop - 1, 0))
    if first is None:
        return Locator("")
    return Locator("page", first, final_page or first)


def locator(
    record: Record,
    passage: Passage | None,
    offset: int | None = None,
    end_offset: int | None = None,
    *,
    last: Passage | None = None,
) -> str:
    """"p. 17", "pp. 17-18" or "para. 14" (by `record.cite_by`); "" for the work as a whole."""
    return find_locator(record, passage, offset, end_offset, last).text()


# ---------------------------------------------------------------- names and dates


def split_name(name: str) -> tuple[str, str]:
    """(family, given) of a personal name written "Given Family" or "Family, Given"."""
    name = " ".join(name.split())
    if "," in name:
        family, given = (part.strip() for part in name.split(",", 1))
        return family, given
    parts = name.split(" ")
    if len(parts) == 1:
        return name, ""
    # Particles belong with the family name ("Charles de Gaulle" -> "de Gaulle").
    i = len(parts) - 1
    while i > 1 and parts[i - 1].lower() in ("de", "van", "von", "der", "da", "di", "le", "la", "du"):
        i -= 1
    return " ".join(parts[i:]), " ".join(parts[:i])


def _initials(given: str) -> str:
    out = []
    for part in given.split():
        pieces = [p for p in part.split("-") if p]
        out.append("-".join(f"{p[0]}." for p in pieces))
    return " ".join(out)


def _people(record: Record) -> tuple[list[str], list[str], list[str]]:
    """(authors, translators, editors) as names without their roles."""
    translators, editors = [], []
    for person in record.contributors:
        match = _ROLE.match(person)
        name, role = (match.group("name"), match.group("role").lower()) if match else (person, "")
        if role.startswith("trans"):
            translators.append(name)
        elif role.startswith("ed"):
            editors.append(name)
    return list(record.authors), translators, editors


def _join(names: list[str], conj: str = "and", serial: bool = True) -> str:
    if len(names) <= 1:
        return "".join(names)
    if len(names) == 2:
        return f"{names[0]} {conj} {names[1]}"
    return ", ".join(names[:-1]) + ("," if serial else "") + f" {conj} {names[-1]}"


def date_parts(record: Record) -> list[int]:
    """[year, month, day] as far as the record knows them."""
    if record.date:
        found = re.match(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", record.date)
        if found:
            return [int(g) for g in found.groups() if g]
    return [record.year] if record.year else []


def _long_date(record: Record, mla: bool = False) -> str:
    parts = date_parts(record)
    if not parts:
        return "n.d."
    months = _MLA_MONTHS if mla else _MONTHS
    if len(parts) == 1:
        return str(parts[0])
    if len(parts) == 2:
        return f"{months[parts[1] - 1]} {parts[0]}"
    if mla:
        return f"{parts[2]} {months[parts[1] - 1]} {parts[0]}"
    return f"{months[parts[1] - 1]} {parts[2]}, {parts[0]}"


def _year(record: Record) -> str:
    parts = date_parts(record)
    return str(parts[0]) if parts else "n.d."


def _end(text: str, mark: str = ".") -> str:
    """Close a sentence without doubling the title's own ? or !."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + mark


def _series(record: Record) -> str:
    return " ".join(p for p in (record.series, record.number) if p)


# ---------------------------------------------------------------- the styles


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


def chicago_note(record: Record, loc: Locator, em: tuple[str, str] = ("", "")) -> str:
    authors, translators, editors = _people(record)
    names = authors if len(authors) <= 3 else [authors[0] + " et al."]
    head = _join(names) if names else ""
    pieces: list[str] = []
    # Chicago notes give bare page numbers; paragraphs keep their abbreviation.
    where = loc.value if loc.label == "page" else loc.text()
    if record.type == "article" and record.journal:
        title = f"“{_end(record.title, ',')}”" if not record.title.endswith(("?", "!")) else f"“{record.title}”"
        pieces.append(title)
        if translators:
            pieces.append(f"trans. {_join(translators)},")
        journal = f"{em[0]}{record.journal}{em[1]}"
        if record.volume:
            journal += f" {record.volume}"
        if record.issue:
            journal += f"{',' if record.volume else ''} no. {record.issue}"
        journal += f" ({_long_date(record) if record.volume is None else _year(record)})"
        pieces.append(journal + (f": {where}" if where else ""))
        body = " ".join(pieces)
    else:
        title = f"{em[0]}{record.title}{em[1]}"
        extras = []
        if translators:
            extras.append(f"trans. {_join(translators)}")
        if editors:
            extras.append(f"ed. {_join(editors)}")
        if _series(record):
            extras.append(_series(record) + (f", version {record.version}" if record.version else ""))
        facts = ": ".join(p for p in (record.place, record.publisher) if p)
        facts = ", ".join(p for p in (facts, _long_date(record)) if p)
        # A title's own ? or ! stands in for the comma after it (Chicago 6.119).
        sep = " " if record.title.endswith(("?", "!")) and extras else ", "
        body = (title + sep + ", ".join(extras) if extras else title) + f" ({facts})"
        if where:
            body += f", {where}"
    link = f"https://doi.org/{record.doi}" if record.doi else record.url
    text = ", ".join(p for p in (head, body) if p)
    if link:
        text += f", {link}"
    return _end(text)


def chicago_bibliography(record: Record, em: tuple[str, str] = ("", "")) -> str:
    authors, translators, editors = _people(record)
    listed = []
    for i, name in enumerate(authors[:10]):
        family, given = split_name(name)
        listed.append(f"{family}, {given}".strip(", ") if i == 0 else name)
    if len(authors) > 10:
        listed = listed[:7] + ["et al."]
    # The inverted first name carries its own comma: "Makocki, Michal, and Nicu Popescu".
    who = listed[0] if len(listed) == 1 else f"{listed[0]}, and {listed[1]}" if len(listed) == 2 else _join(listed)
    parts = [_end(who)] if listed else []
    if record.type == "article" and record.journal:
        parts.append(f"“{_end(record.title)}”")
        if translators:
            parts.append(f"Translated by {_join(translators)}.")
        journal = f"{em[0]}{record.journal}{em[1]}"
        if record.volume:
            journal += f" {record.volume}"
        if record.issue:
            journal += f"{',' if record.volume else ''} no. {record.issue}"
        journal += f" ({_year(record)})"
        if record.pages:
            journal += f": {record.pages}"
        parts.append(_end(journal))
    else:
        parts.append(_end(f"{em[0]}{record.title}{em[1]}"))
        if translators:
            parts.append(f"Translated by {_join(translators)}.")
        if editors:
            parts.append(f"Edited by {_join(editors)}.")
        if _series(record):
            parts.append(_end(_series(record) + (f", version {record.version}" if record.version else "")))
        facts = ": ".join(p for p in (record.place, record.publisher) if p)
        parts.append(_end(", ".join(p for p in (facts, _long_date(record)) if p)))
    link = f"https://doi.org/{record.doi}" if record.doi else record.url
    if link:
        parts.append(_end(link))
    return " ".join(parts)


def apa(record: Record, loc: Locator, em: tuple[str, str] = ("", "")) -> str:
    """APA 7th reference entry, followed by the in-text locator "(p. 17)" when there is one."""
    authors, translators, _ = _people(record)
    names = []
    for name in authors:
        family, given = split_name(name)
        names.append(f"{family}, {_initials(given)}".strip(", "))
    if len(names) > 20:
        names = names[:19] + ["... " + names[-1]]
    if len(names) == 1:
        who = names[0]
    elif names:
        who = ", ".join(names[:-1]) + ", & " + names[-1]
    else:
        who = record.publisher or ""
    parts = []
    date = date_parts(record)
    when = f"({date[0]})" if date else "(n.d.)"
    parts.append(f"{_end(who)} {when}." if who else "")
    if record.type == "article" and record.journal:
        title = _end(record.title)
        if translators:
            trans = ", ".join(f"{_initials(split_name(t)[1])} {split_name(t)[0]}".strip() for t in translators)
            title = f"{record.title.rstrip('.')} ({trans}, Trans.)."
        parts.append(title)
        journal = f"{em[0]}{record.journal}{em[1]}"
        if record.volume:
            journal += f", {em[0]}{record.volume}{em[1]}"
        if record.issue:
            journal += f"({record.issue})"
        if record.pages:
            journal += f", {record.pages}"
        parts.append(journal + ".")
    else:
        title = f"{em[0]}{record.title}{em[1]}"
        number = _series(record)
        parts.append(_end(title + (f" ({number})" if number else "")))
        if record.publisher and record.publisher != who:
            parts.append(_end(record.publisher))
    if record.doi:
        parts.append(f"https://doi.org/{record.doi}")
    elif record.url:
        parts.append(record.url)
    text = " ".join(p for p in parts if p)
    return f"{text} ({loc.text()})" if loc.label else text


def mla(record: Record, loc: Locator, em: tuple[str, str] = ("", "")) -> str:
    """MLA 9th works-cited entry, followed by the in-text citation "(Makocki and Popescu 17)"."""
    authors, translators, _ = _people(record)
    if authors:
        family, given = split_name(authors[0])
        first = f"{family}, {given}".strip(", ")
        who = first if len(authors) == 1 else (f"{first}, and {authors[1]}" if len(authors) == 2 else f"{first}, et al")
    else:
        who = ""
    parts = [_end(who)] if who else []
    if record.type == "article" and record.journal:
        parts.append(f"“{_end(record.title)}”")
        if translators:
            parts.append(f"Translated by {_join(translators)},")
        container = [f"{em[0]}{record.journal}{em[1]}"]
        if record.volume:
            container.append(f"vol. {record.volume}")
        if record.issue:
            container.append(f"no. {record.issue}")
        container.append(_long_date(record, mla=True))
        if record.pages:
            container.append(f"pp. {record.pages}")
        parts.append(_end(", ".join(container)))
    else:
        parts.append(_end(f"{em[0]}{record.title}{em[1]}"))
        facts = [p for p in (record.publisher, _long_date(record, mla=True)) if p]
        parts.append(_end(", ".join(facts)))
        if _series(record):
            parts.append(_end(_series(record)))
    if record.doi:
        parts.append(_end(f"https://doi.org/{record.doi}"))
    elif record.url:
        parts.append(_end(record.url.removeprefix("https://").removeprefix("http://")))
    text = " ".join(parts)
    if not loc.label:
        return text
    families = [split_name(a)[0] for a in authors]
    short = (families[0] if len(families) == 1 else f"{families[0]} and {families[1]}" if len(families) == 2
             else f"{families[0]} et al." if families else f"“{record.title}”")
    where = loc.value if loc.label == "page" else f", {loc.text(mla=True)}"
    return f"{text} ({short}{'' if where.startswith(',') else ' '}{where})"


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
    _, translators, editors = _people(record)
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
    _, translators, editors = _people(record)
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
    _, translators, editors = _people(record)

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
