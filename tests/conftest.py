"""Shared fixtures: one real index, built once per session from the bundled corpus with the real models."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared"
TESTDATA_PDF = SHARED / "testdata" / "pdf"

# Under pytest-xdist, `make test` runs `-n 2 --dist loadfile`: each module runs whole on one worker (its
# module fixtures are built once), and these modules run one after another on the same worker, never
# beside each other: they start local Ray clusters or Ray nodes in network namespaces, a Streamlit server
# with Chromium, or kill builds at random points, and two of them at once on a small machine would
# compete for the cores their trials and time limits were set for. (An xdist_group mark would say the
# same, but xdist 3.8 cannot read it under pytest 9: it renames items through a field pytest 9 no longer
# uses, so `--dist loadgroup` splits every group: pytest-dev/pytest-xdist#1386.)
ONE_WORKER = {"test_browser.py", "test_cluster_build.py", "test_cluster_search.py", "test_hosts.py",
              "test_reliability.py"}


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # optional: plain pytest, without xdist, never calls it
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModulesWithOneWorkerGroup(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return "one-worker" if module.rpartition("/")[2] in ONE_WORKER else module

    return ModulesWithOneWorkerGroup(config, log)


@pytest.fixture(scope="session")
def built_index(tmp_path_factory) -> Path:
    """A real index of corpus/ (spaCy + sentence-transformers + Whoosh), built once."""
    from corpus_search.api import build

    index = tmp_path_factory.mktemp("index")
    report = build(CORPUS, index)
    bad = [s for s in report.sources if not s.status.startswith("ok")]
    assert not bad, f"bundled sources did not build: {bad}"
    return index


@pytest.fixture(scope="session")
def corpus(built_index):
    from corpus_search.api import Corpus

    c = Corpus.open(built_index)
    yield c
    c.close()


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the bundled corpus, for tests that change sources."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


EXTRA_CRS = SHARED / "testdata" / "extra" / "crs-reports" / "pdf"
GEOTOPO = TESTDATA_PDF / "sample-files" / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"


@pytest.fixture(scope="session")
def paged_corpus(tmp_path_factory) -> Path:
    """Sources without records: the CRS report R48903 (public domain; cover and contents before its
    printed "1") and three pages of German lecture notes (GeoTopo, Martin Thoma, CC-BY-SA-4.0), cut
    from the real PDF so the German is the author's, not ours."""
    from pypdf import PdfReader, PdfWriter

    folder = tmp_path_factory.mktemp("paged-corpus")
    shutil.copy(EXTRA_CRS / "reports" / "R48903.3.pdf", folder / "R48903.3.pdf")
    writer = PdfWriter()
    for page in PdfReader(GEOTOPO).pages[5:8]:
        writer.add_page(page)
    with open(folder / "geotopo-auszug.pdf", "wb") as fh:
        writer.write(fh)
    return folder


@pytest.fixture(scope="session")
def paged_index(paged_corpus, tmp_path_factory) -> Path:
    from corpus_search.api import build

    index = tmp_path_factory.mktemp("paged-index")
    report = build(paged_corpus, index)
    assert all(s.status.startswith("ok") for s in report.sources), report.sources
    return index


@pytest.fixture(scope="session")
def crs_index(tmp_path_factory) -> Path:
    """A real index of the six CRS reports alone (no corpus/_entities: general rules only), built once."""
    from corpus_search.api import build

    corpus = tmp_path_factory.mktemp("crs-corpus")
    shutil.copytree(CORPUS / "crs", corpus / "crs")
    index = tmp_path_factory.mktemp("crs-index")
    report = build(corpus, index)
    bad = [s for s in report.sources if not s.status.startswith("ok")]
    assert not bad, f"CRS reports did not build: {bad}"
    return index
