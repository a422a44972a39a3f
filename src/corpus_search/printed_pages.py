"""Printed page numbers read from the pages themselves, for PDFs that declare no /PageLabels.

A report whose cover and contents come first prints "1" on its third or fourth PDF page. The rule
is general, not tuned to one publisher: a number standing at either end of one of the few lines at
the top or bottom of a page (where running heads and footers sit) is a candidate; the printed
numbering is the offset (printed number minus PDF position) that most pages agree on, accepted only
when enough of the pages from where it starts carry it. A body line that happens to begin or end
with a number (a footnote "7 CRS Report ...", a year) agrees with no common offset, so it is outvoted.
Roman numerals on the pages before are read the same way, as front matter ("ii", "iii"). Pages
the numbering does not reach (a cover and contents before "1") get no label: an honest "unknown"
rather than a number the page does not print.
"""

from __future__ import annotations

import re
from collections import Counter

EDGE_LINES = 3  # lines at the top and at the bottom of a page where running heads and footers sit
MIN_AGREEING = 2  # pages that must print the same numbering before it is believed
MIN_SHARE = 0.6  # share of the pages from the first agreeing one on that must print it

_ARABIC_END = re.compile(r"(?:^|[\s|·•–—-])(\d{1,4})\s*(?:[|·•–—-]\s*)?$")
_ARABIC_START = re.compile(r"^\s*(?:[|·•–—-]\s*)?(\d{1,4})(?:\s|$)")
_PAGE_WORD = re.compile(r"\bpage\s+(\d{1,4})(?:\s+of\s+\d{1,4})?\s*$", re.I)
_ROMAN_EDGE = re.compile(r"(?:^|\s)([ivxlc]{1,7}|[IVXLC]{1,7})\s*$|^\s*([ivxlc]{1,7}|[IVXLC]{1,7})(?:\s|$)")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def detect(texts: list[str]) -> list[str | None] | None:
    """The printed label of each page (None where it prints none), or None when no numbering is found."""
    if len(texts) < MIN_AGREEING:
        return None
    edges = [_edge_lines(t or "") for t in texts]
    offset, first = _agreed_offset([_arabic_numbers(lines) for lines in edges], len(texts))
    if offset is None:
        return None
    labels: list[str | None] = [None] * len(texts)
    for i in range(len(texts)):
        # Pages before the first printed number still count when the numbering reaches them (an
        # unnumbered title page that is page 1); a cover before "1" is not page 0 or -1.
        if i + 1 + offset >= 1:
            labels[i] = str(i + 1 + offset)
    # Front matter before the arabic numbering: roman numerals, read by the same vote.
    romans = [_roman_numbers(lines) if i < first else [] for i, lines in enumerate(edges)]
    roman_offset, roman_first = _agreed_offset([[v for v, _ in found] for found in romans], first)
    if roman_offset is not None:
        upper = any(text.isupper() for found in romans for _, text in found)
        for i in range(roman_first, first):
            value = i + 1 + roman_offset
            if value >= 1 and labels[i] is None:
                labels[i] = _to_roman(value).upper() if upper else _to_roman(value)
    return labels


def _edge_lines(text: str) -> list[str]:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) <= 2 * EDGE_LINES:
        return lines
    return lines[:EDGE_LINES] + lines[-EDGE_LINES:]


def _arabic_numbers(lines: list[str]) -> list[int]:
    found: list[int] = []
    for line in lines:
        for pattern in (_PAGE_WORD, _ARABIC_END, _ARABIC_START):
            match = pattern.search(line)
            if match:
                found.append(int(match.group(1)))
    return found


def _roman_numbers(lines: list[str]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for line in lines:
        match = _ROMAN_EDGE.search(line)
        if match:
            text = match.group(1) or match.group(2)
            value = _from_roman(text.lower())
            if value:
                found.append((value, text))
    return found


def _agreed_offset(numbers: list[list[int]], count: int) -> tuple[int | None, int]:
    """(offset, first page index) of the numbering most pages among the first `count` agree on."""
    votes: Counter[int] = Counter()
    pages_with: dict[int, list[int]] = {}
    for i, found in enumerate(numbers[:count]):
        for offset in {n - (i + 1) for n in found}:
            votes[offset] += 1
            pages_with.setdefault(offset, []).append(i)
    for offset, agreeing in votes.most_common():
        if agreeing < MIN_AGREEING:
            break
        first = pages_with[offset][0]
        # Pages after the numbering starts that print nothing (full-page figures) are fine; most must agree.
        if agreeing >= MIN_SHARE * (count - first):
            return offset, first
    return None, 0


def _from_roman(text: str) -> int | None:
    total = 0
    values = [_ROMAN_VALUES[c] for c in text]
    for i, value in enumerate(values):
        total += -value if i + 1 < len(values) and values[i + 1] > value else value
    # Only canonical numerals: "ic" or "vv" are words or noise, not page numbers.
    return total if 0 < total < 400 and _to_roman(total) == text else None


def _to_roman(value: int) -> str:
    parts = []
    for number, letters in ((100, "c"), (90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"),
                            (4, "iv"), (1, "i")):
        while value >= number:
            parts.append(letters)
            value -= number
    return "".join(parts)
