"""The sign-in every page waits behind when the app has a password (or Streamlit's OpenID Connect login)."""

from __future__ import annotations

import streamlit as st

from corpus_search import server
from corpus_search.errors import CorpusSearchError
from corpus_search.render import escape


def _client() -> str:
    try:
        address = st.context.ip_address
    except Exception:
        address = None
    # No address without a browser behind the run (AppTest): all such runs count as one client.
    return address if isinstance(address, str) and address else "unknown"


def _gate(pages, body) -> None:
    """Show only `body`, then stop: the pages are registered (so a shared URL keeps its page) but none runs."""
    st.navigation(pages, position="hidden")
    body()
    st.stop()


def _password_form(stored: str) -> None:
    st.title("corpus-search")
    with st.form("login"):
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    client = _client()
    wait = server.THROTTLE.wait(client)
    if wait > 0:
        st.error(f"Too many wrong passwords: try again in {wait:.0f} s.")
        return
    if server.verify_password(password, stored):
        server.THROTTLE.succeeded(client)
        st.session_state["_signed_in"] = True
        st.session_state.pop("login_password", None)
        st.rerun()
    server.THROTTLE.failed(client)
    st.error("Wrong password.")


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all
        return False


def require_sign_in(pages) -> None:
    """Return when the visitor may see `pages`; otherwise show the sign-in (or why there is none) and stop."""
    try:
        stored = server.password_hash()
    except CorpusSearchError as exc:
        message = escape(str(exc))  # `exc` is unbound once the except block ends
        _gate(pages, lambda: st.error(message))
    if stored:
        if not st.session_state.get("_signed_in"):
            _gate(pages, lambda: _password_form(stored))
        return
    if _oidc_configured():
        if not st.user.is_logged_in:
            _gate(pages, lambda: (st.title("corpus-search"), st.button("Sign in", key="oidc_login", on_click=st.login)))
        return
    from streamlit import config as st_config

    address = st_config.get_option("server.address")
    if address is None and _client() == "unknown":
        return  # AppTest runs the script without a server: nothing listens
    address = address or "0.0.0.0"  # Streamlit's default: every interface
    if not server.is_loopback(address):
        # Started by hand (`streamlit run`) on a reachable address without a password: show nothing.
        _gate(pages, lambda: st.error(escape(f"This app listens on {address} without a password: "
                                      f"{server.HOW_TO_SET_A_PASSWORD}.")))
