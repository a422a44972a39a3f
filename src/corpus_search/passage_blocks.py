"""Steps 1-2 of splitting a document (see passages.py): a page's lines to blocks.

Furniture (running heads, URL lines, page numbers) is dropped, footnote markers are lifted into
sentinels and the footnotes at the foot of the page into blocks of their own, and the remaining
lines are grouped into paragraphs: by blank lines, or for PDF text by line lengths and punctuation.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from corpus_search.clean import (
    BULLET_NOTE,
    FOOTNOTE_START,
    PAGE_OPEN,
    SENTINEL,
    HyphenJudge,
    MarkerTracker,
    is_furniture,
    is_running,
)
from corpus_search.models import Record

TERMINAL = re.compile(r"[.!?…][’”\"')\]]*$")
CAPTION = re.compile(r"^(figure|fig\.|table|chart|graph|map|exhibit)\s*\d+[a-z]?\s*[:.–—-]|^sources?(\s+for\s+data)?\s*:", re.I)


@dataclass
class Block:
    """A paragraph, heading, caption or footnote as its lines, before it is a passage."""

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
class Doc:
    """Per-document state shared by the steps."""

    record: Record
    labels: list[str | None]
    judge: HyphenJudge
    width: float  # typical full line length
    blank_mode: bool = True  # paragraphs separated by blank lines (text exports) or not (PDF)
    stats: Counter[str] = field(default_factory=Counter)
    markers: MarkerTracker = field(default_factory=MarkerTracker)
    next_note: int = 1
    physical: list[int] = field(default_factory=list)  # each page's 1-based PDF page; empty for text files


# --- step 1: furniture and footnotes ---------------------------------------------------


def typical_width(lines: list[str]) -> float:
    lengths = sorted(len(ln) for ln in lines if len(ln) >= 20)
    return float(lengths[int(len(lengths) * 0.8)]) if lengths else 80.0


def drop_furniture(lines: list[str], edges: set[str], doc: Doc, keep_top: bool = False) -> list[str]:
    filled = [i for i, ln in enumerate(lines) if ln]
    edge_idx = set(filled[:3] + filled[-3:])
    top = set(filled[:3]) if keep_top else set()
    kept: list[str] = []
    for i, line in enumerate(lines):
        at_edge = i in edge_idx
        running = i not in top and is_running(line, edges)
        drop = bool(line) and (
            (at_edge and (is_furniture(line) or running))
            or (is_furniture(line) and not line.isdigit() and len(line) > 3)  # URL and footer lines anywhere
            # A running head or footer the PDF's text order put inside the page still repeats.
            or (running and len(line) <= 80)
        )
        if drop:
            doc.stats["dropped_furniture"] += 1
            continue
        kept.append(line)
    return kept


def lift_footnotes(lines: list[str], page: int, blank_mode: bool, doc: Doc) -> tuple[list[str], list[Block]]:
    """Body lines (markers turned into sentinels) and the footnotes found at the foot of the page.

    A web edition's bullet footnotes ("• 5 “More than ...” (...)") sit between paragraphs;
    they stay in place as slot lines that `group_blocks` turns into footnote blocks.
    """
    body: list[str] = []
    last_at: dict[int, int] = {}  # note number -> last line that starts like that note
    for j, line in enumerate(lines):
        if match := FOOTNOTE_START.match(line):
            last_at[int(match.group(1))] = j
    for i, line in enumerate(lines):
        bullet = BULLET_NOTE.match(line)
        if bullet:
            body.extend(["", f"{_FOOT_SLOT}{bullet.group(1)}{_FOOT_SLOT}{line[bullet.end() :]}", ""])
            doc.next_note = max(doc.next_note, int(bullet.group(1)) + 1)
            continue
        if _footnote_region_starts(lines, i, blank_mode, doc, last_at):
            return body, _footnote_blocks(lines[i:], page, doc)
        lifted, count = (line, 0) if CAPTION.match(line) else doc.markers.lift(line)
        doc.stats["note_markers"] += count
        body.append(lifted)
    return body, []


_FOOT_SLOT = "\ue004"  # private use, so it cannot occur in normalised source text


def _footnote_region_starts(lines: list[str], i: int, blank_mode: bool, doc: Doc, last_at: dict[int, int]) -> bool:
    match = FOOTNOTE_START.match(lines[i])
    if not match or (blank_mode and i > 0 and lines[i - 1]):
        return False
    number = int(match.group(1))
    if not doc.next_note <= number <= doc.next_note + 2:
        return False
    if str(number) in doc.markers.seen:
        return True
    # No marker found (glued to a digit, say): accept only an unbroken run of notes to the page end.
    if not blank_mode:
        # PDF text: every line may start a note, so the run below is "note n+1 starts some line
        # after this one"; answered from a table, since scanning per line is quadratic on a page
        # of thousands of "1 ..." lines.
        return number == doc.next_note and last_at.get(number + 1, -1) > i
    expected = number
    for j in range(i, len(lines)):
        m = FOOTNOTE_START.match(lines[j])
        starts_block = j == i or not lines[j - 1] or not blank_mode
        if m and starts_block and int(m.group(1)) == expected:
            expected += 1
        elif blank_mode and starts_block and lines[j]:
            return False
    return number == doc.next_note and expected > number + (0 if blank_mode else 1)


def _footnote_blocks(lines: list[str], page: int, doc: Doc) -> list[Block]:
    feet: list[Block] = []
    for line in lines:
        if not line:
            continue
        match = FOOTNOTE_START.match(line)
        if match and (not feet or int(feet[-1].note or 0) < int(match.group(1)) <= int(feet[-1].note or 0) + 2):
            feet.append(Block([line[match.end() :]], page, kind="footnote", note=match.group(1)))
            doc.next_note = int(match.group(1)) + 1
        elif feet:
            feet[-1].lines.append(line)
    return feet


# --- step 2: blocks -------------------------------------------------------------------


def group_blocks(lines: list[str], page: int, blank_mode: bool, doc: Doc) -> list[Block]:
    blocks: list[Block] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.extend(_split_glued_heading(Block(list(current), page), doc))
            current.clear()

    for i, line in enumerate(lines):
        if line.startswith(_FOOT_SLOT):
            flush()
            _, note, text = line.split(_FOOT_SLOT, 2)
            blocks.append(Block([text], page, kind="footnote", note=note))
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


def heading_like(text: str) -> bool:
    """Short, capitalised, no closing punctuation except '?' or an ellipsis."""
    text = SENTINEL.sub("", text).strip()
    if not 2 <= len(text) <= 100 or not any(c.isalpha() for c in text):
        return False
    if text.endswith((",", ";", "-", "–", ":")) or (text.endswith(".") and not text.endswith("...")):
        return False
    first = text.lstrip("…. ")
    return bool(first) and (first[0].isupper() or first[0].isdigit() and text[:1] != first[:1]) or text.startswith(("…", "..."))


def _split_glued_heading(block: Block, doc: Doc) -> list[Block]:
    # "Converging geopolitics? \nIn 2003, senior officials ..." - a heading with no blank line after it.
    first = block.lines[0]
    if (
        len(block.lines) >= 3
        and len(first) <= 0.6 * doc.width
        and heading_like(first)
        and block.lines[1][:1].isupper()
        and len(block.lines[1]) >= 0.6 * doc.width  # a paragraph starts on the next line
        and not FOOTNOTE_START.match(first)
        and not CAPTION.match(first)
    ):
        return [Block([first], block.page), Block(block.lines[1:], block.page)]
    return [block]


def _starts_paragraph(prev: str, line: str, nxt: str, doc: Doc) -> bool:
    """PDF text has no blank lines between paragraphs: guess from line lengths and punctuation."""
    prev, line, nxt = SENTINEL.sub("", prev), SENTINEL.sub("", line), SENTINEL.sub("", nxt)
    short = len(prev) < 0.8 * doc.width
    if heading_like(prev) and len(prev) < 0.7 * doc.width and line[:1].isupper():
        return True  # a heading line ends here
    if heading_like(line) and len(line) < 0.7 * doc.width and (nxt[:1].isupper() or not nxt) and TERMINAL.search(prev):
        return True  # a heading line starts here (possibly the last line of the page)
    if CAPTION.match(line) or CAPTION.match(prev):
        return True
    if BULLET_NOTE.match(line) or line[:1] in "•●▪":
        return True
    return bool(short and TERMINAL.search(prev) and (line[:1].isupper() or line[:1] in "“‘\"(0123456789"))

