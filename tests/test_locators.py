"""One locator text for the CLI, the app, quote reports and citations."""

from __future__ import annotations

import pytest

from corpus_search.cite import Locator
from corpus_search.locators import EN_DASH, locator_text, passage_locator_text
from corpus_search.models import QuoteMatch
from corpus_search.quote import QuoteReport, render_report
from corpus_search.render import locator as app_locator


@pytest.mark.parametrize(
    "args, kwargs, expected",
    [
        (("page", 17), {}, "p. 17"),
        (("page", 17, 17), {}, "p. 17"),
        (("page", 17, 18), {}, "pp. 17-18"),
        (("page", "xii", "xiv"), {}, "pp. xii-xiv"),
        (("page", 17, 18), {"dash": EN_DASH}, "pp. 17–18"),
        (("paragraph", 6), {}, "para. 6"),
        (("paragraph", 6, 7), {}, "paras. 6-7"),
        (("paragraph", 6, 7), {"mla": True}, "pars. 6-7"),
        (("page", None), {}, ""),
        (("", "3"), {}, ""),
    ],
)
def test_locator_text(args, kwargs, expected):
    assert locator_text(*args, **kwargs) == expected


def test_a_numbered_paragraph_wins_over_the_page():
    assert passage_locator_text(4, 5, 12) == "para. 12"
    assert passage_locator_text(None, None, None, "iii") == "p. iii"


@pytest.mark.parametrize("page_end", [18, 19])
def test_cli_citations_and_app_name_the_same_pages(page_end):
    """A range is "pp." everywhere (the CLI printed "p. 17-18" before); only the app typesets the dash."""
    plain = passage_locator_text(17, page_end)
    assert plain == f"pp. 17-{page_end}"
    assert Locator("page", "17", str(page_end)).text() == plain
    assert app_locator(17, page_end) == plain.replace("-", EN_DASH)


def test_quote_report_names_a_page_range():
    match = QuoteMatch(passage_id="d:0001", doc_id="d", exact=True, similarity=1.0, source_text="the words",
                       start=0, end=9, page=17, page_end=18)
    assert "d, pp. 17-18 [d:0001]" in render_report(QuoteReport("the words", True, (match,), "found"))
    unknown = QuoteMatch(passage_id="d:0002", doc_id="d", exact=True, similarity=1.0, source_text="x", start=0, end=1,
                         pdf_page=3)
    assert "d, page unknown" in render_report(QuoteReport("x", True, (unknown,), "found"))
    # An e-mail or a text file has no pages: none is named, nor said to be unknown.
    pageless = QuoteMatch(passage_id="m:0003", doc_id="m", exact=True, similarity=1.0, source_text="x", start=0, end=1)
    assert "  m [m:0003]" in render_report(QuoteReport("x", True, (pageless,), "found")).splitlines()
