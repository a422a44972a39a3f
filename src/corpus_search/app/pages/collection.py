"""Collections: named, ordered sets of annotations kept in the annotation store, exported for a reference manager."""

from __future__ import annotations

import streamlit as st

from corpus_search.app import annotating
from corpus_search.app import common
from corpus_search.errors import CorpusSearchError
from corpus_search.render import escape

DEFAULT_COLLECTION = "Collection"

corpus = common.require_corpus()
store = annotating.store()
st.markdown(annotating.CSS, unsafe_allow_html=True)
st.title("Collection")

rows = store.collections()
if not rows:
    st.info("No collections yet. Annotate words in the Reader, a search result or a quote-check match and choose "
            "a collection; collections are kept beside the index and survive restarts and rebuilds.")
    st.stop()

labels = {n: f"{n} ({c})" for n, c in rows}
if st.session_state.get("coll-name") not in labels:  # renamed or deleted (here or in another tab)
    st.session_state.pop("coll-name", None)
if "coll-name" not in st.session_state and st.query_params.get("name") in labels:
    st.session_state["coll-name"] = st.query_params["name"]  # a reload, or a shared link, shows the same collection
name = st.selectbox("Collection", list(labels), key="coll-name", format_func=lambda n: labels.get(n, n))
if st.query_params.get("name") != name:
    st.query_params["name"] = name
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
            st.query_params["name"] = " ".join(new.split())  # the renamed collection stays the one shown
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

annotating.export_section(items, corpus, "export", "collection")
