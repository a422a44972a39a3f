"""Screen a names list: every passage that mentions each name, with its page and the form matched."""

from __future__ import annotations

import json

import streamlit as st

from corpus_search import shapes
from corpus_search.app import common
from corpus_search.errors import CorpusSearchError
from corpus_search.locators import EN_DASH
from corpus_search.render import escape
from corpus_search.screen import parse_names, screen, to_csv

corpus = common.require_corpus()
st.title("Screen a names list")
st.caption("A CSV with a `name` column and, optionally, `aliases` (separated by `;`). Each name is looked up "
           "through the entities (names, aliases, your curation) and in the text itself, with spelling variants.")
upload = st.file_uploader("Names (CSV)", type=["csv", "txt"], key="screen_file")
typed = st.text_area("…or type them, one a line (name, aliases)", key="screen_text", height=120,
                     placeholder="name,aliases\nDepartment of Defense,DoD;Pentagon")
fuzzy_on = st.checkbox("Also match entity names that are close (fuzzy)", key="screen_fuzzy_on")
fuzzy = st.slider("Similarity", 60, 100, 88, key="screen_fuzzy", disabled=not fuzzy_on) if fuzzy_on else None

text = upload.getvalue().decode("utf-8-sig", errors="replace") if upload is not None else typed
if st.button("Screen", key="screen_run", icon=":material/manage_search:", disabled=not text.strip()):
    try:
        st.session_state["screen_results"] = screen(corpus, parse_names(text), fuzzy)
    except CorpusSearchError as exc:
        st.error(escape(str(exc)))

results = st.session_state.get("screen_results")
if results:
    missing = [r.name.name for r in results if not r.found]
    st.markdown(f"**{len(results) - len(missing)} of {len(results)} names found**"
                + (f"; not found: {escape(', '.join(missing))}" if missing else ""))
    rows = []
    for r in results:
        if not r.matches:
            rows.append({"name": r.name.name, "found": "no", "document": "", "where": "", "matched": "",
                         "via": "", "citation": ""})
        for m in r.matches:
            # The locators' text, typeset as the app's other locators are: "pp. 17–18", "para. 6".
            rows.append({"name": r.name.name, "found": "yes", "document": m.doc_id, "where": m.where(dash=EN_DASH),
                         "matched": m.matched, "via": m.via, "citation": m.citation})
    st.dataframe(rows, hide_index=True, key="screen_table")
    a, b = st.columns(2)
    a.download_button("Download CSV", to_csv(results), "screening.csv", "text/csv", key="screen_csv")
    b.download_button("Download JSON", json.dumps([shapes.screen_result(r) for r in results], ensure_ascii=False, indent=1),
                      "screening.json", "application/json", key="screen_json")
