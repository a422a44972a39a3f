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

import bisect
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace

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
    is_furniture,
    is_running,
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
_FRONT_MATTER = frozenset({"abstract", "summary", "executive summary", "editor's notes", "editor’s notes"})
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
    blank_mode: bool = True  # paragraphs separated by blank lines (text exports) or not (PDF)
    stats: Counter[str] = field(default_factory=Counter)
    markers: MarkerTracker = field(default_factory=MarkerTracker)
    next_note: int = 1
    physical: list[int] = field(default_factory=list)  # each page's 1-based PDF page; empty for text files


def split_document(record: Record, pages: list[Page], pdf: bool = False) -> Split:
    """Clean a document's pages and cut them into passages; never raises on odd text.

    `pdf`: the pages are a PDF's, so each passage also records the PDF page it starts on (`pdf_page`).
    """
    page_lines = [[squeeze_spaces(ln) for ln in normalize(p.text or "").split("\n")] for p in pages]
    all_lines = [ln for lines in page_lines for ln in lines]
    doc = _Doc(record, [p.label for p in pages], HyphenJudge(all_lines), _typical_width(all_lines))
    doc.physical = [p.index + 1 for p in pages] if pdf else []
    doc.stats["pages"] = len(pages)
    nonblank = sum(1 for ln in all_lines if ln)
    blank_mode = nonblank > 0 and (len(all_lines) - nonblank) >= 0.15 * nonblank
    doc.blank_mode = blank_mode

    edges = repeated_edges(page_lines)
    bodies: list[list[_Block]] = []
    notes: list[list[_Block]] = []
    for index, lines in enumerate(page_lines):
        lines = _drop_furniture(lines, edges, doc, keep_top=index == 0)  # page 1's title is no running head
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
    split = _finish(ordered, doc)
    from corpus_search.offsets import add_raw_maps

    return replace(split, passages=add_raw_maps(split.passages, pages))


# --- step 1: furniture and footnotes ---------------------------------------------------


def _typical_width(lines: list[str]) -> float:
    lengths = sorted(len(ln) for ln in lines if len(ln) >= 20)
    return float(lengths[int(len(lengths) * 0.8)]) if lengths else 80.0


def _drop_furniture(lines: list[str], edges: set[str], doc: _Doc, keep_top: bool = False) -> list[str]:
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


