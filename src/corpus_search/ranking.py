"""What hybrid search does after retrieval: fusion, kind-aware weights and the evidence sentence.

Kept apart from search.py so the rules read in one place:
  * fusion: reciprocal rank fusion of the keyword and semantic rankings (rank-based, so the two
    scores' scales never need calibrating);
  * kind weight: headings, captions, footnotes and reference-list entries are short or full of
    titles, so they match the words of many queries without answering them. Their fused score is
    multiplied by the setting `kind_weight` unless the query asks for that kind of text (it names
    a figure, table, note, source...) or its words cover most of the passage (a searched title).
    A figure's notes ("Notes: the estimates assume ...") are prose, not a title: a caption whose
    evidence sentence sits in its notes is weighed as body text, and one whose evidence sits in its
    "Source:" line as a note is (at full weight when the query asks for a source, author, article...);
  * rerank: the fused head reordered by each passage's best sentence plus `rerank_retrieval_weight`
    times how high the two retrievers put it (`retrieval_share`);
  * evidence: the sentence of a hit that best answers the query, by its vector's cosine with the
    query's plus the share of the query's terms it holds, plus `answer_form_weight` when the query
    asks for a date or a figure ("When did ...", "How much ...") and the sentence holds one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from corpus_search import config
from corpus_search.sentences import is_data_row, table_rows

WEIGHTED_KINDS = ("heading", "caption", "footnote")
# Words by which a query asks for captions, headings or notes and references themselves.
_TARGETS = {
    "caption": {"figure", "figures", "fig", "table", "tables", "chart", "charts", "map", "maps", "graph",
                "caption", "captions", "diagram", "illustration", "illustrations", "photo", "photos", "photograph",
                "photographs", "picture", "pictures", "image", "images"},
    "heading": {"heading", "headings", "section", "sections", "chapter", "chapters", "title", "titled",
                "contents", "part"},
    "footnote": {"footnote", "footnotes", "note", "notes", "endnote", "endnotes", "cite", "cites", "cited",
                 "citation", "citations", "reference", "references", "bibliography", "source", "sources",
                 "publication", "publications", "article", "articles", "journal", "author", "authors",
                 "published", "url", "doi"},
}
_URL = re.compile(r"https?://\S+|www\.\S+|\bdoi:\S+|\b10\.\d{4,}/\S+", re.I)
_WORD = re.compile(r"\w+", re.UNICODE)
_CELL_WORD = re.compile(r"\d[\d,.]*\d|\w+", re.UNICODE)  # "33,032,486" is one word
_FISCAL_YEAR = re.compile(r"^fy\d{2}(?:\d{2})?$")  # a stemmed term "fy2021"
_LEADERS = re.compile(r"(?:\.\s?){4,}|…{2,}")  # the dots between a contents entry and its page
_CAPTION_PART = re.compile(r"\b(notes?|sources?)\s*:", re.I)  # "Source: ..." and "Notes: ..." under a figure


# What a question asks for, by how it opens: "When did ..." a date, "How much ..." an amount.
_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE = re.compile(rf"\b(?:1[5-9]\d\d|20\d\d)s?\b|\b{_MONTHS}\b|\bFY\s?\d{{2,4}}\b")  # a year, a month, a fiscal year
_AMOUNTS = "share|percent|percentage|proportion|fraction|number|amount|sum|total|cost|price|value|rate|size|portion"
_WHAT_IS_THE = r"^\W*(?:what|which) (?:is|was|were|are|will be) (?:the|its|their)\s+(?:[\w-]+\s+){0,2}?"  # + the noun asked
_WANTS = (
    (re.compile(r"^\W*(?:(?:and|so|but)\s+)?(?:when\b|since when\b|by when\b|until when\b|(?:in |by |since |as of )?"
                r"(?:what|which) (?:year|years|date|dates|month|day|decade|time)\b)", re.I),
     _DATE),
    (re.compile(r"^\W*(?:(?:and|so|but)\s+)?(?:how (?:much|many|large|big|long|far|high|low|often|fast|old|expensive)\b|"
                rf"(?:by |to |at )?(?:what|which) (?:{_AMOUNTS}|level|figure)\b|"
                r"(?:the\s+)?(?:value|cost|price|amount|number|share|percentage|proportion|total|size)s? of\b)", re.I),
     None),  # an amount: _HoldsAmount
    # "What was the deadline for ...", "What is the new deadline ...": a date by the noun asked about.
    (re.compile(_WHAT_IS_THE + r"(?:deadline|date|due date|cutoff|cut-off)s?\b", re.I), _DATE),
    # "What is the largest loan ...", "What was the combined value ...": an amount by the noun asked about.
    (re.compile(_WHAT_IS_THE + rf"(?:{_AMOUNTS}|maximum|minimum|smallest|largest|highest|lowest|average|median|cap|"
                r"ceiling|limit|threshold|budget)s?\b", re.I), None),
    # "By how much did ...", "... and how much ...", "NSGP funding amount FY2025": an amount, wherever it is asked.
    (re.compile(r"\b(?:amount|amounts|how much)\b", re.I), None),
)
_NUMBER_WORD = re.compile(r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
                          r"fifty|hundred|thousand|million|billion|trillion|half|third|quarter|dozen|percent)\b", re.I)
_NUMBER = re.compile(r"\d[\d,.]*")
# A number that labels, not counts: "Figure 3", "Section 232", "P.L. 116-260", "Executive Order 14347".
_LABEL_BEFORE = re.compile(r"(?:\b(?:Figures?|Fig\.|Tables?|Sections?|Sec\.|Title|Part|Chapter|Article|No\.|Number|"
                           r"Order|Division|Subpart|Appendix|Box|Phase|Version|Act of|Rule|Step|Tier|Level|Class|Item)"
                           r"|P\.L\.|H\.R\.|(?<![\w.])S\.|§)\s*$", re.I)  # "S. 1234", not "U.S. 50 states"
_COUNTED_AFTER = re.compile(r"\s?(?:%|percent|per ?cent|million|billion|trillion|thousand)", re.I)
_CURRENCY_BEFORE = re.compile(r"[$€£¥]\s?$")
_DAY_OR_FY_BEFORE = re.compile(rf"\b{_MONTHS}\s*$|\bFY\s?$")
_YEAR = re.compile(r"(?:1[5-9]|20)\d\d")


class _HoldsAmount:
    """An answer to "How much ...", "What share ...": a sentence holding an amount. A number counts unless it
    labels something ("Figure 3", "Section 232", "P.L. 116-260"), is a year ("in 2025") or a day ("August 1"):
    those are in the sentences that name a figure's subject, not in the one that gives the figure (read on
    the fresh sets' evidence, "Figure 3 provides data on ..." for "What share ..."). Searched as a pattern is."""

    def search(self, text: str, start: int = 0, end: int | None = None):
        end = len(text) if end is None else end
        words = _NUMBER_WORD.search(text, start, end)  # the first amount, in words or in figures
        for m in _NUMBER.finditer(text, start, words.start() if words else end):
            before, after = text[max(start, m.start() - 24):m.start()], text[m.end():min(end, m.end() + 10)]
            if _CURRENCY_BEFORE.search(before) or _COUNTED_AFTER.match(after):
                return m
            digits = m.group(0).rstrip(".,")
            if _LABEL_BEFORE.search(before) or _DAY_OR_FY_BEFORE.search(before):
                continue
            if _YEAR.fullmatch(digits):
                continue  # a year
            if before.endswith("-") or after.startswith("-") and after[1:2].isdigit():
                continue  # a part of "116-260", "GAO-24-105"
            return m
        return words


