"""`corpus-search app` from an installed wheel, run from a folder that is not a checkout.

The wheel is built from a copy of the sources and installed, without its dependencies, into a
fresh venv that reuses this interpreter's packages (torch and the rest are not installed again).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv holding only the wheel of this tree; its other packages come from the running interpreter."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy, so the build's own folders never land in the checkout
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "NOTICE"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp / "dist"), str(source)], check=True, timeout=300)
    wheel = next((tmp / "dist").glob("corpus_search-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # A path line in a .pth file puts the running interpreter's packages behind the venv's own.
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; "
                                   "print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True,
                                  check=True).stdout.strip())
    (purelib / "reuse.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the interpreter's own packages may hold this project (an editable install),
    # which pip would otherwise take as already satisfied and leave the venv without the wheel.
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel)],
                   check=True, timeout=300)
    return venv


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CORPUS_SEARCH_INDEX", "CORPUS_SEARCH_CORPUS")}
    return dict(env, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)


def test_the_installed_package_is_the_one_that_runs(installed, tmp_path):
    done = subprocess.run([str(installed / "bin" / "python"), "-c",
                           "import corpus_search.app.main as m; print(m.__file__)"],
                          capture_output=True, text=True, env=clean_env(), cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(installed)


@pytest.fixture(scope="module")
def served(installed, tmp_path_factory):
    """`corpus-search app` of the installed wheel, started from an empty folder; yields its URL."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    port = free_port()
    log = elsewhere / "app.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(installed / "bin" / "corpus-search"), "app", "--port", str(port)],
                                cwd=elsewhere, env=clean_env(), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if get(url + "/_stcore/health")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the installed app did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_installed_app_answers_from_any_folder(served):
    assert get(served + "/_stcore/health") == (200, "ok")
    status, page = get(served + "/")
    assert status == 200 and "<html" in page.lower()


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_installed_app_renders_its_pages(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.set_default_timeout(90_000)
            page.goto(served + "/quote")
            # The navigation lists every page (main.run() ran from the wheel), and the page itself ran: with no
            # index in this empty folder, it says how to build one.
            nav = page.locator('[data-testid="stSidebarNav"]')
            for title in ("Search", "Reader", "Entities", "Screen names", "Quote check", "Documents", "Collection", "Annotations"):
                nav.get_by_text(title, exact=True).wait_for()
            page.get_by_role("heading", name="No index yet").wait_for()
        finally:
            browser.close()
