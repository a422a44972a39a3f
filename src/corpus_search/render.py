"""Turning source text into safe HTML for the app: escape first, then add our own markup.

Document text is data, never markup. Every helper here escapes the text for
HTML *and* neutralises Markdown and Streamlit's markdown extensions (links,
images, emphasis, `$math$`, `:emoji:`, autolinks), so a source that contains
`[x](javascript:...)` or `![](http://host/img.png)` shows those characters
literally. Only the tags these helpers add themselves (`<mark>`, `<del>`,
`<ins>`, `<br>`, `<span>`) reach the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from corpus_search.locators import EN_DASH, passage_locator_text

# Characters that mean something to Markdown (CommonMark + GFM) or to Streamlit's
# extensions. Written as numeric character references they are shown, not parsed.
_MARKDOWN_CHARS = "\\`*_{}[]()#+-.!|~$:@^=%"
_TABLE = {ord(c): f"&#{ord(c)};" for c in _MARKDOWN_CHARS}
_TABLE.update({ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;", ord("'"): "&#x27;"})


def escape(text: str) -> str:
    """Text made inert for `st.markdown(..., unsafe_allow_html=True)`: no tags, no Markdown, one line."""
    text = text.replace("\x00", "")
    # Line breaks would start Markdown blocks (lists, headings, code); runs of spaces render as one anyway.
    text = " ".join(text.split())
    return text.translate(_TABLE)


def merge_spans(spans: Iterable[Sequence[int]], length: int) -> list[tuple[int, int]]:
    """Spans clipped to [0, length], sorted, with overlapping or touching ones joined."""
    clipped = sorted((max(0, int(s)), min(length, int(e))) for s, e in spans)
    out: list[tuple[int, int]] = []
    for s, e in clipped:
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def highlight(text: str, spans: Iterable[Sequence[int]] = (), tag: str = "mark") -> str:
    """Escaped `text` with each span wrapped in `<tag>`; spans are character offsets into `text`."""
    if tag not in ("mark", "strong", "ins", "del"):
        raise ValueError(f"unsupported tag {tag!r}")
    parts: list[str] = []
    pos = 0
    for s, e in merge_spans(spans, len(text)):
        parts.append(escape_fragment(text[pos:s]))
        parts.append(f"<{tag}>{escape_fragment(text[s:e])}</{tag}>")
        pos = e
    parts.append(escape_fragment(text[pos:]))
    return "".join(parts)


def escape_fragment(text: str) -> str:
    """Like `escape`, but keeps a single leading or trailing space so fragments join with their spacing."""
    if not text:
        return ""
    lead = " " if text[0].isspace() else ""
    trail = " " if text[-1].isspace() and text.strip() else ""
    body = escape(text)
    return (lead + body + trail) if body else " "


def snippet(text: str, spans: Sequence[Sequence[int]] = (), width: int = 700) -> tuple[str, list[tuple[int, int]]]:
    """A window of at most `width` characters around the first span, with the spans shifted into it.

    Returns the window (with "…" where text was cut) and the spans inside it.
    """
    if len(text) <= width:
        return text, merge_spans(spans, len(text))
    merged = merge_spans(spans, len(text))
    first = merged[0][0] if merged else 0
    start = max(0, first - width // 4)
    end = min(len(text), start + width)
    start = max(0, end - width)
    # Cut at word boundaries so no word is shown half.
    if start > 0:
        space = text.find(" ", start)
        if space != -1 and space < first:
            start = space + 1
    if end < len(text):
        space = text.rfind(" ", start, end)
        if space > start:
            end = space
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    shift = len(prefix) - start
    inside = [(s + shift, e + shift) for s, e in merged if s >= start and e <= end]
    return prefix + text[start:end] + suffix, inside


def highlight_snippet(text: str, spans: Sequence[Sequence[int]] = (), width: int = 700) -> str:
    """The escaped, highlighted window of `text` around its first highlight."""
    window, inside = snippet(text, spans, width)
    return highlight(window, inside)


def diff_html(diff: Iterable[Sequence[str]]) -> str:
    """A word diff as HTML: `=` plain, `-` (in the quotation, not the source) struck, `+` (in the source) inserted."""
    parts = []
    for op, words in diff:
        body = escape(words)
        if not body:
            continue
        if op == "-":
            parts.append(f"<del>{body}</del>")
        elif op == "+":
            parts.append(f"<ins>{body}</ins>")
        else:
            parts.append(body)
    return " ".join(parts)


def locator(page: int | None, page_end: int | None = None, paragraph: int | None = None,
            page_label: str | None = None, paragraph_end: int | None = None) -> str:
    """Where a passage sits, as a reader cites it: "p. 17", "pp. 17–18", "para. 12" ("" when unknown)."""
    # typeset: an en dash
    return passage_locator_text(page, page_end, paragraph, page_label, dash=EN_DASH, paragraph_end=paragraph_end)


def passage_locator(passage) -> str:
    """`locator` for a Passage or a QuoteMatch (anything with page, page_end, paragraph, page_label)."""
    return locator(passage.page, passage.page_end, passage.paragraph, getattr(passage, "page_label", None),
                   getattr(passage, "paragraph_end", None))


def authors_line(authors: Sequence[str], limit: int = 3) -> str:
    """"A", "A and B", "A, B and C", or "A et al." past `limit` names."""
    names = [a for a in authors if a]
    if not names:
        return ""
    if len(names) > limit:
        return f"{names[0]} et al."
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def badge(text: str, kind: str = "") -> str:
    """A small inline label (entity chip, passage kind) as escaped HTML."""
    css = "cs-badge" + (f" cs-{kind}" if kind.isalnum() else "")
    return f'<span class="{css}">{escape(text)}</span>'


def annotate(text: str, spans: Iterable[Sequence[int]] = (), notes: Iterable[Sequence] = (),
             breaks: Iterable[Sequence] = (), evidence: Sequence[int] | None = None,
             own: Iterable[Sequence[int]] = ()) -> str:
    """Escaped `text` with spans in `<mark>`, footnote markers as `<sup>` and page breaks as `[p. N]` tags.

    `notes` and `breaks` are (offset, label) pairs, as Passage.note_marks and Passage.page_breaks hold them.
    `evidence` (start, end) is the sentence that answers the search, wrapped in `<span class="cs-evidence">`.
    `own` are the user's own highlights, in `<mark class="cs-ann">`: never the colour of the search's words,
    even where the two overlap (there the user's wins).
    """
    spans, own = list(spans), list(own)
    inserts: list[tuple[int, int, str]] = []
    for off, label in breaks:
        inserts.append((int(off), 0, f'<span class="cs-pagebreak">&#91;p&#46; {escape(str(label))}&#93;</span> '))
    for off, label in notes:
        inserts.append((int(off), 1, f'<sup class="cs-note">{escape(str(label))}</sup>'))
    mine = merge_spans(own, len(text)) if own else []
    merged = _without(merge_spans(spans, len(text)), mine)
    ev = merge_spans([evidence], len(text)) if evidence is not None else []
    cuts = sorted({0, len(text)} | {s for s, _ in merged} | {e for _, e in merged}
                  | {s for s, _ in mine} | {e for _, e in mine}
                  | {s for s, _ in ev} | {e for _, e in ev}
                  | {min(max(0, o), len(text)) for o, _, _ in inserts})
    parts: list[str] = []
    for a, b in zip(cuts, cuts[1:] + [None]):
        for off, _, frag in sorted(i for i in inserts if min(max(0, i[0]), len(text)) == a):
            parts.append(frag)
        if b is None:
            break
        piece = escape_fragment(text[a:b])
        if any(s <= a and b <= e for s, e in mine):
            piece = f'<mark class="cs-ann">{piece}</mark>'
        elif any(s <= a and b <= e for s, e in merged):
            piece = f"<mark>{piece}</mark>"
        if any(s <= a and b <= e for s, e in ev):
            piece = f'<span class="cs-evidence">{piece}</span>'
        parts.append(piece)
    return "".join(parts)


def _without(spans: list[tuple[int, int]], cut: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of `spans` outside every span of `cut` (both sorted and merged)."""
    out = []
    for s, e in spans:
        for a, b in cut:
            if b <= s or a >= e:
                continue
            if a > s:
                out.append((s, a))
            s = max(s, b)
        if s < e:
            out.append((s, e))
    return out


def evidence_snippet(text: str, spans: Sequence[Sequence[int]], evidence: Sequence[int] | None,
                     width: int = 900) -> str:
    """A result card's text: a window around the evidence sentence, marked, with the query's words in `<mark>`."""
    if evidence is None:
        return highlight_snippet(text, spans, width)
    window, inside = snippet(text, [evidence], width)
    if not inside:
        return highlight_snippet(text, spans, width)
    shift = inside[0][0] - evidence[0]
    shifted = [(s + shift, e + shift) for s, e in spans if 0 <= s + shift and e + shift <= len(window)]
    return annotate(window, shifted, evidence=inside[0])


@dataclass(frozen=True)
class ReaderView:
    """One screen of the reader: a printed page, or a run of numbered paragraphs."""

    label: str  # "17", "iii", "¶ 1–5", "passages 1–15"
    passages: tuple  # every passage of the view in document order, footnotes included


def reader_views(passages: Sequence, by_paragraph: bool = False, per_view: int = 5) -> list[ReaderView]:
    """Group a document's passages (in order) into pages, or runs of `per_view` numbered paragraphs.

    Passages without a page (footnotes lifted out of the text, say) stay with the page before them.
    Documents that know neither pages nor paragraphs are cut into runs of passages.
    """
    passages = list(passages)
    if by_paragraph and any(p.paragraph is not None for p in passages):
        return _paragraph_views(passages, per_view)
    if any(p.page is not None or p.page_label for p in passages):
        views: list[tuple[str, list]] = []
        for p in passages:
            label = p.page_label or (str(p.page) if p.page is not None else None)
            if label is None:
                label = views[-1][0] if views else "front"
            if not views or views[-1][0] != label:
                views.append((label, []))
            views[-1][1].append(p)
        return [ReaderView(label, tuple(ps)) for label, ps in views]
    size = max(per_view * 3, 1)
    return [ReaderView(f"passages {i + 1}–{min(i + size, len(passages))}", tuple(passages[i:i + size]))
            for i in range(0, len(passages), size)]


def _paragraph_views(passages: list, per_view: int) -> list[ReaderView]:
    groups: list[list] = [[]]
    numbered = 0
    for p in passages:
        if p.paragraph is not None:
            if numbered == per_view:
                # Headings just before the paragraph belong with it, not at the foot of the last view.
                carry = []
                while groups[-1] and groups[-1][-1].kind == "heading":
                    carry.insert(0, groups[-1].pop())
                groups.append(carry)
                numbered = 0
            numbered += 1
        groups[-1].append(p)
    views = []
    for g in groups:
        if not g:
            continue
        nums = [p.paragraph for p in g if p.paragraph is not None]
        label = (f"¶ {nums[0]}–{nums[-1]}" if len(nums) > 1 and nums[0] != nums[-1]
                 else f"¶ {nums[0]}" if nums else "front")
        views.append(ReaderView(label, tuple(g)))
    return views


def view_of(views: Sequence[ReaderView], passage_id: str) -> int:
    """Index of the view holding a passage (0 when it is not there)."""
    for i, v in enumerate(views):
        if any(p.passage_id == passage_id for p in v.passages):
            return i
    return 0


def footnotes_for(view: ReaderView, passages: Sequence) -> list:
    """The footnotes to show beside a view: those in it, and those its text refers to (nearest by number)."""
    shown = [p for p in view.passages if p.kind == "footnote"]
    have = {p.passage_id for p in shown}
    notes = [p for p in passages if p.kind == "footnote"]
    for body in view.passages:
        if body.kind == "footnote":
            continue
        for number in body.notes:
            # Note numbers restart in some sources: take the first footnote with that number after the marker.
            after = [n for n in notes if number in n.notes and n.seq > body.seq]
            before = [n for n in notes if number in n.notes and n.seq <= body.seq]
            match = after[0] if after else (before[-1] if before else None)
            if match is not None and match.passage_id not in have:
                shown.append(match)
                have.add(match.passage_id)
    return sorted(shown, key=lambda p: p.seq)


def page_image_html(png: bytes, boxes: Iterable = (), alt: str = "", pdf_page: int | None = None) -> str:
    """A page image with marked boxes over it (each a Box or (left, top, right, bottom) in page fractions).

    The image goes in as a data URI and every number is formatted here, so nothing from the source
    reaches the markup unescaped.
    """
    import base64

    marks = []
    for box in boxes:
        left, top, right, bottom = (box.left, box.top, box.right, box.bottom) if hasattr(box, "left") else box
        left, top = min(max(float(left), 0.0), 1.0), min(max(float(top), 0.0), 1.0)
        right, bottom = min(max(float(right), left), 1.0), min(max(float(bottom), top), 1.0)
        marks.append(
            f'<div class="cs-pagemark" style="position:absolute;left:{left * 100:.3f}%;top:{top * 100:.3f}%;'
            f'width:{(right - left) * 100:.3f}%;height:{(bottom - top) * 100:.3f}%;'
            'background:rgba(255,200,0,0.30);outline:2px solid rgba(220,110,0,0.85);pointer-events:none"></div>')
    data = base64.b64encode(png).decode("ascii")
    page = f' data-pdf-page="{int(pdf_page)}"' if pdf_page is not None else ""
    return (f'<div class="cs-pageimg"{page} style="position:relative;width:100%;line-height:0;'
            f'border:1px solid rgba(128,128,128,0.4)">'
            f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}" style="width:100%;display:block">'
            + "".join(marks) + "</div>")


