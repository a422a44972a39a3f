"""When a quotation is not in the corpus verbatim: the closest source text, how alike, and what differs."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from corpus_search.models import Difference, QuoteMatch
from corpus_search.quote_diff import classify, similarity, similarity_to, tokens, word_diff
from corpus_search.quote_match import Prepared, build_match, replace
from corpus_search.quote_parse import Pattern
from corpus_search.textnorm import fold

Semantic = Callable[[str, int], list[tuple[str, float]]]  # (text, k) -> (passage_id, cosine), best first

# A near match at least this similar counts as the quotation, altered; below it, the words are not
# in the corpus. Invented sentences score about 0.4-0.6 against their best window.
CLOSE = 0.75
SEMANTIC_PARAPHRASE = 0.7  # cosine at which a dissimilar text still says the same thing
_POOL_PIECE = 120  # characters of the quotation per fuzzy candidate search (see _fuzzy_pool)


@dataclass(frozen=True)
class _Token:
    key: str  # folded, letters and digits only
    passage: int
    start: int  # span of the word in its passage text, punctuation trimmed
    end: int


@dataclass(frozen=True)
class _Near:
    similarity: float
    first: int
    start: int
    last: int
    end: int
    keys: tuple[str, ...]  # the source words matched (without what an ellipsis skipped)


def closest(ready: Prepared, pattern: Pattern, semantic: Semantic | None, limit: int) -> tuple[list[QuoteMatch], bool]:
    """The closest candidates, best first, and whether the first is a paraphrase the vector index vouches for."""
    segments = [[k for k, _, _ in tokens(piece)] for piece in pattern.pieces]
    segments = [seg for seg in segments if seg]
    qkeys = [k for seg in segments for k in seg]
    if not qkeys:
        return [], False
    cosines: dict[int, float] = {}
    pool = _fuzzy_pool(ready, fold(pattern.plain))
    if semantic is not None:
        for pid, cosine in semantic(pattern.plain, 10):
            if pid in ready.index:
                pool.add(ready.index[pid])
                cosines[ready.index[pid]] = cosine
    windows: set[tuple[int, ...]] = set()
    for i in pool:
        windows.add((i,))
        # A quotation may run over a paragraph or page break into the next passage.
        for a, b in ((i - 1, i), (i, i + 1)):
            if 0 <= a and b < len(ready.passages) and ready.passages[a].doc_id == ready.passages[b].doc_id:
                windows.add((a, b))
    scored = [r for r in (_align(ready, w, segments) for w in sorted(windows)) if r is not None]
    scored.sort(key=lambda r: -r.similarity)
    chosen: list[_Near] = []
    for r in scored:
        if not any(_overlaps(r, c) for c in chosen):
            chosen.append(r)
        if len(chosen) == limit:
            break
    # When no wording is close, a passage the vector index finds close in meaning is a paraphrase.
    paraphrase = False
    # The same words in another order are the quotation, altered, however low their spelling similarity.
    if chosen and chosen[0].similarity < CLOSE and classify(qkeys, chosen[0].keys) != Difference.REORDERED:
        backed = [c for c in scored if cosines.get(c.first, 0.0) >= SEMANTIC_PARAPHRASE and len({c.first, c.last}) == 1]
        if backed:
            best = max(backed, key=lambda c: (cosines[c.first], c.similarity))
            chosen = [best] + [c for c in chosen if not _overlaps(c, best)][: limit - 1]
            paraphrase = True
    out = []
    for n, near in enumerate(chosen):
        match = build_match(ready, near.first, near.start, near.last, near.end, exact=False, similarity=near.similarity)
        kind = Difference.PARAPHRASE if n == 0 and paraphrase else classify(qkeys, near.keys)
        out.append(replace(match, diff=word_diff(pattern.plain, match.source_text), difference=kind))
    return out, paraphrase


def _chunks(text: str, size: int) -> list[str]:
    """The text cut at spaces into pieces of about `size` characters."""
    pieces, start = [], 0
    while start < len(text):
        end = start + size
        if end < len(text):
            space = text.rfind(" ", start + size // 2, end)
            end = space if space > start else end
        pieces.append(text[start:end].strip())
        start = end
    return [p for p in pieces if p]


def _fuzzy_pool(ready: Prepared, folded: str, size: int = 20) -> set[int]:
    """The passages most like the quotation, by fuzzy partial matching.

    partial_ratio costs about the square of the needle's length (a 1,600-character needle took 8 s
    over 240,000 characters of passages, a 100-character one 0.02 s), so a long quotation is matched
    in pieces of _POOL_PIECE characters and each passage scores the sum over the pieces: near-linear
    in the quotation's length, and a passage holding much of it ranks first.
    """
    pieces = _chunks(folded, _POOL_PIECE)
    if len(pieces) == 1:
        return {i for _, _, i in process.extract(folded, ready.folded, scorer=fuzz.partial_ratio, limit=size)}
    totals: Counter[int] = Counter()
    for piece in pieces:
        for _, score, i in process.extract(piece, ready.folded, scorer=fuzz.partial_ratio, limit=size):
            totals[i] += score
    return {i for i, _ in totals.most_common(size)}


def _overlaps(a: _Near, b: _Near) -> bool:
    """Two candidates cover some of the same text."""
    def span(n: _Near) -> tuple[tuple[int, int], tuple[int, int]]:
        return (n.first, n.start), (n.last, n.end)

    (a0, a1), (b0, b1) = span(a), span(b)
    return a0 < b1 and b0 < a1


def _align(ready: Prepared, window: tuple[int, ...], segments: list[list[str]]) -> _Near | None:
    """The window's words closest to the quotation, its verbatim parts found in order."""
    toks = [_Token(k, i, s, e) for i in window for k, s, e in ready.tokens(i)]
    if not toks:
        return None
    keys = [t.key for t in toks]
    pos, spans = 0, []
    for seg in segments:
        found = _best_window(seg, keys, pos)
        if found is None:
            return None
        spans.append(found)
        pos = found[1]
    matched = tuple(k for x, y in spans for k in keys[x:y])
    score = similarity([k for seg in segments for k in seg], matched)
    left_out = _left_out(segments, keys)
    if left_out is not None and left_out[0] > score:
        score, spans = left_out
        matched = tuple(k for x, y in spans for k in keys[x:y])
    a, b = spans[0][0], spans[-1][1]
    if len(window) > 1 and toks[a].passage == toks[b - 1].passage:
        return None  # the single-passage window covers it
    if score >= 1.0:
        score = 0.99  # the same words with other punctuation: close, but not verbatim
    return _Near(score, toks[a].passage, toks[a].start, toks[b - 1].passage, toks[b - 1].end, matched)


