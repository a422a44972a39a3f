"""Pages -> cleaned document text and paragraph-sized passages with page, section and notes.

The quotable text is the cleaned text: every passage is a slice of `Split.text`, and a
passage's page is the printed page of its first word. The pipeline, in order:

1. per page: normalise unicode, drop furniture (running heads, URL lines, page numbers,
   chapter tabs), lift glued footnote markers and the footnotes at the foot of the page;
2. group lines into blocks (blank-line paragraphs, or layout heuristics for PDF text);
3. classify blocks: heading, caption, box, body; strip glued paragraph numbers;
4. rejoin paragraphs that run across a page break, with the footnotes after them;
5. build section paths, split overlong paragraphs, and cut the final passages.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from corpus_search.clean import (
    BULLET_NOTE,
    FOOTNOTE_START,
    NOTE_CLOSE,
    NOTE_OPEN,
    PAGE_CLOSE,
    PAGE_OPEN,
    SENTINEL,
    HyphenJudge,
    MarkerTracker,
    furniture_key,
    is_furniture,
    normalize,
    repeated_edges,
    split_fragment,
    squeeze_spaces,
)
from corpus_search.models import Page, Passage, Record

MAX_PASSAGE = 2500  # characters; longer paragraphs are split at sentence ends
STAT_KEYS = (
    "pages", "passages", "hyphen_joined", "hyphen_kept", "footnotes", "note_markers", "captions",
    "duplicate_captions", "boxes", "headings", "numbered_paragraphs", "dropped_furniture",
    "page_joins", "long_splits",
)  # fmt: skip

_TERMINAL = re.compile(r"[.!?…][’”\"')\]]*$")
_CAPTION = re.compile(r"^(figure|fig\.|table|chart|graph|map|exhibit)\s*\d+[a-z]?\s*[:.–—-]|^sources?(\s+for\s+data)?\s*:", re.I)
_BOX = re.compile(r"^box\s+\d+[a-z]?\s*[:.–—-]", re.I)
_CHAPTER = re.compile(r"^(chapter|part)\s+(\d+|[ivxlc]+|one|two|three|four|five|six|seven|eight|nine|ten)\b\.?$", re.I)
_KEYWORDS = frozenset(
    "foreword preface introduction conclusion conclusions annex annexes appendix appendices abbreviations "
    "acronyms references bibliography notes endnotes abstract summary overview background glossary contents "
    "acknowledgements acknowledgments disclaimer".split()
) | {"executive summary", "table of contents", "editor's notes", "editor’s notes", "author information",
     "further reading", "about the authors", "list of abbreviations"}  # fmt: skip
_PARA_NO = re.compile(r"^(\d{1,3})(?=[^\W\d_]|[“‘\"(\[])")


@dataclass(frozen=True)
class Split:
    """A document's cleaned text and its passages (each `text[p.start:p.end] == p.text`)."""

    text: str
    passages: list[Passage]
    stats: dict[str, int]


@dataclass
class _Block:
    lines: list[str]  # cleaned lines, sentinels inside; page-break pseudo-lines when merged
    page: int  # position in `pages` where the block starts
    kind: str = "body"
    note: str | None = None  # a footnote's own number
    paragraph: int | None = None
    top: bool = False  # first block on its page
    section: str = ""

    @property
    def plain(self) -> str:
        return " ".join(SENTINEL.sub("", ln) for ln in self.lines if not ln.startswith(PAGE_OPEN)).strip()


@dataclass
class _Doc:
    """Per-document state shared by the steps."""

    record: Record
    labels: list[str | None]
    judge: HyphenJudge
    width: float  # typical full line length
    stats: Counter[str] = field(default_factory=Counter)
    markers: MarkerTracker = field(default_factory=MarkerTracker)
    next_note: int = 1


def split_document(record: Record, pages: list[Page]) -> Split:
    """Clean a document's pages and cut them into passages; never raises on odd text."""
    page_lines = [[squeeze_spaces(ln) for ln in normalize(p.text or "").split("\n")] for p in pages]
    all_lines = [ln for lines in page_lines for ln in lines]
    doc = _Doc(record, [p.label for p in pages], HyphenJudge(all_lines), _typical_width(all_lines))
    doc.stats["pages"] = len(pages)
    nonblank = sum(1 for ln in all_lines if ln)
    blank_mode = nonblank > 0 and (len(all_lines) - nonblank) >= 0.15 * nonblank

    edges = repeated_edges(page_lines)
    bodies: list[list[_Block]] = []
    notes: list[list[_Block]] = []
    for index, lines in enumerate(page_lines):
        lines = _drop_furniture(lines, edges, doc)
        body, foot = _lift_footnotes(lines, index, blank_mode, doc)
        blocks = _blocks(body, index, blank_mode, doc)
        if blocks:
            blocks[0].top = True
        bodies.append(blocks)
        notes.append(foot)

    _number_paragraphs([b for blocks in bodies for b in blocks], doc)
    for blocks in bodies:
        _classify(blocks, doc)
    ordered = _rejoin_pages(bodies, notes, doc)
    _assign_sections(ordered, doc)
    return _finish(ordered, doc)


