"""Steps 3-4 and the sections of step 5 (see passages.py): what each block is and where it belongs.

Headings, captions and boxes are told apart, a web edition's glued paragraph numbers are stripped,
paragraphs split by a page break are joined again, each block gets its section path, and a lead-in
("... stated the following:") is joined to the quotation or list it introduces.
"""

from __future__ import annotations

import re
import statistics

from corpus_search.clean import NOTE_CLOSE, NOTE_OPEN, PAGE_CLOSE, PAGE_OPEN, SENTINEL
from corpus_search.datelines import MONTH
from corpus_search.passage_blocks import (
    CAPTION,
    CONTACT,
    FLOAT_TITLE,
    HEADER_FIELD,
    REPLY_START,
    SIGN_OFF,
    TERMINAL,
    Block,
    Doc,
    heading_like,
    table_cells,
)

_BOX = re.compile(r"^box\s+\d+[a-z]?\s*[:.–—-]", re.I)
_CHAPTER = re.compile(r"^(chapter|part)\s+(\d+|[ivxlc]+|one|two|three|four|five|six|seven|eight|nine|ten)\b\.?$", re.I)
_KEYWORDS = frozenset(
    "foreword preface introduction conclusion conclusions annex annexes appendix appendices abbreviations "
    "acronyms references bibliography notes endnotes abstract summary overview background glossary contents "
    "acknowledgements acknowledgments disclaimer footnotes".split()
) | {"executive summary", "table of contents", "editor's notes", "editor’s notes", "author information",
     "further reading", "about the authors", "list of abbreviations"}  # fmt: skip
_FRONT_MATTER = frozenset({"abstract", "summary", "executive summary", "editor's notes", "editor’s notes"})
# Headings of a list of works cited: the entries under them are kind "footnote", as notes are
# (titles and names, seldom an answer; ranking.py weighs both alike). Folded as `_fold` folds.
_REFERENCE_LISTS = frozenset({
    "references", "reference", "additional reference", "additional references", "bibliography",
    "select bibliography", "selected bibliography", "works cited", "literature cited", "further reading",
    "suggested reading", "suggested readings", "recommended reading", "additional reading",
})
# "For Further Reading", "Related CRS Products", "Related Reports": headings of lists of other works
_REFERENCE_LIST = re.compile(r"(?:for )?(?:further|additional|suggested|recommended|more) readings?"
                             r"|related (?:\w+ )?(?:reports|products|publications|readings?)")
_FIGURE_CELL = re.compile(r"\|\s*[-+–−(]?[$€£¥]?\d[\d,.]*\s*(?:%|[A-Za-z]{1,3}\.?)?\)?\s*$")  # "| $2,248", "| 0.3%"
# A paragraph that stops on a word no sentence or heading ends with ("... the Commandant directed the
# Marines to", "... budget request notes that"): the sentence goes on in the next paragraph.
# Not a word that can end a phrase ("Keep calm and carry on", "What it is", "Partners to reckon with").
_UNFINISHED = re.compile(r"(?<![\w'’-])(?:to|the|a|an|of|and|or|nor|that|which|whether|than|from|into"
                         r"|its|their|our|his|her)$")
# A line that only dates the document ("Updated April 22, 2026", "3 May 2024"): front matter, no section.
_DATELINE = re.compile(rf"^(?:(?:updated|revised|published|issued|dated|as of)\s+)?(?:{MONTH}\s+\d{{1,2}},?\s+\d{{4}}"
                       rf"|\d{{1,2}}\s+{MONTH}\s+\d{{4}}|{MONTH}\s+\d{{4}})$", re.I)
_TITLE_LONGEST = 200  # characters: a document's title runs longer than a section heading
_NOTE_MARK = re.compile(f"{NOTE_OPEN}(\\d+){NOTE_CLOSE}")  # a lifted note marker (clean.SENTINEL)
_PARA_NO = re.compile(r"^(\d{1,3})(?=[^\W\d_]|[“‘\"(\[])")


# --- step 3: classification -------------------------------------------------------------


def number_paragraphs(blocks: list[Block], doc: Doc) -> None:
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


def classify(blocks: list[Block], doc: Doc) -> None:
    """Headings, captions and box titles on one page (needs the page for heading look-ahead)."""
    for i, block in enumerate(blocks):
        if block.kind != "body" or block.paragraph is not None:
            continue
        text = block.plain
        if CAPTION.match(text):
            block.kind = "caption"
        elif _BOX.match(text) and len(block.lines) <= 2:
            block.kind = "box-title"
        elif _is_heading(blocks, i, doc):
            block.kind = "heading"