def _lift_footnotes(lines: list[str], page: int, blank_mode: bool, doc: _Doc) -> tuple[list[str], list[_Block]]:
    """Body lines (markers turned into sentinels) and the footnotes found at the foot of the page.

    A web edition's bullet footnotes ("• 5 “More than ...” (...)") sit between paragraphs;
    they stay in place as slot lines that `_blocks` turns into footnote blocks.
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
        lifted, count = (line, 0) if _CAPTION.match(line) else doc.markers.lift(line)
        doc.stats["note_markers"] += count
        body.append(lifted)
    return body, []


_FOOT_SLOT = "\ue004"  # private use, so it cannot occur in normalised source text


def _footnote_region_starts(lines: list[str], i: int, blank_mode: bool, doc: _Doc, last_at: dict[int, int]) -> bool:
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
        and len(block.lines[1]) >= 0.6 * doc.width  # a paragraph starts on the next line
        and not FOOTNOTE_START.match(first)
        and not _CAPTION.match(first)
    ):
        return [_Block([first], block.page), _Block(block.lines[1:], block.page)]
    return [block]


def _starts_paragraph(prev: str, line: str, nxt: str, doc: _Doc) -> bool:
    """PDF text has no blank lines between paragraphs: guess from line lengths and punctuation."""
    prev, line, nxt = SENTINEL.sub("", prev), SENTINEL.sub("", line), SENTINEL.sub("", nxt)
    short = len(prev) < 0.8 * doc.width
    if _heading_like(prev) and len(prev) < 0.7 * doc.width and line[:1].isupper():
        return True  # a heading line ends here
    if _heading_like(line) and len(line) < 0.7 * doc.width and (nxt[:1].isupper() or not nxt) and _TERMINAL.search(prev):
        return True  # a heading line starts here (possibly the last line of the page)
    if _CAPTION.match(line) or _CAPTION.match(prev):
        return True
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
    # PDF text: a heading can be the last line of a page, its text on the next page.
    return not doc.blank_mode and i == len(blocks) - 1 and len(block.lines) == 1


# --- step 4: paragraphs across page breaks -----------------------------------------------


def _continues(prev: _Block, nxt: _Block) -> bool:
    """Does the first block of a page carry on the last paragraph of the page before?"""
    before, after = prev.plain, nxt.plain
    if not before or not after:
        return False
    return before.endswith("-") or not _TERMINAL.search(before) or after[0].islower()


def _rejoin_pages(bodies: list[list[_Block]], notes: list[list[_Block]], doc: _Doc) -> list[_Block]:
    """Blocks in reading order: a paragraph split by a page break becomes one block again,
    and the footnotes lifted from a page follow the paragraph that was open at its foot."""
    ordered: list[_Block] = []
    open_block: _Block | None = None
    for index, blocks in enumerate(bodies):
        if open_block is not None and blocks and blocks[0].kind == "body" and blocks[0].paragraph is None:
            if _continues(open_block, blocks[0]):
                open_block.lines.append(f"{PAGE_OPEN}{doc.labels[index] or ''}{PAGE_CLOSE}")
                open_block.lines.extend(blocks[0].lines)
                doc.stats["page_joins"] += 1
                blocks = blocks[1:]
        if blocks:
            open_block = blocks[-1] if blocks[-1].kind == "body" else None
        elif not bodies[index]:
            open_block = None  # an empty page (a full-page figure) ends any paragraph
        ordered.extend(blocks)
        ordered.extend(notes[index])
    return ordered


# --- step 5: sections, boxes and the final passages ---------------------------------------


def _median_width(block: _Block) -> float:
    lines = [ln for ln in block.lines if not ln.startswith(PAGE_OPEN)]
    return statistics.median(len(ln) for ln in lines[:-1]) if len(lines) >= 3 else 0.0


def _assign_sections(ordered: list[_Block], doc: _Doc) -> None:
    """Heading paths ("Chapter 3 / Business versus politics") and box membership."""
    body_widths = [w for b in ordered if b.kind == "body" and (w := _median_width(b))]
    # Boxed text is set narrower than the body; a box that started at a page top ends
    # where full-width text resumes (Chaillot's Box 3 shares its page with body text).
    wide = statistics.median(body_widths) if len(body_widths) >= 10 else float("inf")
    path: list[str] = []
    box: str | None = None
    box_page = -1
    box_top = False
    box_pages = 0
    prev_heading = False
    title = _fold(doc.record.title)
    for n, block in enumerate(ordered):
        if block.kind in ("footnote", "caption"):
            block.section = box or " / ".join(path)
            continue
        if block.kind == "box-title":
            box, box_page, box_top, box_pages = block.plain, block.page, block.top, 1
            block.section = box
            doc.stats["boxes"] += 1
            prev_heading = False
            continue
        if box is not None:
            if block.page != box_page:
                if block.page == box_page + 1 and block.top and box_pages < 2 and block.kind != "heading":
                    box_page, box_top, box_pages = block.page, True, box_pages + 1
                else:
                    box = None
            if box is not None and block.kind == "heading" and block.plain[:1].isupper():
                box = None  # a regular heading: the box is over ("… and Russian thinking" is inside it)
            if box is not None and box_top and _median_width(block) >= wide:
                box = None
            if box is not None:
                block.kind = "box"
                block.section = box
                continue
        if block.kind == "heading":
            text = block.plain
            if n < 5 and title and _fold(text).startswith(title[:60]):
                block.section = ""  # the document's own title is no section
                prev_heading = False
                continue
            parent = n + 1 < len(ordered) and ordered[n + 1].kind == "heading"
            if _CHAPTER.match(text) or (text.lower().rstrip(":") in _KEYWORDS and not prev_heading):
                path = [text]
            elif parent and not prev_heading:
                path = path[:1] + [text] if path and _CHAPTER.match(path[0]) else [text]
            elif prev_heading and len(path) < 3:
                path.append(text)
            elif path:
                path[-1] = text
            else:
                path = [text]
            prev_heading = True
        else:
            prev_heading = False
            if block.paragraph == 1 and path and path[0].lower() in _FRONT_MATTER:
                path = []  # numbered paragraph 1 starts the article proper, after the editor's notes
        block.section = " / ".join(path)


def _fold(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def _join_lines(lines: list[str], doc: _Doc) -> str:
    """One paragraph from its lines: a space between lines, hyphenated breaks decided.

    Built as a list of non-empty parts, and a hyphen is judged on the paragraph's tail only,
    so a paragraph of a million lines costs a million steps, not a million copies of itself.
    """
    parts: list[str] = []
    pending = ""  # a page-break sentinel waiting for the next line
    for line in lines:
        if line.startswith(PAGE_OPEN):
            pending += line
            continue
        if not parts:
            new = [line]
        elif parts[-1].endswith(("-", "\u2010", "\u2011")):
            fragment = split_fragment(_plain_tail(parts), SENTINEL.sub("", line))
            if fragment and doc.judge.join(*fragment):
                parts[-1] = parts[-1][:-1]
                if not parts[-1]:
                    parts.pop()
                doc.stats["hyphen_joined"] += 1
            elif fragment:  # "Sino-friendly"; no fragment: "2014-2015"
                doc.stats["hyphen_kept"] += 1
            new = [pending, line]
        else:
            new = [" ", pending, line]
        parts.extend(piece for piece in new if piece)
        pending = ""
    return "".join(parts)


_TAIL = 400  # characters of a paragraph's end that decide a line-end hyphen (a word is far shorter)


def _plain_tail(parts: list[str]) -> str:
    """The paragraph's last _TAIL characters so far, sentinels removed (one cut off at the start too)."""
    tail: list[str] = []
    size = 0
    for part in reversed(parts):
        tail.append(part)
        size += len(part)
        if size >= _TAIL:
            break
    text = "".join(reversed(tail))[-_TAIL:]
    close = min((i for i in (text.find(NOTE_CLOSE), text.find(PAGE_CLOSE)) if i >= 0), default=-1)
    opened = min((i for i in (text.find(NOTE_OPEN), text.find(PAGE_OPEN)) if i >= 0), default=len(text))
    if size > _TAIL and 0 <= close < opened:  # the cut fell inside a sentinel
        text = text[close + 1 :]
    return SENTINEL.sub("", text)


