"""The same text in several places (a PDF saved in the corpus and sent in two e-mails) is one result naming the others."""

from __future__ import annotations

import contextlib
import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from formats_fixtures import eml, message

PDF = Path(__file__).resolve().parents[2] / "shared/testdata/pdf/sample-files/001-trivial/minimal-document.pdf"
pytestmark = pytest.mark.skipif(not PDF.is_file(), reason="needs ../shared/testdata/pdf")
QUERY = "Lorem ipsum dolor sit amet consetetur sadipscing"
PLAN = ("The western route would carry gas from the Yamal fields through the Altai mountains to Xinjiang, "
        "and the talks on its price have stalled since the spring.")


@pytest.fixture(scope="module")
def copies_index(tmp_path_factory) -> Path:
    """memo.pdf in the corpus, and attached to two e-mails whose own words are the same short line."""
    from corpus_search.api import build

    folder = tmp_path_factory.mktemp("copies-corpus")
    memo = shutil.copy(PDF, folder / "memo.pdf")
    for i, (sender, date) in enumerate((("Jane Roe <jane@example.org>", "Mon, 13 Apr 2026 09:00:00 +0000"),
                                        ("Max Poe <max@example.org>", "Tue, 14 Apr 2026 10:30:00 +0000")), 1):
        eml(folder / f"mail-{i}.eml", message("See the memo attached.\n", f"Memo {i}", sender,
                                              "desk@example.org", date, [Path(memo)]))
    # A message, and a reply that quotes it with ">" marks: the quoted paragraph is the message's, twice.
    eml(folder / "plan.eml", message(PLAN + "\n", "Route", "Ann Lee <ann@example.org>", "desk@example.org",
                                     "Wed, 15 Apr 2026 08:00:00 +0000"))
    quoted = "\n".join("> " + line for line in textwrap.wrap(PLAN, 70))
    eml(folder / "reply.eml", message(f"Agreed, let us say so.\n\nOn Wed, 15 Apr 2026, Ann Lee <ann@example.org> "
                                      f"wrote:\n{quoted}\n", "Re: Route", "Max Poe <max@example.org>",
                                      "ann@example.org", "Thu, 16 Apr 2026 09:00:00 +0000"))
    index = tmp_path_factory.mktemp("copies-index")
    build(folder, index)
    return index


@pytest.fixture(scope="module")
def opened(copies_index):
    from corpus_search.api import Corpus

    with contextlib.closing(Corpus.open(copies_index)) as c:
        yield c


def _lorem(hits):
    return [h for h in hits if h.passage.text.startswith("Lorem ipsum")]


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_three_copies_of_one_text_are_one_result_naming_the_other_two(opened, mode):
    result = opened.search(QUERY, mode=mode, limit=5)
    shown = _lorem(result.hits)
    assert len(shown) == 1
    hit = shown[0]
    assert len(hit.copies) == 2
    docs = {hit.passage.doc_id, *(c.doc_id for c in hit.copies)}
    assert len(docs) == 3  # the PDF and the attachment in each e-mail
    assert all(" ".join(c.text.split()) == " ".join(hit.passage.text.split()) for c in hit.copies)
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))


def test_the_page_is_filled_past_the_copies(opened):
    """Two copies taken out of a page of three leave room for the next results, not a shorter page."""
    collapsed = opened.search(QUERY, mode="hybrid", limit=3)
    assert len(collapsed.hits) == 3
    assert len(_lorem(collapsed.hits)) == 1  # the other two are the e-mails' own words


def test_short_texts_alike_are_not_copies(opened):
    """Both e-mails say "See the memo attached.": two messages, not one text with a second place."""
    result = opened.search("See the memo attached", mode="keyword", limit=10)
    bodies = [h for h in result.hits if h.passage.text.startswith("See the memo attached")]
    assert len(bodies) == 2 and not any(h.copies for h in bodies)


def test_a_reply_quoting_a_message_the_corpus_holds_shows_the_message_naming_the_reply(opened):
    """The reply's quotation is the message's words: whichever ranks first, the card is the message's own."""
    # The last query's words are the reply's ("Ann Lee ... wrote"): its quotation ranks above the message.
    for mode, query in (("keyword", "western route Altai mountains Xinjiang price talks"),
                        ("semantic", "western route Altai mountains Xinjiang price talks"),
                        ("hybrid", "western route Altai mountains Xinjiang price talks"),
                        ("keyword", "Ann Lee wrote western route Altai")):
        hits = opened.search(query, mode=mode).hits
        shown = [h for h in hits if "The western route" in h.passage.text]
        assert len(shown) == 1, (mode, query)
        assert shown[0].passage.kind == "body" and shown[0].passage.doc_id.startswith("plan"), (mode, query)
        assert [c.kind for c in shown[0].copies] == ["quote"], (mode, query)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_the_setting_at_zero_shows_every_copy(opened, monkeypatch):
    monkeypatch.setenv("CORPUS_SEARCH_COLLAPSE_COPIES_CHARS", "0")
    shown = _lorem(opened.search(QUERY, mode="hybrid", limit=5).hits)
    assert len(shown) == 3 and not any(h.copies for h in shown)


def test_json_and_the_cli_name_the_other_places(copies_index):
    from corpus_search.cli import cli

    out = CliRunner().invoke(cli, ["--index", str(copies_index), "search", QUERY, "--mode", "keyword", "--json"])
    assert out.exit_code == 0, out.output
    first = [r for r in json.loads(out.output)["results"] if r["text"].startswith("Lorem ipsum")]
    assert len(first) == 1 and len(first[0]["copies"]) == 2
    assert {c["doc_id"] for c in first[0]["copies"]} | {first[0]["doc_id"]} == {
        d for d in _doc_ids(copies_index)}
    assert all(c["page"] == 1 and c["title"] for c in first[0]["copies"])
    text = CliRunner().invoke(cli, ["--index", str(copies_index), "search", QUERY, "--mode", "keyword"])
    assert text.exit_code == 0
    line = next(x for x in text.output.splitlines() if "also in:" in x)
    assert line.count("[") == 2 and "(p. 1)" in line


def _doc_ids(index: Path) -> set[str]:
    """The three documents that hold the PDF's text: the file and the two attachments."""
    from corpus_search.api import Corpus

    with contextlib.closing(Corpus.open(index)) as c:
        return {d.doc_id for d in c.store.documents() if d.doc_id.startswith("memo") or d.attachment == "memo.pdf"}