# A reference entry opens with the cited work's designation and a comma: "CRS Report R45408, The Emergency
# Food Assistance Program ...", "CRS In Focus IF12345, ...", "GAO-24-105, ...". With no closing full stop it
# looks like a heading, but it is a citation.
_CITATION_START = re.compile(r"^(?:[A-Z]{2,6}\s+(?:Reports?|In Focus|Insights?|Legal Sidebars?|Products?|Testimony|Briefs?)"
                             r"\s+)?[A-Z]{1,4}-?\d{3,}[\w-]*,\s")


# An author line: "Jim Zanotti Specialist in Middle Eastern Affairs", "Jane Roe, Analyst in Energy Policy".
_AUTHOR_LINE = re.compile(r"^[A-Z][\w.’'-]*(?:\s+[A-Z][\w.’'-]*){1,3},?\s+(?:(?:Senior|Legislative|Visual Information|"
                          r"Research)\s+)?(?:Specialist|Analyst|Attorney|Librarian|Coordinator|Economist|Fellow|Researcher)"
                          r"\s+(?:in|on|of|for)\s+[A-Z]")


def _is_heading(blocks: list[Block], i: int, doc: Doc) -> bool:
    block = blocks[i]
    text = block.plain
    if _CITATION_START.match(text) or _AUTHOR_LINE.match(text) or HEADER_FIELD.match(text):
        return False
    # A text's first paragraph may be its title, which runs longer than a section heading; only
    # where blank lines separate paragraphs, as a PDF's first lines may be a running head instead.
    title = block is doc.first and doc.blank_mode
    if (len(block.lines) > 2 or not heading_like(text, _TITLE_LONGEST if title else 100)
            or _UNFINISHED.search(text) or _table_row(blocks, i) or CONTACT.search(text) or _signed(blocks, i)):
        return False
    if _CHAPTER.match(text) or text.lower().rstrip(":") in _KEYWORDS:
        return True
    if not title and len(block.lines) == 2 and max(len(ln) for ln in block.lines) > 0.75 * doc.width:
        return False
    # A heading is followed, on the same page and within two more heading-like lines, by text
    # (a title within three: its date line and first heading come between).
    for j in range(i + 1, min(i + (5 if title else 4), len(blocks))):
        nxt = blocks[j]
        if nxt.kind == "footnote" or REPLY_START.match(nxt.plain):
            return False  # a message quoted or forwarded after a sign-off is not its section
        if len(nxt.plain) <= 100 and CONTACT.search(nxt.plain):
            return False  # a name or a title above a phone number or an address: a signature's lines
        if nxt.paragraph is not None or len(nxt.plain) > 120 or len(nxt.lines) >= 3 or _is_sentence(nxt.plain):
            return True
        if not heading_like(nxt.plain):
            return False
    # PDF text: a heading can be the last line of a page, its text on the next page.
    return not doc.blank_mode and i == len(blocks) - 1 and len(block.lines) == 1


def _signed(blocks: list[Block], i: int) -> bool:
    """Is block i a sign-off, or below one? It opens with a closing line or "--", or a closing line ends
    one of the few short blocks (a name, a title, an organisation) right above it."""
    for j in range(i, max(i - 6, -1), -1):
        if j < i and len(blocks[j].lines) > 2:
            return False
        lines = [SENTINEL.sub("", ln).strip() for ln in blocks[j].lines if not ln.startswith(PAGE_OPEN)]
        if lines and SIGN_OFF.match(lines[0] if j == i else lines[-1]):
            return True
        if j < i and (len(blocks[j].plain) > 80 or _is_sentence(blocks[j].plain)):
            return False
    return False


def _table_row(blocks: list[Block], i: int) -> bool:
    """A row of three cells or more; of two, when a cell is a figure or a row of two cells is beside it
    (a web page's title "Relations with China | Example News" alone is still a heading)."""
    cells = table_cells(blocks[i].plain)
    if cells != 2:
        return cells >= 3
    near = (blocks[j].plain for j in (i - 1, i + 1) if 0 <= j < len(blocks))
    return bool(_FIGURE_CELL.search(blocks[i].plain)) or any(table_cells(t) == 2 for t in near)


def _is_sentence(text: str) -> bool:
    """A short paragraph is still text: a capitalised sentence of four words or more, closed by a full stop."""
    words = text.split()
    return len(words) >= 4 and bool(TERMINAL.search(text)) and text[:1].isupper() and not heading_like(text)


# --- step 4: paragraphs across page breaks -----------------------------------------------


def _continues(prev: Block, nxt: Block) -> bool:
    """Does the first block of a page carry on the last paragraph of the page before?"""
    before, after = prev.plain, nxt.plain
    if not before or not after:
        return False
    return before.endswith("-") or not TERMINAL.search(before) or after[0].islower()


