"""The language of each passage, detected offline, stored, shown and filtered on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from corpus_search import languages
from test_cli import one_error_line, run


def test_detects_real_german_and_english(paged_corpus: Path) -> None:
    from pypdf import PdfReader

    german = PdfReader(paged_corpus / "geotopo-auszug.pdf").pages[0].extract_text()
    english = PdfReader(paged_corpus / "R48903.3.pdf").pages[2].extract_text()
    assert languages.detect([german, english, "Contents", ""]) == ["de", "en", None, None]


def test_no_model_is_fetched_at_run_time(tmp_path: Path, paged_corpus: Path) -> None:
    # A proxy that goes nowhere makes any fetch fail loudly; an empty home shows nothing was cached.
    from pypdf import PdfReader

    german = PdfReader(paged_corpus / "geotopo-auszug.pdf").pages[0].extract_text()
    env = dict(os.environ, HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    code = "import sys; from corpus_search.languages import detect; print(detect([sys.stdin.read()]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          input=german)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['de']"
    assert not any(tmp_path.rglob("*"))  # nothing downloaded or cached


def test_search_filters_by_language(paged_index: Path) -> None:
    proc = run("search", "Menge", "--lang", "de", "--json", index=paged_index)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert results and all(r["language"] == "de" and r["doc_id"] == "geotopo-auszug" for r in results)

    proc = run("search", "shipping", "--lang", "en", "--json", index=paged_index)
    results = json.loads(proc.stdout)["results"]
    assert results and all(r["language"] == "en" and r["doc_id"] == "r48903.3" for r in results)

    proc = run("search", "shipping", "--lang", "de", "--mode", "keyword", "--json", index=paged_index)
    assert all(r["doc_id"] == "geotopo-auszug" for r in json.loads(proc.stdout)["results"])


def test_unknown_language_is_one_clear_line(paged_index: Path) -> None:
    line = one_error_line(run("search", "Menge", "--lang", "xx", index=paged_index))
    assert "'xx'" in line and "de" in line and "en" in line


def test_api_lang_argument(paged_index: Path) -> None:
    from corpus_search.api import Corpus

    corpus = Corpus.open(paged_index)
    try:
        codes = dict(corpus.languages())
        assert codes["en"] > codes["de"] > 0
        hits = corpus.search("Teilmengen", lang="de").hits
        assert hits and all(h.passage.language == "de" for h in hits)
        assert not corpus.search("Teilmengen", mode="keyword", lang=["en"]).hits
    finally:
        corpus.close()


def test_batch_lines_filter_by_language(paged_index: Path, tmp_path: Path) -> None:
    lines = tmp_path / "queries.jsonl"
    lines.write_text('{"query": "Menge", "lang": "de"}\n{"query": "Menge", "lang": ["en"], "mode": "keyword"}\n',
                     encoding="utf-8")
    proc = run("batch", str(lines), "--json", index=paged_index)
    assert proc.returncode == 0, proc.stderr
    german, english = (json.loads(line) for line in proc.stdout.splitlines())
    assert german["results"] and {r["language"] for r in german["results"]} == {"de"}
    assert all(r["language"] == "en" for r in english["results"])
