"""Verify a quotation: every place it occurs verbatim, or the closest source text and what differs.

Matching runs on a "skeleton" of the text: folded (textnorm) and stripped of whitespace, hyphens,
dashes and quotation marks, so typing and layout differences (curly quotes, a dash typed as "--",
a line-end hyphen the cleaner kept or dropped, spacing) cannot hide a verbatim quotation. Every
other character still has to agree. Reported text is always cut from the passage, never re-typed.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import re
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

from corpus_search import config
from corpus_search.cite import cite, find_locator
from corpus_search.locators import locator_of
from corpus_search.errors import QueryError
from corpus_search.models import Difference, Passage, QuoteMatch, Record, Verdict
from corpus_search.offsets import raw_offset
from corpus_search.store import Store
from corpus_search.textnorm import fold, fold_with_map

Semantic = Callable[[str, int], list[tuple[str, float]]]

# A near match at least this similar counts as the quotation, altered; below it, the words are not
# in the corpus. Invented sentences score about 0.4-0.6 against their best window.
CLOSE = 0.75
SEMANTIC_PARAPHRASE = 0.7  # cosine at which a dissimilar text still says the same thing
_SKIP = str.maketrans("", "", " -'\"")
_EDGE_PUNCT = ".,;:!?"
_QUOTE_MARKS = "\"'\u201c\u201d\u2018\u2019\u201e\u00ab\u00bb\u2039\u203a"
# "..." / "…" / ". . ." / "[...]" mean omitted words; any other [bracketed text] is an editorial insertion.
_GAP = re.compile(r"\[\s*(?:\.\s*){3}\]|\[\s*\u2026\s*\]|\.\s?\.\s?\.|\u2026|\[[^\]]{0,80}\]")
_ELLIPSIS_CHARS = set(".\u2026 ")
_OMISSION_SPAN = 6000  # skeleton characters an ellipsis may skip
_INSERTION_SPAN = 80  # ...and a bracketed insertion may stand for (a few words)
# A footnote marker pasted along with the words: "sanctions.2 European", "Union4 In".
_PASTED_MARKER = re.compile(r"(?<=[a-z.,;:)\u201d\u2019\"])\d{1,3}(?=\s|$)")
_WORD = re.compile(r"\S+")
_NOT_ALNUM = re.compile(r"\W+|_")
_POOL_PIECE = 120  # characters of the quotation per fuzzy candidate search (see _fuzzy_pool)


@dataclass(frozen=True)
class QuoteReport:
    """What verifying one quotation found."""

    quote: str
    found: bool
    matches: tuple[QuoteMatch, ...]
    # "found" (verbatim) | "altered" (close wording: see the first match's `difference`) |
    # "paraphrase" (other words, same meaning, by the vector index) | "not found" |
    # "too long" (a draft's quotation over the max_quote_chars cap, not checked) |
    # "out of time" (a draft's quotation left when its check_timeout budget ran out, not checked)
    verdict: str = ""

    def __post_init__(self) -> None:
        if not self.verdict:
            object.__setattr__(self, "verdict", _verdict(self.found, self.matches, paraphrase=False))

    def to_json(self) -> dict[str, Any]:
        return {
            "quote": self.quote,
            "found": self.found,
            "verdict": self.verdict,
            "matches": [_match_json(m) for m in self.matches],
        }


def _verdict(found: bool, matches: Sequence[QuoteMatch], paraphrase: bool) -> Verdict:
    if found:
        return Verdict.FOUND
    if matches and matches[0].similarity >= CLOSE:
        return Verdict.ALTERED
    return Verdict.PARAPHRASE if paraphrase else Verdict.NOT_FOUND


def _match_json(match: QuoteMatch) -> dict[str, Any]:
    data = match.to_json()
    # The CONTRACT.md keys first, in its order; the extras after.
    head = ("passage_id", "doc_id", "page", "paragraph", "exact", "similarity", "source_text", "citation")
    return {**{k: data[k] for k in head}, **{k: v for k, v in data.items() if k not in head}}


# ---------------------------------------------------------------- the corpus, prepared once per store


@dataclass
class _Stream:
    """Passages in reading order with their skeletons run together, so a match may cross a break."""

    members: list[int]
    starts: list[int]
    text: str


class _Prepared:
    def __init__(self, store: Store):
        self.store = store
        self.count = store.passage_count()
        self.passages: list[Passage] = store.passages()
        self.index = {p.passage_id: i for i, p in enumerate(self.passages)}
        self.folded = [fold(p.text) for p in self.passages]
        self.skeletons = [f.translate(_SKIP) for f in self.folded]
        everything = list(range(len(self.passages)))
        # Footnotes, captions and headings may sit between the two halves of a paragraph.
        flow = [i for i in everything if self.passages[i].kind not in ("footnote", "caption", "heading")]
        self.streams = [self._stream(everything)]
        if flow != everything:
            self.streams.append(self._stream(flow))
        self._maps: dict[int, list[int]] = {}
        self._tokens: dict[int, list[tuple[str, int, int]]] = {}
        self._docs: dict[str, tuple[str, str, Record]] = {}

    def _stream(self, members: list[int]) -> _Stream:
        starts, pos = [], 0
        for i in members:
            starts.append(pos)
            pos += len(self.skeletons[i])
        return _Stream(members, starts, "".join(self.skeletons[i] for i in members))

    def tokens(self, i: int) -> list[tuple[str, int, int]]:
        if i not in self._tokens:
            self._tokens[i] = tokens(self.passages[i].text)
        return self._tokens[i]

    def skeleton_map(self, i: int) -> list[int]:
        """For each skeleton character of passage i, the index of its character in the passage text."""
        if i not in self._maps:
            folded, src = fold_with_map(self.passages[i].text)
            self._maps[i] = [src[j] for j, ch in enumerate(folded) if ch not in " -'\""]
        return self._maps[i]

    def doc(self, doc_id: str) -> tuple[str, str, Record]:
        """(cleaned document text, file sha256, record)."""
        if doc_id not in self._docs:
            document = self.store.document(doc_id)
            self._docs[doc_id] = (self.store.document_text(doc_id), document.sha256, document.record)
        return self._docs[doc_id]


_PREPARED: weakref.WeakKeyDictionary[Store, _Prepared] = weakref.WeakKeyDictionary()


def _prepared(store: Store) -> _Prepared:
    ready = _PREPARED.get(store)
    if ready is None or ready.count != store.passage_count():
        ready = _Prepared(store)
        _PREPARED[store] = ready
    return ready


# ---------------------------------------------------------------- reading the quotation


@dataclass(frozen=True)
class _Pattern:
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


def parse_quote(text: str) -> _Pattern:
    """The verbatim parts of a quotation and the gaps its ellipses and insertions leave."""
    text = _strip_marks(text)
    segments: list[str] = []
    gaps: list[int] = []
    plain: list[str] = []
    pieces: list[str] = []
    open_start = open_end = False
    pending_gap = 0
    pos = 0
    for gap in [*_GAP.finditer(text), None]:
        piece = text[pos : gap.start() if gap else len(text)]
        plain.append(piece)  # with its own spacing, so "[T]he" reads "The"
        skeleton = fold(piece).translate(_SKIP).strip(_EDGE_PUNCT)
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
    return _Pattern(tuple(segments), tuple(gaps), open_start, open_end, plain_text, tuple(pieces))


def _occurrences(text: str, segment: str) -> list[int]:
    """Start of every occurrence of `segment` in `text`, overlapping ones included."""
    found, at = [], text.find(segment)
    while at >= 0:
        found.append(at)
        at = text.find(segment, at + 1)
    return found


def _gapped_matches(text: str, pattern: _Pattern) -> list[tuple[int, int]]:
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


# ---------------------------------------------------------------- verbatim matches


def verify(store: Store, text: str, semantic: Semantic | None = None, limit: int = 5) -> QuoteReport:
    """Every verbatim occurrence of the quotation, or its closest candidates (best first)."""
    check_length(text)
    ready = _prepared(store)
    pattern = parse_quote(text)
    matches = _exact(ready, pattern)
    if not matches and _PASTED_MARKER.search(text):
        pattern = parse_quote(_PASTED_MARKER.sub("", text))
        matches = _exact(ready, pattern)
    matches = _with_ocr(ready, pattern, matches)
    if matches:
        return QuoteReport(text, True, tuple(matches), "found")
    near, paraphrase = _closest(ready, pattern, semantic, limit)
    return QuoteReport(text, False, tuple(near), _verdict(False, near, paraphrase))


# ---------------------------------------------------------------- OCR-equivalent matches

# Characters Tesseract confuses, folded to one: a quotation typed from a clean copy still finds the
# scanned copy. "rn" read for "m" is handled apart (two characters for one).
_OCR_CHARS = str.maketrans({"1": "l", "|": "l", "0": "o"})


def _ocr_skeleton(skeleton: str) -> tuple[str, list[tuple[int, int]]]:
    """The skeleton with OCR confusions folded, and for each of its characters the skeleton span it stands for."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    k = 0
    while k < len(skeleton):
        if skeleton.startswith("rn", k):
            out.append("m")
            spans.append((k, k + 2))
            k += 2
        else:
            out.append(skeleton[k].translate(_OCR_CHARS))
            spans.append((k, k + 1))
            k += 1
    return "".join(out), spans


