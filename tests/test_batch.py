"""A batch file read and checked line by line (batch.py), before any index is opened."""

from __future__ import annotations

import pytest

from corpus_search import batch
from corpus_search.errors import UsageError


def test_blank_and_comment_lines_are_no_queries_and_line_numbers_are_the_files(tmp_path):
    f = tmp_path / "q.txt"
    f.write_text("\ufeffAltai pipeline\n\n# a note to self\n  {\"query\": \"gas\"}\n", encoding="utf-8")
    assert batch.read_lines(f) == [(1, "Altai pipeline"), (4, '  {"query": "gas"}')]


def test_a_file_that_is_not_utf8_is_one_error(tmp_path):
    f = tmp_path / "q.txt"
    f.write_bytes(b"caf\xe9\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        batch.read_lines(f)


@pytest.mark.parametrize(("line", "message"), [
    ('{"query": broken', "q.txt:3: not valid JSON"),
    ('{"mode": "keyword"}', 'needs a "query" string'),
    ('["gas"]', None),  # not an object: a plain query that happens to start with a bracket
])
def test_a_json_line_needs_a_query(tmp_path, line, message):
    f = tmp_path / "q.txt"
    if message is None:
        assert batch.parse_line(f, 3, line) == {"query": line}
        return
    with pytest.raises(UsageError, match=message):
        batch.parse_line(f, 3, line)


@pytest.mark.parametrize(("spec", "message"), [
    ({"query": "gas", "limit": "all"}, '"limit" must be a whole number'),
    ({"query": "gas", "limit": True}, '"limit" must be a whole number'),
    ({"query": "gas", "entity": ["Gazprom", 3]}, '"entity" must be a string or a list of strings'),
    ({"query": "gas", "mode": 1}, '"mode" must be one of hybrid, keyword, semantic'),
])
def test_options_of_the_wrong_type_are_that_lines_error(tmp_path, spec, message):
    with pytest.raises(UsageError, match=message):
        batch.check_spec(tmp_path / "q.txt", 1, spec)


def test_a_lines_options_override_the_command_lines():
    defaults = batch.Defaults(mode="keyword", entities=("Russia",), labels=("GPE",), limit=5, langs=("en",))
    spec = {"query": "gas", "entity": "Gazprom", "doc": "makocki2016", "limit": 2}
    batch.check_spec("q.txt", 1, spec)
    args = batch.search_args(spec, defaults)
    assert args == {"mode": "keyword", "entities": ["Gazprom"], "labels": ("GPE",), "doc_ids": ["makocki2016"],
                    "kinds": (), "limit": 2, "rollup": False, "lang": ("en",)}
    assert batch.search_args({"query": "gas"}, defaults)["entities"] == ["Russia"]


def test_every_line_is_parsed_before_any_runs(tmp_path):
    f = tmp_path / "q.txt"
    lines = [(1, "Altai pipeline"), (2, '{"query": "gas"}'), (3, '{"query": 5}')]
    with pytest.raises(UsageError, match='q.txt:3: a JSON line needs a "query" string'):
        batch.parse_lines(f, lines)
    assert batch.parse_lines(f, lines[:2]) == [(1, {"query": "Altai pipeline"}), (2, {"query": "gas"})]


def test_a_key_no_line_may_set_is_named_in_a_warning():
    assert batch.unknown_keys({"query": "gas", "entity": "Gazprom", "limit": 3}) == []
    (warning,) = batch.unknown_keys({"query": "gas", "entities": ["Gazprom"], "lmit": 3})
    assert '"entities", "lmit" ignored' in warning and "entity" in warning
