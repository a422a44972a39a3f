"""The app's navigation: every page of corpus-search in the browser, and the sign-in in front of them.

`run()` is called by each rerun of an entry script: `corpus-search app` serves this package's
streamlit_app.py (through serve.py); the checkout's app/streamlit_app.py calls the same function.
Each page lives in pages/ beside this module and calls the library.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from corpus_search.app import common, login

HERE = Path(__file__).resolve().parent


def run() -> None:
    """Set up the page, the sign-in and the navigation, then run the page the URL names."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # A file, not a :material/...: icon, which the browser would fetch from fonts.gstatic.com: nothing loads from elsewhere.
    st.set_page_config(page_title="corpus-search", page_icon=str(HERE / "icon.png"), layout="wide")
    st.markdown(common.CSS, unsafe_allow_html=True)

    common.PAGES.update(
        search=st.Page(HERE / "pages" / "search.py", title="Search", icon=":material/search:", url_path="search",
                       default=True),
        reader=st.Page(HERE / "pages" / "reader.py", title="Reader", icon=":material/menu_book:", url_path="reader"),
        entities=st.Page(HERE / "pages" / "entities.py", title="Entities", icon=":material/label:",
                         url_path="entities"),
        screen=st.Page(HERE / "pages" / "screen.py", title="Screen names", icon=":material/manage_search:",
                       url_path="screen"),
        quote=st.Page(HERE / "pages" / "quote.py", title="Quote check", icon=":material/format_quote:",
                      url_path="quote"),
        documents=st.Page(HERE / "pages" / "documents.py", title="Documents", icon=":material/description:",
                          url_path="documents"),
        collection=st.Page(HERE / "pages" / "collection.py", title="Collection", icon=":material/bookmarks:",
                           url_path="collection"),
        annotations=st.Page(HERE / "pages" / "annotations.py", title="Annotations", icon=":material/edit_note:",
                            url_path="annotations"),
    )

    # Before any page runs: with a password set, nothing but the sign-in renders until it is given.
    login.require_sign_in(list(common.PAGES.values()))
    page = st.navigation(list(common.PAGES.values()))
    # Pages that keep part of their state in the URL by hand need to know whether the user just arrived.
    st.session_state["_arrived"] = st.session_state.get("_page") != page.url_path
    st.session_state["_page"] = page.url_path
    page.run()