class _OcrStream:
    """The OCR'd passages in reading order, their skeletons folded by `_ocr_skeleton` and run together."""

    def __init__(self, ready: _Prepared):
        self.members = [i for i, p in enumerate(ready.passages) if p.ocr]
        self.spans: list[list[tuple[int, int]]] = []
        self.starts: list[int] = []
        parts, pos = [], 0
        for i in self.members:
            folded, spans = _ocr_skeleton(ready.skeletons[i])
            self.starts.append(pos)
            self.spans.append(spans)
            parts.append(folded)
            pos += len(folded)
        self.text = "".join(parts)


def _with_ocr(ready: _Prepared, pattern: _Pattern, matches: list[QuoteMatch]) -> list[QuoteMatch]:
    """`matches` plus the places in OCR'd text the quotation matches once OCR confusions are folded.

    Each such match says which words differ only by OCR (`ocr_equivalent`), with their spans.
    """
    if not any(p.ocr for p in ready.passages):
        return matches
    stream = getattr(ready, "_ocr_stream", None)
    if stream is None:
        stream = ready._ocr_stream = _OcrStream(ready)  # type: ignore[attr-defined]
    folded = dataclasses.replace(pattern, segments=tuple(_ocr_skeleton(s)[0] for s in pattern.segments))
    have = {(m.passage_id, m.start) for m in matches}
    out = [dataclasses.replace(m, ocr=True) if ready.passages[ready.index[m.passage_id]].ocr else m for m in matches]
    pos = 0
    for a, b in _gapped_matches(stream.text, folded):
        if a < pos:
            continue
        span = _locate_ocr(ready, stream, a, b, pattern)
        if span is None:
            continue
        first, start, last, end = span
        if (ready.passages[first].passage_id, start) in have:
            continue
        match = _build(ready, first, start, last, end, exact=False, similarity=1.0, ocr=True)
        equivalent = _ocr_differences(pattern.plain, match.source_text, start)
        if not equivalent:  # the same words after all (the verbatim search missed it across passages)
            match = dataclasses.replace(match, exact=True)
        else:
            similarity = fuzz.ratio(fold(pattern.plain), fold(match.source_text)) / 100
            match = dataclasses.replace(match, ocr_equivalent=equivalent, similarity=round(similarity, 4),
                                        diff=word_diff(pattern.plain, match.source_text))
        out.append(match)
        have.add((match.passage_id, start))
        pos = b
    return sorted(out, key=lambda q: (not q.exact, ready.index[q.passage_id], q.start))


