"""render: document text becomes inert HTML; only our own tags reach the page."""

from __future__ import annotations

import re

import pytest

from corpus_search.render import (
    annotate,
    authors_line,
    diff_html,
    escape,
    highlight,
    highlight_snippet,
    locator,
    merge_spans,
    search_summary,
    snippet,
)

HOSTILE = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    "[x](javascript:window.__xss=3)",
    "![remote](http://198.51.100.7/pixel.png)",
    "<http://198.51.100.7/auto>",
    "www.example.com and mail@example.com",
    "$x^2$ and :red[colour] and :smile:",
    "# heading\n- item\n1. item\n> quote\n```code```",
    "**bold** _em_ ~~strike~~ | a | b |",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_leaves_no_markup_or_markdown(text):
    out = escape(text)
    assert "<" not in out and ">" not in out
    # No character Markdown or Streamlit would act on survives unescaped.
    assert not re.search(r"[\[\]()!*_`#$:~|\\\n]", out.replace("&#", "").replace(";", ""))


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_round_trips_to_the_same_words(text):
    import html

    assert html.unescape(escape(text)) == " ".join(text.split())


def test_highlight_wraps_spans_in_mark_after_escaping():
    text = "Power of <Siberia> pipeline"
    out = highlight(text, [(0, 5), (10, 17)])
    assert out.startswith("<mark>Power</mark> of &lt;<mark>Siberia</mark>&gt; pipeline")


def test_highlight_keeps_spaces_between_fragments():
    import html

    text = "the Power of Siberia pipeline"
    out = highlight(text, [(4, 9), (13, 20)])
    plain = html.unescape(re.sub(r"</?mark>", "", out))
    assert plain == text


def test_highlight_markup_inside_a_span_is_escaped():
    out = highlight("a <b>bold</b> move", [(2, 13)])
    assert "<mark>&lt;b&gt;bold&lt;/b&gt;</mark>" in out


@pytest.mark.parametrize(
    "spans, expected",
    [
        ([(5, 8), (0, 3)], [(0, 3), (5, 8)]),
        ([(0, 4), (2, 6)], [(0, 6)]),
        ([(0, 4), (4, 6)], [(0, 6)]),
        ([(-3, 2), (8, 99)], [(0, 2), (8, 10)]),
        ([(5, 5), (7, 3)], []),
    ],
)
def test_merge_spans(spans, expected):
    assert merge_spans(spans, 10) == expected


def test_highlight_rejects_unknown_tags():
    with pytest.raises(ValueError):
        highlight("x", [(0, 1)], tag="script")


def test_snippet_centres_on_the_first_highlight_and_shifts_spans():
    text = ("word " * 300) + "Siberia " + ("word " * 300)
    at = text.index("Siberia")
    window, spans = snippet(text, [(at, at + 7)], width=200)
    assert len(window) <= 200 + 4
    assert window.startswith("… ") and window.endswith(" …")
    (s, e), = spans
    assert window[s:e] == "Siberia"


def test_snippet_short_text_is_whole():
    assert snippet("short text", [(0, 5)]) == ("short text", [(0, 5)])


def test_highlight_snippet_is_escaped():
    text = "<script>x</script> " * 100 + "Siberia"
    out = highlight_snippet(text, [(len(text) - 7, len(text))], width=100)
    assert "<script>" not in out and "<mark>Siberia</mark>" in out


def test_diff_html_marks_changes_and_escapes_words():
    out = diff_html([("=", "the relationship"), ("-", "<is>"), ("+", "was")])
    assert out == "the relationship <del>&lt;is&gt;</del> <ins>was</ins>"


@pytest.mark.parametrize(
    "args, expected",
    [
        ((17, 17, None), "p. 17"),
        ((17, None, None), "p. 17"),
        ((17, 18, None), "pp. 17–18"),
        ((3, 3, 12), "para. 12"),
        ((None, None, None), ""),
    ],
)
def test_locator(args, expected):
    assert locator(*args) == expected