def rejoin_pages(bodies: list[list[Block]], notes: list[list[Block]], doc: Doc) -> list[Block]:
    """Blocks in reading order: a paragraph split by a page break becomes one block again,
    and the footnotes lifted from a page follow the paragraph that was open at its foot."""
    ordered: list[Block] = []
    open_block: Block | None = None
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


def _median_width(block: Block) -> float:
    lines = [ln for ln in block.lines if not ln.startswith(PAGE_OPEN)]
    return statistics.median(len(ln) for ln in lines[:-1]) if len(lines) >= 3 else 0.0


def assign_sections(ordered: list[Block], doc: Doc) -> None:
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
    references = False  # under a heading of works cited
    cited = False  # after a lead-in "Related CRS Reports:", in its entries
    title = _fold(doc.record.title)
    for n, block in enumerate(ordered):
        if block.kind in ("footnote", "caption"):
            block.section = box or " / ".join(path)
            prev_heading = prev_heading and block.kind == "caption"  # notes under a heading are its text
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
        if block.kind == "heading" and _DATELINE.match(block.plain):
            block.section = " / ".join(path)
            continue
        if block.kind == "heading":
            text = block.plain
            references = _fold(text) in _REFERENCE_LISTS or bool(_REFERENCE_LIST.fullmatch(_fold(text)))
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
            if references and block.kind == "body" and block.paragraph is None:
                block.kind = "footnote"
            # "Related CRS Reports:" as a line of text, not a heading: it and the entries right after it
            # ("CRS Report R45408, ...") are notes; the first block that is no entry ends the list.
            if block.kind == "body" and block.plain.rstrip().endswith(":") and _REFERENCE_LIST.fullmatch(_fold(block.plain)):
                cited = True
                block.kind = "footnote"
            elif cited and block.kind == "body" and _CITATION_START.match(block.plain):
                block.kind = "footnote"
            else:
                cited = False
        block.section = " / ".join(path)
    _note_sections(ordered)


def _note_sections(ordered: list[Block]) -> None:
    """A footnote is in the section of the paragraph that refers to it, not of the paragraph it follows.

    The notes of a page come after its last paragraph, and a Word file's after the document's: under
    the last heading, so a note to the introduction was cited with the conclusion. A note no marker
    refers to keeps the section it sits in.
    """
    marked: dict[str, str] = {}  # note number -> the section of the last block before it that refers to it
    for block in ordered:
        if block.kind != "footnote":
            for line in block.lines:
                for number in _NOTE_MARK.findall(line):
                    marked[number] = block.section
        elif block.note is not None and block.note in marked:
            block.section = marked[block.note]


# The lines that close a figure or table (passage_blocks.FLOAT_TITLE): its source, its notes, and the
# lettered notes of its cells ("a. TEFAP appropriation is ...").
_FLOAT_NOTE = re.compile(r"^(sources?(\s+for\s+data)?|notes?)\s*:", re.I)
_LETTERED_NOTE = re.compile(r"^[a-z]\.\s+\S")
_FLOAT_REACH = 6  # blocks other than table rows between a title and its source line
_UNIT_LINE = re.compile(r"^\((in|amounts? in|dollars in|figures? in)\b[^()]{0,80}\)$", re.I)  # "(in billions of dollars)"
_FLOAT_CONTENT = 400  # characters: a longer block that is no table row is prose, not a float's content


def float_sections(ordered: list[Block], doc: Doc) -> None:
    """A table's rows, and a figure's or table's source and notes, are under its title.

    A table row says "FTA | 69,900.0 | 65% | 21,250.0" and its source line "Sources: FHWA; FTA": neither
    says what the figures are. The title above them does, so it becomes the last part of their section
    path ("Surface Transportation Funding / Table 1. IIJA Highway and Public Transportation Funding by
    Funding Type"): shown with each hit, searched as a section is, and read by the embedding model
    (embedding_text.float_title). A float is its title, then either blocks up to its source or notes line
    (at most _FLOAT_REACH, none of them a heading or prose) and the note lines after that, or, with no
    source line, the table rows and unit line right after the title.
    """
    i = 0
    while i < len(ordered):
        title = ordered[i]
        if title.kind != "caption" or not FLOAT_TITLE.match(title.plain):
            i += 1
            continue
        end = _float_end(ordered, i)
        path = " ".join(title.plain.split())
        for block in ordered[i + 1 : end]:
            block.section = f"{title.section} / {path}" if title.section else path
        doc.stats["float_blocks"] += end - i - 1
        i = max(end, i + 1)


