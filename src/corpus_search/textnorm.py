"""Fold text for matching, keeping a map back to the original characters.

What typing and layout change and a reader does not notice: curly vs straight
quotes, dash and hyphen variants (U+2011 among them), ligatures, accents kept
but case folded, runs of whitespace. The quotable text is never folded; only
the copies used to compare are.
"""

from __future__ import annotations

import re
import unicodedata

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u00ad"
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\u0060\u00b4"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"
_TABLE = {ord(c): "-" for c in _DASHES}
_TABLE.update({ord(c): "'" for c in _SINGLE_QUOTES})
_TABLE.update({ord(c): '"' for c in _DOUBLE_QUOTES})
_TABLE[0x00AD] = None  # soft hyphen: invisible in print
_TABLE[0x2026] = "..."

_SPACE = re.compile(r"\s+")


def fold_char(ch: str) -> str:
    """The folded form of one character (possibly empty or several characters)."""
    mapped = ch.translate(_TABLE)
    if mapped == ch:
        mapped = unicodedata.normalize("NFKC", ch)
    return mapped.casefold()


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """Folded text and, for each folded character, the index of its source character."""
    out: list[str] = []
    src: list[int] = []
    prev_space = True  # also strips leading whitespace
    for i, ch in enumerate(text):
        if ch.isspace():
            if not prev_space:
                out.append(" ")
                src.append(i)
            prev_space = True
            continue
        folded = fold_char(ch)
        for f in folded:
            if f.isspace():
                if prev_space:
                    continue
                out.append(" ")
                src.append(i)
                prev_space = True
            else:
                out.append(f)
                src.append(i)
                prev_space = False
    if out and out[-1] == " ":
        out.pop()
        src.pop()
    return "".join(out), src


def fold_typing(text: str) -> str:
    """Only what typing changes folded (quote and dash variants, ligatures, full-width forms); case,
    accents, spacing and punctuation kept: the words as a reader sees them, to say whether they are the same."""
    return unicodedata.normalize("NFKC", text.translate(_TABLE))


def fold(text: str) -> str:
    """Text folded for comparison: quotes, dashes, ligatures, case and spacing made uniform."""
    return fold_with_map(text)[0]


def fold_dashes(text: str) -> str:
    """Only dash variants mapped to '-' (same length is not promised: soft hyphens vanish)."""
    return text.translate({k: v for k, v in _TABLE.items() if v in ("-", None)})
