"""The app facing a hostile network: foreign Host names, shared URLs that carry markup, open addresses, signals.

Servers here are started the way a user starts them, `corpus-search app --port N`, and spoken to
with raw HTTP; pages are driven through AppTest, and one shared URL through a real Chromium.
"""

from __future__ import annotations

import html
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest

from corpus_search import server
from corpus_search.render import escape

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "src" / "corpus_search" / "app" / "streamlit_app.py"  # the package's entry: pages/ sits beside it
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery staple"

HOSTILE = (
    "![x](http://evil.example/x.png)",
    "[a](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
)
# What must never reach Markdown or HTML as such: link and image syntax, tags, script URLs.
LIVE = ("![", "](", "<img", "javascript:", "onerror=")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    for name in ("CORPUS_SEARCH_APP_PASSWORD_HASH", "CORPUS_SEARCH_APP_PASSWORD_FILE", "CORPUS_SEARCH_APP_HOSTS",
                 "CORPUS_SEARCH_APP_ADDRESS"):
        env.pop(name, None)
    env.update(extra)
    return env


def healthy(port: int) -> bool:
    try:
        return get(port, "/_stcore/health", f"localhost:{port}")[0] == 200
    except OSError:
        return False


@contextmanager
def app_server(index: Path, corpus: Path, log: Path, *args: str, env: dict | None = None):
    """`corpus-search app --port N` in a subprocess; yields (port, process) once /_stcore/health answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "corpus_search", "--index", str(index), "--corpus", str(corpus),
           "app", "--port", str(port), *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env or cli_env(), stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    try:
        deadline = time.monotonic() + 60
        while not healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        for pid in servers_on(port):  # what today's main leaves behind: stop it by its id
            os.kill(pid, signal.SIGKILL)


def servers_on(port: int) -> list[int]:
    """Ids of streamlit processes started for `port` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(argv) and str(port).encode() in argv:
            found.append(int(entry.name))
    return found


def get(port: int, path: str, host: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def websocket_status(port: int, host: str) -> int:
    """The status line's code for a websocket upgrade of /_stcore/stream (101 when accepted)."""
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Origin: http://" + host + "\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode("latin-1"))
        line = s.recv(1024).split(b"\r\n", 1)[0].decode("latin-1")
    return int(line.split()[1])


# -- Host names --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on a free port with no index (the Host check comes before any page)."""
    base = tmp_path_factory.mktemp("served")
    env = cli_env(CORPUS_SEARCH_APP_HOSTS="search.team.example")
    with app_server(base / "no-index", base, base / "server.log", env=env) as (port, _):
        status, page = get(port, "/", f"localhost:{port}")
        assert status == 200
        static = re.search(r'(?:src|href)="\.?/?(static/[^"]+\.js)"', page)
        assert static, page[:2000]
        yield port, "/" + static.group(1)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "localhost.evil.example:{port}",
                                  "127.0.0.1.nip.io:{port}", "attacker.example:80", ""])
def test_a_foreign_host_is_refused_on_every_route(served, host):
    port, static = served
    host = host.format(port=port)
    for path in ("/", "/search", "/_stcore/health", static):
        assert get(port, path, host)[0] == 403, (path, host)
    assert websocket_status(port, host) == 403


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "LOCALHOST:{port}",
                                  "search.team.example:{port}"])
def test_the_names_the_app_is_served_under_are_answered(served, host):
    port, static = served
    host = host.format(port=port)
    for path in ("/", "/_stcore/health", static):
        assert get(port, path, host)[0] == 200, (path, host)
    assert websocket_status(port, host) == 101