def _float_end(ordered: list[Block], i: int) -> int:
    """Where the float whose title is ordered[i] ends (exclusive)."""
    other = 0  # blocks that are not a table row: a table's rows do not count against the reach
    for j in range(i + 1, len(ordered)):
        block = ordered[j]
        text = block.plain
        if not table_cells(text):
            other += 1
            if other > _FLOAT_REACH + 1:
                break
        if block.kind in ("body", "caption") and _FLOAT_NOTE.match(text):
            end = j + 1
            while end < len(ordered) and ordered[end].kind in ("caption", "body") and (
                    _FLOAT_NOTE.match(ordered[end].plain) or _LETTERED_NOTE.match(ordered[end].plain)):
                end += 1
            return end
        if block.kind not in ("body", "caption") or FLOAT_TITLE.match(text) or (
                len(text) > _FLOAT_CONTENT and not table_cells(_last_line(block))):
            break
    end = i + 1  # no source line: the table's rows and its unit line, "(in millions of dollars)"
    while end < len(ordered) and ordered[end].kind == "body" and (
            table_cells(ordered[end].plain) >= 2 or _UNIT_LINE.match(ordered[end].plain)):
        end += 1
    return end


def join_lead_ins(ordered: list[Block], doc: Doc, limit: int) -> list[Block]:
    """A paragraph that introduces the next is joined to it, and a table's rows to each other.

    "An Army spokesman stated the following:" and the quotation after it, "include the following:"
    and the list, or "the Commandant directed the Marines to" and "[r]eview ...", are one thought:
    apart, the quotation's passage does not say who said it and the lead-in's says nothing. A table
    whose rows are paragraphs of their own ("Georgia | $3,394") is one passage too, with what
    introduces it, as a Word table is: a row alone does not say what its figures are. Joined only
    when the next block is body text of the same section, not a numbered paragraph (those are cited
    by number), on the same or the next page, and the two fit in one passage (`limit` characters).
    A table that came as one paragraph, a line per row (a Word or Markdown table), is taken row by row
    too, so a table too long for one passage is cut between two rows, not inside a row.
    """
    out: list[Block] = []
    for block in (row for whole in ordered for row in _table_rows(whole)):
        prev = out[-1] if out else None
        if (prev is not None and prev.kind == "body" and block.kind == "body"
                and prev.section == block.section and block.paragraph is None
                and len(prev.plain) + 1 + len(block.plain) <= limit):
            rows = table_cells(_last_line(prev)) >= 2 and table_cells(block.plain) >= 2
            lead_in = prev.plain.endswith(":") or bool(_UNFINISHED.search(prev.plain))
            last_page = prev.page + sum(ln.startswith(PAGE_OPEN) for ln in prev.lines)
            if (rows or lead_in) and block.page in (last_page, last_page + 1):
                if block.page == last_page + 1:
                    prev.lines.append(f"{PAGE_OPEN}{doc.labels[block.page] or ''}{PAGE_CLOSE}")
                prev.lines.extend(block.lines)
                doc.stats["table_row_joins" if rows else "lead_in_joins"] += 1
                continue
        out.append(block)
    return out


def _table_rows(block: Block) -> list[Block]:
    """A paragraph of table rows, a line each, as a block per row (the lines that are no row stay with the
    row above them, as a cell's second line would); any other block as it is.

    A Word table of eighty rows was one paragraph: its passages were cut wherever a sentence seemed to end,
    inside a row, and its header row stood alone. Row blocks are joined again by `join_lead_ins`.
    """
    if (block.kind != "body" or block.paragraph is not None or len(block.lines) < 2
            or sum(table_cells(SENTINEL.sub("", ln)) >= 2 for ln in block.lines) < 2):
        return [block]
    rows: list[Block] = []
    page, breaks = block.page, []  # the page of the line being read; page breaks waiting for the next line
    for line in block.lines:
        if line.startswith(PAGE_OPEN):
            breaks.append(line)
            continue
        if rows and table_cells(SENTINEL.sub("", line)) >= 2:
            # A row after a page break starts on the later page; `join_lead_ins` puts the break back.
            page += len(breaks)
            rows.append(Block([line], page, kind=block.kind, section=block.section))
        elif rows:
            rows[-1].lines.extend(breaks + [line])
            page += len(breaks)
        else:
            rows.append(Block(breaks + [line], page, kind=block.kind, top=block.top, section=block.section))
            page += len(breaks)
        breaks = []
    rows[-1].lines.extend(breaks)
    return rows


def _last_line(block: Block) -> str:
    return next((ln for ln in reversed(block.lines) if not ln.startswith(PAGE_OPEN)), "")


def _fold(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()

