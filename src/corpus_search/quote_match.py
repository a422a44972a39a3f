"""Where a quotation occurs verbatim: in the passages as typed, or in OCR text once OCR confusions are folded.

Both searches run the quotation's skeleton (quote_parse) over a stream of passage skeletons run
together, so a match may cross a paragraph or page break; `locate` maps a stream match back to
passage-text offsets. Reported text is always cut from the passage, never re-typed.
"""

from __future__ import annotations

import bisect
import dataclasses
import weakref
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from corpus_search.cite import cite, find_locator
from corpus_search.models import Passage, QuoteMatch, Record
from corpus_search.offsets import raw_offset
from corpus_search.quote_diff import ocr_differences, tokens, word_diff
from corpus_search.quote_parse import SKIP, SKIP_CHARS, Pattern, gapped_matches
from corpus_search.store import Store
from corpus_search.textnorm import fold, fold_with_map

# ---------------------------------------------------------------- the corpus, prepared once per store


@dataclass
class Stream:
    """Passages in reading order with their skeletons run together, so a match may cross a break."""

    members: list[int]
    starts: list[int]
    text: str
    # For a stream whose text is not the skeletons themselves (OCR-folded): for each member, the
    # skeleton span each of its stream characters stands for. None: the stream is the skeletons.
    spans: list[list[tuple[int, int]]] | None = None


class Prepared:
    """The passages of one store read for matching: folded, skeletons, streams; built once per store."""

    def __init__(self, store: Store):
        self.store = store
        self.count = store.passage_count()
        self.passages: list[Passage] = store.passages()
        self.index = {p.passage_id: i for i, p in enumerate(self.passages)}
        self.folded = [fold(p.text) for p in self.passages]
        self.skeletons = [f.translate(SKIP) for f in self.folded]
        everything = list(range(len(self.passages)))
        # Footnotes, captions and headings may sit between the two halves of a paragraph.
        flow = [i for i in everything if self.passages[i].kind not in ("footnote", "caption", "heading")]
        self.streams = [self._stream(everything)]
        if flow != everything:
            self.streams.append(self._stream(flow))
        self._ocr_stream: Stream | None = None
        self._maps: dict[int, list[int]] = {}
        self._tokens: dict[int, list[tuple[str, int, int]]] = {}
        self._docs: dict[str, tuple[str, str, Record]] = {}

    def _stream(self, members: list[int]) -> Stream:
        starts, pos = [], 0
        for i in members:
            starts.append(pos)
            pos += len(self.skeletons[i])
        return Stream(members, starts, "".join(self.skeletons[i] for i in members))

    def ocr_stream(self) -> Stream:
        """The OCR'd passages in reading order, their skeletons folded by `ocr_skeleton` and run together."""
        if self._ocr_stream is None:
            members = [i for i, p in enumerate(self.passages) if p.ocr]
            starts, spans, parts, pos = [], [], [], 0
            for i in members:
                folded, span = ocr_skeleton(self.skeletons[i])
                starts.append(pos)
                spans.append(span)
                parts.append(folded)
                pos += len(folded)
            self._ocr_stream = Stream(members, starts, "".join(parts), spans)
        return self._ocr_stream

    def tokens(self, i: int) -> list[tuple[str, int, int]]:
        if i not in self._tokens:
            self._tokens[i] = tokens(self.passages[i].text)
        return self._tokens[i]

    def skeleton_map(self, i: int) -> list[int]:
        """For each skeleton character of passage i, the index of its character in the passage text."""
        if i not in self._maps:
            folded, src = fold_with_map(self.passages[i].text)
            self._maps[i] = [src[j] for j, ch in enumerate(folded) if ch not in SKIP_CHARS]
        return self._maps[i]

    def doc(self, doc_id: str) -> tuple[str, str, Record]:
        """(cleaned document text, file sha256, record)."""
        if doc_id not in self._docs:
            document = self.store.document(doc_id)
            self._docs[doc_id] = (self.store.document_text(doc_id), document.sha256, document.record)
        return self._docs[doc_id]


_PREPARED: weakref.WeakKeyDictionary[Store, Prepared] = weakref.WeakKeyDictionary()


def prepared(store: Store) -> Prepared:
    """The store's passages prepared for matching, rebuilt when the store's passages change."""
    ready = _PREPARED.get(store)
    if ready is None or ready.count != store.passage_count():
        ready = Prepared(store)
        _PREPARED[store] = ready
    return ready


# ---------------------------------------------------------------- verbatim matches


