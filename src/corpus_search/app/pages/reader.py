"""Reader: a whole document, page by page (or by runs of numbered paragraphs), footnotes beside the text."""

from __future__ import annotations

import streamlit as st

from corpus_search import page_image
from corpus_search.app import annotating
from corpus_search.app import common
from corpus_search.errors import CorpusSearchError
from corpus_search.render import (
    annotate, authors_line, escape, footnotes_for, highlight, page_image_html, reader_views, view_of,
)
from corpus_search.search import highlight_spans, query_terms

corpus = common.require_corpus()
documents = corpus.documents()
if not documents:
    st.info("The index holds no documents yet. Add some on the Documents page.")
    st.stop()
titles = {d.doc_id: d.record.title for d in documents}

hit = st.query_params.get("hit", "")
hq = st.query_params.get("hq", "")
_ev = st.query_params.get("ev", "").split("-")
evidence = (int(_ev[0]), int(_ev[1])) if len(_ev) == 2 and all(x.isdigit() for x in _ev) else None

st.title("Reader")
# Arriving from a search result (or an entity or a quotation): open its document at its view, once.
# The document and page come in through the URL (a shared link, or from open_reader) and are
# applied when the URL changes. The widgets are not bound to the URL: bound widgets pushed history
# entries of their own, and going back to the search took up to three presses of Back.
target = st.session_state.pop("_reader_target", None)
url = {k: st.query_params.get(k, "") for k in ("rdoc", "view", "hit")}
if url != st.session_state.get("_reader_url"):
    st.session_state["_reader_url"] = url
    if url["rdoc"] in titles:
        st.session_state["rdoc"] = url["rdoc"]
        st.session_state["_reader_view"] = url["view"]
    elif url["hit"] and not target:
        target = url["hit"]
if target:
    try:
        st.session_state["rdoc"] = corpus.passage(target).doc_id
    except CorpusSearchError:
        target = None
doc_id = st.selectbox("Document", list(titles), key="rdoc", format_func=lambda d: titles.get(d, d))
try:
    record = corpus.record(doc_id)
    document = corpus.document(doc_id)
    passages = corpus.passages(doc_id)
except CorpusSearchError as exc:
    st.error(escape(str(exc)))
    st.stop()
if not passages:
    st.info("This document has no passages (see its build status on the Documents page).")
    st.stop()

views = reader_views(passages, by_paragraph=record.cite_by == "paragraph")
labels = [v.label for v in views]

if target and any(p.passage_id == target for p in passages):
    st.session_state["view"] = labels[view_of(views, target)]
elif st.session_state.get("_reader_view") in labels:
    st.session_state["view"] = st.session_state["_reader_view"]
st.session_state.pop("_reader_view", None)
if st.session_state.get("view") not in labels:
    st.session_state["view"] = labels[view_of(views, hit)] if hit else labels[0]


def _step(delta: int) -> None:
    i = labels.index(st.session_state["view"]) + delta
    st.session_state["view"] = labels[max(0, min(len(labels) - 1, i))]


byline = " · ".join(x for x in (authors_line(record.authors), str(record.year or "")) if x)
st.markdown(f"<strong>{escape(record.title)}</strong>" + (f" · {escape(byline)}" if byline else ""),
            unsafe_allow_html=True)
nav = st.columns([1, 2, 1, 4])
nav[0].button("◀ Previous", key="prev", on_click=_step, args=(-1,), disabled=st.session_state["view"] == labels[0])
kind = "Paragraphs" if record.cite_by == "paragraph" else "Page"
nav[1].selectbox(kind, labels, key="view", label_visibility="collapsed",
                 format_func=lambda label: label if label.startswith(("¶", "passages", "front")) else f"p. {label}")
nav[2].button("Next ▶", key="next", on_click=_step, args=(1,), disabled=st.session_state["view"] == labels[-1])
nav[3].caption(f"{labels.index(st.session_state['view']) + 1} of {len(labels)}")

view = views[labels.index(st.session_state["view"])]
terms = query_terms(hq) if hq else []
shown = view.label if view.label.startswith(("¶", "passages", "front")) else f"p. {view.label}"
st.subheader(escape(shown))

st.markdown(annotating.CSS, unsafe_allow_html=True)
picked = annotating.selection_listener("reader-selection")
shown_ids = [p.passage_id for p in view.passages]
notes_by_pid: dict[str, list] = {}
for a in annotating.store().list(passage_ids=shown_ids):
    if not a.orphan:  # an orphan's old passage may hold other words now; orphans are listed apart
        notes_by_pid.setdefault(a.passage_id, []).append(a)

def _span() -> tuple[int, int] | None:
    """The quotation's span in the opened passage, from the URL (?qs=&qe=), when it is one."""
    qs, qe = st.query_params.get("qs", ""), st.query_params.get("qe", "")
    return (int(qs), int(qe)) if qs.isdigit() and qe.isdigit() and int(qs) < int(qe) else None


