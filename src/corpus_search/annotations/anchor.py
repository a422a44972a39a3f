"""Find an annotation's words again: by position, then by exact quote and context, then fuzzily.

The order Hypothesis uses: the stored position if the words are still there; else every exact
occurrence of the quote, the one whose surroundings best match the stored prefix and suffix (and
nearest the old position); else an approximate match of prefix + quote + suffix, accepted only
above the `anchor_fuzzy_min` similarity (not tried for a quote longer than `max_quote_chars`). What
cannot be placed is an orphan: kept, never dropped.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass

from corpus_search import config
from corpus_search.annotations.model import ANCHORED, ORPHAN, Annotation
from corpus_search.models import Passage

CONTEXT = 32  # characters of prefix and suffix kept, as quote.py's selectors do


@dataclass(frozen=True)
class Placement:
    start: int
    end: int
    method: str  # position | exact | fuzzy
    score: float = 100.0


def place(text: str, exact: str, prefix: str = "", suffix: str = "", hint: int | None = None) -> Placement | None:
    """Where `exact` sits in `text`, judged by its context; None when it is not there."""
    if not exact:
        return None
    if hint is not None and text[hint : hint + len(exact)] == exact:
        return Placement(hint, hint + len(exact), "position")
    starts, i = [], text.find(exact)
    while i >= 0:
        starts.append(i)
        i = text.find(exact, i + 1)
    if starts:
        best = max(starts, key=lambda s: (_context_score(text, s, s + len(exact), prefix, suffix),
                                          -abs(s - hint) if hint is not None else 0))
        return Placement(best, best + len(exact), "exact")
    if len(exact) > config.get_int("max_quote_chars"):
        # Fuzzy matching grows with the square of the quote (16,000 characters took 96 s a document, at
        # every build): a quote this long is placed only where its words are verbatim, else kept as an orphan.
        return None
    # Context as long as ours (CONTEXT): an imported selector may carry 10,000 characters of it.
    return _fuzzy(text, exact, prefix[-CONTEXT:], suffix[:CONTEXT])


def _context_score(text: str, start: int, end: int, prefix: str, suffix: str) -> int:
    """Characters of the stored prefix and suffix that still border this occurrence."""
    before, after = text[max(start - len(prefix), 0) : start], text[end : end + len(suffix)]
    n = 0
    while n < min(len(before), len(prefix)) and before[-1 - n] == prefix[-1 - n]:
        n += 1
    m = 0
    while m < min(len(after), len(suffix)) and after[m] == suffix[m]:
        m += 1
    return n + m


def _fuzzy(text: str, exact: str, prefix: str, suffix: str) -> Placement | None:
    from rapidfuzz import fuzz

    cutoff = config.get_float("anchor_fuzzy_min")
    # The quote with its context first: a short quote alone would match too many places.
    around = fuzz.partial_ratio_alignment(prefix + exact + suffix, text, score_cutoff=cutoff)
    if around is None:
        return None
    slack = len(exact) // 4 + 1
    lo, hi = max(around.dest_start - slack, 0), min(around.dest_end + slack, len(text))
    inner = fuzz.partial_ratio_alignment(exact, text[lo:hi], score_cutoff=cutoff)
    if inner is None:
        return None  # the context survived but the quoted words did not
    start, end = _best_words(text, exact, lo + inner.dest_start, lo + inner.dest_end)
    return Placement(start, end, "fuzzy", round(fuzz.ratio(exact, text[start:end]), 1))


def _best_words(text: str, exact: str, start: int, end: int) -> tuple[int, int]:
    """The whole words that best match `exact` around an alignment. The alignment is as long as the quote,
    so on changed words ("about forty ships" where the source now says "about forty-five ships") it starts
    or ends inside a word and leaves words out ("out forty-five"). Widened to whole words, then grown or
    shrunk a word at a time at either end while that matches the quote better."""
    from rapidfuzz import fuzz

    start, end = _whole_words(text, start, end)
    score = fuzz.ratio(exact, text[start:end])
    for _ in range(2 * len(exact.split()) + 4):
        tries = ((_word_before(text, start), end), (start, _word_after(text, end)),
                 (_word_after(text, start, skip_word=True), end), (start, _word_before(text, end, skip_word=True)))
        best = max(((fuzz.ratio(exact, text[s:e]), s, e) for s, e in tries if s < e), default=(0.0, start, end))
        if best[0] <= score:
            break
        score, start, end = best
    return _whole_words(text, start, end)


def _wordish(ch: str) -> bool:
    return ch.isalnum() or ch in "-\u2010'\u2019"


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """The span widened to the words it cuts into, and trimmed of spaces."""
    while 0 < start < len(text) and _wordish(text[start - 1]) and _wordish(text[start]):
        start -= 1
    while 0 < end < len(text) and _wordish(text[end - 1]) and _wordish(text[end]):
        end += 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _word_before(text: str, i: int, skip_word: bool = False) -> int:
    """The start of the word before offset i (with skip_word: the end of the word i is in, back over spaces)."""
    if skip_word:
        while i > 0 and not text[i - 1].isspace():
            i -= 1
        while i > 0 and text[i - 1].isspace():
            i -= 1
        return i
    while i > 0 and text[i - 1].isspace():
        i -= 1
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


def _word_after(text: str, i: int, skip_word: bool = False) -> int:
    """The end of the word after offset i (with skip_word: the start of the next word after the one at i)."""
    n = len(text)
    if skip_word:
        while i < n and not text[i].isspace():
            i += 1
        while i < n and text[i].isspace():
            i += 1
        return i
    while i < n and text[i].isspace():
        i += 1
    while i < n and not text[i].isspace():
        i += 1
    return i


def selector_context(doc_text: str, start: int, end: int) -> tuple[str, str]:
    """The prefix and suffix of a span, as stored in a TextQuoteSelector."""
    return doc_text[max(start - CONTEXT, 0) : start], doc_text[end : end + CONTEXT]


class DocumentText:
    """One source as the current index has it: cleaned text, hash and passages by position."""

    def __init__(self, doc_id: str, sha256: str, text: str, passages: list[Passage]):
        self.doc_id, self.sha256, self.text = doc_id, sha256, text
        self.passages = sorted(passages, key=lambda p: p.start)
        self._starts = [p.start for p in self.passages]

    @classmethod
    def load(cls, store, doc_id: str) -> DocumentText:
        """From an index store (corpus_search.store.Store)."""
        return cls(doc_id, store.document(doc_id).sha256, store.document_text(doc_id), store.passages(doc_id))

    def passage_at(self, offset: int) -> Passage | None:
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0:
            return None
        p = self.passages[i]
        # Between two passages (a blank line): the next one holds the words.
        if offset >= p.end and i + 1 < len(self.passages):
            return self.passages[i + 1]
        return p

    def fields(self, start: int, end: int) -> dict:
        """An annotation's position fields for the span [start, end) of the cleaned text."""
        p = self.passage_at(start)
        prefix, suffix = selector_context(self.text, start, end)
        out = {"doc_id": self.doc_id, "file_sha256": self.sha256, "exact": self.text[start:end], "prefix": prefix,
               "suffix": suffix, "doc_start": start, "doc_end": end, "status": ANCHORED}
        if p is not None:
            a = max(start - p.start, 0)
            out.update(passage_id=p.passage_id, passage_start=a, passage_end=min(end - p.start, len(p.text)),
                       page=p.page_at(a), paragraph=p.paragraph)
        return out


