"""Collections: named, ordered sets of annotations kept in the annotation store, exported for a reference manager."""

from __future__ import annotations

import streamlit as st

import annotating
import common
from corpus_search.annotations import EXPORT_FORMATS, annotate_span
from corpus_search.annotations import export as export_annotations
from corpus_search.errors import CorpusSearchError
from corpus_search.render import escape

EXTENSIONS = {"w3c": ("jsonld", "application/ld+json"), "csv": ("csv", "text/csv"),
              "bibtex": ("bib", "application/x-bibtex"), "ris": ("ris", "application/x-research-info-systems"),
              "csl-json": ("json", "application/json"), "markdown": ("md", "text/markdown")}

DEFAULT_COLLECTION = "Collection"

corpus = common.require_corpus()
store = annotating.store()
st.markdown(annotating.CSS, unsafe_allow_html=True)
st.title("Collection")

# "Add to collection" on the other pages gathers passages in the browser session; arriving here
# saves them to the store (into the collection last opened here), where they outlast the session.
pending = common.collection()
if pending:
    target = st.session_state.get("coll-name") or DEFAULT_COLLECTION
    saved = 0
    for item in list(pending):
        try:
            passage = corpus.passage(item["passage_id"])
            start = item.get("offset") or 0
            end = item.get("end_offset") or len(passage.text)
            annotate_span(corpus, passage, start, end, store, note=item.get("note", ""), collections=[target])
        except CorpusSearchError as exc:
            st.warning(escape(f"{item['passage_id']} was not saved: {exc}"))
            continue
        pending.remove(item)
        saved += 1
    if saved:
        st.session_state["coll-name"] = target
        st.toast(f"{saved} passages saved to the collection “{target}”")

rows = store.collections()
if not rows:
    st.info("No collections yet. Annotate words in the Reader, a search result or a quote-check match and choose "
            "a collection; collections are kept beside the index and survive restarts and rebuilds.")
    st.stop()

labels = {n: f"{n} ({c})" for n, c in rows}
if st.session_state.get("coll-name") not in labels:  # renamed or deleted (here or in another tab)
    st.session_state.pop("coll-name", None)
name = st.selectbox("Collection", list(labels), key="coll-name", format_func=lambda n: labels.get(n, n))
with st.expander("Rename or delete this collection"):
    new = st.text_input("New name", key="coll-rename")
    a, b = st.columns(2)
    if a.button("Rename", key="coll-rename-go") and new.strip():
        try:
            store.rename_collection(name, new)
        except CorpusSearchError as exc:
            st.error(escape(str(exc)))
        else:
            st.session_state.pop("coll-name", None)
            st.rerun()
    if b.button("Delete the collection (its annotations stay)", key="coll-delete"):
        store.delete_collection(name)
        st.session_state.pop("coll-name", None)
        st.rerun()

items = store.list(collection=name)
for i, ann in enumerate(items):
    with st.container(border=True, key=f"coll-item-{ann.id}"):
        try:
            passage = corpus.passage(ann.passage_id) if not ann.orphan else None
        except CorpusSearchError:
            passage = None
        if passage is not None:
            st.markdown(common.meta_line(corpus.record(passage.doc_id), passage), unsafe_allow_html=True)
            st.markdown(common.passage_html(passage.text, [(ann.passage_start, ann.passage_end)], width=600),
                        unsafe_allow_html=True)
        st.markdown(annotating.note_card(ann, with_quote=passage is None), unsafe_allow_html=True)
        cols = st.columns(4)
        if cols[0].button("Up", key=f"up-{ann.id}", disabled=i == 0, icon=":material/arrow_upward:"):
            store.move_in_collection(name, ann.id, -1)
            st.rerun()
        if cols[1].button("Down", key=f"down-{ann.id}", disabled=i == len(items) - 1,
                          icon=":material/arrow_downward:"):
            store.move_in_collection(name, ann.id, 1)
            st.rerun()
        if cols[2].button("Remove", key=f"rm-{ann.id}", icon=":material/remove:"):
            store.remove_from_collection(name, ann.id)
            st.rerun()
        if passage is not None and cols[3].button("Open in reader", key=f"open-{ann.id}", icon=":material/menu_book:"):
            common.open_reader(passage.passage_id, passage.doc_id)

st.subheader("Export")
fmt = st.selectbox("Format", EXPORT_FORMATS, key="export_fmt")
try:
    data, warnings = export_annotations(items, fmt, corpus)
except CorpusSearchError as exc:
    st.error(escape(str(exc)))
else:
    if warnings:  # orphans have no passage to cite; their quotes are in the W3C export
        st.warning(f"{len(warnings)} orphans (words no longer found in their source) are left out of this export.")
    ext, mime = EXTENSIONS.get(fmt, ("txt", "text/plain"))
    st.download_button(f"Download {len(items)} annotation{'' if len(items) == 1 else 's'} as {fmt}", data, file_name=f"collection.{ext}", mime=mime,
                       key="export_go", icon=":material/download:")
    with st.expander("Preview"):
        st.code(data[:5000], language=None)
