"""What the embedding model reads for a passage or a sentence: its text, with each abbreviation its
document defines spelled out once.

MiniLM knows "Department of Defense" but not "RCEC": a report defines "residential clean energy credit
(RCEC)" once and says "the RCEC reduced federal revenues by $6.3 billion" pages later, and a question
asking what "the credit for home solar equipment" cost finds nothing in that sentence's vector. So the
text embedded (never the text stored, shown or quoted) carries the definition after the abbreviation's
first use: "the RCEC (residential clean energy credit) reduced ...".

Only a document's own definitions are used, so a document's vectors depend on that document alone and
stay right when an incremental build carries them over while other documents change.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from corpus_search.entity_abbreviations import definitions_in
from corpus_search.models import Passage
from corpus_search.passage_blocks import FLOAT_TITLE

__all__ = ["definitions", "expand", "float_title", "texts_for"]

_MAX_ABBREVIATIONS = 12  # a passage rarely uses more; a glossary's list of them gains nothing from more


def definitions(passages: Iterable[Passage]) -> dict[str, dict[str, str]]:
    """doc id -> abbreviation -> long form, from "long form (ABBR)", "ABBR (Long Form)" and a glossary table's
    "ABBR | Long Form" rows in that document (capitalised or not: "energy efficient home improvement credit
    (EEHIC)" is a term, still defined; mixed case too: "biological opinion (BiOp)"); the most frequent long
    form of an abbreviation wins, ties to the first seen."""
    found: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for d in definitions_in(passages):
        plural = d.abbr.endswith("s") and d.abbr[:-1].isupper()  # "SSBNs" defines "SSBN"
        found[d.doc_id][d.abbr[:-1] if plural else d.abbr][d.long_form] += 1
    return {doc: {a: c.most_common(1)[0][0] for a, c in abbrs.items()} for doc, abbrs in found.items()}


def expand(text: str, defined: dict[str, str]) -> str:
    """`text` with the first use of each abbreviation in `defined` followed by its long form in brackets,
    unless the text already spells that long form out (it defines it, or says both)."""
    if not defined or not any(a in text for a in defined):
        return text
    folded = text.casefold()
    inserts: list[tuple[int, str]] = []
    for abbr, long_form in defined.items():
        if len(inserts) >= _MAX_ABBREVIATIONS or abbr not in text or long_form.casefold() in folded:
            continue
        m = re.search(rf"(?<![\w&]){re.escape(abbr)}(?:s\b|[’']s\b|\b)(?!\s*\()", text)
        if m:
            inserts.append((m.end(), f" ({long_form})"))
    for at, words in sorted(inserts, reverse=True):
        text = text[:at] + words + text[at:]
    return text


def float_title(section: str) -> str:
    """The title of the figure or table a passage belongs to, the last part of its section path
    (passage_layout.float_sections); "" for a passage in no figure or table."""
    parts = section.split(" / ")
    # a title may hold " / " itself ("Table 2. Imports / Exports by Year"): the title is the shortest tail
    # of the path that opens like one, and a float's title is always the path's last element
    for i in range(len(parts) - 1, max(-1, len(parts) - 4), -1):
        tail = " / ".join(parts[i:])
        if FLOAT_TITLE.match(tail):
            return tail
    return ""


def texts_for(passages: Sequence[Passage], defined: dict[str, dict[str, str]]) -> list[str]:
    """What the model reads for each passage (see the module's docstring); a table's rows and a figure's
    source and notes after the title they belong to, which says what their figures are."""
    out = []
    for p in passages:
        text = expand(p.text, defined.get(p.doc_id, {}))
        title = float_title(p.section)
        out.append(f"{title}\n{text}" if title else text)
    return out