def _locate_ocr(ready: _Prepared, stream: _OcrStream, a: int, b: int,
                pattern: _Pattern) -> tuple[int, int, int, int] | None:
    """Like `_locate`, from positions in the OCR stream."""
    i = bisect.bisect_right(stream.starts, a) - 1
    j = bisect.bisect_right(stream.starts, b - 1) - 1
    if j - i > 1:
        return None
    first, last = stream.members[i], stream.members[j]
    p, q = ready.passages[first], ready.passages[last]
    if p.doc_id != q.doc_id:
        return None
    start = ready.skeleton_map(first)[stream.spans[i][a - stream.starts[i]][0]]
    end = ready.skeleton_map(last)[stream.spans[j][b - 1 - stream.starts[j]][1] - 1] + 1
    if not pattern.open_start and start > 0 and p.text[start - 1].isalnum():
        return None
    if not pattern.open_end and end < len(q.text) and q.text[end].isalnum():
        return None
    return first, start, last, end


def _ocr_differences(quote: str, source: str, offset: int) -> tuple[dict[str, Any], ...]:
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


def _exact(ready: _Prepared, pattern: _Pattern) -> list[QuoteMatch]:
    found: dict[tuple[str, int], QuoteMatch] = {}
    for stream in ready.streams:
        pos = 0
        for a, b in _gapped_matches(stream.text, pattern):
            if a < pos:
                continue  # inside the match before: matches do not overlap
            span = _locate(ready, stream, a, b, pattern)
            if span is None:
                continue
            first, start, last, end = span
            key = (ready.passages[first].passage_id, start)
            if key not in found:
                found[key] = _build(ready, first, start, last, end, exact=True, similarity=1.0)
                if pattern.gapped:
                    diff = word_diff(pattern.plain, found[key].source_text)
                    found[key] = _replace(found[key], diff=diff)
            pos = b
    return sorted(found.values(), key=lambda q: (ready.index[q.passage_id], q.start))