def test_locator_uses_a_printed_label_when_no_number():
    assert locator(None, None, None, "iii") == "p. iii"


@pytest.mark.parametrize(
    "authors, expected",
    [((), ""), (("A",), "A"), (("A", "B"), "A and B"), (("A", "B", "C"), "A, B and C"), (("A", "B", "C", "D"), "A et al.")],
)
def test_authors_line(authors, expected):
    assert authors_line(authors) == expected


# -- the line above the results -----------------------------------------------------------------
def _result(mode: str, shown: int, total: int, keyword_total: int | None, searched: int | None, query: str = "gas"):
    from corpus_search.models import Hit, Passage, SearchResult

    p = Passage("d:0000", "d", 0, "gas")
    return SearchResult(query=query, mode=mode, hits=tuple(Hit(p, 1.0, i + 1) for i in range(shown)), total=total,
                        keyword_total=keyword_total, searched=searched)


@pytest.mark.parametrize("result, line", [
    (_result("keyword", 10, 42, 42, 507), "42 passages match; showing 10"),
    (_result("keyword", 1, 1, 1, 507), "1 passage matches; showing 1"),
    # Hybrid's total is its candidates (208): the line counts the passages holding the words instead.
    (_result("hybrid", 10, 208, 42, 507), "42 passages match the words; the other 465 were ranked by meaning; "
                                          "showing the best 10"),
    (_result("hybrid", 10, 201, 1, 507), "1 passage matches the words; the other 506 were ranked by meaning; "
                                         "showing the best 10"),
    (_result("hybrid", 6, 6, 6, 6), "6 passages match the words; showing the best 6"),
    (_result("hybrid", 0, 0, 0, 0), "0 passages pass the filters; showing 0"),
    # nothing to show ("***": no words, nothing ranked by meaning): no "showing the best 0"
    (_result("hybrid", 0, 0, 0, 507), "0 passages match the words; the other 507 were ranked by meaning"),
    (_result("semantic", 10, 200, None, 507), "showing the 10 of 507 passages closest in meaning"),
    (_result("semantic", 3, 3, None, 3), "showing all 3 passages, closest in meaning first"),
    (_result("hybrid", 10, 12, 12, 12, query=""), "12 passages pass the filters (in document order); showing 10"),
])
def test_the_summary_counts_what_each_mode_found(result, line):
    assert search_summary(result) == line


def test_a_long_query_is_shortened_where_the_summary_names_it():
    line = search_summary(_result("hybrid", 10, 208, 42, 507, query="gas " * 500), quoted=True)
    assert len(line) < 300 and "…”" in line


def test_the_app_summary_names_the_query():
    assert search_summary(_result("hybrid", 10, 208, 42, 507, query="gas <b>"), quoted=True).startswith(
        "42 passages match the words of “gas <b>”;")
    assert search_summary(_result("semantic", 10, 200, None, 507), quoted=True) == \
        "showing the 10 of 507 passages closest in meaning to “gas”"


def test_the_summary_says_which_other_forms_of_a_name_were_searched():
    from dataclasses import replace

    result = replace(_result("keyword", 10, 42, 42, 507, query="EEU"), also_searched=(("EEU", "Eurasian Economic Union"),))
    assert search_summary(result) == "42 passages match; showing 10 (also searched: Eurasian Economic Union for EEU)"


def test_the_users_own_highlight_is_never_the_search_words_colour():
    """In the reader, a passage with the search's words and the user's own highlight drew both in the search's
    yellow: the user could not see their own highlight. Where they overlap, the user's wins."""
    text = "The Power of Siberia pipeline carries gas from Russia to China."
    html = annotate(text, spans=[(4, 9), (47, 53)], own=[(13, 29), (47, 62)])
    assert "<mark>Power</mark>" in html
    assert '<mark class="cs-ann">Siberia pipeline</mark>' in html
    assert '<mark class="cs-ann">Russia to China</mark>' in html  # the search's "Russia" inside it
    assert "<mark>Russia" not in html
    assert re.sub(r"<[^>]+>", "", html) == escape(text)