_SENTENCE_END = re.compile(r"[.!?…][’”\"')\]]*(?:\ue000\d+\ue001)?(?= (?:\ue002[^\ue003]*\ue003)?[A-Z“‘\"(])")


def _split_long(raw: str) -> list[str]:
    """Paragraphs above MAX_PASSAGE characters, cut at sentence ends (or spaces, if none).

    One pass: each cut looks only at the next MAX_PASSAGE + 200 characters, and the text left
    after a cut is measured from sentinel positions found once, never by rescanning the rest.
    """
    spans = [m.span() for m in SENTINEL.finditer(raw)]
    starts = [a for a, _ in spans]
    hidden_after = [0] * (len(spans) + 1)  # sentinel characters in spans[i:]
    for i in range(len(spans) - 1, -1, -1):
        hidden_after[i] = hidden_after[i + 1] + spans[i][1] - spans[i][0]

    def plain_left(pos: int) -> int:
        i = bisect.bisect_left(starts, pos)
        if i and spans[i - 1][1] > pos:  # a hard cut inside a sentinel: measure as the old code did
            return len(SENTINEL.sub("", raw[pos:]))
        return len(raw) - pos - hidden_after[i]

    chunks: list[str] = []
    pos = 0
    while plain_left(pos) > MAX_PASSAGE:
        ends = [m.end() - pos for m in _SENTENCE_END.finditer(raw, pos, pos + MAX_PASSAGE + 200)
                if 200 <= m.end() - pos <= MAX_PASSAGE]
        space = raw.rfind(" ", pos + 200, pos + MAX_PASSAGE)
        cut = ends[-1] if ends else (space - pos if space >= 0 else -1)
        if cut <= 0:
            cut = MAX_PASSAGE
        while pos + cut < len(raw) and raw[pos + cut - 1] in (NOTE_OPEN, PAGE_OPEN):
            cut += 1  # never cut inside a sentinel
        chunks.append(raw[pos : pos + cut])
        pos += cut
    chunks.append(raw[pos:])
    return chunks