# -- stopping ------------------------------------------------------------------------------------
def test_sigterm_to_the_cli_stops_the_server(tmp_path):
    with app_server(tmp_path / "no-index", tmp_path, tmp_path / "server.log") as (port, proc):
        os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while (healthy(port) or servers_on(port)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not healthy(port), "the server still answers after SIGTERM to `corpus-search app`"
        assert not servers_on(port), "a streamlit process is left running"
        with socket.socket() as s:
            # The port is free for the next server (SO_REUSEADDR, as servers do: closed connections may linger).
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()


# -- open addresses need a password ---------------------------------------------------------------
def run_cli(*args: str, env: dict, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_search", *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=30)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.0.2.10", "team-box.example"])
def test_an_open_address_without_a_password_is_refused(tmp_path, address):
    env = cli_env(HOME=str(tmp_path))  # no ~/.streamlit/secrets.toml with an [auth] login
    done = run_cli("--index", str(tmp_path), "app", "--address", address, env=env, cwd=tmp_path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "password" in lines[0] and "corpus-search app-password" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_password_hash_is_refused_even_on_localhost(tmp_path):
    env = cli_env(HOME=str(tmp_path), CORPUS_SEARCH_APP_PASSWORD_HASH="hunter2")
    port = free_port()
    try:
        done = run_cli("--index", str(tmp_path), "app", "--port", str(port), env=env, cwd=tmp_path)
    finally:
        for pid in servers_on(port):  # had it started after all
            os.kill(pid, signal.SIGKILL)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "app-password" in done.stderr, done.stderr


def test_app_password_makes_a_hash_that_opens_an_open_address(tmp_path):
    env = cli_env(HOME=str(tmp_path))
    made = run_cli("app-password", env=env, cwd=tmp_path, stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    stored = made.stdout.strip()
    assert PASSWORD not in stored and "$" not in stored
    assert server.verify_password(PASSWORD, stored)
    assert not server.verify_password(PASSWORD + "!", stored)
    assert run_cli("app-password", env=env, cwd=tmp_path, stdin="short\n").returncode != 0
    # Stored in a file, the hash lets the app listen on every interface; the Host check still applies.
    (tmp_path / "app-password").write_text(stored + "\n")
    env = cli_env(HOME=str(tmp_path), CORPUS_SEARCH_APP_PASSWORD_FILE=str(tmp_path / "app-password"))
    with app_server(tmp_path / "no-index", tmp_path, tmp_path / "server.log", "--address", "0.0.0.0",
                    env=env) as (port, _):
        assert get(port, "/_stcore/health", f"127.0.0.1:{port}")[0] == 200
        assert get(port, "/_stcore/health", "evil.example")[0] == 403


# -- the sign-in ---------------------------------------------------------------------------------
@pytest.fixture
def locked_app(tmp_path, monkeypatch):
    """AppTest of the app with a password set and no index yet (so signed in, it says "No index yet")."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(tmp_path / "nothing"))
    monkeypatch.setenv("CORPUS_SEARCH_APP_PASSWORD_HASH", server.hash_password(PASSWORD))
    server.THROTTLE.clear()
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    yield at
    server.THROTTLE.clear()


def only_the_sign_in(at) -> bool:
    shown = [h.value for h in (*at.title, *at.header, *at.subheader)]
    return (shown == ["corpus-search"] and [t.key for t in at.text_input] == ["login_password"]
            and not [m for m in at.markdown if "<style>" not in m.value] and not at.info and not at.warning)


def sign_in(at, password: str):
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_with_a_password_only_the_sign_in_shows(locked_app):
    assert only_the_sign_in(locked_app)


def test_a_wrong_password_shows_an_error_and_nothing_else(locked_app):
    sign_in(locked_app, "not the password")
    assert [e.value for e in locked_app.error] == ["Wrong password."]
    assert only_the_sign_in(locked_app)


def test_the_right_password_opens_the_app(locked_app):
    sign_in(locked_app, PASSWORD)
    assert not locked_app.error
    assert locked_app.header[0].value == "No index yet"
    assert "login_password" not in [t.key for t in locked_app.text_input]


def test_repeated_wrong_passwords_are_throttled(locked_app):
    for _ in range(server.THROTTLE.free):
        sign_in(locked_app, "guess")
    sign_in(locked_app, PASSWORD)  # even the right one waits now
    assert any(e.value.startswith("Too many wrong passwords") for e in locked_app.error)
    assert only_the_sign_in(locked_app)


# -- shared URLs that carry markup --------------------------------------------------------------
def rendered(at) -> list[str]:
    """Every text the page hands to Markdown: bodies, headings, alerts, captions, widget labels and options."""
    texts = [e.value for kind in ("markdown", "caption", "title", "header", "subheader", "warning", "error",
                                  "info", "success", "toast") for e in getattr(at, kind)]
    for widget in (*at.button, *at.get("button_group"), *at.expander, *at.tabs):
        texts.append(getattr(widget, "label", "") or "")
        texts.extend(str(o) for o in getattr(widget, "options", []) or [])
    return texts


def assert_inert(at) -> None:
    for text in rendered(at):
        for live in LIVE:
            assert live not in text, (live, text)


@pytest.fixture
def shared_url(built_index, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(built_index))
    monkeypatch.setenv("CORPUS_SEARCH_CORPUS", str(ROOT / "corpus"))

    def open_with(**params):
        at = AppTest.from_file(str(APP), default_timeout=120)
        for key, value in params.items():
            at.query_params[key] = value
        at.run()
        assert not at.exception, at.exception
        return at

    return open_with


@pytest.mark.parametrize("payload", HOSTILE)
def test_an_entity_from_a_shared_url_is_shown_escaped(shared_url, payload):
    at = shared_url(q="Power of Siberia", entity=payload)
    assert_inert(at)
    warnings = [w.value for w in at.warning if "Entity filter ignored" in w.value]
    assert warnings and escape(payload) in warnings[0]
    assert payload in html.unescape(warnings[0])  # the reader still sees what the link said


@pytest.mark.parametrize("payload", HOSTILE)
def test_a_query_from_a_shared_url_is_shown_escaped(shared_url, payload):
    at = shared_url(q=payload + " gas", mode="keyword")
    assert_inert(at)
    assert at.text_input(key="q").value == payload + " gas"
    shown = " ".join(rendered(at))
    assert escape(payload + " gas") in shown or at.error, shown[:2000]


@pytest.mark.parametrize("payload", HOSTILE)
def test_other_search_parameters_from_a_shared_url_stay_inert(shared_url, payload):
    at = shared_url(q="gas", mode=payload, n=payload, skip=payload, label=payload, doc=payload)
    assert_inert(at)
    assert at.radio(key="mode").value == "hybrid"


@pytest.mark.parametrize("payload", HOSTILE)
def test_reader_parameters_from_a_shared_url_stay_inert(shared_url, payload):
    at = shared_url()
    at.switch_page("pages/reader.py")
    for key in ("rdoc", "view", "hit", "hq"):
        at.query_params[key] = payload
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Reader"] and at.subheader  # the reader opened, on some page
    assert_inert(at)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_a_shared_url_with_markup_loads_nothing_from_elsewhere(built_index, tmp_path):
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    dialogs: list[str] = []
    with app_server(built_index, ROOT / "corpus", tmp_path / "server.log") as (port, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.set_default_timeout(90_000)
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            # Nothing may leave the machine, whatever the page asks for.
            page.route(re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/]).*"), lambda route: route.abort())
            query = urlencode([("q", "Power of Siberia " + HOSTILE[2]), *(("entity", h) for h in HOSTILE)])
            page.goto(f"http://127.0.0.1:{port}/search?{query}")
            alert = page.locator("[data-testid='stAlert']", has_text="Entity filter ignored").first
            alert.wait_for()
            page.locator(".cs-summary").wait_for()
            page.wait_for_timeout(1500)  # time for any image or script the markup asked for
            assert HOSTILE[0] in " ".join(page.locator("[data-testid='stAlert']").all_inner_texts())
            for link in page.locator("a[href]").all():
                assert not link.get_attribute("href").startswith("javascript"), link.get_attribute("href")
        finally:
            browser.close()
    foreign = [u for u in requests if not re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost)[:/]", u)
               and not u.startswith(("data:", "blob:"))]
    assert not foreign, foreign
    assert not dialogs, dialogs


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_a_page_url_on_a_fresh_server_still_asks_for_the_password(tmp_path):
    """The first visit of a new server going straight to /documents (Streamlit's pages-folder mode) gets the sign-in."""
    from playwright.sync_api import sync_playwright

    env = cli_env(CORPUS_SEARCH_APP_PASSWORD_HASH=server.hash_password(PASSWORD))
    with app_server(tmp_path / "no-index", tmp_path, tmp_path / "server.log", env=env) as (port, _), \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{port}/documents")
            box = page.locator("input[type='password']")
            box.wait_for()
            page.wait_for_timeout(1000)
            body = page.locator("body").inner_text()
            assert "Add a document" not in body and "Documents" not in body, body
            box.fill("wrong password")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("Wrong password.").wait_for()
            assert "Add a document" not in page.locator("body").inner_text()
            box.fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("No index yet").first.wait_for()
        finally:
            browser.close()
