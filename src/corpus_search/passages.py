"""Pages -> cleaned document text and paragraph-sized passages with page, section and notes.

The quotable text is the cleaned text: every passage is a slice of `Split.text`, and a
passage's page is the printed page of its first word. The pipeline, in order:

1. per page: normalise unicode, drop furniture (running heads, URL lines, page numbers,
   chapter tabs), lift glued footnote markers ("Union4", "debt[4]") and the footnotes at the
   foot of the page, or, in a text, a numbered run under a "Footnotes" heading or that the
   body's markers reference, left in place when a new section follows it;
2. group lines into blocks (blank-line paragraphs, or layout heuristics for PDF text);
3. classify blocks: heading (a text's first paragraph is its title when it reads like one),
   caption, box, body; strip glued paragraph numbers;
4. rejoin paragraphs that run across a page break, with the footnotes after them;
5. build section paths (a dateline opens none; entries under "References" and the like are
   notes), join a lead-in ending in a colon to the quotation or list it introduces, split
   overlong paragraphs, and cut the final passages.

Steps 1-2 live in passage_blocks.py, steps 3-4 and the section paths in passage_layout.py, the
text of a passage (joined lines, long paragraphs cut, sentinels out) in passage_text.py; this
module runs them in order and makes the `Passage`s.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from corpus_search.clean import PAGE_OPEN, SENTINEL, HyphenJudge, normalize, repeated_edges, squeeze_spaces
from corpus_search.models import Page, Passage, Record
from corpus_search.offsets import add_raw_maps, page_starts, raw_offset
from corpus_search.passage_blocks import (
    Block,
    Doc,
    drop_furniture,
    group_blocks,
    lift_footnotes,
    table_cells,
    typical_width,
)
from corpus_search.passage_layout import (
    assign_sections,
    classify,
    float_sections,
    join_lead_ins,
    number_paragraphs,
    rejoin_pages,
)
from corpus_search.passage_text import MAX_PASSAGE, cut, join_lines, leading_pages, split_long

_split_long = split_long  # the name tests and bench/bench_split.py know it by

__all__ = ["MAX_PASSAGE", "STAT_KEYS", "Split", "split_document"]

STAT_KEYS = (
    "pages", "passages", "hyphen_joined", "hyphen_kept", "footnotes", "note_markers", "captions",
    "duplicate_captions", "boxes", "headings", "numbered_paragraphs", "dropped_furniture",
    "page_joins", "lead_in_joins", "table_row_joins", "long_splits",
)  # fmt: skip


@dataclass(frozen=True)
class Split:
    """A document's cleaned text and its passages (each `text[p.start:p.end] == p.text`)."""

    text: str
    passages: list[Passage]
    stats: dict[str, int]


def split_document(record: Record, pages: list[Page], pdf: bool = False) -> Split:
    """Clean a document's pages and cut them into passages; never raises on odd text.

    `pdf`: the pages are a PDF's, so each passage also records the PDF page it starts on (`pdf_page`).
    """
    page_lines = [[squeeze_spaces(ln) for ln in normalize(p.text or "").split("\n")] for p in pages]
    all_lines = [ln for lines in page_lines for ln in lines]
    doc = Doc(record, [p.label for p in pages], HyphenJudge(all_lines), typical_width(all_lines))
    doc.physical = [p.index + 1 for p in pages] if pdf else []
    doc.stats["pages"] = len(pages)
    nonblank = sum(1 for ln in all_lines if ln)
    # A table's rows, a line each with no blank line between (a Word or Markdown table), say nothing of how
    # the text's paragraphs are set apart: a page that is mostly a table was read as a PDF's lines.
    rows = sum(1 for ln in all_lines if table_cells(ln) >= 2)
    blank_mode = nonblank > 0 and (len(all_lines) - nonblank) >= 0.15 * (nonblank - rows)
    doc.blank_mode = blank_mode

    edges = repeated_edges(page_lines)
    bodies: list[list[Block]] = []
    notes: list[list[Block]] = []
    for index, lines in enumerate(page_lines):
        lines = drop_furniture(lines, edges, doc, keep_top=index == 0)  # page 1's title is no running head
        body, foot = lift_footnotes(lines, index, blank_mode, doc)
        blocks = group_blocks(body, index, blank_mode, doc)
        if blocks:
            blocks[0].top = True
        bodies.append(blocks)
        notes.append(foot)

    doc.first = next((b for blocks in bodies for b in blocks), None)
    number_paragraphs([b for blocks in bodies for b in blocks], doc)
    for blocks in bodies:
        classify(blocks, doc)
    ordered = rejoin_pages(bodies, notes, doc)
    assign_sections(ordered, doc)
    float_sections(ordered, doc)
    ordered = join_lead_ins(ordered, doc, MAX_PASSAGE)
    split = _finish(ordered, doc)
    passages = add_raw_maps(split.passages, pages)
    if any(p.quoted for p in pages):
        passages = _mark_quoted(passages, pages)
    return replace(split, passages=passages)


def _mark_quoted(passages: list[Passage], pages: list[Page]) -> list[Passage]:
    """Body passages wholly inside what the source quotes from another message (Page.quoted) are "quote":
    in a reply, the earlier message's words, which a quotation check must not pass off as the sender's."""
    starts = page_starts(pages)
    spans = [(starts[i] + a, starts[i] + b) for i, page in enumerate(pages) for a, b in page.quoted]
    out = []
    for p in passages:
        first, last = raw_offset(p, 0), raw_offset(p, max(len(p.text) - 1, 0))
        inside = first is not None and last is not None and any(a <= first and last < b for a, b in spans)
        out.append(replace(p, kind="quote") if inside and p.kind == "body" else p)
    return out


def _physical(doc: Doc, position: int) -> int | None:
    return doc.physical[position] if 0 <= position < len(doc.physical) else None


def _page_fields(label: str | None) -> tuple[int | None, str | None]:
    if label is None or label == "":
        return None, None
    return (int(label), None) if label.isdigit() else (None, label)


def _finish(ordered: list[Block], doc: Doc) -> Split:
    passages: list[Passage] = []
    texts: list[str] = []
    offset = 0
    last_caption = ""
    doc_id = doc.record.doc_id
    for block in ordered:
        raw = join_lines(block.lines, doc)
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
        chunks = split_long(raw)
        doc.stats["long_splits"] += len(chunks) - 1
        label = doc.labels[block.page] if block.page < len(doc.labels) else None
        position = block.page  # index into the pages; every page sentinel in the block moves it on by one
        for chunk in chunks:
            pdf_page = _physical(doc, position + leading_pages(chunk))
            position += chunk.count(PAGE_OPEN)
            text, start_label, breaks, marks = cut(chunk, label)
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