def _original_page(view, pdf_pages: list[int]) -> None:
    opened = next((p for p in view.passages if p.passage_id == hit and p.pdf_page), None)
    span = _span() if opened else None
    start = opened.pdf_page_at(span[0]) if opened and span else (opened.pdf_page if opened else None)
    default = start if start in pdf_pages else pdf_pages[0]
    number = st.selectbox("PDF page", pdf_pages, index=pdf_pages.index(default), key=f"pdfpage-{doc_id}-{view.label}",
                          format_func=lambda n: f"PDF page {n} of {document.pages}") if len(pdf_pages) > 1 else default
    try:
        image = page_image.page_image(corpus.root, common.corpus_dir(), document, int(number))
    except CorpusSearchError as exc:
        st.warning(escape(f"The original page cannot be shown: {exc}"))
        return
    boxes = []
    if opened is not None:
        lo, hi = span if span else (0, None)
        boxes = page_image.boxes_for(image, page_image.text_on_page(opened, int(number), lo, hi))
    st.markdown(page_image_html(image.png.read_bytes(), boxes, alt=f"PDF page {number} of {record.title}",
                                pdf_page=int(number)), unsafe_allow_html=True)
    what = "quotation" if span else "passage"
    if opened is not None and boxes:
        st.caption(f"PDF page {number}: the {what} you opened is marked.")
    elif opened is not None and opened.pdf_page_at(0) == number:
        st.caption(f"PDF page {number}: the {what} could not be located on the page image.")
    else:
        st.caption(f"PDF page {number}.")


# A PDF's original page beside the text, with the opened passage (or quotation) marked on it.
# Every PDF page the view's passages run over: a quotation may start on the page after its passage's first.
pdf_pages = sorted({n for p in view.passages if p.pdf_page
                    for n in range(p.pdf_page, (p.pdf_page_at(max(len(p.text) - 1, 0)) or p.pdf_page) + 1)})
show_page = bool(pdf_pages) and st.toggle("Show the original page", value=True, key="show-page")
if show_page:
    text_col, page_col, notes_col = st.columns([3, 3, 1.3])
else:
    text_col, notes_col = st.columns([3, 1])
with text_col:
    for p in view.passages:
        if p.kind == "footnote":
            continue
        spans = highlight_spans(p.text, terms) if p.passage_id == hit and terms else []
        own = [a for a in notes_by_pid.get(p.passage_id, ()) if not a.orphan and a.passage_end]
        body = annotate(p.text, spans, notes=p.note_marks, breaks=p.page_breaks,
                        evidence=evidence if p.passage_id == hit else None,
                        own=[(a.passage_start, a.passage_end) for a in own])
        if p.paragraph is not None:
            body = f'<span class="cs-badge">¶ {p.paragraph}</span>' + body
        if p.kind == "heading":
            html = f'<h4 data-pid="{escape(p.passage_id)}">{body}</h4>'
        else:
            css = "cs-passage cs-hit" if p.passage_id == hit else "cs-passage"
            tag = f" {common.badge(p.kind)}" if p.kind not in ("body",) else ""
            html = f'<div class="{css}" id="p-{p.seq}" data-pid="{escape(p.passage_id)}">{body}{tag}</div>'
        st.markdown(html, unsafe_allow_html=True)
        for a in notes_by_pid.get(p.passage_id, ()):
            st.markdown(annotating.note_card(a), unsafe_allow_html=True)
        if p.passage_id == hit:
            st.caption("The passage you opened is marked.")
with notes_col:
    notes = footnotes_for(view, passages)
    st.markdown("**Notes**")
    if not notes:
        st.caption("No footnotes on this page.")
    for n in notes:
        number = f"<sup class='cs-note'>{escape(n.notes[0])}</sup> " if n.notes else ""
        st.markdown(f'<div class="cs-footnote">{number}{highlight(n.text)}</div>', unsafe_allow_html=True)
    st.markdown("**Annotate**")
    st.caption("Select words in the text: they fill the form. Notes are kept beside the index and survive "
               "reloads, restarts and rebuilds.")
    annotating.annotate_form(corpus, [p for p in view.passages if p.kind != "footnote"], "reader-annotate", picked,
                             default=hit)
    orphans = [a for a in annotating.store().list(doc_id=doc_id) if a.orphan]
    if orphans:
        with st.expander(f"{len(orphans)} annotations no longer found in this document"):
            st.caption("Their words were changed or removed in a new version of the source; they are kept "
                       "with their quotes (see the Annotations page).")
            for a in orphans:
                st.markdown(annotating.note_card(a), unsafe_allow_html=True)
    mine = [a for pid in shown_ids for a in notes_by_pid.get(pid, ())]
    if mine:
        with st.expander(f"Edit the {len(mine)} annotation{'' if len(mine) == 1 else 's'} on this page"):
            for a in mine:
                st.markdown(annotating.note_card(a), unsafe_allow_html=True)
                annotating.edit_controls(a, "reader-edit")

if show_page:
    with page_col:
        _original_page(view, pdf_pages)