def reanchor(annotation: Annotation, doc: DocumentText | None) -> tuple[str, dict]:
    """How the annotation fares in `doc` (unchanged, exact, fuzzy, orphaned) and the fields that change."""
    orphaned = {"status": ORPHAN, "anchored_by": "", "passage_start": None, "passage_end": None}
    found = None if doc is None else place(doc.text, annotation.exact, annotation.prefix, annotation.suffix,
                                           annotation.doc_start)
    if found is None:
        return "orphaned", ({} if annotation.orphan else orphaned)
    fields = doc.fields(found.start, found.end)
    # A fuzzy placement takes the words as the source now has them: a quotation is always cut
    # from the source's text, and `anchored_by` says it moved.
    if found.method != "position" or annotation.orphan:
        fields["anchored_by"] = found.method
    if found.method == "fuzzy" and fields["exact"] != annotation.exact and not annotation.original:
        fields["original"] = annotation.exact  # the words the note was made on are never lost
    if found.method == "position":
        # An orphan whose words are back where they were (its document restored), or words found in the
        # same file under a new name, are re-anchored exactly.
        outcome = "exact" if annotation.orphan or doc.doc_id != annotation.doc_id else "unchanged"
    else:
        outcome = found.method
    current = dataclasses.asdict(annotation)
    return outcome, {k: v for k, v in fields.items() if current.get(k) != v}


def reanchor_store(annotations, index_store) -> dict[str, int]:
    """Re-anchor every annotation against an index store; returns counts by outcome."""
    counts = {"unchanged": 0, "exact": 0, "fuzzy": 0, "orphaned": 0}
    docs: dict[str, DocumentText | None] = {}
    documents = index_store.documents()
    known = {d.doc_id for d in documents}
    by_file: dict[str, list[str]] = {}
    for d in documents:
        by_file.setdefault(d.sha256, []).append(d.doc_id)
    for ann in annotations.list():
        doc_id = ann.doc_id
        if doc_id not in known and len(by_file.get(ann.file_sha256, ())) == 1:
            doc_id = by_file[ann.file_sha256][0]  # the same file renamed (an id made from its name changes)
        if doc_id not in docs:
            docs[doc_id] = DocumentText.load(index_store, doc_id) if doc_id in known else None
        outcome, changes = reanchor(ann, docs[doc_id])
        if changes:
            annotations.set_position(ann.id, **changes)
        counts[outcome] += 1
    return counts