def explain_line(hit) -> str:
    """How a hit was ranked, on one line: "keyword #3 (7.41) | semantic #1 (0.612) | fused 0.0325 | kind x0.5 | ..."."""
    def side(name, rank, score, fmt):
        return f"{name} #{rank} ({score:{fmt}})" if rank is not None and score is not None else f"{name} -"

    parts = [side("keyword", hit.keyword_rank, hit.keyword_score, ".2f"),
             side("semantic", hit.semantic_rank, hit.semantic_score, ".3f")]
    if hit.fused_score is not None:
        parts.append(f"fused {hit.fused_score:.4f}")
    if hit.kind_factor != 1.0:
        parts.append(f"kind x{hit.kind_factor:g}")
    if hit.evidence_score is not None:
        parts.append(f"evidence {hit.evidence_score:.3f}")
    parts.append(f"final {hit.score:.4f}")
    return " | ".join(parts)


def copies_line(copies: Sequence, title_of) -> str:
    """Where else a hit's text stands: "also in: Pipeline memo (p. 3) [memo-2]; Re: Altai [mail-7 > memo.pdf]"
    (`title_of`: doc id -> title; the doc id tells two documents of one title apart)."""
    places = []
    for p in copies:
        where = passage_locator_text(p.page, p.page_end, p.paragraph, p.page_label)
        places.append(f"{title_of(p.doc_id)}{f' ({where})' if where else ''} [{p.doc_id}]")
    return "also in: " + "; ".join(places) if places else ""


