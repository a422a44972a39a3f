"""The prose citation styles: Chicago (note and bibliography), APA and MLA, written by hand.

Why not citeproc-py: docs/architecture.md ("Citations", measured). Plain text throughout: callers
that render markup (the Markdown export) pass `em` to mark titles.
"""

from __future__ import annotations

from corpus_search.cite_names import (date_parts, end_sentence, initials, join_names, long_date, people_of, series_text,
                                      split_name, year_text)
from corpus_search.locators import Locator
from corpus_search.models import Record


# An e-mail is a personal communication, cited by who wrote it to whom and when, with its subject line
# (Chicago 17th ed. 14.214; MLA Handbook 9th ed. "Received by"; APA 7th 8.9 has no reference entry for
# one, so the entry takes APA's form for an unpublished work with the description in brackets).


def _email_to(record: Record) -> str:
    return join_names(list(record.recipients)) if record.recipients else ""


def _email_note(record: Record) -> str:
    authors = list(record.authors)
    to = _email_to(record)
    said = "email message" + (f" to {to}" if to else "") + f", {long_date(record)}"
    if record.title:  # the comma goes inside the closing quotation mark (Chicago 6.9)
        said = f"“{end_sentence(record.title, ',')}” {said}"
    return end_sentence(", ".join(p for p in (join_names(authors), said) if p))


def _email_bibliography(record: Record) -> str:
    authors = list(record.authors)
    family, given = split_name(authors[0]) if authors else ("", "")
    who = end_sentence(f"{family}, {given}".strip(", ")) if authors else ""
    to = _email_to(record)
    said = end_sentence(("Email message" + (f" to {to}" if to else "")) + f", {long_date(record)}")
    return " ".join(p for p in (who, f"“{end_sentence(record.title)}”" if record.title else "", said) if p)


def _email_apa(record: Record) -> str:
    authors = list(record.authors)
    family, given = split_name(authors[0]) if authors else ("", "")
    who = f"{family}, {initials(given)}".strip(", ") if authors else ""
    date = date_parts(record)
    months = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December")
    when = (f"({date[0]}" + (f", {months[date[1] - 1]}" + (f" {date[2]}" if len(date) > 2 else "") if len(date) > 1
                             else "") + ")") if date else "(n.d.)"
    to = _email_to(record)
    what = f"[Email{' to ' + to if to else ''}]"
    return " ".join(p for p in (f"{end_sentence(who)} {when}." if who else when + ".",
                                f"{record.title.rstrip('.')} {what}." if record.title else f"{what}.") if p)


def _email_mla(record: Record) -> str:
    authors = list(record.authors)
    family, given = split_name(authors[0]) if authors else ("", "")
    who = end_sentence(f"{family}, {given}".strip(", ")) if authors else ""
    to = _email_to(record)
    received = end_sentence(", ".join(p for p in (f"Received by {to}" if to else "", long_date(record, mla=True)) if p))
    return " ".join(p for p in (who, f"“{end_sentence(record.title)}”" if record.title else "", received) if p)


def chicago_note(record: Record, loc: Locator, em: tuple[str, str] = ("", "")) -> str:
    if record.type == "email":
        return _email_note(record)
    authors, translators, editors = people_of(record)
    names = authors if len(authors) <= 3 else [authors[0] + " et al."]
    head = join_names(names) if names else ""
    pieces: list[str] = []
    # Chicago notes give bare page numbers; paragraphs keep their abbreviation.
    where = loc.value if loc.label == "page" else loc.text()
    if record.type == "article" and record.journal:
        title = f"“{end_sentence(record.title, ',')}”" if not record.title.endswith(("?", "!")) else f"“{record.title}”"
        pieces.append(title)
        if translators:
            pieces.append(f"trans. {join_names(translators)},")
        journal = f"{em[0]}{record.journal}{em[1]}"
        if record.volume:
            journal += f" {record.volume}"
        if record.issue:
            journal += f"{',' if record.volume else ''} no. {record.issue}"
        journal += f" ({long_date(record) if record.volume is None else year_text(record)})"
        pieces.append(journal + (f": {where}" if where else ""))
        body = " ".join(pieces)
    else:
        title = f"{em[0]}{record.title}{em[1]}"
        extras = []
        if translators:
            extras.append(f"trans. {join_names(translators)}")
        if editors:
            extras.append(f"ed. {join_names(editors)}")
        if series_text(record):
            extras.append(series_text(record) + (f", version {record.version}" if record.version else ""))
        facts = ": ".join(p for p in (record.place, record.publisher) if p)
        facts = ", ".join(p for p in (facts, long_date(record)) if p)
        # A title's own ? or ! stands in for the comma after it (Chicago 6.119).
        sep = " " if record.title.endswith(("?", "!")) and extras else ", "
        body = (title + sep + ", ".join(extras) if extras else title) + f" ({facts})"
        if where:
            body += f", {where}"
    link = f"https://doi.org/{record.doi}" if record.doi else record.url
    text = ", ".join(p for p in (head, body) if p)
    if link:
        text += f", {link}"
    return end_sentence(text)


