"""render: document text becomes inert HTML; only our own tags reach the page."""

from __future__ import annotations

import re

import pytest

from corpus_search.render import (
    authors_line,
    diff_html,
    escape,
    highlight,
    highlight_snippet,
    locator,
    merge_spans,
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
