"""Names and dates as citations write them: family and given names, roles, initials, long dates."""

from __future__ import annotations

import re

from corpus_search.models import Record

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_MLA_MONTHS = ("Jan.", "Feb.", "Mar.", "Apr.", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec.")
_ROLE = re.compile(r"^(?P<name>.*?)\s*\((?P<role>[^)]*)\)\s*$")


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


def initials(given: str) -> str:
    out = []
    for part in given.split():
        pieces = [p for p in part.split("-") if p]
        out.append("-".join(f"{p[0]}." for p in pieces))
    return " ".join(out)


def people_of(record: Record) -> tuple[list[str], list[str], list[str]]:
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


def join_names(names: list[str], conj: str = "and", serial: bool = True) -> str:
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


def long_date(record: Record, mla: bool = False) -> str:
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


def year_text(record: Record) -> str:
    parts = date_parts(record)
    return str(parts[0]) if parts else "n.d."


def end_sentence(text: str, mark: str = ".") -> str:
    """Close a sentence without doubling the title's own ? or !."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + mark


def series_text(record: Record) -> str:
    return " ".join(p for p in (record.series, record.number) if p)