def _locate(ready: _Prepared, stream: _Stream, a: int, b: int, pattern: _Pattern) -> tuple[int, int, int, int] | None:
    """(first passage, start, last passage, end) in passage-text offsets, or None if not a real match."""
    i = bisect.bisect_right(stream.starts, a) - 1
    j = bisect.bisect_right(stream.starts, b - 1) - 1
    if j - i > 1:
        return None
    first, last = stream.members[i], stream.members[j]
    p, q = ready.passages[first], ready.passages[last]
    if p.doc_id != q.doc_id:
        return None
    start = ready.skeleton_map(first)[a - stream.starts[i]]
    end = ready.skeleton_map(last)[b - 1 - stream.starts[j]] + 1
    # Whole words only, unless an insertion stands for the start or end of a word ("[T]he").
    if pattern.open_start:
        while start > 0 and p.text[start - 1].isalnum():
            start -= 1
    elif start > 0 and p.text[start - 1].isalnum():
        return None
    if pattern.open_end:
        while end < len(q.text) and q.text[end].isalnum():
            end += 1
    elif end < len(q.text) and q.text[end].isalnum():
        return None
    return first, start, last, end


def _build(ready: _Prepared, first: int, start: int, last: int, end: int, **extra: Any) -> QuoteMatch:
    p, q = ready.passages[first], ready.passages[last]
    doc_text, sha, record = ready.doc(p.doc_id)
    consistent = all(doc_text[x.start : x.end] == x.text for x in (p, q))
    if first == last:
        source = p.text[start:end]
    else:
        between = doc_text[p.end : q.start] if consistent else ""
        source = p.text[start:] + (between if between and not between.strip() else "\n\n") + q.text[:end]
    doc_start, doc_end = p.start + start, q.start + end
    if consistent:
        prefix, suffix = doc_text[max(doc_start - 32, 0) : doc_start], doc_text[doc_end : doc_end + 32]
    else:
        prefix, suffix = p.text[max(start - 32, 0) : start], q.text[end : end + 32]
    selector = {
        "type": "TextQuoteSelector",
        "exact": source,
        "prefix": prefix,
        "suffix": suffix,
        # The same span by position in the cleaned document text (W3C TextPositionSelector).
        "position": {"type": "TextPositionSelector", "start": doc_start, "end": doc_end},
    }
    raw_start, raw_end = raw_offset(p, start), raw_offset(q, max(end - 1, 0))
    if raw_start is not None and raw_end is not None:
        # Where the words sit in the source as extracted (the decoded file, for a text source),
        # so a reader can check them against the original layout.
        selector["source_position"] = {"start": raw_start, "end": raw_end + 1}
    other = q if last != first else None
    loc = find_locator(record, p, start, end, other)
    return QuoteMatch(
        passage_id=p.passage_id,
        doc_id=p.doc_id,
        source_text=source,
        start=start,
        # Offsets in the first passage; a match running on into the next one ends with its text.
        end=end if first == last else len(p.text),
        page=_page_number(p.page_at(start), p.page),
        page_end=_page_number(loc.last, q.page_end) if loc.label == "page" else q.page_end,
        paragraph=p.paragraph,
        passage_ids=(p.passage_id,) if first == last else (p.passage_id, q.passage_id),
        selector=selector,
        file_sha256=sha,
        citation=cite(record, p, "chicago", start, end, last=other),
        pdf_page=p.pdf_page_at(start),
        **extra,
    )