def _cut(raw: str, label: str | None) -> tuple[str, str | None, list[tuple[int, str]], list[tuple[int, str]]]:
    """Sentinels out: the text, its start label, page breaks and note marks (text offsets)."""
    parts: list[str] = []
    size = 0
    pos = 0
    breaks: list[tuple[int, str]] = []
    marks: list[tuple[int, str]] = []
    for match in SENTINEL.finditer(raw):
        piece = raw[pos : match.start()]
        parts.append(piece)
        size += len(piece)
        if match.group(1) is not None:
            marks.append((size, match.group(1)))
        elif match.group(2):
            breaks.append((size, match.group(2)))
        pos = match.end()
    parts.append(raw[pos:])
    text = "".join(parts)
    lead = len(text) - len(text.lstrip())
    text = text.strip()

    def clip(off: int) -> int:
        return min(max(off - lead, 0), len(text))

    breaks = [(clip(o), lab) for o, lab in breaks]
    marks = [(clip(o), num) for o, num in marks]
    while breaks and breaks[0][0] == 0:  # a chunk that begins on the new page
        label = breaks.pop(0)[1]
    return text, label, breaks, marks


_LEADING = re.compile(f"(?:\\s+|{SENTINEL.pattern})*")


def _leading_pages(chunk: str) -> int:
    """Page breaks before a chunk's first word: the chunk begins on the page after them."""
    return _LEADING.match(chunk).group().count(PAGE_OPEN)


def _physical(doc: _Doc, position: int) -> int | None:
    return doc.physical[position] if 0 <= position < len(doc.physical) else None


def _page_fields(label: str | None) -> tuple[int | None, str | None]:
    if label is None or label == "":
        return None, None
    return (int(label), None) if label.isdigit() else (None, label)


def _finish(ordered: list[_Block], doc: _Doc) -> Split:
    passages: list[Passage] = []
    texts: list[str] = []
    offset = 0
    last_caption = ""
    doc_id = doc.record.doc_id
    for block in ordered:
        raw = _join_lines(block.lines, doc)
        if not SENTINEL.sub("", raw).strip():
            continue
        if block.kind == "caption":
            plain = SENTINEL.sub("", raw).strip()
            if plain == last_caption:  # the web edition prints each figure title twice
                doc.stats["duplicate_captions"] += 1
                continue
            last_caption = plain
        kind = "box" if block.kind == "box-title" else block.kind
        # Footnotes too: every passage stays near MAX_PASSAGE, so tagging and embedding one is
        # bounded work (spaCy refuses texts over a million characters outright).
        chunks = _split_long(raw)
        doc.stats["long_splits"] += len(chunks) - 1
        label = doc.labels[block.page] if block.page < len(doc.labels) else None
        position = block.page  # index into the pages; every page sentinel in the block moves it on by one
        for chunk in chunks:
            pdf_page = _physical(doc, position + _leading_pages(chunk))
            position += chunk.count(PAGE_OPEN)
            text, start_label, breaks, marks = _cut(chunk, label)
            if not text:
                continue
            end_label = breaks[-1][1] if breaks else start_label
            page, page_label = _page_fields(start_label)
            page_end, _ = _page_fields(end_label)
            notes = (block.note,) if kind == "footnote" and block.note else tuple(dict.fromkeys(n for _, n in marks))
            seq = len(passages)
            passages.append(
                Passage(
                    passage_id=f"{doc_id}:{seq:04d}",
                    doc_id=doc_id,
                    seq=seq,
                    text=text,
                    kind=kind,
                    page=page,
                    page_end=page_end if page_end is not None else page,
                    page_label=page_label,
                    paragraph=block.paragraph,
                    section=block.section,
                    start=offset,
                    end=offset + len(text),
                    page_breaks=tuple(breaks),
                    notes=notes,
                    note_marks=tuple(marks) if kind != "footnote" else (),
                    pdf_page=pdf_page,
                )
            )
            texts.append(text)
            offset += len(text) + 2
            label = end_label
    kinds = Counter(p.kind for p in passages)
    doc.stats.update(
        passages=len(passages), footnotes=kinds["footnote"], captions=kinds["caption"], headings=kinds["heading"]
    )
    stats = {key: int(doc.stats.get(key, 0)) for key in STAT_KEYS}
    return Split(text="\n\n".join(texts), passages=passages, stats=stats)
