"""What a query excludes (keyword_query.negated): the part the meaning side must leave out, and the rest it reads."""

from __future__ import annotations

import pytest

from corpus_search.keyword_query import negated


@pytest.mark.parametrize("query, expected", [
    ("pipeline NOT Gazprom", ("Gazprom", "pipeline")),
    ('a ANDNOT (b OR "c d")', ('(b OR "c d")', "a")),
    ('x NOT "gas deal" AND y NOT z', ('"gas deal" OR z', "x AND y")),
    ("(a NOT (b OR (c AND d))) e", ("(b OR (c AND d))", "(a ) e")),  # a group inside a group is one operand
    ("NOT Hormuz", ("Hormuz", "")),
])
def test_the_excluded_part_and_the_rest(query, expected):
    assert negated(query) == expected


@pytest.mark.parametrize("query", [
    '"NOT a phrase" word',  # inside a phrase, NOT is a word
    "KNOT tying", "a NOTE b", "pipeline not Gazprom",  # not the operator: only NOT in capitals, as a word, is
    "pipeline NOT",  # nothing after it
    'pipeline NOT "Gazprom',  # malformed: searched as plain words, so nothing is excluded
])
def test_nothing_excluded(query):
    assert negated(query) == ("", query)