_MIN_LEFT_OUT = 4  # words a verbatim part needs before it can count as a quotation with words left out
_MAX_LEFT_OUT_GAPS = 3  # places per verbatim part where words may be left out


def _left_out(segments: list[list[str]], keys: list[str]) -> tuple[float, list[tuple[int, int]]] | None:
    """A quotation that left words out without an ellipsis: each verbatim part's words, every one of them, in order
    in the source, with at most as many words left out as it quotes and in at most _MAX_LEFT_OUT_GAPS places.

    Similarity: 1 - (words left out) / (words in the source span) / 2, so "The official poverty rate in the United
    States fell to 10.2%" for "... United States, or percentage of people who live in poverty, fell to 10.2%" is
    close (0.81) and shows the whole span; the nearest window by spelling alone stopped at "States, or" (0.68) and
    was taken for another text. (score, [a, b) word range of each part) or None."""
    spans: list[tuple[int, int]] = []
    pos, quoted, left = 0, 0, 0
    for seg in segments:
        if len(seg) < _MIN_LEFT_OUT:
            return None
        best = None
        for start in range(pos, len(keys)):
            if not _alike(seg[0], keys[start]):
                continue
            end, j, gaps, after_match = start + 1, 1, 0, True
            while j < len(seg) and end < len(keys) and end - start - j <= len(seg):
                if _alike(seg[j], keys[end]):
                    j, after_match = j + 1, True
                else:
                    gaps += after_match  # a new stretch of left-out words starts here
                    after_match = False
                end += 1
            if j == len(seg) and gaps <= _MAX_LEFT_OUT_GAPS and end - start - len(seg) <= len(seg):
                if best is None or end - start < best[1] - best[0]:
                    best = (start, end)
        if best is None:
            return None
        spans.append(best)
        quoted += len(seg)
        left += best[1] - best[0] - len(seg)
        pos = best[1]
    return round(1 - left / (quoted + left) / 2, 3), spans


def _alike(a: str, b: str) -> bool:
    return a == b or fuzz.ratio(a, b) >= 80


def _best_window(qkeys: list[str], keys: list[str], lo: int) -> tuple[int, int] | None:
    """Word range [a, b) of keys[lo:] most like qkeys."""
    if lo >= len(keys):
        return None
    query = " ".join(qkeys)
    offsets, pos = [], 0
    for k in keys[lo:]:
        offsets.append(pos)
        pos += len(k) + 1
    hint = fuzz.partial_ratio_alignment(query, " ".join(keys[lo:]))
    if hint is None:
        return None
    ws = lo + bisect.bisect_right(offsets, hint.dest_start) - 1
    we = lo + bisect.bisect_right(offsets, max(hint.dest_end - 1, hint.dest_start))
    best = (-1.0, ws, we)
    qcount, qlen = Counter(qkeys), len(qkeys)
    # Refine to whole words: the alignment's edges may fall inside words or miss omitted ones.
    # A quotation usually starts and ends where its source words do, so windows that agree at
    # the edges win near-ties ("are not" vs "are not simply cooperating" for "are cooperating").
    for a in range(max(ws - 4, lo), min(ws + 5, len(keys))):
        for b in range(max(we - 4, a + 1), min(we + 5, len(keys)) + 1):
            score = similarity_to(query, qcount, qlen, keys[a:b])
            score += 0.05 * (_alike(qkeys[0], keys[a]) + _alike(qkeys[-1], keys[b - 1]))
            if score > best[0]:
                best = (score, a, b)
    return best[1], best[2]