def exact(ready: Prepared, pattern: Pattern) -> list[QuoteMatch]:
    """Every verbatim occurrence, in reading order; a gapped quotation's matches carry the words it left out."""
    found: dict[tuple[str, int], QuoteMatch] = {}
    for stream in ready.streams:
        pos = 0
        for a, b in gapped_matches(stream.text, pattern):
            if a < pos:
                continue  # inside the match before: matches do not overlap
            span = locate(ready, stream, a, b, pattern)
            if span is None:
                continue
            first, start, last, end = span
            key = (ready.passages[first].passage_id, start)
            if key not in found:
                found[key] = build_match(ready, first, start, last, end, exact=True, similarity=1.0)
                if pattern.gapped:
                    diff = word_diff(pattern.plain, found[key].source_text)
                    found[key] = replace(found[key], diff=diff)
            pos = b
    return sorted(found.values(), key=lambda q: (ready.index[q.passage_id], q.start))


def locate(ready: Prepared, stream: Stream, a: int, b: int, pattern: Pattern) -> tuple[int, int, int, int] | None:
    """(first passage, start, last passage, end) in passage-text offsets, or None if not a real match."""
    i = bisect.bisect_right(stream.starts, a) - 1
    j = bisect.bisect_right(stream.starts, b - 1) - 1
    if j - i > 1:
        return None
    first, last = stream.members[i], stream.members[j]
    p, q = ready.passages[first], ready.passages[last]
    if p.doc_id != q.doc_id:
        return None
    head, tail = a - stream.starts[i], b - 1 - stream.starts[j]  # first and last character, in skeletons
    if stream.spans is not None:  # an OCR-folded stream: "m" there may stand for "rn" in the skeleton
        head, tail = stream.spans[i][head][0], stream.spans[j][tail][1] - 1
    start = ready.skeleton_map(first)[head]
    end = ready.skeleton_map(last)[tail] + 1
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


# ---------------------------------------------------------------- OCR-equivalent matches

# Characters Tesseract confuses, folded to one: a quotation typed from a clean copy still finds the
# scanned copy. "rn" read for "m" is handled apart (two characters for one). Seen on a 150 dpi scan:
# "LAEA" for "IAEA", "cither" for "either". Only OCR'd passages are matched so, and the words that
# differ are named in the report, so a real misquotation of those letters is shown, not hidden.
_OCR_CHARS = str.maketrans({"1": "l", "|": "l", "i": "l", "0": "o", "c": "e", "5": "s"})


def ocr_skeleton(skeleton: str) -> tuple[str, list[tuple[int, int]]]:
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


def with_ocr(ready: Prepared, pattern: Pattern, matches: list[QuoteMatch]) -> list[QuoteMatch]:
    """`matches` plus the places in OCR'd text the quotation matches once OCR confusions are folded.

    Each such match says which words differ only by OCR (`ocr_equivalent`), with their spans.
    """
    if not any(p.ocr for p in ready.passages):
        return matches
    stream = ready.ocr_stream()
    folded = dataclasses.replace(pattern, segments=tuple(ocr_skeleton(s)[0] for s in pattern.segments))
    have = {(m.passage_id, m.start) for m in matches}
    out = [dataclasses.replace(m, ocr=True) if ready.passages[ready.index[m.passage_id]].ocr else m for m in matches]
    pos = 0
    for a, b in gapped_matches(stream.text, folded):
        if a < pos:
            continue
        span = locate(ready, stream, a, b, pattern)
        if span is None:
            continue
        first, start, last, end = span
        if (ready.passages[first].passage_id, start) in have:
            continue
        match = build_match(ready, first, start, last, end, exact=False, similarity=1.0, ocr=True)
        equivalent = ocr_differences(pattern.plain, match.source_text, start)
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


# ---------------------------------------------------------------- a match, cut from the passages


def build_match(ready: Prepared, first: int, start: int, last: int, end: int, **extra: Any) -> QuoteMatch:
    """The match from `start` in passage `first` to `end` in passage `last`: its words cut from the passages,
    its W3C selectors, pages and citation."""
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
    label = p.page_at(start)
    return QuoteMatch(
        passage_id=p.passage_id,
        doc_id=p.doc_id,
        source_text=source,
        start=start,
        # Offsets in the first passage; a match running on into the next one ends with its text.
        end=end if first == last else len(p.text),
        page=_page_number(label, p.page),
        page_label=label if label and not label.isdigit() else None,
        page_end=_page_number(loc.last, q.page_end) if loc.label == "page" else q.page_end,
        paragraph=p.paragraph,
        paragraph_end=q.paragraph if last != first and q.paragraph != p.paragraph else None,
        passage_ids=(p.passage_id,) if first == last else (p.passage_id, q.passage_id),
        selector=selector,
        file_sha256=sha,
        citation=cite(record, p, "chicago", start, end, last=other),
        pdf_page=p.pdf_page_at(start),
        **extra,
    )


def _page_number(label: str | None, fallback: int | None) -> int | None:
    return int(label) if label and label.isdigit() else fallback


def replace(match: QuoteMatch, **changes: Any) -> QuoteMatch:
    return dataclasses.replace(match, **changes)

