"""Annotations: every highlight and note, filtered by tag, collection, document or words; import and export."""

from __future__ import annotations

import streamlit as st

from corpus_search.app import annotating
from corpus_search.app import common
from corpus_search.annotations import import_text
from corpus_search.errors import CorpusSearchError
from corpus_search.locators import locator_text
from corpus_search.render import count, escape

corpus = common.require_corpus()
store = annotating.store()
st.markdown(annotating.CSS, unsafe_allow_html=True)
st.title("Annotations")

titles = {d.doc_id: d.record.title for d in corpus.documents()}
cols = st.columns(4)
tag = cols[0].selectbox("Tag", ["(any)", *[t for t, _ in store.tags()]], key="ann-tag")
coll = cols[1].selectbox("Collection", ["(any)", *[n for n, _ in store.collections()]], key="ann-coll")
doc = cols[2].selectbox("Document", ["(any)", *titles], key="ann-doc", format_func=lambda d: titles.get(d, d))
words = cols[3].text_input("Words in the note or quote", key="ann-search")
only_orphans = st.checkbox("Only orphans (words no longer found in their source)", key="ann-orphans")

found = store.list(tag=None if tag == "(any)" else tag, collection=None if coll == "(any)" else coll,
                   doc_id=None if doc == "(any)" else doc, search=words.strip() or None)
if only_orphans:
    found = [a for a in found if a.orphan]
st.caption(f"{len(found)} of {count(store.count(), 'annotation', 'annotations')}")

for a in found:
    with st.container(border=True, key=f"ann-{a.id}"):
        # An annotation records the page its words start on: one page, even when they run over.
        where = locator_text("page", a.page) if a.page else locator_text("paragraph", a.paragraph)
        st.markdown(f"<strong>{escape(titles.get(a.doc_id, a.doc_id or a.source))}</strong>"
                    + (f" · {escape(where)}" if where else ""), unsafe_allow_html=True)
        st.markdown(annotating.note_card(a), unsafe_allow_html=True)
        if not a.orphan and a.passage_id and st.button("Open at its page", key=f"ann-open-{a.id}",
                                                       icon=":material/menu_book:"):
            common.open_reader(a.passage_id, a.doc_id)
        with st.expander("Edit"):
            annotating.edit_controls(a, "ann-edit")

annotating.export_section(found, corpus, "ann-export", "annotations")

st.subheader("Import")
upload = st.file_uploader("W3C Web Annotation JSON-LD or a Hypothesis JSON export", type=["json", "jsonld"],
                          key="ann-import")
if upload is not None and st.button("Import", key="ann-import-go", icon=":material/upload:"):
    try:
        counts = import_text(upload.getvalue().decode("utf-8", errors="replace"), store, corpus.store)
    except CorpusSearchError as exc:
        st.error(escape(str(exc)))
    else:
        # Said after a rerun, so the list above shows the imported annotations at once.
        st.session_state["ann-imported"] = (
            f"{counts['imported']} imported ({counts['anchored']} anchored, "
            f"{count(counts['orphaned'], 'orphan', 'orphans')} kept with their quotes); "
            f"{counts['skipped']} {'was' if counts['skipped'] == 1 else 'were'} already here.")
        st.rerun()
done = st.session_state.pop("ann-imported", None)
if done:
    st.success(done)
