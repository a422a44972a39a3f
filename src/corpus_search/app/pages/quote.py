"""Quote check: where a quotation occurs (or the closest wording, with what differs), cited in every style;
and every quotation of a draft checked at once."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from corpus_search.app import annotating
from corpus_search.app import common
from corpus_search.check import read_draft
from corpus_search.cite import STYLES
from corpus_search.errors import CorpusSearchError
from corpus_search.models import Verdict
from corpus_search.render import diff_html, escape, passage_locator
from corpus_search.quote_report import quoting_notes

VERDICTS = {Verdict.FOUND: "Found verbatim", Verdict.ALTERED: "Close, but altered",
            Verdict.PARAPHRASE: "Same meaning, other words", Verdict.NOT_FOUND: "Not in the sources",
            Verdict.TOO_LONG: "Too long to check", Verdict.OUT_OF_TIME: "Not checked: the draft's time budget ran out"}

corpus = common.require_corpus()
st.title("Quote check")


def show_match(m, i: int, expanded: bool, verdict: str = "") -> None:
    try:
        passage = corpus.passage(m.passage_id)
        record = corpus.record(m.doc_id)
    except CorpusSearchError as exc:
        st.error(escape(str(exc)))
        return
    with st.container(border=True, key=f"match-{i}"):
        st.markdown(common.meta_line(record, passage), unsafe_allow_html=True)
        unrelated = verdict == Verdict.NOT_FOUND  # the closest text, too different to be the quotation
        if m.exact:
            st.markdown("**Verbatim** in this passage:")
        elif unrelated:
            st.markdown(f"**Closest text only** (similarity {m.similarity:.0%}): too different to be this quotation, "
                        "so it is not cited here.")
        else:
            what = f" ({escape(m.difference)})" if m.difference else ""
            st.markdown(f"**Similarity {m.similarity:.0%}**{what}")
        st.markdown(common.passage_html(passage.text, [(m.start, m.end)], width=900), unsafe_allow_html=True)
        for note in quoting_notes(m):
            st.info(escape(note), icon=":material/format_quote:")
        if unrelated:
            if st.button("Open in reader", key=f"q-open-{i}", icon=":material/menu_book:"):
                common.open_reader(m.passage_id, m.doc_id, span=(m.start, m.end))
            return
        if not m.exact and m.diff:
            st.markdown('<div class="cs-meta">What differs: <del>struck</del> is in your quotation only, '
                        '<ins>green</ins> is what the source says.</div>', unsafe_allow_html=True)
            st.markdown(f'<div class="cs-passage">{diff_html(m.diff)}</div>', unsafe_allow_html=True)
        with st.expander("Cite it (every style)", expanded=expanded):
            for style in STYLES:
                st.caption(style)
                st.code(common.cite_match_or_note(corpus, m, style), language=None, wrap_lines=True)
        a, b = st.columns(2)
        if a.button("Open in reader", key=f"q-open-{i}", icon=":material/menu_book:"):
            common.open_reader(m.passage_id, m.doc_id, span=(m.start, m.end))
        if b.button("Add to collection", key=f"q-add-{i}", icon=":material/bookmark_add:"):
            annotating.add_to_collection(m.passage_id, quote=m.source_text, offset=m.start, end_offset=m.end)
        if st.button("Annotate", key=f"q-annotate-{i}", icon=":material/edit_note:"):
            annotating.annotate_dialog(corpus, m.passage_id, m.start, m.end)


def show_report(report, prefix: str, first_expanded: bool = True) -> None:
    verdict = getattr(report, "verdict", Verdict.FOUND if report.found else Verdict.NOT_FOUND)
    text = VERDICTS.get(verdict, verdict)
    if verdict == Verdict.OUT_OF_TIME:
        st.warning(f"{text} (CORPUS_SEARCH_CHECK_TIMEOUT); check the draft in parts.")
        return
    if verdict == Verdict.TOO_LONG:
        st.warning(f"{text}: {len(report.quote):,} characters, over the cap (CORPUS_SEARCH_MAX_QUOTE_CHARS); "
                   "check it in shorter pieces.")
        return
    if report.found:
        where = ", ".join(sorted({passage_locator(m) or m.doc_id for m in report.matches if m.exact}))
        st.success(f"{text}: {escape(where)}")
    elif report.matches:
        st.warning(f"{text}. The closest wording in the sources is below.")
    else:
        st.error(f"{text}. Nothing in the sources comes close.")
    for i, m in enumerate(report.matches):
        show_match(m, f"{prefix}{i}", expanded=first_expanded and i == 0, verdict=verdict)


_LINKED = 2000  # characters of a checked quotation kept in the page's URL, so a reload or a shared link checks it again

one, draft = st.tabs(["One quotation", "A whole draft"])
with one:
    linked = st.query_params.get("text", "")
    reopened = "quote_text" not in st.session_state and bool(linked.strip())
    if reopened:
        st.session_state["quote_text"] = linked
    st.text_area("Paste a quotation", key="quote_text", height=110,
                 placeholder="e.g. the relationship is not anything like the Soviet-Chinese brotherhood")
    if st.button("Check quotation", key="quote_go", type="primary") or reopened:
        text = (st.session_state.get("quote_text") or "").strip()
        if text and len(text) <= _LINKED:
            st.query_params["text"] = text
        else:
            st.query_params.pop("text", None)
        if not text:
            st.session_state.pop("quote_report", None)
            st.warning("Paste the words you want to check first.")
        else:
            try:
                st.session_state["quote_report"] = corpus.quote(text)
            except CorpusSearchError as exc:
                st.session_state.pop("quote_report", None)
                st.error(str(exc))
    report = st.session_state.get("quote_report")
    if report is not None:
        show_report(report, "one-")

with draft:
    st.caption("Every quotation in quotation marks (four words or more) is checked against the sources.")
    st.text_area("Paste a draft", key="draft_text", height=160)
    upload = st.file_uploader("…or upload one", type=["txt", "md", "docx"], key="draft_file")
    if st.button("Check the draft", key="draft_go", type="primary"):
        try:
            if upload is not None:
                suffix = Path(upload.name).suffix.lower()
                # A generated name: the browser's file name never reaches the file system.
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / f"draft{suffix if suffix in ('.txt', '.md', '.docx') else '.txt'}"
                    path.write_bytes(upload.getvalue())
                    text = read_draft(path)
            else:
                text = st.session_state.get("draft_text") or ""
            if not text.strip():
                st.warning("Paste a draft or upload one first.")
                st.session_state.pop("draft_reports", None)
            else:
                st.session_state["draft_reports"] = corpus.check_draft(text)
        except CorpusSearchError as exc:
            st.session_state.pop("draft_reports", None)
            st.error(escape(str(exc)))
    reports = st.session_state.get("draft_reports")
    if reports is not None:
        if not reports:
            st.info("No quotations found in the draft (text in quotation marks, four words or more).")
        else:
            found = sum(1 for r in reports if r.found)
            st.markdown(f"**{found} of {len(reports)} quotation{'' if len(reports) == 1 else 's'} found verbatim.**")
            # A quotation not in the sources has no place in them: its closest text is shown below it, not here.
            placed = [r.matches[0] if r.matches and r.verdict != Verdict.NOT_FOUND else None for r in reports]
            st.dataframe([{"quotation": r.quote[:120], "verdict": getattr(r, "verdict", ""),
                           "where": passage_locator(m) if m else "",
                           "document": m.doc_id if m else "",
                           "similarity": round(m.similarity, 2) if m else None}
                          for r, m in zip(reports, placed)], hide_index=True, key="draft_table")
            for j, r in enumerate(reports):
                label = f"{j + 1}. {VERDICTS.get(getattr(r, 'verdict', ''), '')}: “{escape(r.quote[:80])}”"
                with st.expander(label):
                    show_report(r, f"d{j}-", first_expanded=False)
