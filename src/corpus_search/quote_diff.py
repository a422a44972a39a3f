"""What differs between a quotation and the source: words, their diff, how alike they are, what kind of change."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from rapidfuzz import fuzz

from corpus_search.models import Difference
from corpus_search.quote_parse import GAP
from corpus_search.textnorm import fold, fold_typing

_WORD = re.compile(r"\S+")
_NOT_ALNUM = re.compile(r"\W+|_")


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(key, start, end) of each word: the key folded to letters and digits, the span without edge punctuation."""
    out = []
    for m in _WORD.finditer(text):
        key = _NOT_ALNUM.sub("", fold(m.group()))
        if not key:
            continue
        start, end = m.start(), m.end()
        while start < end and not text[start].isalnum():
            start += 1
        while end > start and not text[end - 1].isalnum():
            end -= 1
        out.append((key, start, end))
    return out


def similarity(qkeys: Sequence[str], skeys: Sequence[str]) -> float:
    """How alike two word sequences are, in [0, 1]: spelling (character alignment) and vocabulary, equally.

    Character similarity alone flatters unrelated English (~0.55); the share of words in common
    pulls invented sentences down and keeps reordered ones up.
    """
    if not qkeys or not skeys:
        return 0.0
    return similarity_to(" ".join(qkeys), Counter(qkeys), len(qkeys), skeys)


def similarity_to(qtext: str, qcount: Counter[str], qlen: int, skeys: Sequence[str]) -> float:
    """similarity() with the quotation's side worked out once (it is called for many windows)."""
    if not qlen or not skeys:
        return 0.0
    chars = fuzz.ratio(qtext, " ".join(skeys)) / 100
    shared = sum((qcount & Counter(skeys)).values()) / max(qlen, len(skeys))
    return round((chars + shared) / 2, 3)


def word_diff(quote: str, source: str) -> tuple[tuple[str, str], ...]:
    """(op, words) runs: "=" in both, "-" in the quotation only, "+" in the source only.

    Words are compared as a reader sees them (`_typed_keys`): a changed capital, apostrophe or comma is marked,
    a curly quote typed straight is not."""
    qwords = [w for w in quote.split() if not GAP.fullmatch(w)]
    swords = source.split()
    matcher = difflib.SequenceMatcher(a=_typed_keys(qwords), b=_typed_keys(swords), autojunk=False)
    out: list[tuple[str, str]] = []

    def add(op: str, words: Sequence[str]) -> None:
        if not words:
            return
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + " " + " ".join(words))
        else:
            out.append((op, " ".join(words)))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("=", swords[j1:j2])  # the source's own spelling of the shared words
        else:
            add("-", qwords[i1:i2])
            add("+", swords[j1:j2])
    return tuple(out)


def _typed_keys(words: Sequence[str]) -> list[str]:
    """Each word as typed (fold_typing), without the quotation marks around it; the first word's first letter in
    either case ("the" may quote "The") and the last word's closing punctuation left out (a quotation may end
    where the source's sentence goes on)."""
    keys = [fold_typing(w).strip("'\"") or fold_typing(w) for w in words]
    if keys:
        keys[0] = keys[0][:1].lower() + keys[0][1:]
        keys[-1] = keys[-1].rstrip(".,;:!?'\"") or keys[-1]
    return keys


# Letters, digits and the apostrophes inside words ("it's", "world's"): what `wording_changed` compares.
_QUOTE_MARK = re.compile(r"(?<!\w)'|'(?!\w)")
_NOT_WORDING = re.compile(r"[^\w']+")


def _wording(text: str) -> str:
    return _NOT_WORDING.sub("", _QUOTE_MARK.sub("", fold_typing(text)))


def wording_changed(pieces: Sequence[str], source: str) -> bool:
    """Whether a quotation whose skeleton matched `source` (quote_parse: case, spacing, hyphens and quotation
    marks left out) still changes its wording: a capital ("Shipping Lanes" for "shipping lanes") or an
    apostrophe ("it's" for "its", "worlds" for "world's"). The first letter of each verbatim part may take
    either case ("the shipping lanes" quotes "The shipping lanes"). `pieces`: the quotation's verbatim parts,
    in order (one, when it has no ellipsis or insertion)."""
    have, pos = _wording(source), 0
    for piece in pieces:
        want = _wording(piece)
        if not want:
            continue
        first = want[0]
        found = re.compile(f"(?:{re.escape(first.lower())}|{re.escape(first.upper())}){re.escape(want[1:])}").search(have, pos)
        if found is None:
            return True
        pos = found.end()
    return False


def classify(qkeys: Sequence[str], skeys: Sequence[str]) -> Difference:
    """typo | changed words | omitted words | added words | reordered | paraphrase."""
    if list(qkeys) == list(skeys):
        return Difference.TYPO
    matcher = difflib.SequenceMatcher(a=list(qkeys), b=list(skeys), autojunk=False)
    in_order = sum(block.size for block in matcher.get_matching_blocks())
    shared = sum((Counter(qkeys) & Counter(skeys)).values())
    longest = max(len(qkeys), len(skeys))
    # The same words (nearly all of them) in another order.
    if shared >= 0.9 * longest and in_order < shared:
        return Difference.REORDERED
    if in_order < 0.5 * len(qkeys):
        return Difference.PARAPHRASE
    kinds: set[Difference] = set()
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "replace":
            pairs = list(zip(qkeys[i1:i2], skeys[j1:j2]))
            same_count = i2 - i1 == j2 - j1
            typo = same_count and all(fuzz.ratio(x, y) >= 75 for x, y in pairs)
            kinds.add(Difference.TYPO if typo else Difference.CHANGED_WORDS)
        elif tag == "delete":
            kinds.add(Difference.ADDED_WORDS)  # words the quotation has and the source does not
        elif tag == "insert":
            kinds.add(Difference.OMITTED_WORDS)
    for kind in (Difference.CHANGED_WORDS, Difference.OMITTED_WORDS, Difference.ADDED_WORDS):
        if kinds == {kind} or (kind in kinds and kinds - {kind} <= {Difference.TYPO}):
            return kind
    if kinds == {Difference.TYPO}:
        return Difference.TYPO
    return Difference.CHANGED_WORDS


def ocr_differences(quote: str, source: str, offset: int) -> tuple[dict[str, Any], ...]:
    """The words where the source (as OCR read it) differs from the quotation, with their spans."""
    qwords = [m.group() for m in _WORD.finditer(quote)]
    swords = list(_WORD.finditer(source))
    matcher = difflib.SequenceMatcher(a=[fold(w) for w in qwords], b=[fold(m.group()) for m in swords], autojunk=False)
    out = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or j1 == j2:
            continue
        out.append({"quote": " ".join(qwords[i1:i2]), "source": source[swords[j1].start() : swords[j2 - 1].end()],
                    "start": offset + swords[j1].start(), "end": offset + swords[j2 - 1].end()})
    return tuple(out)

