"""Never trust the input: any query string gets an answer (or a one-line error for an empty one), in time.

Hand-picked hostile queries first, then hypothesis over random text, query syntax soup and very long
input, in every mode, through the same `Corpus.search_json` the CLI and the app call, and a few through
the CLI itself. CORPUS_SEARCH_FUZZ_EXAMPLES sets the hypothesis examples per strategy (default 200).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_search import config
from corpus_search.errors import CorpusSearchError, QueryError
from corpus_search.search import _clean_query

CAP_SECONDS = float(config.get("query_timeout"))  # per query, once the embedding model is loaded
MODES = ("keyword", "hybrid", "semantic")
EXAMPLES = int(os.environ.get("CORPUS_SEARCH_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

HOSTILE = {
    "unbalanced quote": '"Altai pipeline',
    "three quotes": '"a" "b',
    "unbalanced open paren": "((Russia AND China",
    "unbalanced close paren": "Russia) OR China))",
    "paren soup": ")(" * 50,
    "field syntax": "text:pipeline",
    "hidden field": "passage_id:makocki2016:0001",
    "entity field": "entity:gazprom doc_id:x kind:box",
    "wildcard star": "*",
    "wildcard leading": "*ussia",
    "wildcard many": "r*s*i*a* p?p?l?n?",
    "wildcard only": "* ? * ?",
    "lone AND": "AND",
    "lone OR NOT": "OR NOT",
    "dangling operator": "Russia AND",
    "leading operator": "ANDNOT China",
    "operators only": "AND OR NOT ANDNOT ANDMAYBE",
    "NOT inside ANDMAYBE": "(gas NOT oil) ANDMAYBE coal",
    "NOT nested in AND": "(Russia NOT China) AND (gas OR oil NOT coal)",
    "double NOT": "NOT NOT gas",
    "symbols only": "+ - ~ ^ * ? : ( ) [ ] { } \\ /",
    "range syntax": "[a TO z] {1 TO 9}",
    "fuzzy and boost": "Russia~2 China^10 \"gas deal\"~3",
    "10 KB of words": "pipeline Russia China gas " * 400,
    "10 KB single word": "a" * 10_240,
    "10 KB of quotes": '"' * 10_240,
    "10 KB of parens": "(" * 10_240,
    "control characters": "Gaz\x00prom\x01\x02\x1b[31m\x07\x7f pipeline",
    "only control characters": "\x00\x01\x02\x1f",
    "newlines and tabs": "\n\tRussia\r\nChina\t",
    "bidi and zero width": "\u202eaissuR\u202c zero\u200bwidth",
    "emoji": "🛢️ pipeline 🇷🇺🇨🇳",
    "CJK and Cyrillic": "中俄 天然气 Газпром",
    "combining marks": "Fre\u0301de\u0301ric",
    "backslashes": "\\\\ \\\" \\(",
    "sql-ish": "'; DROP TABLE passages; --",
    "markup": "<script>alert(1)</script> **bold** [link](x)",
    "format string": "{0} %s %(x)s {passage_id}",
    "lone surrogate-free high plane": "\U0001F600\U000E0001",
    "empty": "",
    "spaces": "     ",
}


def _answer(corpus, query: str, mode: str, **filters) -> dict | None:
    """The answer to one query, checked; None when the query was (rightly) refused."""
    started = time.perf_counter()
    try:
        out = corpus.search_json(query, mode=mode, limit=10, **filters)
    except QueryError as exc:
        # Only an empty query, or an entity filter naming nothing known, may be refused.
        assert not _clean_query(query) or filters.get("entities"), f"{query[:60]!r} refused: {exc}"
        assert str(exc) and "\n" not in str(exc)
        return None
    elapsed = time.perf_counter() - started
    assert elapsed < CAP_SECONDS, f"{mode} query {query[:60]!r} took {elapsed:.1f}s"
    json.dumps(out)  # the CLI prints it
    assert [r["rank"] for r in out["results"]] == list(range(1, len(out["results"]) + 1))
    assert out["total"] >= len(out["results"])
    for r in out["results"]:
        assert corpus.passage(r["passage_id"]).text == r["text"]
        for start, end in r["highlights"]:
            assert 0 <= start < end <= len(r["text"])
    return out


@pytest.fixture(scope="module")
def warm(corpus):
    corpus.encode_query("warm up")  # loads the embedding model once, outside the time cap
    return corpus


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_query_answers_in_time(warm, name, mode):
    _answer(warm, HOSTILE[name], mode)


def test_ordinary_queries_still_find_things(warm):
    """The guards must not stop real queries working."""
    assert _answer(warm, '"Power of Siberia"', "keyword")["results"]
    assert _answer(warm, "Russia AND China", "keyword")["results"]
    assert _answer(warm, "pipelin*", "keyword")["results"]
    assert _answer(warm, '"Altai pipeline', "keyword")["results"]  # unbalanced: searched as words


@pytest.mark.parametrize("query, code", [
    ('"Altai pipeline', 0), ("text:pipeline (", 0), ("AND", 0), ("\x01\x1b[2J Russia", 0), ("*", 0), ("", 2),
])
def test_cli_answers_hostile_queries_without_a_traceback(built_index, query, code):
    done = subprocess.run(
        [sys.executable, "-m", "corpus_search", "--index", str(built_index), "search", query,
         "--mode", "keyword", "--json"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    if code == 0:
        assert "results" in json.loads(done.stdout)
    else:
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")


SYNTAX = ['"', "(", ")", ":", "*", "?", "~", "^", "+", "-", "[", "]", "{", "}", "\\", "/", "AND", "OR", "NOT",
          "ANDNOT", "ANDMAYBE", "TO", "text:", "entity:", "kind:", "\x00", "\x1b", "\u202e", "\t", "\n", " "]
WORDS = ["Russia", "China", "pipeline", "Gazprom", "Altai", "Siberia", "gas", "the", "of", "EEU", "Putin", "Xi",
         "strategic", "partnership", "Power", "Ukraine", "sanctions", "é", "中国", "Газпром"]
syntax_soup = st.lists(st.sampled_from(WORDS + SYNTAX), max_size=40).map(lambda parts: " ".join(parts))
glued_soup = st.lists(st.sampled_from(WORDS + SYNTAX), max_size=40).map("".join)
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
long_text = st.builds(lambda chunk, n: (chunk * n)[:12_000], st.text(min_size=1, max_size=30), st.integers(1, 2000))
queries = st.one_of(syntax_soup, glued_soup, any_text, long_text)


def test_fuzz_the_query_path(warm):
    cases = Counter()

    @FUZZ
    @given(query=queries, mode=st.sampled_from(MODES))
    def run(query, mode):
        cases[mode] += 1
        _answer(warm, query, mode)

    run()
    cases_total = sum(cases.values())
    print(f"\n[reliability] query fuzz: {cases_total} cases {dict(cases)}")
    assert cases_total >= EXAMPLES // 2


def test_fuzz_the_entity_filter(warm):
    """Any entity name a user types gives results or a one-line 'no entity called ...' error."""
    cases = Counter()

    @FUZZ
    @given(name=st.one_of(any_text, syntax_soup), query=syntax_soup)
    def run(name, query):
        cases["cases"] += 1
        try:
            _answer(warm, query or "Russia", "keyword", entities=[name])
        except CorpusSearchError as exc:  # an empty query with a filter: still one clear line
            assert str(exc) and "\n" not in str(exc)

    run()
    print(f"\n[reliability] entity filter fuzz: {cases['cases']} cases")
    assert cases["cases"] >= EXAMPLES // 2