# "Who ...", "With whom ...", "Which agency ...": the answer names someone the question does not.
_ASKS_WHO = re.compile(
    r"^\W*(?:(?:and|so|but)\s+)?(?:who|whom|whose|(?:with|by|for|from|to) whom|(?:which|what) (?:\w+ ){0,2}?"
    r"(?:agency|agencies|company|companies|firms?|organi[sz]ations?|groups?|departments?|offices?|officials?|"
    r"contractors?|courts?|committees?|administration|body|bodies|banks?|manufacturers?|leaders?|senators?|"
    r"members?))\b", re.I)
_CAPITALISED = re.compile(r"\b[A-Z][\w&.-]*")
_QUESTION = re.compile(
    r"^\W*(?:(?:and|so|but)\s+)?(?:who|whom|whose|what|when|where|which|why|how|is|are|was|were|does|do|did|"
    r"can|could|should|would|will|has|have|had)\b", re.I)


class _NamesSomeoneElse:
    """An answer to a "who" question: a sentence holding a capitalised word (not its first) that the question
    does not hold. Searched as a pattern is (`search(text, start, end)`)."""

    def __init__(self, query: str):
        self.said = {w.casefold() for w in _WORD.findall(query)}

    def search(self, text: str, start: int = 0, end: int | None = None):
        end = len(text) if end is None else end
        for m in _CAPITALISED.finditer(text, start, end):
            if not text[start:m.start()].strip():
                continue  # the sentence's (or row's) first word is capitalised whatever it is
            word = m.group(0).rstrip(".").casefold()
            if len(word) > 1 and word not in self.said:
                return m
        return None


