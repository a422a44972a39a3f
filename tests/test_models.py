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


def test_entities_that_appear_together_equally_often_are_listed_by_name(tmp_path):
    """`entities --json` lists co-occurring names in the same order in every run (ties by name)."""
    from corpus_search.models import Mention
    from corpus_search.store import Store

    store = Store.create(tmp_path / "store.db")
    others = ["Zeta Corp", "alpha", "Mid Org", "Beta", "Yukos", "Gazprom"]
    mentions = [Mention("p0", 0, 4, "Hub", "Hub", "ORG"), Mention("p0", 5, 9, "Zeta", "Zeta Corp", "ORG")]
    for i, name in enumerate(others):
        mentions += [Mention(f"p{i + 1}", 0, 4, "Hub", "Hub", "ORG"), Mention(f"p{i + 1}", 5, 9, name, name, "ORG")]
    store.add_mentions(mentions)
    hub = next(e for e in store.entities(cooccurring=4) if e.name == "Hub")
    assert hub.cooccurring == (("Zeta Corp", 2), ("alpha", 1), ("Beta", 1), ("Gazprom", 1))
