"""The one data model every stage shares: frozen dataclasses with JSON conversions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

PASSAGE_KINDS = ("body", "heading", "footnote", "caption", "box", "quote")

# Build statuses a source can end with.
STATUS_OK = "ok"
STATUS_OK_SKIPPED = "ok, skipped pages"
STATUS_NO_TEXT = "no text layer"
STATUS_PASSWORD = "needs a password"
STATUS_FAILED = "failed"
STATUS_EMPTY = "empty"
STATUS_LOW_QUALITY = "low-quality text"


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
    page_offset: int = 0  # printed page = physical page (1-based) + page_offset
    numbered_paragraphs: bool = False
    cite_by: str = "page"  # page | paragraph
    password: str | None = None
    guessed: bool = False  # True when no sidecar record exists

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return _from_json(cls, data)


@dataclass(frozen=True)
class Page:
    """One physical page (or form-feed page) of a source, as extracted."""

    index: int  # 0-based physical position
    text: str
    label: str | None = None  # printed page label ("ii", "17") when known


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

    def page_at(self, offset: int) -> str | None:
        """The printed page label at a character offset inside the passage."""
        label = self.page_label if self.page_label else (str(self.page) if self.page is not None else None)
        for off, lab in self.page_breaks:
            if off <= offset:
                label = lab
        return label

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)

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

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "text": self.text, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Entity:
    """One real thing, however the text names it."""

    name: str
    label: str
    aliases: tuple[str, ...] = ()
    passages: int = 0
    mentions: int = 0
    cooccurring: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "aliases": list(self.aliases),
            "passages": self.passages,
            "mentions": self.mentions,
            "cooccurring": [{"name": n, "passages": c} for n, c in self.cooccurring],
        }


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

    def to_json(self) -> dict[str, Any]:
        data = _to_json(self)
        data["record"] = self.record.to_json()
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


@dataclass(frozen=True)
class SearchResult:
    """The answer to one query."""

    query: str
    mode: str
    hits: tuple[Hit, ...]
    total: int  # passages that matched before the limit
    facets: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0


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

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)


def _to_json(obj: Any) -> dict[str, Any]:
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