def _page_number(label: str | None, fallback: int | None) -> int | None:
    return int(label) if label and label.isdigit() else fallback


def _replace(match: QuoteMatch, **changes: Any) -> QuoteMatch:
    return dataclasses.replace(match, **changes)


# ---------------------------------------------------------------- closest matches


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
    return _similarity(" ".join(qkeys), Counter(qkeys), len(qkeys), skeys)


def _similarity(qtext: str, qcount: Counter[str], qlen: int, skeys: Sequence[str]) -> float:
    """similarity() with the quotation's side worked out once (it is called for many windows)."""
    if not qlen or not skeys:
        return 0.0
    chars = fuzz.ratio(qtext, " ".join(skeys)) / 100
    shared = sum((qcount & Counter(skeys)).values()) / max(qlen, len(skeys))
    return round((chars + shared) / 2, 3)


def _closest(ready: _Prepared, pattern: _Pattern, semantic: Semantic | None, limit: int) -> tuple[list[QuoteMatch], bool]:
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
    if chosen and chosen[0].similarity < CLOSE:
        backed = [c for c in scored if cosines.get(c.first, 0.0) >= SEMANTIC_PARAPHRASE and len({c.first, c.last}) == 1]
        if backed:
            best = max(backed, key=lambda c: (cosines[c.first], c.similarity))
            chosen = [best] + [c for c in chosen if not _overlaps(c, best)][: limit - 1]
            paraphrase = True
    out = []
    for n, near in enumerate(chosen):
        match = _build(ready, near.first, near.start, near.last, near.end, exact=False, similarity=near.similarity)
        kind = Difference.PARAPHRASE if n == 0 and paraphrase else classify(qkeys, near.keys)
        out.append(_replace(match, diff=word_diff(pattern.plain, match.source_text), difference=kind))
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


def _fuzzy_pool(ready: _Prepared, folded: str, size: int = 20) -> set[int]:
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


def _align(ready: _Prepared, window: tuple[int, ...], segments: list[list[str]]) -> _Near | None:
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
    a, b = spans[0][0], spans[-1][1]
    if len(window) > 1 and toks[a].passage == toks[b - 1].passage:
        return None  # the single-passage window covers it
    matched = tuple(k for x, y in spans for k in keys[x:y])
    score = similarity([k for seg in segments for k in seg], matched)
    if score >= 1.0:
        score = 0.99  # the same words with other punctuation: close, but not verbatim
    return _Near(score, toks[a].passage, toks[a].start, toks[b - 1].passage, toks[b - 1].end, matched)


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
            score = _similarity(query, qcount, qlen, keys[a:b])
            score += 0.05 * (_alike(qkeys[0], keys[a]) + _alike(qkeys[-1], keys[b - 1]))
            if score > best[0]:
                best = (score, a, b)
    return best[1], best[2]


