"""The one data model every stage shares: frozen dataclasses, stored as JSON (`to_json`/`from_json`).

The JSON objects the CLI and the API print (CONTRACT.md) are made in shapes.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


# The closed vocabularies. A StrEnum member is its string ("ok" == Status.OK, json writes "ok"),
# so values read back from the store or JSON as plain strings compare equal to these.
class Kind(StrEnum):
    """What a passage is (CONTRACT.md's `kind`)."""

    BODY = "body"
    HEADING = "heading"
    FOOTNOTE = "footnote"
    CAPTION = "caption"
    BOX = "box"
    QUOTE = "quote"


class Status(StrEnum):
    """The build status a source ends with."""

    OK = "ok"
    OK_SKIPPED = "ok, skipped pages"
    OK_OCR = "ok (OCR)"  # some pages' text was read by OCR
    NO_TEXT = "no text layer"
    PASSWORD = "needs a password"
    FAILED = "failed"
    EMPTY = "empty"
    LOW_QUALITY = "low-quality text"
    SKIPPED = "skipped"  # a file the build does not read (a format no extractor handles)


def status_ok(status: str) -> bool:
    """True when the source was indexed (its pages all read, some by OCR, or some skipped and said so)."""
    return status in (Status.OK, Status.OK_SKIPPED, Status.OK_OCR)


def contract_status(status: str) -> str:
    """The CONTRACT.md word for a status (`documents --json`): ok, ok-ocr, skipped or failed.

    "ok, skipped pages" is ok (its message names the pages); a file that gave no text (empty, no text
    layer, needs a password, low-quality text) failed, its message says why and `detail` keeps the status.
    """
    if status == Status.OK_OCR:
        return "ok-ocr"
    if status_ok(status):
        return "ok"
    return "skipped" if status == Status.SKIPPED else "failed"


class Verdict(StrEnum):
    """What checking a quotation found."""

    FOUND = "found"  # verbatim
    ALTERED = "altered"  # close wording: the first match's `difference` says how
    PARAPHRASE = "paraphrase"  # other words, same meaning (by the vector index)
    NOT_FOUND = "not found"
    TOO_LONG = "too long"  # a draft's quotation over the max_quote_chars cap, not checked
    OUT_OF_TIME = "out of time"  # left when a draft's check_timeout budget ran out, not checked


class Difference(StrEnum):
    """How a near match differs from the quotation ("" when it does not)."""

    NONE = ""
    TYPO = "typo"
    CHANGED_WORDS = "changed words"
    OMITTED_WORDS = "omitted words"  # words the source has and the quotation left out
    ADDED_WORDS = "added words"  # words the quotation has and the source does not
    REORDERED = "reordered"
    PARAPHRASE = "paraphrase"


PASSAGE_KINDS = tuple(k.value for k in Kind)  # plain strings, for widgets and messages
# search.MODES names the same three; the CLI and batch.py read them here, where no NumPy comes with them.
SEARCH_MODES = ("hybrid", "keyword", "semantic")

# The names the stages used before the enum; the same values.
STATUS_OK = Status.OK
STATUS_OK_SKIPPED = Status.OK_SKIPPED
STATUS_NO_TEXT = Status.NO_TEXT
STATUS_PASSWORD = Status.PASSWORD
STATUS_FAILED = Status.FAILED
STATUS_EMPTY = Status.EMPTY
STATUS_LOW_QUALITY = Status.LOW_QUALITY
STATUS_SKIPPED = Status.SKIPPED
STATUS_OK_OCR = Status.OK_OCR


@dataclass(frozen=True)
class Record:
    """A source's bibliographic record, read from its TOML sidecar (or guessed)."""

    doc_id: str
    title: str
    authors: tuple[str, ...] = ()
    contributors: tuple[str, ...] = ()
    type: str = "report"  # report | article | book | chapter | webpage | document
    year: int | None = None
    date: str | None = None
    publisher: str | None = None
    place: str | None = None
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None  # the article's printed page range, "69-77"
    series: str | None = None
    number: str | None = None
    version: str | None = None
    url: str | None = None
    doi: str | None = None
    # How to read the source.
    page_starts: str | None = None  # None | "formfeed" | "leading-space"
    # printed page = physical page (1-based) + page_offset; None: not given, so a PDF's printed numbers
    # are read from its pages. An explicit 0 says "the PDF's pages are the printed pages".
    page_offset: int | None = None
    numbered_paragraphs: bool = False
    cite_by: str = "page"  # page | paragraph
    password: str | None = None
    guessed: bool = False  # True when no sidecar record exists
    recipients: tuple[str, ...] = ()  # an e-mail's To (and Cc) addresses
    title_guessed: bool = False  # the record's title is only the file name (an upload left untitled)

    def to_json(self) -> dict[str, Any]:
        return fields_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return _from_json(cls, data)


@dataclass(frozen=True)
class Page:
    """One physical page (or form-feed page) of a source, as extracted."""

    index: int  # 0-based physical position
    text: str
    label: str | None = None  # printed page label ("ii", "17") when known
    ocr_confidence: float | None = None  # mean OCR word confidence (0-100) when the text came from OCR
    # spans of `text` that quote another message (an e-mail reply's quoted lines): passages there are "quote"
    quoted: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Passage:
    """A paragraph-sized unit of cleaned text, with where it sits in the source."""

    passage_id: str
    doc_id: str
    seq: int
    text: str
    kind: str = "body"
    page: int | None = None  # printed page number (int) where the passage starts
    page_end: int | None = None  # printed page where it ends (== page if one page)
    page_label: str | None = None  # printed label when it is not a plain number ("iii")
    paragraph: int | None = None  # the source's own paragraph number
    section: str = ""  # "Chapter 3 / Business versus politics"
    start: int = 0  # span in the cleaned document text
    end: int = 0
    # (offset in text, printed page label) for each page that begins inside the passage
    page_breaks: tuple[tuple[int, str], ...] = ()
    # footnote numbers: a body passage's markers, or a footnote's own number
    notes: tuple[str, ...] = ()
    # (offset in text, note number) for each marker lifted out of the body
    note_marks: tuple[tuple[int, str], ...] = ()
    # map of text offset -> raw-source offset at each run start: (text_off, raw_off)
    raw_map: tuple[tuple[int, int], ...] = ()
    ocr: bool = False  # the text (or part of it) was read by OCR from a page image
    ocr_confidence: float | None = None  # mean OCR word confidence (0-100) of its pages
    pdf_page: int | None = None  # the PDF's own page (1-based) where the passage starts; None for text files
    language: str | None = None  # ISO 639-1 code detected from the text ("en", "de"); None when unsure

    def page_at(self, offset: int) -> str | None:
        """The printed page label at a character offset inside the passage."""
        label = self.page_label if self.page_label else (str(self.page) if self.page is not None else None)
        for off, lab in self.page_breaks:
            if off <= offset:
                label = lab
        return label

    def pdf_page_at(self, offset: int) -> int | None:
        """The PDF page (1-based) at a character offset inside the passage."""
        if self.pdf_page is None:
            return None
        return self.pdf_page + sum(1 for off, _ in self.page_breaks if off <= offset)

    def to_json(self) -> dict[str, Any]:
        return fields_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Passage:
        return _from_json(cls, data)


@dataclass(frozen=True)
class Mention:
    """One entity mention in a passage, with its canonical name."""

    passage_id: str
    start: int
    end: int
    text: str
    name: str  # canonical name
    label: str  # PERSON, ORG, GPE, LOC, NORP, FAC, PROJECT, ...


@dataclass(frozen=True)
class Entity:
    """One real thing, however the text names it."""

    name: str
    label: str
    aliases: tuple[str, ...] = ()
    passages: int = 0
    mentions: int = 0
    cooccurring: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Document:
    """A source file and what the build made of it."""

    doc_id: str
    path: str  # relative to the corpus folder
    sha256: str
    record: Record
    status: str = STATUS_OK
    message: str = ""
    pages: int = 0
    skipped_pages: tuple[int, ...] = ()
    passages: int = 0
    # An e-mail's attachment (or an mbox's message) is a document of its own, read from its parent's file.
    parent: str | None = None  # the doc id of the message (or mbox) it came from
    attachment: str | None = None  # its name inside the parent ("report.pdf", "message 3")

    def to_json(self) -> dict[str, Any]:
        """The storage and output form: the record without its password, which only opens the file
        (read again from the .toml record when needed, never kept in the index or shown)."""
        data = fields_json(self)
        data["record"] = {**self.record.to_json(), "password": None}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Document:
        data = dict(data)
        data["record"] = Record.from_json(data["record"])
        return _from_json(cls, data)


@dataclass(frozen=True)
class Hit:
    """A passage that answers a search, with its score and rank."""

    passage: Passage
    score: float
    rank: int
    entities: tuple[Mention, ...] = ()
    keyword_rank: int | None = None
    semantic_rank: int | None = None
    highlights: tuple[tuple[int, int], ...] = ()  # spans of query terms in passage.text
    evidence: tuple[int, int] | None = None  # span of passage.text: the sentence that best answers the query
    keyword_score: float | None = None  # BM25F score (None: the keyword side did not retrieve it)
    semantic_score: float | None = None  # cosine, of the passage or (long passages) its best sentence
    fused_score: float | None = None  # hybrid: reciprocal rank fusion before the kind weight
    kind_factor: float = 1.0  # hybrid: the weight of headings, captions and notes (ranking.kind_factor)
    evidence_score: float | None = None  # the evidence sentence's cosine with the query + share of its terms
    copies: tuple[Passage, ...] = ()  # the same text elsewhere, ranked below this one (Searcher._distinct)


@dataclass(frozen=True)
class SearchResult:
    """The answer to one query."""

    query: str
    mode: str
    hits: tuple[Hit, ...]
    total: int  # results ranked before the limit (hybrid and semantic: candidates, not passages that "match")
    facets: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    keyword_total: int | None = None  # passages holding the query's words (keyword and hybrid; None: semantic)
    searched: int | None = None  # passages the query was ranked among: all, or those the filters allow
    # other forms of the query's names also searched by keyword: ("optionally manned fighting vehicle", "OMFV")
    also_searched: tuple[tuple[str, str], ...] = ()
    by_meaning: bool = True  # the model ranked passages too (hybrid, semantic); False for "!!!", "NOT Gazprom"
    # What the facets count: ("words", n) the n best passages holding the query's words (all of them when n equals
    # keyword_total), so a facet's count is what its filter leaves of them; ("meaning", n) the n best by meaning,
    # when no passage holds the words; ("filters", n) the passages a search without words lists.
    facets_over: tuple[str, int] = ("", 0)


@dataclass(frozen=True)
class QuoteMatch:
    """Where a quotation occurs, or the closest text to it."""

    passage_id: str
    doc_id: str
    exact: bool
    similarity: float
    source_text: str  # the words exactly as the source has them
    start: int  # span in the passage text (of the first passage when it spans two)
    end: int
    page: int | None = None
    page_end: int | None = None
    paragraph: int | None = None
    passage_ids: tuple[str, ...] = ()  # all passages the match spans
    difference: str = ""  # "" | typo | changed words | omitted words | added words | reordered | paraphrase
    diff: tuple[tuple[str, str], ...] = ()  # (op, words): op in "=", "-", "+"
    selector: dict[str, Any] = field(default_factory=dict)  # W3C TextQuoteSelector + position
    file_sha256: str = ""
    citation: str = ""  # Chicago note citing the quotation's own pages
    ocr: bool = False  # the matched text was read by OCR
    # where the quotation matched the OCR text only modulo OCR confusions (rn/m, l/1, O/0):
    # {"quote": as quoted, "source": as OCR read it, "start", "end": span in the passage text}
    ocr_equivalent: tuple[dict[str, Any], ...] = ()
    pdf_page: int | None = None  # the PDF's own page where the quotation starts (PDF sources)
    page_label: str | None = None  # the printed page when it is no plain number ("ii"): then `page` is None
    paragraph_end: int | None = None  # the paragraph it ends in, when it runs on into the next numbered one
    # Where the source itself quotes someone and the quotation does not say so: "within" (the whole
    # quotation sits inside the source's quotation marks) or the words it puts in marks ("“several dozen”").
    source_quotes: tuple[str, ...] = ()


def fields_json(obj: Any) -> dict[str, Any]:
    """Every field of a dataclass, tuples as lists: the storage form (CONTRACT.md's shapes are in shapes.py)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[f.name] = value
    return out


def _from_json(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            continue
        if isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[key] = value
    return cls(**kwargs)
