"""Entities: browse by type with counts and aliases; choose one to see who it appears with and where."""

from __future__ import annotations

import streamlit as st

from corpus_search.app import annotating
from corpus_search.app import common
from corpus_search.errors import CorpusSearchError
from corpus_search.render import count, escape

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
    if "ent_name" not in st.session_state and st.query_params.get("name") in by_name:
        st.session_state["ent_name"] = st.query_params["name"]  # a reload, or a shared link, shows the same entity
    if st.session_state.get("ent_name") not in by_name:
        st.session_state.pop("ent_name", None)
    if st.session_state.get("ent_name") and st.session_state["ent_name"] not in names:
        names = [st.session_state["ent_name"], *names]
    st.selectbox("Show an entity", names, key="ent_name", format_func=lambda n: common.entity_label(by_name[n]))
    if st.session_state.get("ent_name") and st.query_params.get("name") != st.session_state["ent_name"]:
        st.query_params["name"] = st.session_state["ent_name"]


def _pick(key: str) -> None:
    name = st.session_state.get(key)
    if name in by_name:
        st.session_state["ent_name"] = name
    st.session_state[key] = None


def _apply(op: str, name: str, value: str = "", show: str | None = None) -> None:
    """One curation change; the page then shows `show` (the entity the change left)."""
    try:
        change = corpus.curate(op, name, value)
    except CorpusSearchError as exc:
        st.session_state["ent_curate_error"] = str(exc)
        return
    st.session_state["ent_curate_done"] = change.describe()
    st.session_state["ent_name"] = show or name
    for key in ("ent_merge_into", "ent_new_name", "ent_new_alias"):
        st.session_state.pop(key, None)


def _undo() -> None:
    try:
        change = corpus.curation().undo()
    except CorpusSearchError as exc:
        st.session_state["ent_curate_error"] = str(exc)
        return
    st.session_state["ent_curate_done"] = f"undone: {change.describe()}"
    st.session_state["ent_name"] = change.name  # the entity the change was about (the top one if it is gone)


def _curate_panel(entity) -> None:
    """Merge, rename, relabel, reject, aliases, undo: kept in corpus/_entities/curation.toml, applied at once."""
    if "ent_curate_done" in st.session_state:
        st.success(escape(st.session_state.pop("ent_curate_done")))
    if "ent_curate_error" in st.session_state:
        st.error(escape(st.session_state.pop("ent_curate_error")))
    with st.expander("Curate this entity", icon=":material/edit:"):
        others = [e.name for e in entities if e.name != entity.name]
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        into = a.selectbox("Merge into", others, index=None, key="ent_merge_into",
                           format_func=lambda n: common.entity_label(by_name[n]), placeholder="Choose an entity")
        b.button("Merge", key="ent_merge", disabled=into is None,
                 on_click=_apply, args=("merge", entity.name, into or "", into))
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        new = a.text_input("Rename to", key="ent_new_name")
        b.button("Rename", key="ent_rename", disabled=not new.strip(),
                 on_click=_apply, args=("rename", entity.name, new, new.strip()))
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        labels = sorted({e.label for e in entities} | {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "PROJECT"})
        label = a.selectbox("Label", labels, index=labels.index(entity.label) if entity.label in labels else 0,
                            key=f"ent_label_pick_{entity.name}")
        b.button("Relabel", key="ent_relabel", disabled=label == entity.label,
                 on_click=_apply, args=("relabel", entity.name, label))
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        alias = a.text_input("Add an alias", key="ent_new_alias")
        b.button("Add alias", key="ent_add_alias", disabled=not alias.strip(),
                 on_click=_apply, args=("add-alias", entity.name, alias))
        if entity.aliases:
            a, b = st.columns([3, 1], vertical_alignment="bottom")
            gone = a.selectbox("Remove an alias", list(entity.aliases), key=f"ent_rm_alias_{entity.name}")
            b.button("Remove alias", key="ent_remove_alias",
                     on_click=_apply, args=("remove-alias", entity.name, gone or ""))
        a, b = st.columns(2)
        a.button("Reject (never show it again)", key="ent_reject", icon=":material/block:",
                 on_click=_apply, args=("reject", entity.name, "", ""))
        history = corpus.curation().changes
        b.button(f"Undo: {history[-1].describe()}" if history else "Nothing to undo", key="ent_undo",
                 icon=":material/undo:", disabled=not history, on_click=_undo)


with right:
    entity = by_name[st.session_state["ent_name"]]
    st.subheader(escape(entity.name))
    st.markdown(f"{escape(entity.label)} · {count(entity.passages, 'passage', 'passages')} · "
                f"{count(entity.mentions, 'mention', 'mentions')}")
    if entity.aliases:
        st.markdown("Also called: " + ", ".join(f"“{escape(a)}”" for a in entity.aliases), unsafe_allow_html=True)
    co = [n for n, _ in entity.cooccurring if n in by_name]
    if co:
        together = dict(entity.cooccurring)
        st.pills("Appears most often with (click to open)", co, key="ent_co", on_change=_pick, args=("ent_co",),
                 format_func=lambda n: escape(f"{n} ({together[n]})"))
    if st.button("Search within passages that mention it", key="ent_search", icon=":material/search:"):
        # Handed to the search page, which applies it before its widgets: set here directly, the filter was put
        # back to what the search page last showed.
        st.session_state["_search_filters"] = {"entity": [entity.name]}
        st.switch_page(common.PAGES["search"])

    _curate_panel(entity)

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
                annotating.add_to_collection(p.passage_id)
    if not found:
        st.caption("No passages mention it.")
