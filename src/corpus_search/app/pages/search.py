"""Search: query, mode and filters (all kept in the URL), result cards, facets."""

from __future__ import annotations

import streamlit as st

from corpus_search.app import annotating
from corpus_search.app import common
from corpus_search.errors import CorpusSearchError
from corpus_search.languages import name as language_name
from corpus_search.locators import locator_text
from corpus_search.models import PASSAGE_KINDS
from corpus_search.render import copies_line, escape, evidence_snippet, explain_line, search_summary
from corpus_search.search import MODES

EXAMPLES = ("Power of Siberia", "gas price negotiations", "Russian arms sales to China")
LIMITS = (10, 20, 50, 100)

corpus = common.require_corpus()
entities = common.entities(corpus)
by_name = {e.name: e for e in entities}
labels = sorted({e.label for e in entities})
documents = corpus.documents()
titles = {d.doc_id: d.record.title for d in documents}
language_counts = dict(corpus.languages())


def _add_entity(name: str) -> None:
    current = list(st.session_state.get("entity") or [])
    if name in by_name and name not in current:
        st.session_state["entity"] = current + [name]


def _chip_clicked(key: str) -> None:
    name = st.session_state.get(key)
    if name:
        _add_entity(name)
    st.session_state[key] = None


# The search lives in the URL (?q=...&mode=...&entity=A&entity=B), written by hand rather than by bound
# widgets: entity and document filters go in as names and ids, not as their display labels. The URL wins
# when it changed under us (a shared link, the back button within this page); the session wins when the
# user comes back from another page, so a search survives a visit to the reader.
DEFAULTS = {"q": "", "mode": "hybrid", "n": 10, "skip": [], "entity": [], "label": [], "doc": [], "lang": ""}


def _from_url() -> dict:
    qp = st.query_params
    state = dict(DEFAULTS)
    state["q"] = qp.get("q", "")
    state["mode"] = qp.get("mode") if qp.get("mode") in MODES else "hybrid"
    n = qp.get("n", "")
    state["n"] = int(n) if n.isdigit() and int(n) in LIMITS else 10
    state["skip"] = [k for k in qp.get_all("skip") if k in PASSAGE_KINDS and k != "body"]
    state["label"] = [x for x in qp.get_all("label") if x in labels]
    state["doc"] = [d for d in qp.get_all("doc") if d in titles]
    state["lang"] = qp.get("lang") if qp.get("lang") in language_counts else ""
    chosen: list[str] = []
    for text in qp.get_all("entity"):
        try:
            names = [text] if text in by_name else corpus.searcher.resolve_entity(text)
        except CorpusSearchError as exc:
            st.warning(escape(f"Entity filter ignored: {exc}"))
            continue
        chosen += [n for n in names if n in by_name and n not in chosen]
    state["entity"] = chosen
    # A link's values that name nothing here are dropped, and said so (an unknown entity is said above).
    ignored = [f"{k}={v}" for k in ("mode", "n", "lang") if (v := qp.get(k)) and str(state[k]) != v]
    ignored += [f"{k}={v}" for k in ("skip", "label", "doc") for v in qp.get_all(k) if v not in state[k]]
    if ignored:
        st.warning(escape("Ignored in the link (nothing here by that name): " + ", ".join(ignored)))
    return state


def _to_params(state: dict) -> dict:
    return {k: (v if isinstance(v, list) else str(v)) for k, v in state.items() if v != DEFAULTS[k]}


url_params = {k: (st.query_params.get_all(k) if isinstance(DEFAULTS[k], list) else st.query_params.get(k))
              for k in DEFAULTS if k in st.query_params}
if "_search_url" not in st.session_state or (url_params != st.session_state["_search_url"]
                                             and not st.session_state.get("_arrived")):
    for k, v in _from_url().items():
        st.session_state[k] = v
# Filters another page sent the user here with ("Search within passages that mention it").
for k, v in (st.session_state.pop("_search_filters", None) or {}).items():
    st.session_state[k] = v

st.title("Search")
st.text_input("Search the sources", key="q", persist_state="session",
              placeholder="e.g. Power of Siberia, or a claim in your own words",
              help='Keyword syntax: "exact phrase", AND, OR, NOT, word*.')
top = st.columns([2, 1, 1])
with top[0]:
    st.radio("Mode", MODES, key="mode", horizontal=True, persist_state="session",
             help="hybrid: words and meaning combined; keyword: the words as typed; semantic: meaning only")
with top[1]:
    st.selectbox("Results", LIMITS, key="n", persist_state="session")
with top[2]:
    st.multiselect("Leave out", [k for k in PASSAGE_KINDS if k != "body"], key="skip",
                   persist_state="session", help="Passage kinds to leave out, e.g. footnotes and captions")
explain = st.toggle("Explain", key="explain", help="Show each result's keyword and semantic score and rank, "
                    "the fused score and any weight for its kind")

# Open the filters when any is set.
filtering = any(st.session_state.get(k) for k in ("entity", "label", "doc", "lang"))

