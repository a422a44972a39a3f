"""The keyword index's analysis and schema: how it reads text, which words it drops from queries.

Highlighting (search.py) and a second keyword backend read text through `analyze`, so what is
marked is what the index matched.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

INDEX_NAME = "passages"
# Dropped from plain-word queries (never from phrases, which the index keeps whole): they
# match nearly every passage, add almost nothing to BM25 and cost most of the query time.
# The one stop list: highlighting leaves out the same words (query_terms).
STOP_WORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how if in into is it its "
    "may might not of on or should so than that the their them then there these they this those to was we "
    "were what when where which who whom why will with would also".split()
)


def analyze(text: str) -> list[tuple[str, int, int]]:
    """(term, start, end) of each word of `text` as the index reads it: lower case, accents folded, stemmed.

    Highlighting marks the words whose term a query's terms include, so "Frederic" marks "Frédéric"
    exactly when the index matched it.
    """
    words = _shared_analyzer()[0].expression  # the analyzer's own tokenizer pattern
    return [(term, m.start(), m.end()) for m in words.finditer(text) if (term := term_of(m.group()))]


def query_terms(words: Iterable[str]) -> set[str]:
    """The index's terms of query words, less stop words and single letters (unless nothing else is left)."""
    found = [(word[s:e].casefold(), term) for word in words for term, s, e in analyze(word)]
    content = {term for surface, term in found if surface not in STOP_WORDS and len(surface) > 1}
    return content or {term for _, term in found}


@lru_cache(maxsize=1)
def _shared_analyzer():
    return analyzer()


@lru_cache(maxsize=65536)
def term_of(word: str) -> str:
    """The term the index makes of one word ("" when it makes none)."""
    # The whole analyzer, once per distinct word: running it over every hit's text token by token
    # cost 18x more (24 ms against 1.3 ms for ten 1,500-character passages).
    return next((t.text for t in _shared_analyzer()(word)), "")


def analyzer():
    """The analyzer of the text and section fields."""
    # Whoosh on first use only: `--help` and commands that open no index start without it.
    from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter
    from whoosh.support.charset import accent_map

    # No stop list: researchers quote whole phrases ("not anything like the ..."),
    # and phrase queries need every word's position. Accents fold before stemming,
    # so "Frédéric" and "Frederic" reach the same stem.
    return RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map) | StemFilter(cachesize=50000)


def schema():
    """The fields of an index of passages, as every index this version reads was written."""
    from whoosh.fields import ID, TEXT, Schema  # Whoosh on first use only, as in analyzer

    text = analyzer()
    return Schema(
        passage_id=ID(stored=True, unique=True),
        doc_id=ID,
        kind=ID,
        text=TEXT(analyzer=text, phrase=True),
        section=TEXT(analyzer=text, field_boost=0.5),
    )
