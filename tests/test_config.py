"""Settings are data: every one is documented in the README with its default, and bad values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus_search import config
from corpus_search.errors import UsageError

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", config.SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_readme_with_its_default(setting):
    # The settings table's row, not a paragraph that names the variable before the table does.
    row = next((line for line in README.splitlines() if line.startswith(f"| `CORPUS_SEARCH_{setting.name.upper()}`")), None)
    assert row is not None, f"README does not document CORPUS_SEARCH_{setting.name.upper()}"
    assert (f"`{setting.default}`" if setting.default else "(empty)") in row


def test_a_bad_number_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CORPUS_SEARCH_RRF_K", "sixty")
    with pytest.raises(UsageError, match="CORPUS_SEARCH_RRF_K"):
        config.get_int("rrf_k")


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "-5"])
def test_a_duration_that_is_not_a_finite_number_of_zero_or_more_is_a_clear_error(monkeypatch, value):
    # nan and inf were an internal error in every build; -5 failed every source "over the time cap (-5 s)".
    monkeypatch.setenv("CORPUS_SEARCH_PDF_TIMEOUT", value)
    with pytest.raises(UsageError, match="CORPUS_SEARCH_PDF_TIMEOUT"):
        config.get_float("pdf_timeout")
