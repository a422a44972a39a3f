"""Verify a quotation: every place it occurs verbatim, or the closest source text and what differs.

The stages, one module each: quote_parse (the quotation's verbatim parts and gaps, its length cap),
quote_match (verbatim matches, also in OCR text modulo OCR confusions), quote_near (closest text
when there is none), quote_diff (what differs), quote_report (the verdict and the terminal text).
This module joins them and keeps the names callers have always imported from here.
"""

from __future__ import annotations

import dataclasses
import re

from rapidfuzz import fuzz

from corpus_search.passage_blocks import EARLIER_SEPARATOR, HEADER_NAMES
from corpus_search.quote_diff import classify, similarity, tokens, word_diff, wording_changed
from corpus_search.quote_match import build_match, exact, prepared, with_ocr
from corpus_search.quote_near import CLOSE, SEMANTIC_PARAPHRASE, Semantic, closest
from corpus_search.quote_parse import PASTED_MARKER, check_length, gapped_matches, max_quote_chars, parse_quote, quote_length
from corpus_search.quote_report import QUOTED_MESSAGE, QuoteReport, render_diff, render_report, verdict_of
from corpus_search.models import Difference, QuoteMatch, Verdict
from corpus_search.store import Store
from corpus_search.textnorm import fold

_gapped_matches = gapped_matches  # the name tests/test_quote.py knows it by

__all__ = [
    "CLOSE", "SEMANTIC_PARAPHRASE", "QuoteReport", "Semantic", "check_length", "classify", "max_quote_chars",
    "parse_quote", "quote_length", "render_diff", "render_report", "similarity", "tokens", "verify", "word_diff",
]


def verify(store: Store, text: str, semantic: Semantic | None = None, limit: int = 5) -> QuoteReport:
    """Every verbatim occurrence of the quotation, or its closest candidates (best first)."""
    check_length(text)
    ready = prepared(store)
    pattern = parse_quote(text)
    matches = exact(ready, pattern)
    if not matches and PASTED_MARKER.search(text):
        pattern = parse_quote(PASTED_MARKER.sub("", text))
        matches = exact(ready, pattern)
    matches = [_as_typed(pattern, m) for m in with_ocr(ready, pattern, matches)]
    matches = [_quoting(ready, text, m) for m in matches]
    if any(m.exact or m.ocr_equivalent for m in matches):
        return QuoteReport(text, True, tuple(sorted(matches, key=lambda m: not (m.exact or m.ocr_equivalent))),
                           Verdict.FOUND)
    if matches:  # found only with a capital or an apostrophe changed: altered, the source's words shown
        return QuoteReport(text, False, tuple(sorted(matches, key=lambda m: -m.similarity)), Verdict.ALTERED)
    near, paraphrase = closest(ready, pattern, semantic, limit)
    moved = _pieces_moved(ready, pattern)
    if moved:
        rest = [n for n in near if all(n.passage_id != m.passage_id or n.end <= m.start or n.start >= m.end
                                       for m in moved)]
        return QuoteReport(text, False, tuple((moved + rest)[:limit]), Verdict.ALTERED)
    return QuoteReport(text, False, tuple(near), verdict_of(False, near, paraphrase))


_MOST_PIECES = 6  # each piece is searched on its own: a quotation cut into more is left to `closest`
_MOST_PLACES = 500


def _pieces_moved(ready, pattern, most: int = 3) -> list[QuoteMatch]:
    """A quotation "A ... B" whose pieces are each verbatim in one passage of a source, or in two adjacent ones,
    but B comes before A there: the source's words rearranged, shown as such over the span that holds them all.
    It was "NOT FOUND in the corpus", with half of it as the closest text."""
    if not 2 <= len(pattern.pieces) <= _MOST_PIECES or any(len(tokens(piece)) < 2 for piece in pattern.pieces):
        return []  # a one-word piece ("the ... of") is everywhere
    places = []
    for piece in pattern.pieces:
        found = [m for m in exact(ready, parse_quote(piece)) if len(m.passage_ids) <= 1]
        if not found or len(found) > _MOST_PLACES:
            return []  # not there, or so common ("of the state") that where it is says nothing
        places.append([(ready.index[m.passage_id], m.start, m.end) for m in found])
    out: dict[tuple[int, int], QuoteMatch] = {}
    for i, start, end in places[0]:
        doc = ready.passages[i].doc_id
        chosen = [(i, start, end)]
        for others in places[1:]:
            near = [o for o in others if abs(o[0] - i) <= 1 and ready.passages[o[0]].doc_id == doc]
            if not near:
                break
            chosen.append(min(near, key=lambda o: (abs(o[0] - i), abs(o[1] - start))))
        else:
            if all(chosen[k][:2] < chosen[k + 1][:2] for k in range(len(chosen) - 1)):
                continue  # in the quoted order: only further apart than its gaps allow, not moved
            first, last = min(chosen), max(chosen, key=lambda c: (c[0], c[2]))
            key = (first[0], first[1])
            if key not in out:
                match = build_match(ready, first[0], first[1], last[0], last[2], exact=False, similarity=0.0)
                alike = fuzz.token_sort_ratio(fold(pattern.plain), fold(match.source_text)) / 100
                out[key] = dataclasses.replace(match, similarity=round(min(alike, 0.99), 4),
                                               difference=Difference.REORDERED,
                                               diff=word_diff(pattern.plain, match.source_text))
        if len(out) >= most:
            break
    return list(out.values())


_OPEN, _CLOSE = "\u201c\u00ab\u201e", "\u201d\u00bb"  # “ « „  and  ” »
_INNER = re.compile(r'[\u201c\u00ab\u201e"][^\u201c\u201d\u00ab\u00bb\u201e"\n]{1,200}[\u201d\u00bb"]'
                    r"|(?<!\w)\u2018[^\u2018\n]{1,200}?\u2019(?!\w)")  # ‘single’, not an apostrophe (Russia’s)
