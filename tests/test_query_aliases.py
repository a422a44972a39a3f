"""A query's names searched in the corpus's other form too: "Eurasian Economic Union" finds "EEU" (query_aliases)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from corpus_search import keyword_index
from corpus_search.query_aliases import AliasForms, Expansion, fiscal_year_forms, initialism, verb_forms
from corpus_search.search import query_terms

ALIASES = {  # the shape of store.aliases(): alias key -> [(canonical name, label)]
    "eeu": [("Eurasian Economic Union", "ORG")],
    "eurasian economic union": [("Eurasian Economic Union", "ORG")],
    "dod": [("Department of Defense", "ORG")],
    "us": [("United States", "GPE")],
    "north atlantic treaty organization": [("NATO", "ORG")],
    "nato": [("NATO", "ORG")],  # every canonical name has its own key
    "pc": [("Peace Corps", "ORG"), ("Privy Council", "ORG")],  # two things: left alone
    "albanese": [("Anthony Albanese", "PERSON")],  # a surname, no abbreviation
}


@pytest.mark.parametrize(("short", "name", "expected"), [
    ("omfv", "Optionally Manned Fighting Vehicle", True),
    ("DoD", "Department of Defense", True),  # two letters from one word, a small word skipped
    ("anzus", "Australia-New Zealand-United States", True),
    ("centcom", "Central Command", True),
    ("albanese", "Anthony Albanese", False),  # a long word is never skipped
    ("crimea", "crimean peninsula", False),  # letters from one word only
    ("deng", "Deng Xiaoping", False),
    ("eu", "Eurasian Economic Union", False),
])
def test_an_initialism_is_made_of_the_initials_of_the_long_forms_words(short: str, name: str, expected: bool) -> None:
    assert initialism(short, name) is expected


def test_each_form_of_a_name_brings_the_other() -> None:
    forms = AliasForms(ALIASES)
    pairs = lambda q: [(e.said, e.also) for e in forms.expand(q)]  # noqa: E731
    assert pairs("trade inside the Eurasian economic union") == [("Eurasian economic union", "EEU")]
    assert pairs("EEU tariffs") == [("EEU", "Eurasian Economic Union")]
    assert pairs("DoD budget") == [("DoD", "Department of Defense")]
    assert pairs("NATO enlargement") == [("NATO", "north atlantic treaty organization")]
    assert pairs("EEU and the Eurasian Economic Union") == []  # the query already says both
    assert pairs("U.S. sanctions") == [("U.S.", "United States")]  # as typed: it was shown as "U.S"


@pytest.mark.parametrize("query", [
    "tell us about sanctions",  # "us" is no "US" unless typed in capitals
    "PC sales",  # two things called PC in this corpus
    "Albanese visit",
    "EEU AND Kazakhstan",  # operators: searched exactly as written
    "pipeline NOT eeu",
])
def test_no_other_form_is_guessed(query: str) -> None:
    assert AliasForms(ALIASES).expand(query) == []


def test_a_long_form_in_the_query_finds_the_passages_that_only_abbreviate_it(corpus, monkeypatch) -> None:
    """The bundled corpus spells out "Eurasian Economic Union (EEU)" once and says "EEU" after that."""
    query = "Eurasian Economic Union customs"
    monkeypatch.setenv("CORPUS_SEARCH_ALSO_SEARCH", "0")
    plain = corpus.search(query, mode="keyword", limit=200)
    monkeypatch.setenv("CORPUS_SEARCH_ALSO_SEARCH", "1")
    result = corpus.search(query, mode="keyword", limit=200)
    assert plain.also_searched == () and ("Eurasian Economic Union", "EEU") in result.also_searched
    words = set(query_terms(query))
    only_abbreviated = [h for h in result.hits if re.search(r"\bEEU\b", h.passage.text)
                        and not words & {term for term, _, _ in keyword_index.analyze(h.passage.text)}]
    assert only_abbreviated, "no passage that says EEU and none of the query's words was found"
    plain_ids = {h.passage.passage_id for h in plain.hits}
    assert not any(h.passage.passage_id in plain_ids for h in only_abbreviated)  # found because of the form
    hit = only_abbreviated[0]
    assert "EEU" in [hit.passage.text[a:b] for a, b in hit.highlights]  # the reader sees why it was found


def test_search_json_says_what_else_was_searched(built_index) -> None:
    proc = subprocess.run([sys.executable, "-m", "corpus_search", "--index", str(built_index), "search", "EEU enlargement",
                           "--json"], capture_output=True, text=True, timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["also_searched"] == [{"said": "EEU", "also": "Eurasian Economic Union"}]


def test_a_malformed_query_is_searched_as_typed_without_other_forms(corpus) -> None:
    result = corpus.search('EEU customs "unbalanced', mode="keyword", limit=5)
    assert result.also_searched == () and any("unbalanced quote" in w for w in result.warnings)


def test_the_model_reads_an_abbreviation_of_the_query_with_its_long_form(corpus, monkeypatch) -> None:
    """Passages are embedded with their abbreviations spelled out (embedding_text); a query that says "EEU"
    is embedded the same way, and `also_embed` 0 embeds it as typed."""
    import numpy as np

    query = "When did the EEU start its customs union?"
    assert corpus.searcher.model_query(query) == "When did the EEU (Eurasian Economic Union) start its customs union?"
    assert corpus.searcher.model_query("Eurasian Economic Union customs") == "Eurasian Economic Union customs"  # no abbreviation
    assert corpus.searcher.model_query('EEU "customs') == 'EEU "customs'  # malformed: as typed
    seen: list[str] = []
    encode = corpus.searcher.encode_query
    monkeypatch.setattr(corpus.searcher, "encode_query", lambda text: seen.append(text) or encode(text))
    spelled = corpus.search(query, mode="semantic", limit=5)
    monkeypatch.setenv("CORPUS_SEARCH_ALSO_EMBED", "0")
    typed = corpus.search(query, mode="semantic", limit=5)
    assert seen == ["When did the EEU (Eurasian Economic Union) start its customs union?", query]
    assert not np.allclose(encode(seen[0]), encode(seen[1]))
    assert [h.score for h in spelled.hits] != [h.score for h in typed.hits]


@pytest.mark.parametrize("query, forms", [
    ("How much is NASA seeking in the fiscal 2027 budget?", [("fiscal 2027", "FY2027")]),
    ("funding in fiscal year 2021 and FY 2026", [("fiscal year 2021", "FY2021"), ("FY 2026", "FY2026")]),
    ("FY27 request against FY98", [("FY27", "FY2027"), ("FY98", "FY1998")]),
    ("CBO FY2027 projection", []),  # already as reports print it (the year alone was measured and not kept)
    ("fiscal 2027 AND NASA", []),  # operators: searched as typed
    ("the fiscal policy of 2027", []),
])
def test_a_fiscal_year_asked_another_way_also_searches_its_printed_form(query, forms) -> None:
    assert fiscal_year_forms(query) == [Expansion(a, b) for a, b in forms]


def test_fiscal_2021_finds_the_passage_that_prints_fy2021(corpus, monkeypatch) -> None:
    """The bundled corpus prints "the FY2021 National Defense Authorization Act" once (crs-r48903:0061); the keyword
    index reads "FY2021" as one word, so "fiscal 2021" alone does not find it."""
    monkeypatch.setenv("CORPUS_SEARCH_ALSO_SEARCH", "0")
    plain = corpus.search("fiscal 2021 tankers", mode="keyword", limit=50)
    monkeypatch.setenv("CORPUS_SEARCH_ALSO_SEARCH", "1")
    result = corpus.search("fiscal 2021 tankers", mode="keyword", limit=50)
    assert ("fiscal 2021", "FY2021") in result.also_searched and plain.also_searched == ()
    rank = {h.passage.passage_id: h.rank for h in result.hits}
    plain_rank = {h.passage.passage_id: h.rank for h in plain.hits}
    assert rank["crs-r48903:0061"] <= 3 < plain_rank.get("crs-r48903:0061", 99)  # 2nd against 6th when written
    hit = result.hits[rank["crs-r48903:0061"] - 1]
    assert "FY2021" in [hit.passage.text[a:b] for a, b in hit.highlights]  # the reader sees why it was found


@pytest.mark.parametrize("query, forms", [
    ("Who first wrote the CRS report?", [("wrote", "write"), ("wrote", "written")]),
    ("How much did Rosneft sell?", [("sell", "sold")]),
    ('"wrote the report" and paid', [("paid", "pay")]),  # a quoted phrase is searched as quoted
    ("sold AND bought", []),  # operators: as typed
    ("Who found the leak and left?", []),  # "found", "left": other words too, left out
])
def test_an_irregular_verb_also_searches_its_other_forms(query, forms) -> None:
    assert verb_forms(query) == [Expansion(a, b) for a, b in forms]


def test_sell_finds_and_marks_sold(corpus, monkeypatch) -> None:
    """The stemmer makes "sell" and "sold" two terms: "sell Vankor stake" missed that "a 15% stake in the Vankor oil
    and gas field was sold to ONGC" says "sold"."""
    monkeypatch.setenv("CORPUS_SEARCH_ALSO_SEARCH", "1")
    result = corpus.search("sell Vankor stake", mode="keyword", limit=20)
    assert ("sell", "sold") in result.also_searched
    hit = next(h for h in result.hits if h.passage.passage_id == "makocki2016:0158")
    assert "sold" in [hit.passage.text[a:b] for a, b in hit.highlights]