# --- step 1: furniture and footnotes ---------------------------------------------------


def _typical_width(lines: list[str]) -> float:
    lengths = sorted(len(ln) for ln in lines if len(ln) >= 20)
    return float(lengths[int(len(lengths) * 0.8)]) if lengths else 80.0


def _drop_furniture(lines: list[str], edges: set[str], doc: _Doc) -> list[str]:
    filled = [i for i, ln in enumerate(lines) if ln]
    edge_idx = set(filled[:3] + filled[-3:])
    kept: list[str] = []
    for i, line in enumerate(lines):
        at_edge = i in edge_idx
        drop = bool(line) and (
            (at_edge and (is_furniture(line) or furniture_key(line) in edges))
            or (is_furniture(line) and not line.isdigit() and len(line) > 3)  # URL and footer lines anywhere
        )
        if drop:
            doc.stats["dropped_furniture"] += 1
            continue
        kept.append(line)
    return kept


def _lift_footnotes(lines: list[str], page: int, blank_mode: bool, doc: _Doc) -> tuple[list[str], list[_Block]]:
    """Body lines (markers turned into sentinels) and the footnotes found at the foot of the page.

    A web edition's bullet footnotes ("• 5 “More than ...” (...)") sit between paragraphs;
    they stay in place as slot lines that `_blocks` turns into footnote blocks.
    """
    body: list[str] = []
    for i, line in enumerate(lines):
        bullet = BULLET_NOTE.match(line)
        if bullet:
            body.extend(["", f"{_FOOT_SLOT}{bullet.group(1)}{_FOOT_SLOT}{line[bullet.end() :]}", ""])
            doc.next_note = max(doc.next_note, int(bullet.group(1)) + 1)
            continue
        if _footnote_region_starts(lines, i, blank_mode, doc):
            return body, _footnote_blocks(lines[i:], page, doc)
        lifted, count = (line, 0) if _CAPTION.match(line) else doc.markers.lift(line)
        doc.stats["note_markers"] += count
        body.append(lifted)
    return body, []


_FOOT_SLOT = "\ue004"  # private use, so it cannot occur in normalised source text


def _footnote_region_starts(lines: list[str], i: int, blank_mode: bool, doc: _Doc) -> bool:
    match = FOOTNOTE_START.match(lines[i])
    if not match or (blank_mode and i > 0 and lines[i - 1]):
        return False
    number = int(match.group(1))
    if not doc.next_note <= number <= doc.next_note + 2:
        return False
    if str(number) in doc.markers.seen:
        return True
    # No marker found (glued to a digit, say): accept only an unbroken run of notes to the page end.
    expected = number
    for j in range(i, len(lines)):
        m = FOOTNOTE_START.match(lines[j])
        starts_block = j == i or not lines[j - 1] or not blank_mode
        if m and starts_block and int(m.group(1)) == expected:
            expected += 1
        elif blank_mode and starts_block and lines[j]:
            return False
    return number == doc.next_note and expected > number + (0 if blank_mode else 1)


def _footnote_blocks(lines: list[str], page: int, doc: _Doc) -> list[_Block]:
    feet: list[_Block] = []
    for line in lines:
        if not line:
            continue
        match = FOOTNOTE_START.match(line)
        if match and (not feet or int(feet[-1].note or 0) < int(match.group(1)) <= int(feet[-1].note or 0) + 2):
            feet.append(_Block([line[match.end() :]], page, kind="footnote", note=match.group(1)))
            doc.next_note = int(match.group(1)) + 1
        elif feet:
            feet[-1].lines.append(line)
    return feet


# --- step 2: blocks -------------------------------------------------------------------


