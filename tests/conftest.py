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
