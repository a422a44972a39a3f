"""The server `corpus-search app` runs: the app behind a Host check (`streamlit run <this file>`).

Streamlit finds `app` below and serves this package's streamlit_app.py with uvicorn; HostCheck
answers 403 to any request, page, static file, health check or websocket, whose Host is not a
name the app is served under.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from streamlit.runtime.pages_manager import PagesManager

from corpus_search.server import HostCheck

# With a pages/ folder beside the entrypoint, Streamlit runs the first request of a fresh server
# straight from that folder (its older multipage mode) when the URL names a page, skipping the
# entrypoint and so the sign-in. The entrypoint builds its own st.navigation: no folder mode.
PagesManager.uses_pages_directory = False

app = st.App(Path(__file__).resolve().parent / "streamlit_app.py", middleware=[Middleware(HostCheck)])