def chicago_bibliography(record: Record, em: tuple[str, str] = ("", "")) -> str:
    if record.type == "email":
        return _email_bibliography(record)
    authors, translators, editors = people_of(record)
    listed = []
    for i, name in enumerate(authors[:10]):
        family, given = split_name(name)
        listed.append(f"{family}, {given}".strip(", ") if i == 0 else name)
    if len(authors) > 10:
        listed = listed[:7] + ["et al."]
    # The inverted first name carries its own comma: "Makocki, Michal, and Nicu Popescu".
    who = listed[0] if len(listed) == 1 else f"{listed[0]}, and {listed[1]}" if len(listed) == 2 else join_names(listed)
    parts = [end_sentence(who)] if listed else []
    if record.type == "article" and record.journal:
        parts.append(f"“{end_sentence(record.title)}”")
        if translators:
            parts.append(f"Translated by {join_names(translators)}.")
        journal = f"{em[0]}{record.journal}{em[1]}"
        if record.volume:
            journal += f" {record.volume}"
        if record.issue:
            journal += f"{',' if record.volume else ''} no. {record.issue}"
        journal += f" ({year_text(record)})"
        if record.pages:
            journal += f": {record.pages}"
        parts.append(end_sentence(journal))
    else:
        parts.append(end_sentence(f"{em[0]}{record.title}{em[1]}"))
        if translators:
            parts.append(f"Translated by {join_names(translators)}.")
        if editors:
            parts.append(f"Edited by {join_names(editors)}.")
        if series_text(record):
            parts.append(end_sentence(series_text(record) + (f", version {record.version}" if record.version else "")))
        facts = ": ".join(p for p in (record.place, record.publisher) if p)
        parts.append(end_sentence(", ".join(p for p in (facts, long_date(record)) if p)))
    link = f"https://doi.org/{record.doi}" if record.doi else record.url
    if link:
        parts.append(end_sentence(link))
    return " ".join(parts)


def apa(record: Record, loc: Locator, em: tuple[str, str] = ("", "")) -> str:
    """APA 7th reference entry, followed by the in-text locator "(p. 17)" when there is one."""
    if record.type == "email":
        return _email_apa(record)
    authors, translators, _ = people_of(record)
    names = []
    for name in authors:
        family, given = split_name(name)
        names.append(f"{family}, {initials(given)}".strip(", "))
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
    parts.append(f"{end_sentence(who)} {when}." if who else "")
    if record.type == "article" and record.journal:
        title = end_sentence(record.title)
        if translators:
            trans = ", ".join(f"{initials(split_name(t)[1])} {split_name(t)[0]}".strip() for t in translators)
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
        number = series_text(record)
        parts.append(end_sentence(title + (f" ({number})" if number else "")))
        if record.publisher and record.publisher != who:
            parts.append(end_sentence(record.publisher))
    if record.doi:
        parts.append(f"https://doi.org/{record.doi}")
    elif record.url:
        parts.append(record.url)
    text = " ".join(p for p in parts if p)
    return f"{text} ({loc.text()})" if loc.label else text


def mla(record: Record, loc: Locator, em: tuple[str, str] = ("", "")) -> str:
    """MLA 9th works-cited entry, followed by the in-text citation "(Makocki and Popescu 17)"."""
    if record.type == "email":
        return _email_mla(record)
    authors, translators, _ = people_of(record)
    if authors:
        family, given = split_name(authors[0])
        first = f"{family}, {given}".strip(", ")
        who = first if len(authors) == 1 else (f"{first}, and {authors[1]}" if len(authors) == 2 else f"{first}, et al")
    else:
        who = ""
    parts = [end_sentence(who)] if who else []
    if record.type == "article" and record.journal:
        parts.append(f"“{end_sentence(record.title)}”")
        if translators:
            parts.append(f"Translated by {join_names(translators)},")
        container = [f"{em[0]}{record.journal}{em[1]}"]
        if record.volume:
            container.append(f"vol. {record.volume}")
        if record.issue:
            container.append(f"no. {record.issue}")
        container.append(long_date(record, mla=True))
        if record.pages:
            container.append(f"pp. {record.pages}")
        parts.append(end_sentence(", ".join(container)))
    else:
        parts.append(end_sentence(f"{em[0]}{record.title}{em[1]}"))
        facts = [p for p in (record.publisher, long_date(record, mla=True)) if p]
        parts.append(end_sentence(", ".join(facts)))
        if series_text(record):
            parts.append(end_sentence(series_text(record)))
    if record.doi:
        parts.append(end_sentence(f"https://doi.org/{record.doi}"))
    elif record.url:
        parts.append(end_sentence(record.url.removeprefix("https://").removeprefix("http://")))
    text = " ".join(parts)
    if not loc.label:
        return text
    families = [split_name(a)[0] for a in authors]
    short = (families[0] if len(families) == 1 else f"{families[0]} and {families[1]}" if len(families) == 2
             else f"{families[0]} et al." if families else f"“{record.title}”")
    where = loc.value if loc.label == "page" else f", {loc.text(mla=True)}"
    return f"{text} ({short}{'' if where.startswith(',') else ' '}{where})"
