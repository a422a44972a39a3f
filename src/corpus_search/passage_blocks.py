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
# A figure's or table's title ("Table 2. Transfers to the Highway Trust Fund"); a caption is one, or its source line.
FLOAT_TITLE = re.compile(r"^(figure|fig\.|table|chart|graph|map|exhibit)\s*\d+[a-z]?\s*[:.–—-]", re.I)
# Also a table's caption as Markdown writes one, with no number ("Table: Port fees by year", pandoc's syntax).
CAPTION = re.compile(rf"{FLOAT_TITLE.pattern}|^sources?(\s+for\s+data)?\s*:|^table:\s+\S", re.I)


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
    first: Block | None = None  # the document's first block: its title, when it reads like one


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

    A web edition's bullet footnotes ("• 5 “More than ...” (...)") sit between paragraphs, and so
    does a run of notes that a new section follows (a text's "Footnotes" before its "Disclaimer"):
    they stay in place as slot lines that `group_blocks` turns into footnote blocks.
    """
    body: list[str] = []
    last_at: dict[int, int] = {}  # note number -> last line that starts like that note
    for j, line in enumerate(lines):
        if match := FOOTNOTE_START.match(line):
            last_at[int(match.group(1))] = j
    i = 0
    while i < len(lines):
        line = lines[i]
        bullet = BULLET_NOTE.match(line)
        if bullet:
            body.extend(["", f"{_FOOT_SLOT}{bullet.group(1)}{_FOOT_SLOT}{line[bullet.end() :]}", ""])
            doc.next_note = max(doc.next_note, int(bullet.group(1)) + 1)
            i += 1
            continue
        end = _footnote_region(lines, i, blank_mode, doc, last_at)
        if end is not None and end >= len(lines):
            return body, _footnote_blocks(lines[i:], page, doc)
        if end is not None:
            for note in _footnote_blocks(lines[i:end], page, doc):
                body.extend(["", f"{_FOOT_SLOT}{note.note}{_FOOT_SLOT}{note.lines[0]}", *note.lines[1:], ""])
            i = end
            continue
        lifted, count = (line, 0) if CAPTION.match(line) else doc.markers.lift(line)
        doc.stats["note_markers"] += count
        body.append(lifted)
        i += 1
    return body, []


_FOOT_SLOT = "\ue004"  # private use, so it cannot occur in normalised source text
_NOTES_HEADINGS = frozenset({"footnotes", "endnotes"})  # "Notes" alone also heads meeting notes and lists


def _footnote_region(lines: list[str], i: int, blank_mode: bool, doc: Doc, last_at: dict[int, int]) -> int | None:
    """Where the footnotes that start at line i end (len(lines): the page's foot), or None: no notes start here.

    Notes continue the document's note numbering and are referenced by markers in the body, or, in
    a text with blank lines between paragraphs, sit under a "Footnotes" heading. Unreferenced, a
    numbered run counts only at the foot of a page of a PDF or a paged text (a marker glued to a
    digit is not found): a numbered list that ends a one-page text is still a list.
    """
    match = FOOTNOTE_START.match(lines[i])
    if not match or (blank_mode and i > 0 and lines[i - 1]):
        return None
    number = int(match.group(1))
    if not doc.next_note <= number <= doc.next_note + 2:
        return None
    referenced = str(number) in doc.markers.seen
    if not blank_mode:
        if referenced:
            return len(lines)
        # PDF text: every line may start a note, so the run below is "note n+1 starts some line
        # after this one"; answered from a table, since scanning per line is quadratic on a page
        # of thousands of "1 ..." lines.
        return len(lines) if number == doc.next_note and last_at.get(number + 1, -1) > i else None
    end, count = _note_run(lines, i, number)
    if not referenced and count > 1:  # a marker to any note of the run: "advised.2" before notes 1 and 2
        seen = set(doc.markers.seen)
        referenced = any(str(n) in seen for n in range(number + 1, number + count))
    if not referenced and number != doc.next_note:
        return None
    after = next((j for j in range(end, len(lines)) if lines[j]), None)
    headed = _under_notes_heading(lines, i)
    if after is None:  # the run reaches the foot of the page
        return len(lines) if referenced or headed or len(doc.labels) > 1 else None
    new_section = (after + 1 == len(lines) or not lines[after + 1]) and heading_like(lines[after])
    if (referenced or headed) and new_section:
        return end
    if referenced:
        return len(lines)  # what follows the run continues its last note
    return end if headed else None


def _note_run(lines: list[str], i: int, number: int) -> tuple[int, int]:
    """The paragraphs from line i numbered on from `number` (blank-line paragraphs): where they end, how many."""
    expected = number
    for j in range(i, len(lines)):
        if not lines[j] or (j > i and lines[j - 1]):
            continue  # inside a paragraph: a note's own lines
        match = FOOTNOTE_START.match(lines[j])
        if not match or int(match.group(1)) != expected:
            return j, expected - number
        expected += 1
    return len(lines), expected - number


def _under_notes_heading(lines: list[str], i: int) -> bool:
    k = next((j for j in range(i - 1, -1, -1) if lines[j]), None)
    if k is None or (k > 0 and lines[k - 1]):
        return False  # no paragraph before, or one longer than a heading line
    return SENTINEL.sub("", lines[k]).strip().rstrip(":").casefold() in _NOTES_HEADINGS


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

    in_note = False  # the lines after a slot, up to a blank line, are that note's
    for i, line in enumerate(lines):
        if line.startswith(_FOOT_SLOT):
            flush()
            _, note, text = line.split(_FOOT_SLOT, 2)
            blocks.append(Block([text], page, kind="footnote", note=note))
            in_note = True
        elif not line:
            flush()
            in_note = False
        elif in_note:
            blocks[-1].lines.append(line)
        elif blank_mode or not current:
            current.append(line)
        elif _starts_paragraph(current[-1], line, lines[i + 1] if i + 1 < len(lines) else "", doc):
            flush()
            current.append(line)
        else:
            current.append(line)
    flush()
    return blocks


# A table row as our Word and web extractors write one, and as text exports carry them: cells between
# " | " ("Dec. 2023 | $26.2 | 30%", "| Share of returns | Average credit" with an empty first cell).
_CELL_BAR = re.compile(r"(?:^|\s)\|(?:\s|$)")


def table_cells(text: str) -> int:
    """How many cells a line shaped as a table row has ("Georgia | $3,394": 2); 0 for any other line."""
    return len(text.split("|")) if _CELL_BAR.search(text) else 0


# A letter's or an e-mail's closing line ("Best regards,", "Thanks,", "Yours sincerely") or the signature
# delimiter ("-- ", RFC 3676): the short lines after it are a name, a title, an address, never a heading.
SIGN_OFF = re.compile(
    r"^(?:--|(?=.*\b(?:regards|wishes|thanks|thank|cheers|sincerely|yours|best|respectfully|faithfully|care)\b)"
    r"(?:(?:best|kind|warm|warmest|many|with|all|the|yours|truly|sincerely|faithfully|respectfully|cheers|thanks"
    r"|thank|you|regards|wishes|take|care)\b[ \t]*){1,4}[,.!]?)$", re.I)
# A line that gives a way to reach someone: a telephone number, an e-mail address, a web address.
CONTACT = re.compile(r"\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}"  # +1 555 0100
                     r"|\(\d{3}\)\s*\d{3}[-.\s]\d{4}|(?<![\d.])\d{3}[-.]\d{3}[-.]\d{4}(?!\d)"  # (202) 555-0100
                     r"|[\w.+-]{1,64}@[\w-]{1,63}\.[\w.-]{0,200}\w|\b(?:https?://|www\.)\S", re.I)
# Where a reply's quotation of an earlier message, or a forwarded message, begins.
# The line a mail client sets above a message it quotes or forwards whole (mail.earlier_message, quote's note).
EARLIER_SEPARATOR = r"-{2,}\s*(?:Original|Forwarded)\s+Message\s*-{2,}|Begin forwarded message:"
REPLY_START = re.compile(rf"^(?:On\s.{{4,300}}\swrote:|{EARLIER_SEPARATOR}"
                         r"|_{8,}(?:$|\s+From:\s)|From:\s.+\s(?:Sent|Date):\s)", re.I)
# A message's header line, as a forwarded or quoted e-mail carries it in its body ("Sent: Monday, April 13").
HEADER_NAMES = "From|Sent|Date|To|Cc|Bcc|Subject|Reply-To"  # also quote's note, which reads the fields' values
HEADER_FIELD = re.compile(rf"^(?:{HEADER_NAMES})\s*:\s*\S", re.I)


def heading_like(text: str, longest: int = 100) -> bool:
    """Short, capitalised, no closing punctuation except '?' or an ellipsis ("Thanks, all!" is a sentence)."""
    text = SENTINEL.sub("", text).strip()
    if not 2 <= len(text) <= longest or not any(c.isalpha() for c in text):
        return False
    if text.endswith((",", ";", "-", "–", ":", "!")) or (text.endswith(".") and not text.endswith("...")):
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
        and not HEADER_FIELD.match(first)  # "From: Jane Roe" above "Sent: ...": a message's header, no heading
        and not (table_cells(SENTINEL.sub("", first)) >= 2 and table_cells(SENTINEL.sub("", block.lines[1])) >= 2)
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

