"""corpus-search in the browser: `corpus-search app` (which serves it through app/serve.py).

The entrypoint only sets up navigation; each page lives in app/pages/ and calls the library.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # so pages can `import common`
    sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import streamlit as st  # noqa: E402

import common  # noqa: E402
import login  # noqa: E402

# A file, not a :material/...: icon, which the browser would fetch from fonts.gstatic.com: nothing loads from elsewhere.
st.set_page_config(page_title="corpus-search", page_icon=str(HERE / "icon.png"), layout="wide")
st.markdown(common.CSS, unsafe_allow_html=True)

common.PAGES.update(
    search=st.Page(HERE / "pages" / "search.py", title="Search", icon=":material/search:", url_path="search",
                   default=True),
    reader=st.Page(HERE / "pages" / "reader.py", title="Reader", icon=":material/menu_book:", url_path="reader"),
    entities=st.Page(HERE / "pages" / "entities.py", title="Entities", icon=":material/label:", url_path="entities"),
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
