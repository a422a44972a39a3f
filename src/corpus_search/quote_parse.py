"""Reading a quotation: its verbatim parts, the gaps its ellipses and insertions leave, its length cap.

Matching runs on a "skeleton" of the text: folded (textnorm) and stripped of whitespace, hyphens,
dashes and quotation marks, so typing and layout differences (curly quotes, a dash typed as "--",
a line-end hyphen the cleaner kept or dropped, spacing) cannot hide a verbatim quotation. Every
other character still has to agree.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from corpus_search import config
from corpus_search.errors import QueryError
from corpus_search.textnorm import fold

SKIP_CHARS = " -'\""  # what a skeleton leaves out (after folding)
SKIP = str.maketrans("", "", SKIP_CHARS)
_EDGE_PUNCT = ".,;:!?"
_QUOTE_MARKS = "\"'\u201c\u201d\u2018\u2019\u201e\u00ab\u00bb\u2039\u203a"
# "..." / "…" / ". . ." / "[...]" mean omitted words; any other [bracketed text] is an editorial insertion.
GAP = re.compile(r"\[\s*(?:\.\s*){3}\]|\[\s*\u2026\s*\]|\.\s?\.\s?\.|\u2026|\[[^\]]{0,80}\]")
_ELLIPSIS_CHARS = set(".\u2026 ")
_OMISSION_SPAN = 6000  # skeleton characters an ellipsis may skip
_INSERTION_SPAN = 80  # ...and a bracketed insertion may stand for (a few words)
# A footnote marker pasted along with the words: "sanctions.2 European", "Union4 In".
PASTED_MARKER = re.compile(r"(?<=[a-z.,;:)\u201d\u2019\"])\d{1,3}(?=\s|$)")


@dataclass(frozen=True)
class Pattern:
    """A quotation read for matching."""

    segments: tuple[str, ...]  # skeletons of the verbatim parts, in order
    gaps: tuple[int, ...]  # longest skeleton span each gap between segments may cover
    open_start: bool  # begins with an insertion: "[T]he ..."
    open_end: bool
    plain: str  # the words without gap marks, for fuzzy matching and diffs
    pieces: tuple[str, ...] = ()  # the verbatim parts as typed

    @property
    def gapped(self) -> bool:
        return len(self.segments) > 1 or self.open_start or self.open_end


def _strip_marks(text: str) -> str:
    text = " ".join(text.split())
    while text and (text[0] in _QUOTE_MARKS or text[-1] in _QUOTE_MARKS + _EDGE_PUNCT):
        text = text[1:] if text[0] in _QUOTE_MARKS else text[:-1].rstrip()
        text = text.strip()
    return text


def parse_quote(text: str) -> Pattern:
    """The verbatim parts of a quotation and the gaps its ellipses and insertions leave."""
    text = _strip_marks(text)
    segments: list[str] = []
    gaps: list[int] = []
    plain: list[str] = []
    pieces: list[str] = []
    open_start = open_end = False
    pending_gap = 0
    pos = 0
    for gap in [*GAP.finditer(text), None]:
        piece = text[pos : gap.start() if gap else len(text)]
        plain.append(piece)  # with its own spacing, so "[T]he" reads "The"
        skeleton = fold(piece).translate(SKIP).strip(_EDGE_PUNCT)
        if skeleton:
            if segments:
                gaps.append(pending_gap)
            elif pending_gap:
                open_start = open_start or pending_gap == _INSERTION_SPAN
            segments.append(skeleton)
            pieces.append(piece)
            pending_gap = 0
        if gap is None:
            break
        is_omission = set(gap.group()) <= _ELLIPSIS_CHARS | set("[]")
        span = _OMISSION_SPAN if is_omission else _INSERTION_SPAN
        pending_gap = max(pending_gap, span)
        # Inserted words still help fuzzy matching; omitted ones leave a word break.
        plain.append(gap.group()[1:-1] if not is_omission else " ")
        pos = gap.end()
    open_end = pending_gap == _INSERTION_SPAN
    if not segments:
        raise QueryError("the quotation has no words to look for")
    plain_text = " ".join("".join(plain).split())
    return Pattern(tuple(segments), tuple(gaps), open_start, open_end, plain_text, tuple(pieces))


def _occurrences(text: str, segment: str) -> list[int]:
    """Start of every occurrence of `segment` in `text`, overlapping ones included."""
    found, at = [], text.find(segment)
    while at >= 0:
        found.append(at)
        at = text.find(segment, at + 1)
    return found


def gapped_matches(text: str, pattern: Pattern) -> list[tuple[int, int]]:
    """(start, end) of each way the segments occur in order with gaps no longer than allowed, by start.

    A regular expression (segment, .{0,gap}?, segment, ...) backtracks through every combination of
    occurrences when a late segment is missing: "of the ... of the ... of the ... xyz" took minutes.
    Here each segment is found once (str.find) and two passes over the sorted occurrences keep those
    reachable from a first segment and leading on to a last one: linear in the text and the matches.
    From each start the earliest continuation is taken, as the lazy gaps of the expression did.
    """
    segs, gaps = pattern.segments, pattern.gaps
    occ = [_occurrences(text, seg) for seg in segs]
    # Forward: occurrences some chain of earlier segments reaches.
    reach = [occ[0]]
    for k in range(1, len(segs)):
        ends = [a + len(segs[k - 1]) for a in reach[-1]]
        keep = []
        for b in occ[k]:
            i = bisect.bisect_right(ends, b) - 1  # the latest end at or before b leaves the shortest gap
            if i >= 0 and b - ends[i] <= gaps[k - 1]:
                keep.append(b)
        reach.append(keep)
    # Backward: of those, the ones a chain of later segments completes.
    good = [reach[-1]]
    for k in range(len(segs) - 2, -1, -1):
        nxt = good[0]
        keep = []
        for a in reach[k]:
            e = a + len(segs[k])
            j = bisect.bisect_left(nxt, e)
            if j < len(nxt) and nxt[j] - e <= gaps[k]:
                keep.append(a)
        good.insert(0, keep)
    out = []
    for a in good[0]:
        at = a
        for k in range(1, len(segs)):
            e = at + len(segs[k - 1])
            at = good[k][bisect.bisect_left(good[k], e)]  # exists and lies within the gap: see above
        out.append((a, at + len(segs[-1])))
    return out


def max_quote_chars() -> int:
    return config.get_int("max_quote_chars")


def quote_length(text: str) -> int:
    """The length the cap counts: also once folded, since matching works on folded text and NFKC turns
    one character into up to eighteen (U+FDFA: 4,999 of them took over 4 minutes under a 5,000 cap)."""
    return len(text) if len(text) > max_quote_chars() else max(len(text), len(fold(text)))


def check_length(text: str) -> None:
    """Refuse a quotation longer than the cap: past a few pages it is a mistake (or an attack), not a quotation."""
    cap = max_quote_chars()
    if quote_length(text) > cap:
        raise QueryError(f"the quotation is {quote_length(text):,} characters; the most `quote` checks is {cap:,} "
                         f"(set CORPUS_SEARCH_MAX_QUOTE_CHARS to allow more)")