# ---------------------------------------------------------------- what differs


def word_diff(quote: str, source: str) -> tuple[tuple[str, str], ...]:
    """(op, words) runs: "=" in both, "-" in the quotation only, "+" in the source only."""
    qwords = [w for w in quote.split() if not _GAP.fullmatch(w)]
    swords = source.split()
    matcher = difflib.SequenceMatcher(a=[_key(w) for w in qwords], b=[_key(w) for w in swords], autojunk=False)
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


def _key(word: str) -> str:
    return _NOT_ALNUM.sub("", fold(word)) or fold(word)


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


# ---------------------------------------------------------------- plain-text report


def _where(match: QuoteMatch) -> str:
    if match.paragraph is None and match.page is None:
        return "page unknown"
    return locator_of(match)


def render_diff(diff: Sequence[Sequence[str]]) -> str:
    """A word diff readable in a terminal: [-quoted words-] {+source words+}."""
    parts = []
    for op, words in diff:
        parts.append(words if op == "=" else f"[-{words}-]" if op == "-" else f"{{+{words}+}}")
    return " ".join(parts)


def render_report(report: QuoteReport) -> str:
    """The report as a person reads it: where the quotation is, or what the source really says."""
    lines = []
    if report.found:
        exact = [m for m in report.matches if m.exact]
        if exact:
            lines.append(f"FOUND verbatim, {len(exact)} occurrence{'s' if len(exact) != 1 else ''}:")
        for m in exact:
            lines.append(f"  {m.doc_id}, {_where(m)} [{', '.join(m.passage_ids) or m.passage_id}]"
                         + (" (OCR text)" if m.ocr else ""))
            lines.append(f"    source: {m.source_text}")
            lines.append(f"    cite:   {m.citation}")
        ocr_only = [m for m in report.matches if m.ocr_equivalent]
        if ocr_only:
            lines.append(f"FOUND in OCR text only modulo OCR confusions, {len(ocr_only)} occurrence"
                         f"{'s' if len(ocr_only) != 1 else ''}:")
        for m in ocr_only:
            lines.append(f"  {m.doc_id}, {_where(m)} [{', '.join(m.passage_ids) or m.passage_id}]")
            lines.append(f"    source: {m.source_text}")
            for eq in m.ocr_equivalent:
                lines.append(f"    OCR read {eq['source']!r} for {eq['quote']!r} (characters {eq['start']}-{eq['end']})")
            lines.append(f"    cite:   {m.citation}")
        return "\n".join(lines)
    if report.verdict == "too long":
        return (f"NOT CHECKED: {quote_length(report.quote):,} characters, more than the {max_quote_chars():,} "
                "a quotation may have (a stray quotation mark? CORPUS_SEARCH_MAX_QUOTE_CHARS sets the cap)")
    if report.verdict == "out of time":
        return ("NOT CHECKED: the draft's time budget ran out before this quotation "
                "(check the draft in parts, or raise CORPUS_SEARCH_CHECK_TIMEOUT)")
    label = {"altered": "NOT FOUND as quoted; the source has", "paraphrase": "NOT FOUND verbatim; a passage says this in other words"}
    lines.append(label.get(report.verdict, "NOT FOUND in the corpus") + (":" if report.matches else "."))
    shown = [m for m in report.matches[:3] if m.similarity >= CLOSE] if report.verdict == "altered" else []
    for m in shown or report.matches[:1]:
        kind = f", {m.difference}" if m.difference and report.verdict != "not found" else ""
        lines.append(f"  {m.doc_id}, {_where(m)} (similarity {m.similarity:.2f}{kind})")
        lines.append(f"    source: {m.source_text}")
        if m.diff and report.verdict != "not found":
            lines.append(f"    diff:   {render_diff(m.diff)}")
        if report.verdict == "not found":
            lines.append("    (closest text only: too different to be this quotation)")
    return "\n".join(lines)
