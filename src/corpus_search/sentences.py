"""Sentences of passages and their vectors: the evidence span of a hit, and long passages read whole.

MiniLM reads a passage's first 256 word pieces, so an answer in a long passage's tail is invisible
to the passage vector. Every sentence of every passage is embedded at build time and saved beside the
passage vectors (`sentence_vectors.npy`, and `sentence_spans.npy`: passage row, start, end). Search
uses them twice: the semantic side scores a long passage by its best sentence too (max over
sentences; only passages longer than the setting `long_passage_chars`, so the scan stays near the
passage count), and each hit's evidence is the sentence that best matches the query's terms and
vector. An index built before these files existed still answers: without them, evidence is by
keyword terms alone and passages are scored by their own vectors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from corpus_search import backends

VECTORS = "sentence_vectors.npy"
SPANS = "sentence_spans.npy"

# A sentence ends at . ! ? (and any closing quotes or brackets) before white space and a capital,
# digit, quote or bracket. The look-behind rules keep "U.S. officials", "Dr. Smith", "No. 5" whole.
_END = re.compile(r"[.!?…][\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREV = re.compile(r"(?:\b[A-Za-z]|\b(?:Mr|Mrs|Ms|Dr|Prof|St|No|Nos|Vol|vol|pp|p|Fig|fig|al|cf|Gen|Adm|Sen|Rep|"
                     r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Co|Corp|Inc|Ltd|Jr|Sr|etc|vs|e\.g|i\.e))\.$")
MAX_SENTENCE_CHARS = 600  # a "sentence" longer than this (a table row, a list) is cut at spaces


def spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, white space trimmed; covers every word once."""
    out: list[tuple[int, int]] = []
    start = 0
    for m in _END.finditer(text):
        end = m.start() + 1
        if _ABBREV.search(text[max(start, end - 6):end]):
            continue
        out.append((start, m.end()))
        start = m.end()
    out.append((start, len(text)))
    trimmed = []
    for a, b in out:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        trimmed += _cut(text, a, b)
    return [s for s in trimmed if s[1] > s[0]] or [(0, len(text))]