def count(n: int, one: str, many: str) -> str:
    """"1 passage", "2 passages"."""
    return f"{n} {one if n == 1 else many}"


def search_summary(result, quoted: bool = False) -> str:
    """What the results are (`_summary`), and the other forms of the query's names also searched."""
    said = "; ".join(f"{other} for {typed}" for typed, other in result.also_searched)
    return _summary(result, quoted) + (f" (also searched: {said})" if said else "")


def _summary(result, quoted: bool) -> str:
    """What the results are, in words true for each mode (plain text: the app escapes it).

    `total` counts what was ranked, which for hybrid and semantic search is the candidates taken
    from each side, not passages that match; so keyword and hybrid say how many passages hold the
    query's words, hybrid that the others were ranked by meaning, semantic how many were compared.
    `quoted` names the query (the app's header; the CLI prints it on the command line already).
    """
    shown = len(result.hits)
    shown_query = result.query if len(result.query) <= 120 else result.query[:119].rstrip() + "…"  # a pasted page
    of = f" “{shown_query}”" if quoted and result.query else ""
    searched = result.searched
    if not result.query:
        return f"{count(result.total, 'passage passes', 'passages pass')} the filters (in document order); showing {shown}"
    if searched == 0:
        return f"0 passages pass the filters; showing {shown}"
    if result.mode == "semantic":
        to = f" to{of}" if of else ""
        if searched is None:  # a result made elsewhere, without the count
            return f"showing the {shown} passages closest in meaning{to}"
        if shown >= searched:
            return f"showing all {count(searched, 'passage', 'passages')}, closest in meaning{to} first"
        return f"showing the {shown} of {searched} passages closest in meaning{to}"
    words = result.keyword_total if result.keyword_total is not None else result.total
    matching = count(words, "passage matches", "passages match")
    if result.mode != "hybrid":
        return f"{matching}{of}; showing {shown}"
    rest = None if searched is None else searched - words
    if not result.by_meaning:  # nothing was ranked by meaning ("!!!", "NOT Gazprom": no words for the model)
        ranked = ""
    elif rest is None:  # a result made elsewhere, without the count
        ranked = "; the others were ranked by meaning"
    else:
        ranked = f"; the other {rest} {'was' if rest == 1 else 'were'} ranked by meaning" if rest else ""
    return f"{matching} the words{' of' + of if of else ''}{ranked}" + (f"; showing the best {shown}" if shown else "")