with st.expander("Filters", expanded=filtering):
    # Typed letters match inside a name or its aliases ("EEU" finds "Eurasian Economic Union (also EEU)"), not as a
    # scattered subsequence ("Eastern EUrope" came first); no "Select all matches": Enter on it added 50
    # entities to a filter that keeps passages mentioning all of them.
    st.multiselect("Entities (passages must mention all of them)", list(by_name), key="entity",
                   persist_state="session", filter_mode="contains", select_all=False,
                   format_func=lambda n: common.entity_label(by_name[n]) if n in by_name else n,
                   placeholder="Type a name or an alias")
    cols = st.columns(2)
    cols[0].multiselect("Entity types", labels, key="label", persist_state="session",
                        help="Only passages that mention an entity of one of these types")
    cols[1].multiselect("Documents", list(titles), key="doc", persist_state="session",
                        format_func=lambda d: titles.get(d, d))
    cols[0].selectbox("Language", [""] + list(language_counts), key="lang", persist_state="session",
                      format_func=lambda c: f"{language_name(c)} ({language_counts[c]})" if c else "Any language",
                      help="Only passages detected in this language (short passages have none)")

current = {k: (list(st.session_state.get(k) or []) if isinstance(v, list) else st.session_state.get(k, v))
           for k, v in DEFAULTS.items()}
params = _to_params(current)
if params != url_params or set(st.query_params.keys()) - set(DEFAULTS):
    st.query_params.from_dict(params)
st.session_state["_search_url"] = params

query = (st.session_state.get("q") or "").strip()
if not query and not filtering:
    st.info("Type words to search for and press Enter. For example: " + ", ".join(f"“{e}”" for e in EXAMPLES) + ".")
    st.caption(f"{len(documents)} documents, {sum(d.passages for d in documents)} passages, "
               f"{len(entities)} entities in the index.")
    st.stop()

mode = st.session_state.get("mode") or "hybrid"
skip = set(st.session_state.get("skip") or [])
kinds = [k for k in PASSAGE_KINDS if k not in skip] if skip else []
args = dict(mode=mode, entities=tuple(st.session_state.get("entity") or ()),
            labels=tuple(st.session_state.get("label") or ()), doc_ids=tuple(st.session_state.get("doc") or ()),
            kinds=tuple(kinds), limit=int(st.session_state.get("n") or 10), lang=st.session_state.get("lang") or None)

# One search per distinct request in a session: clicks on a card do not search again.
cache = st.session_state.setdefault("_search_cache", {})
key = (corpus.generation.name, query, tuple(sorted(args.items())))
if key not in cache:
    try:
        cache.clear()
        cache[key] = corpus.search(query, **args)
    except CorpusSearchError as exc:
        st.error(escape(str(exc)))
        st.stop()
result = cache[key]

for warning in result.warnings:
    st.warning(escape(warning))
st.markdown(f'<div class="cs-meta cs-summary">{escape(search_summary(result, quoted=True))} · '
            f'{result.seconds * 1000:.0f} ms ({result.mode})</div>', unsafe_allow_html=True)
if not result.hits:
    st.info("Nothing matches. Try fewer words, another mode, or remove a filter.")
    st.stop()

main, side = st.columns([3, 1])
with main:
    for hit in result.hits:
        p = hit.passage
        record = corpus.record(p.doc_id)
        with st.container(border=True, key=f"card-{hit.rank}"):
            st.markdown(common.meta_line(record, p), unsafe_allow_html=True)
            st.markdown(f'<div class="cs-passage">{evidence_snippet(p.text, hit.highlights, hit.evidence)}</div>',
                        unsafe_allow_html=True)
            if hit.evidence is not None:
                page = corpus.evidence_page(hit)
                st.caption("Marked: the sentence that best answers the search"
                           + (f" ({escape(locator_text('page', page))})" if page is not None else ""))
            if hit.copies:
                st.caption("The same text, shown once: "
                           + escape(copies_line(hit.copies, lambda doc_id: corpus.record(doc_id).title)))
            if explain:
                st.caption(escape(explain_line(hit)))
            names = [m.name for m in hit.entities if m.name in by_name]
            if names:
                chip_key = f"chip-{hit.rank}"
                st.pills("Entities in this passage (click to filter)", names[:12], key=chip_key,
                         label_visibility="collapsed", on_change=_chip_clicked, args=(chip_key,),
                         format_func=escape)
            a, b, c = st.columns([1, 1, 2])
            if a.button("Open in reader", key=f"open-{hit.rank}", icon=":material/menu_book:"):
                common.open_reader(p.passage_id, p.doc_id, query, hit.evidence)
            if b.button("Add to collection", key=f"add-{hit.rank}", icon=":material/bookmark_add:"):
                annotating.add_to_collection(p.passage_id)
            with c.popover("Quote with citation", icon=":material/content_copy:"):
                st.code(common.quotation_block(corpus, p), language=None, wrap_lines=True)
            if st.button("Annotate", key=f"annotate-{hit.rank}", icon=":material/edit_note:"):
                annotating.annotate_dialog(corpus, p.passage_id)

with side:
    st.subheader("Narrow by entity")
    if not result.facets:
        st.caption("No entities in these results.")
    else:
        by, n = result.facets_over
        st.caption({"words": f"Passages among the {n:,} best that hold the words"
                             + (f" (of {result.keyword_total:,})" if (result.keyword_total or 0) > n else ""),
                    "meaning": f"Passages among the {n:,} closest in meaning (none holds the words)",
                    "filters": f"Passages among the first {n:,} the filters leave"}.get(by, ""))
    for label, items in result.facets.items():
        options = [name for name, _ in items if name in by_name]
        if not options:
            continue
        counts = dict(items)
        facet_key = f"facet-{label}"
        st.pills(escape(label), options, key=facet_key, format_func=lambda n, c=counts: escape(f"{n} ({c[n]})"),
                 on_change=_chip_clicked, args=(facet_key,), wrap=True)
