"""Entities: browse by type with counts and aliases; choose one to see who it appears with and where."""

from __future__ import annotations

import streamlit as st

from corpus_search.app import common
from corpus_search.render import escape

PER_PAGE = 25

corpus = common.require_corpus()
entities = common.entities(corpus)
if not entities:
    st.title("Entities")
    st.info("No entities were found in the sources (the index has no entity mentions).")
    st.stop()
by_name = {e.name: e for e in entities}
counts: dict[str, int] = {}
for e in entities:
    counts[e.label] = counts.get(e.label, 0) + 1

st.title("Entities")
left, right = st.columns([2, 3])
with left:
    label = st.selectbox("Type", ["All types", *sorted(counts)], key="ent_label",
                         format_func=lambda x: x if x == "All types" else f"{x} ({counts[x]})")
    needle = st.text_input("Filter by name or alias", key="ent_filter").strip().casefold()
    rows = [e for e in entities if label == "All types" or e.label == label]
    if needle:
        rows = [e for e in rows if needle in e.name.casefold() or any(needle in a.casefold() for a in e.aliases)]
    st.caption(f"{len(rows)} entities")
    st.dataframe(
        [{"name": e.name, "type": e.label, "passages": e.passages, "mentions": e.mentions,
          "aliases": "; ".join(e.aliases)} for e in rows],
        hide_index=True, height=420, key="ent_table",
    )
    names = [e.name for e in rows] or [e.name for e in entities]
    if st.session_state.get("ent_name") not in by_name:
        st.session_state.pop("ent_name", None)
    if st.session_state.get("ent_name") and st.session_state["ent_name"] not in names:
        names = [st.session_state["ent_name"], *names]
    st.selectbox("Show an entity", names, key="ent_name", format_func=lambda n: common.entity_label(by_name[n]))


def _pick(key: str) -> None:
    name = st.session_state.get(key)
    if name in by_name:
        st.session_state["ent_name"] = name
    st.session_state[key] = None


with right:
    entity = by_name[st.session_state["ent_name"]]
    st.subheader(escape(entity.name))
    st.markdown(f"{escape(entity.label)} · {entity.passages} passages · {entity.mentions} mentions")
    if entity.aliases:
        st.markdown("Also called: " + ", ".join(f"“{escape(a)}”" for a in entity.aliases), unsafe_allow_html=True)
    co = [n for n, _ in entity.cooccurring if n in by_name]
    if co:
        together = dict(entity.cooccurring)
        st.pills("Appears most often with (click to open)", co, key="ent_co", on_change=_pick, args=("ent_co",),
                 format_func=lambda n: escape(f"{n} ({together[n]})"))
    if st.button("Search within passages that mention it", key="ent_search", icon=":material/search:"):
        st.session_state["entity"] = [entity.name]
        st.switch_page(common.PAGES["search"])

    found = corpus.passages_mentioning([entity.name])
    mentions = corpus.mentions([p.passage_id for p in found])
    pages = max(1, -(-len(found) // PER_PAGE))
    page = st.number_input("Page of passages", 1, pages, 1, key="ent_page") if pages > 1 else 1
    for i, p in enumerate(found[(page - 1) * PER_PAGE: page * PER_PAGE]):
        record = corpus.record(p.doc_id)
        spans = [(m.start, m.end) for m in mentions.get(p.passage_id, []) if m.name == entity.name]
        with st.container(border=True, key=f"ent-card-{i}"):
            st.markdown(common.meta_line(record, p), unsafe_allow_html=True)
            st.markdown(common.passage_html(p.text, spans, width=500), unsafe_allow_html=True)
            a, b = st.columns(2)
            if a.button("Open in reader", key=f"ent-open-{i}", icon=":material/menu_book:"):
                common.open_reader(p.passage_id, p.doc_id)
            if b.button("Add to collection", key=f"ent-add-{i}", icon=":material/bookmark_add:"):
                common.add_to_collection(p.passage_id)
    if not found:
        st.caption("No passages mention it.")