def answer_form(query: str):
    """What an answer to `query` holds, by how the question opens: a date ("When did ...", "In what year
    ...") or a figure ("How much ...", "What share ..."), as a pattern; for "Who ..." or "Which agency ..."
    a name the question does not say (measured on the 8 fresh sets: 5 questions up, 2 down a place,
    BENCHMARKS.md); None for anything else."""
    for asks, holds in _WANTS:
        if asks.search(query):
            return holds or _HoldsAmount()
    if _ASKS_WHO.search(query):
        return _NamesSomeoneElse(query)
    return None


def looks_like_references(text: str) -> bool:
    """A passage that is largely web addresses and DOIs: a source list or a note that escaped as body text.

    Quoted titles are not counted: reports quote their sources in body text all the time (measured:
    counting them took 7 of 101 body passages of the CRS reports for notes).
    """
    if not text:
        return False
    return sum(len(m.group(0)) for m in _URL.finditer(text)) / len(text) > 0.15


def effective_kind(kind: str, text: str) -> str:
    """The passage's kind for ranking: a list of references counts as a note, a table of contents as headings."""
    if kind == "body" and looks_like_references(text):
        return "footnote"
    if kind == "body" and sum(len(m.group(0)) for m in _LEADERS.finditer(text)) > 0.2 * len(text):
        return "heading"
    return kind


def caption_part(text: str, start: int) -> str:
    """Which part of a caption offset `start` lies in: "title", "notes" or "sources"."""
    labels = list(_CAPTION_PART.finditer(text, 0, min(len(text), start + 12)))  # the label may open the sentence
    if not labels:
        return "title"
    return "notes" if labels[-1].group(1).casefold().startswith("note") else "sources"


def in_figure_notes(text: str, start: int) -> bool:
    """Whether offset `start` of a caption lies in its "Note(s):" part (not its title or its sources)."""
    return caption_part(text, start) == "notes"


def is_question(query: str) -> bool:
    """Whether the query asks a question ("Who leads ...", "Is the pipeline ...", "... in 2014?")."""
    return bool(_QUESTION.search(query)) or query.rstrip().endswith("?")


def asks(query: str) -> bool:
    """Whether the query asks for something: a question (is_question), or a date, an amount or a name
    (answer_form: "NSGP funding amount FY2025"). A heading that names its topic answers neither."""
    return is_question(query) or answer_form(query) is not None