def _blocks(lines: list[str], page: int, blank_mode: bool, doc: _Doc) -> list[_Block]:
    blocks: list[_Block] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.extend(_split_glued_heading(_Block(list(current), page), doc))
            current.clear()

    for i, line in enumerate(lines):
        if line.startswith(_FOOT_SLOT):
            flush()
            _, note, text = line.split(_FOOT_SLOT, 2)
            blocks.append(_Block([text], page, kind="footnote", note=note))
        elif not line:
            flush()
        elif blank_mode or not current:
            current.append(line)
        elif _starts_paragraph(current[-1], line, lines[i + 1] if i + 1 < len(lines) else "", doc):
            flush()
            current.append(line)
        else:
            current.append(line)
    flush()
    return blocks


def _heading_like(text: str) -> bool:
    """Short, capitalised, no closing punctuation except '?' or an ellipsis."""
    text = SENTINEL.sub("", text).strip()
    if not 2 <= len(text) <= 100 or not any(c.isalpha() for c in text):
        return False
    if text.endswith((",", ";", "-", "–", ":")) or (text.endswith(".") and not text.endswith("...")):
        return False
    first = text.lstrip("…. ")
    return bool(first) and (first[0].isupper() or first[0].isdigit() and text[:1] != first[:1]) or text.startswith(("…", "..."))


def _split_glued_heading(block: _Block, doc: _Doc) -> list[_Block]:
    # "Converging geopolitics? \nIn 2003, senior officials ..." - a heading with no blank line after it.
    first = block.lines[0]
    if (
        len(block.lines) >= 3
        and len(first) <= 0.6 * doc.width
        and _heading_like(first)
        and block.lines[1][:1].isupper()
        and not FOOTNOTE_START.match(first)
        and not _CAPTION.match(first)
    ):
        return [_Block([first], block.page), _Block(block.lines[1:], block.page)]
    return [block]


def _starts_paragraph(prev: str, line: str, nxt: str, doc: _Doc) -> bool:
    """PDF text has no blank lines between paragraphs: guess from line lengths and punctuation."""
    short = len(prev) < 0.8 * doc.width
    if _heading_like(prev) and len(prev) < 0.7 * doc.width and line[:1].isupper():
        return True  # a heading line ends here
    if _heading_like(line) and len(line) < 0.7 * doc.width and nxt[:1].isupper() and _TERMINAL.search(prev):
        return True  # a heading line starts here
    if BULLET_NOTE.match(line) or line[:1] in "•●▪":
        return True
    return bool(short and _TERMINAL.search(prev) and (line[:1].isupper() or line[:1] in "“‘\"(0123456789"))


# --- step 3: classification -------------------------------------------------------------


def _number_paragraphs(blocks: list[_Block], doc: _Doc) -> None:
    """Strip the glued paragraph numbers of a web edition ("14These ...") in increasing order."""
    candidates = [b for b in blocks if b.kind == "body" and _PARA_NO.match(b.lines[0])]
    if not doc.record.numbered_paragraphs and len(candidates) < 5:
        return
    last = 0
    for block in candidates:
        match = _PARA_NO.match(block.lines[0])
        assert match is not None
        number = int(match.group(1))
        if last < number <= last + 3:  # "2014was" or a stray number is not the next paragraph
            block.lines[0] = block.lines[0][match.end() :]
            block.paragraph = number
            last = number
            doc.stats["numbered_paragraphs"] += 1


def _classify(blocks: list[_Block], doc: _Doc) -> None:
    """Headings, captions and box titles on one page (needs the page for heading look-ahead)."""
    for i, block in enumerate(blocks):
        if block.kind != "body" or block.paragraph is not None:
            continue
        text = block.plain
        if _CAPTION.match(text):
            block.kind = "caption"
        elif _BOX.match(text) and len(block.lines) <= 2:
            block.kind = "box-title"
        elif _is_heading(blocks, i, doc):
            block.kind = "heading"


def _is_heading(blocks: list[_Block], i: int, doc: _Doc) -> bool:
    block = blocks[i]
    text = block.plain
    if len(block.lines) > 2 or not _heading_like(text):
        return False
    if _CHAPTER.match(text) or text.lower().rstrip(":") in _KEYWORDS:
        return True
    if len(block.lines) == 2 and max(len(ln) for ln in block.lines) > 0.75 * doc.width:
        return False
    # A heading is followed, on the same page and within two more heading-like lines, by text.
    for j in range(i + 1, min(i + 4, len(blocks))):
        nxt = blocks[j]
        if nxt.kind == "footnote":
            return False
        if nxt.paragraph is not None or len(nxt.plain) > 120 or len(nxt.lines) >= 3:
            return True
        if not _heading_like(nxt.plain):
            return False
    return False
