"""Collection: the passages gathered in this session, with notes, exported as CSV, BibTeX, RIS or Markdown."""

from __future__ import annotations

import streamlit as st

import common
from corpus_search.errors import CorpusSearchError
from corpus_search.render import escape

EXTENSIONS = {"csv": ("csv", "text/csv"), "bibtex": ("bib", "application/x-bibtex"),
              "ris": ("ris", "application/x-research-info-systems"), "csl-json": ("json", "application/json"),
              "markdown": ("md", "text/markdown")}

corpus = common.require_corpus()
st.title("Collection")
items = common.collection()
if not items:
    st.info("Your collection is empty. Add passages from Search, Entities or Quote check with “Add to collection”; "
            "they stay here for this browser session.")
    st.stop()


def _remove(i: int) -> None:
    items.pop(i)


def _save_note(i: int, key: str) -> None:
    items[i]["note"] = st.session_state.get(key, "")


resolved = []
for i, item in enumerate(items):
    try:
        passage = corpus.passage(item["passage_id"])
    except CorpusSearchError:
        st.warning(f"{escape(item['passage_id'])} is no longer in the index (its document was changed or removed).")
        continue
    record = corpus.record(passage.doc_id)
    resolved.append((item, passage, record))
    with st.container(border=True, key=f"coll-{i}"):
        st.markdown(common.meta_line(record, passage), unsafe_allow_html=True)
        spans = [(item["offset"], item["end_offset"])] if item.get("offset") is not None else []
        st.markdown(common.passage_html(passage.text, spans, width=600), unsafe_allow_html=True)
        note_key = f"note-{item['passage_id']}-{item.get('offset')}"
        st.session_state.setdefault(note_key, item.get("note", ""))
        st.text_area("Note", key=note_key, height=70, on_change=_save_note, args=(i, note_key))
        items[i]["note"] = st.session_state.get(note_key, "")
        a, b = st.columns([3, 1])
        with a.popover("Quote with citation", icon=":material/content_copy:"):
            st.code(common.quotation_block(corpus, passage, item.get("offset"), item.get("end_offset")),
                    language=None, wrap_lines=True)
        b.button("Remove", key=f"coll-rm-{i}", on_click=_remove, args=(i,), icon=":material/delete:")

st.subheader("Export")
from corpus_search.export import FORMATS, ExportItem, export

fmt = st.selectbox("Format", FORMATS, key="export_fmt")
export_items = [ExportItem(passage=p, record=r, quote=it.get("quote"), offset=it.get("offset"),
                           end_offset=it.get("end_offset"), note=it.get("note", "")) for it, p, r in resolved]
try:
    data = export(export_items, fmt)
except CorpusSearchError as exc:
    st.error(escape(str(exc)))
else:
    ext, mime = EXTENSIONS.get(fmt, ("txt", "text/plain"))
    st.download_button(f"Download {len(export_items)} passages as {fmt}", data, file_name=f"collection.{ext}",
                       mime=mime, key="export_go", icon=":material/download:")
    with st.expander("Preview"):
        st.code(data[:5000], language=None)