_STRAIGHT_SINGLE = re.compile(r"(?<!\w)'|'(?!\w)")  # 'a quotation' typed with straight marks, not don't
_SINGLE_OPEN = re.compile(r"(?<!\w)\u2018")
_SINGLE_CLOSE = re.compile(r"(?<=\S)\u2019(?!\w)")


def _quoting(ready, typed: str, match: QuoteMatch) -> QuoteMatch:
    """Say where the source quotes someone in the words quoted and the quotation drops its marks: a
    verbatim match hid that "several dozen" was the source quoting an official, or that a whole sentence
    was the source quoting the Pentagon. A writer who cites those words needs to know whose they are."""
    if not (match.exact or match.ocr_equivalent):
        return match
    inner = typed.strip().strip('"\'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e')
    marked = any(c in inner for c in '"\u201c\u201d\u00ab\u00bb\u201e\u2018') or _STRAIGHT_SINGLE.search(inner)
    found = [] if marked else [m.group() for m in _INNER.finditer(match.source_text)]
    i = ready.index.get(match.passage_id)
    if i is not None and _within_marks(ready.passages[i].text, match.start):
        found.insert(0, "within")
    if i is not None and ready.passages[i].kind == "quote":
        found.insert(0, _quoted_message(ready, i))
    return dataclasses.replace(match, source_quotes=tuple(found)) if found else match


# What introduces a quoted message: "On ..., X wrote:", or the header of an Outlook or forwarded message.
_WROTE = re.compile(r"^On\s.{4,300}?\swrote:", re.I)
# The separator line above a quoted or forwarded header (a rule of underscores in newer Outlook), left out.
_SEPARATOR = re.compile(rf"^(?:{EARLIER_SEPARATOR}|_{{8,}})\s*", re.I)
# A header field as a passage holds it: "Date: Sun, ...", or "Date: | Sun, ..." from a table of fields (Thunderbird).
_FIELD = re.compile(rf"(?:^|(?<=\s))({HEADER_NAMES}):(?:\s*\|)?\s", re.I)
_LONGEST = {"from": 300, "sent": 100, "date": 100}  # longer: no header field, but a sentence that says "From:"


def _header_intro(text: str) -> str | None:
    """"From: <sender> Sent: <date>" (or "Date:") of a header block that opens `text`, in whatever order the
    mail client wrote its fields (Outlook and Gmail: From first; Thunderbird: Subject, Date, From, To).
    None when `text` opens with no such block or lacks either field."""
    start = _SEPARATOR.match(text)
    pos = start.end() if start else 0
    fields = list(_FIELD.finditer(text, pos))
    if not fields or fields[0].start() != pos:
        return None
    values: dict[str, tuple[str, str]] = {}
    for f, after in zip(fields, [*fields[1:], None]):
        name = f.group(1)
        value = " ".join(text[f.end():after.start() if after else len(text)].split())
        values.setdefault(name.casefold(), (name, value))
    sender = values.get("from")
    when = values.get("sent") or values.get("date")
    if not sender or not when or not sender[1] or not when[1]:
        return None
    if any(len(value) > _LONGEST[name.casefold()] for name, value in (sender, when)):
        return None
    return f"{sender[0]}: {sender[1]} {when[0]}: {when[1]}"


def _quoted_message(ready, i: int) -> str:
    """"quoted message", with the line that introduces the quotation where the source has one ("On 12 April,
    Jane Roe wrote:", an Outlook or forwarded header's "From: ... Sent: ..."): passage i is in what a reply
    quotes of an earlier message (Kind "quote")."""
    doc = ready.passages[i].doc_id
    first = i
    while first > 0 and ready.passages[first - 1].kind == "quote" and ready.passages[first - 1].doc_id == doc:
        first -= 1
    text = ready.passages[first].text
    separator = _SEPARATOR.match(text)
    if separator and separator.end() == len(text) and first + 1 < len(ready.passages) and (
            ready.passages[first + 1].doc_id == doc and ready.passages[first + 1].kind == "quote"):
        text = ready.passages[first + 1].text  # the separator a passage of its own, the header the next
    wrote = _WROTE.match(text)
    intro = wrote.group() if wrote else _header_intro(text)
    return f"{QUOTED_MESSAGE}: {intro}" if intro else QUOTED_MESSAGE


def _within_marks(text: str, start: int) -> bool:
    """Whether offset `start` of a passage is inside quotation marks the passage opens before it."""
    before = text[:start]
    curly_open = max(before.rfind(c) for c in _OPEN)
    if curly_open >= 0 and max(before.rfind(c) for c in _CLOSE) < curly_open:
        return True
    single_open = max((m.start() for m in _SINGLE_OPEN.finditer(before)), default=-1)
    if single_open >= 0 and not _SINGLE_CLOSE.search(before, single_open + 1):
        return True
    return before.count('"') % 2 == 1


def _as_typed(pattern, match: QuoteMatch) -> QuoteMatch:
    """A verbatim match, unless the quotation changed a capital or an apostrophe of the source (wording_changed):
    the skeleton that found it leaves both out, so "it's coastline" found "its coastline". Such a match is a
    near one, with the diff that shows the change."""
    if not match.exact or not wording_changed(pattern.pieces or (pattern.plain,), match.source_text):
        return match
    alike = fuzz.ratio(fold(pattern.plain), fold(match.source_text)) / 100  # a capital changed is nearly alike
    return dataclasses.replace(match, exact=False, similarity=round(min(alike, 0.99), 4), difference=Difference.TYPO,
                               diff=word_diff(pattern.plain, match.source_text))