def kind_factor(kind: str, text: str, query_words: set[str], query_terms: set[str], stem,
                evidence: tuple[int, int] | None = None, question: bool = False) -> float:
    """The weight of a hit's fused score: 1 for body text, `kind_weight` for text that seldom answers.

    `kind` is the passage's effective_kind (the caller may keep it, as it never changes);
    `evidence` the span of its best sentence, if known; `question`: whether the query asks one (is_question).
    """
    if kind not in WEIGHTED_KINDS:
        return 1.0
    if query_words & _TARGETS[kind]:
        return 1.0
    if kind == "caption" and evidence is not None:
        part = caption_part(text, evidence[0])
        # A figure's notes are prose; its "Source:" line is a citation, asked for as a note is.
        if part == "notes" or (part == "sources" and query_words & _TARGETS["footnote"]):
            return 1.0
    # A query that says most of a heading or caption is looking for it by name, unless it asks a question:
    # a heading names a topic, it answers nothing about it.
    words = {stem(w.casefold()) for w in _WORD.findall(text) if not w.isdigit()}
    if not question and words and kind != "footnote" and len(words & query_terms) / len(words) >= 0.6:
        return 1.0
    return config.get_float("kind_weight")


def fuse(kw: Sequence[tuple[str, float]], sem: Sequence[tuple[str, float]], k: int) -> dict[str, float]:
    """Reciprocal rank fusion: passage id -> fused score."""
    scores: dict[str, float] = {}
    for ranking in (kw, sem):
        for i, (pid, _) in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + i + 1)
    return scores


# How fast a side's part of the retrieval share falls with its rank: first 1, 5th 0.73, 30th 0.28.
RETRIEVAL_K = 10


def retrieval_share(ranks: Sequence[int | None], k: int = RETRIEVAL_K) -> float:
    """How high the keyword and semantic rankings put a passage, for the rerank: the mean over the two of
    (k + 1) / (k + rank), 1 for first in both, a side that did not find it 0. The best sentence decides
    among passages that retrieval ranks alike; this keeps it from overturning a passage both sides put
    first for one whose sentence scores a hair higher (bench/eval, BENCHMARKS.md)."""
    return sum((k + 1) / (k + r) for r in ranks if r) / 2


def best_sentence(text: str, spans: np.ndarray, vectors: np.ndarray | None, query_vec: np.ndarray | None,
                  terms: set[str], stem,
                  same: Sequence[tuple[frozenset, frozenset]] = (),
                  wants: re.Pattern | None = None, title: str = "") -> tuple[int, int, float] | None:
    """(start, end, score): the sentence that best answers the query, and how well the passage answers it.

    A sentence scores the cosine of its vector with the query's (when both are known) plus the share
    of the query's content terms it holds; the best one is the evidence (ties: the earlier). The
    passage scores the mean of that and of its best cosine plus the share of query terms anywhere in
    it: an answer is often one sentence, but may be spread over two (measured on bench/eval: the
    sentence alone MRR@10 0.877 on the dev questions, but a paraphrase whose answer spans two
    sentences fell to 9th; the mean 0.875 and 4th). `same`: pairs of term sets that stand for each other
    (a name of the query and its abbreviation, query_aliases): a sentence holding one holds the other.
    `wants`: what an answer holds (`answer_form`); a sentence with it scores `answer_form_weight` more.
    In a table (rows of cells between " | "), a row can be the evidence instead, read with the table's
    `title` and header (`_best_row`): sentences cut a joined table anywhere, and the row is the answer.
    """
    if len(spans) == 0:
        return None
    cos = np.zeros(len(spans), dtype=np.float32)
    if vectors is not None and query_vec is not None and len(vectors) == len(spans):
        cos = vectors @ query_vec.astype(np.float32)
    best = None
    seen: set[str] = set()
    rows = table_rows(text) if " | " in text else ()
    # A table's header row says what the figures are; it answers nothing alone (the build vectors each row).
    header = rows[0] if rows and not is_data_row(text[rows[0][0]:rows[0][1]]) else None
    for i, (a, b) in enumerate(spans):
        words = {stem(w.casefold()) for w in _WORD.findall(text[a:b])}
        for said, also in same:  # "OMFV" holds the words of "optionally manned fighting vehicle", and back
            if also and also <= words:
                words |= said
            elif said and said <= words:
                words |= also
        seen |= words
        share = len(words & terms) / len(terms) if terms else 0.0
        score = float(cos[i]) + share
        if wants is not None and wants.search(text, a, b):
            score += config.get_float("answer_form_weight")
        if header is not None and (int(a), int(b)) == header and len(spans) > 1:
            continue
        if best is None or score > best[2] + 1e-9:
            best = (int(a), int(b), score)
    if best is None:  # only a header (cannot happen with more than one span), kept for safety
        best = (int(spans[0][0]), int(spans[0][1]), 0.0)
    if rows and text[best[0]:best[1]].rstrip().endswith(":"):
        best = _with_rows_it_introduces(text, best, rows)
    if " | " in text:  # a table: its rows, read with its title and header, may answer better than any sentence
        row = _best_row(text, spans, cos, terms, stem, title, wants)
        if row is not None:
            (ra, rb, rscore), context = row
            seen |= context
            if rscore > best[2] + 1e-9 or (best[0] < rb and best[1] > ra) or " | " in text[best[0]:best[1]]:
                best = (ra, rb, max(rscore, best[2]))
    whole = float(cos.max()) + (len(seen & terms) / len(terms) if terms else 0.0)
    return best[0], best[1], 0.5 * best[2] + 0.5 * whole