def _cut(text: str, a: int, b: int) -> list[tuple[int, int]]:
    pieces = []
    while b - a > MAX_SENTENCE_CHARS:
        cut = text.rfind(" ", a + MAX_SENTENCE_CHARS // 2, a + MAX_SENTENCE_CHARS)
        cut = cut if cut > a else a + MAX_SENTENCE_CHARS
        pieces.append((a, cut))
        a = cut + 1 if text[cut:cut + 1] == " " else cut
    pieces.append((a, b))
    return pieces


# A table row as extractors write one and a passage joins them: cells between " | ", one row after
# another with a space between ("127 | 21121 | Kentucky | Knox | 37.9 128 | 21127 | ...").
_BAR = re.compile(r"(?:(?<= )|^)\|(?= )")
_MISSING = re.compile(r"^(?:[-–—~*]|n/?a|)$", re.I)  # a cell with no figure: "—", "n/a", ""
FIGURE = re.compile(r"^[-+–−(]?[$€£¥]?\d[\d,.]*%?\)?[a-z*]?$")  # "37.9", "$2,248", "(3.9%)", "2026a"
_ROW_END = re.compile(r"[.:;!?][\"'”’)\]]*\s+")  # prose before or after the table ends here
_FIGURES = re.compile(r"^(?=.*\d)[\d\s,.%$€£¥()+*<>~–−-]+[a-z]?$")  # one figure or a few ("2, 3"): a cell of figures


@lru_cache(maxsize=2048)  # a table's passages come back query after query; 0.5 ms each to read
def table_rows(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of each row of a table joined into a passage, or () when its rows cannot be told apart.

    Rows lose their line breaks when a passage joins them, so the cut between two rows is found from
    the columns: with c bars to a row, every c-th stretch between bars holds the last cell of one row
    and the first of the next, so it has a space (the right c is the smallest for which nine in ten
    do). The cut is that space when it is the only one ("30.7 128"), or the one beside the figure
    when only one end is a figure ("28,099.8 Air Force"); a stretch with no telling ("$25 million
    2006", a header's "D Facility Type") leaves its two rows as one, if no more than a quarter do.
    Only tables of figures are read: at least three rows, the first cells mostly different, every
    column of figures or of words (two in three of one kind: mixed, the cuts were wrong), and a
    column of figures (a dash or an empty cell may stand for one, but at least half are figures);
    text tables ("$10 million | ...", legislation lists) and anything doubtful give ().
    """
    bars = [m.start() for m in _BAR.finditer(text)]  # the "|" of each " | " (and of a leading "| ")
    n = len(bars)
    if n < 3:
        return ()
    between = [text[bars[j - 1] + 1:bars[j]].strip(" ") for j in range(1, n)]  # between[j - 1]: bars j - 1 and j
    bounds: list[int] = []
    for c in range(1, min(n, 40)):
        for opening in range(c, min(3 * c, n)):  # the first row (a header) may have more cells than the rest
            bounds = list(range(opening, n, c))
            if len(bounds) >= 2 and sum(" " in between[j - 1] for j in bounds) * 10 >= 9 * len(bounds):
                break
        else:
            continue
        break
    else:
        return ()
    if len(bounds) < 2:
        return ()
    cuts, unsure = [], 0
    for j in bounds:
        a = bars[j - 1] + 1 + len(text[bars[j - 1] + 1:bars[j]]) - len(text[bars[j - 1] + 1:bars[j]].lstrip(" "))
        tokens = between[j - 1].split(" ")
        first, last = bool(FIGURE.match(tokens[0])), bool(FIGURE.match(tokens[-1]))
        if len(tokens) == 2:
            cuts.append(a + len(tokens[0]))
        elif len(tokens) > 2 and first and not last:  # "28,099.8 Air Force"
            cuts.append(a + len(tokens[0]))
        elif len(tokens) > 2 and last and not first:  # "Total Planning Grants Award Amount 2009"
            cuts.append(a + len(between[j - 1]) - len(tokens[-1]) - 1)
        else:  # no space ("| | Alabama": an empty last cell), or no telling ("$25 million 2006", "D Facility Type")
            unsure += 1
    if unsure * 4 > len(bounds):
        return ()
    ends = list(_ROW_END.finditer(text, 0, bars[0]))
    start = ends[-1].end() if ends else 0
    after = _ROW_END.search(text, bars[-1] + 1)
    rows, a = [], start
    for cut in cuts:
        rows.append((a, cut))
        a = cut + 1
    rows.append((a, after.start() + 1 if after else len(text)))
    cells = [[cell.strip() for cell in text[a:b].split("|")] for a, b in rows[1:]]  # the first may be a header
    firsts = [row[0] for row in cells]
    if len(rows) < 3 or max(firsts.count(f) for f in firsts) * 3 > len(firsts):
        return ()
    if any(_two_figures(cell) for row in cells for cell in row[1:-1]):
        return ()  # "218.3 2014": a cut between two rows was missed, so the columns are not what they seem
    width = min(len(row) for row in cells)
    for i in range(width):  # a column holds figures or words, not both: mixed, the cuts were wrong
        figures = sum(bool(_FIGURES.match(row[i])) for row in cells)
        words = sum(not _FIGURES.match(row[i]) and _MISSING.match(row[i]) is None for row in cells)
        if min(figures, words) * 3 > figures + words:
            return ()
    for i in range(1, width):
        figures = sum(bool(FIGURE.match(row[i])) for row in cells)
        if figures * 2 >= len(cells) and figures + sum(_MISSING.match(row[i]) is not None for row in cells) >= 0.8 * len(cells):
            return tuple(rows)
    return ()


def is_data_row(row: str) -> bool:
    """A row of figures: after its first cell (what the row is about), more than half its cells are
    figures or stand for one ("—"); a header row, or a header and a row the cut missed, is not."""
    cells = [cell.strip() for cell in row.split("|")][1:]
    filled = sum(bool(FIGURE.match(cell)) or _MISSING.match(cell) is not None for cell in cells)
    return bool(cells) and any(FIGURE.match(cell) for cell in cells) and filled * 2 > len(cells)


def _two_figures(cell: str) -> bool:
    """ "218.3 2014", not "2, 3" (a list in one cell)."""
    parts = cell.split(" ")
    return len(parts) == 2 and not parts[0].endswith(",") and all(FIGURE.match(x) for x in parts)


class SentenceIndex:
    """Sentence vectors of an index generation, grouped by passage row."""

    def __init__(self, matrix: np.ndarray, rows: np.ndarray):
        self.matrix = matrix
        self.rows = rows  # int32 (n, 3): passage row, start, end
        owners = np.asarray(rows[:, 0]) if len(rows) else np.zeros(0, dtype=np.int32)
        # Sentences are saved in passage order, so each passage's sentences are one slice.
        self._first = np.searchsorted(owners, np.arange(owners.max() + 2 if len(owners) else 1), side="left")
        self._long: np.ndarray | None = None
        self._long_chars = -1

    @staticmethod
    def save(folder: Path, matrix: np.ndarray, rows: np.ndarray) -> None:
        np.save(folder / VECTORS, np.ascontiguousarray(matrix, dtype=np.float32), allow_pickle=False)
        np.save(folder / SPANS, np.ascontiguousarray(rows, dtype=np.int32), allow_pickle=False)

    @classmethod
    def open(cls, folder: Path) -> SentenceIndex | None:
        """The generation's sentence vectors, or None when it has none (built before they existed)."""
        if not (folder / VECTORS).exists():
            return None
        try:
            matrix = backends.mapped(folder / VECTORS)
            rows = np.load(folder / SPANS, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if matrix.ndim != 2 or rows.ndim != 2 or rows.shape != (matrix.shape[0], 3):
            return None
        return cls(matrix, rows)

    def of_passage(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(spans (k, 2), vectors (k, dim)) of one passage's sentences."""
        if row + 1 >= len(self._first):
            return np.zeros((0, 2), dtype=np.int32), np.zeros((0, self.matrix.shape[1]), dtype=np.float32)
        a, b = self._first[row], self._first[row + 1]
        return self.rows[a:b, 1:], np.asarray(self.matrix[a:b])

    def long_rows(self, lengths: np.ndarray, min_chars: int) -> np.ndarray:
        """Sentence rows of the passages longer than min_chars (cached: the scan set of every query)."""
        if self._long is None or self._long_chars != min_chars:
            owners = self.rows[:, 0]
            self._long = np.flatnonzero(lengths[owners] > min_chars).astype(np.int64)
            self._long_chars = min_chars
        return self._long

    def long_owners(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(passage row of each passage among `rows`, index in `rows` where its sentences start)."""
        if getattr(self, "_owners_rows", None) is not rows:
            owners = self.rows[rows, 0]
            starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            self._owners = (owners[starts], starts)
            self._owners_rows = rows
        return self._owners

    def long_matrix(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of those rows, gathered once into RAM: a fancy-indexed copy per query costs more than the scan."""
        if getattr(self, "_long_matrix_rows", None) is not rows:
            self._long_matrix = np.ascontiguousarray(self.matrix[rows])
            self._long_matrix_rows = rows
        return self._long_matrix

    def long_reduced(self, rows: np.ndarray, basis: np.ndarray, bf16: bool = False):
        """The vectors of those rows projected on `basis` (the passage vectors' first-pass directions), made once;
        `bf16`: as a torch bfloat16 tensor (vector_index.to_bf16), and only that is kept."""
        of = getattr(self, "_long_reduced_of", (None, None, None))
        if of[0] is not rows or of[1] is not basis or of[2] != bf16:  # held, not ids: an id may be reused once freed
            self._long_reduced = None  # the old one is freed before the new one is made
            reduced = np.ascontiguousarray(self.long_matrix(rows) @ basis)
            if bf16:
                from corpus_search.vector_index import to_bf16

                reduced = to_bf16(reduced)
            self._long_reduced = reduced
            self._long_reduced_of = (rows, basis, bf16)
        return self._long_reduced


MAX_CONTEXT_CHARS = 400  # a row's title and header, as the model reads them before it


def model_sentences(text: str, defined: dict[str, str] | None = None, title: str = "",
                    ) -> tuple[list[tuple[int, int]], list[str]]:
    """(spans, what the model reads for each): a passage's sentences, as `embed` vectors them.

    In a table of figures (`table_rows`) each row is a span of its own, read after the table's `title` (the
    float title of the passage's section) and its header rows (at most MAX_CONTEXT_CHARS of both), which say what the row's figures are; the
    sentence splitter would cut a joined table every 600 characters, through rows. Text before and after
    the rows is split into sentences as usual. `defined`: the abbreviations the document defines, spelled
    out (embedding_text.expand)."""
    from corpus_search.embedding_text import expand

    rows = table_rows(text)
    if not rows:
        cut = spans(text)
        return cut, [expand(text[a:b], defined or {}) for a, b in cut]
    before = [(a, b) for a, b in spans(text[:rows[0][0]]) if text[a:b].strip()] if rows[0][0] else []
    after_at = rows[-1][1]
    after = [(after_at + a, after_at + b) for a, b in spans(text[after_at:]) if text[after_at + a:after_at + b].strip()] \
        if text[after_at:].strip() else []
    header = []
    for a, b in rows:  # the rows of words before the first row of figures (a label row further down is no header)
        if is_data_row(text[a:b]):
            break
        header.append(text[a:b].strip())
    context = " ".join(part for part in (title.strip(), *header) if part)
    if len(context) > MAX_CONTEXT_CHARS:  # the model reads 256 word pieces: the row must fit after its context
        context = context[:context.rfind(" ", 0, MAX_CONTEXT_CHARS) + 1 or MAX_CONTEXT_CHARS].rstrip()
    said = []
    for a, b in rows:
        row = text[a:b].strip()
        said.append(f"{context}: {row}" if context and is_data_row(row) else row)
    cut = before + [(a, b) for a, b in rows] + after
    texts = [text[a:b] for a, b in before] + said + [text[a:b] for a, b in after]
    return cut, [expand(t, defined or {}) for t in texts]


def embed(encoder, texts: Sequence[str], defined: Sequence[dict[str, str]] | None = None,
          titles: Sequence[str] | None = None) -> tuple[list[list[tuple[int, int]]], np.ndarray]:
    """The sentence spans of each text and one vector per sentence, in order (`model_sentences`); `defined`:
    per text, the abbreviations its document defines; `titles`: per text, the float title of its section."""
    defined = defined or [{}] * len(texts)
    titles = titles or [""] * len(texts)
    made = [model_sentences(t, d, title) for t, d, title in zip(texts, defined, titles)]
    flat = [said for _, texts_ in made for said in texts_]
    return [cut for cut, _ in made], encoder.encode(flat) if flat else np.zeros((0, encoder.dim), dtype=np.float32)
