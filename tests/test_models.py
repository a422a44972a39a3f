"""The closed vocabularies of the data model: what a user reads in JSON and on the Documents page."""

from __future__ import annotations

import json

import pytest

from corpus_search.models import PASSAGE_KINDS, Difference, Kind, Status, Verdict, status_ok


def test_kinds_are_the_contract_kinds_and_write_as_plain_strings():
    assert PASSAGE_KINDS == ("body", "heading", "footnote", "caption", "box", "quote")
    assert json.loads(json.dumps({"kind": Kind.FOOTNOTE})) == {"kind": "footnote"}
    assert f"{Verdict.NOT_FOUND}" == "not found" and Difference.NONE == ""


@pytest.mark.parametrize("status", list(Status))
def test_a_status_read_back_as_a_string_is_ok_exactly_when_the_source_was_indexed(status):
    indexed = status in (Status.OK, Status.OK_SKIPPED, Status.OK_OCR)
    assert status_ok(str(status.value)) is indexed


def test_a_status_that_merely_starts_with_ok_is_not_ok():
    assert not status_ok("okay, but not indexed") and not status_ok("")