def _with_rows_it_introduces(text: str, best: tuple[int, int, float], rows, most: int = 300) -> tuple[int, int, float]:
    """A lead-in ("States with the lowest average credit:") with the table rows right after it, as many as fit
    in `most` characters: the lead-in alone says what follows, not what it is."""
    a, end, score = best
    for ra, rb in rows:
        if ra < end:
            continue
        if text[end:ra].strip() or rb - a > most:
            break
        end = rb
    return a, end, score


def _cell_words(text: str, stem) -> set[str]:
    """Terms of a table's text; a figure is one word ("$33,032,486" does not hold the "33" of a bill's number)."""
    return {w if w[0].isdigit() else stem(w.casefold()) for w in _CELL_WORD.findall(text)}


def _best_row(text: str, spans, cos: np.ndarray, terms: set[str], stem, title: str,
              wants: re.Pattern | None) -> tuple[tuple[int, int, float], set[str]] | None:
    """((start, end, score), context terms): the row of figures that best answers the query, read as a
    reader reads a table, or None (no row, sentences.table_rows, or no row holds a term of its own).

    A row alone does not say what its figures are: the table's title (`title`, the float title of the
    passage's section) and its header rows (rows of words) speak for every row. So a row scores the
    cosine of the sentence it starts in plus the share of the query's terms it holds with them, but
    only a row that holds one of its own ("Owsley", "2021") counts at all: a table whose title matches
    the query's topic is not an answer to every question about that topic. A fiscal year asked for
    ("FY2021") is its year in a row ("2021 | $34.8"); a header row is never the row."""
    rows = table_rows(text)
    if not rows or not terms:
        return None
    context = _cell_words(title, stem) if title else set()
    for start, end in rows:
        if not is_data_row(text[start:end]):
            context |= _cell_words(text[start:end], stem)
    fiscal = {t: t[2:] for t in terms if _FISCAL_YEAR.match(t)}
    best = None
    for start, end in rows:
        if not is_data_row(text[start:end]):
            continue
        own = _cell_words(text[start:end], stem)
        mine = {t for t in terms if t in own or fiscal.get(t) in own}
        if not mine:
            continue
        i = next((k for k, (a, b) in enumerate(spans) if a <= start < b), 0)
        score = float(cos[i]) + len(mine | (terms & context)) / len(terms)
        if wants is not None and wants.search(text, start, end):
            score += config.get_float("answer_form_weight")
        if best is None or score > best[2] + 1e-9:
            best = (start, end, score)
    return None if best is None else (best, context)
