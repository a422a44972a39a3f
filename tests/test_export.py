"""Exports: every format parses and a reference manager would find what it needs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import bibtexparser
import pytest
import rispy

from corpus_search.errors import UsageError
from corpus_search.export import CSV_COLUMNS, FORMATS, ExportItem, export
from corpus_search.models import Passage, Record
from corpus_search.records import load_record

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CHAILLOT = load_record(CORPUS / "makocki-popescu-2016-chaillot.txt", CORPUS)
ARTICLE = load_record(CORPUS / "alexeeva-lasserre-2018-china-perspectives.txt", CORPUS)

P17 = Passage("makocki2016:0059", "makocki2016", 59, "Dai Bingo: ‘the relationship is not anything like the "
              "Soviet-Chinese brotherhood’ [sic] & more", page=17, page_end=17)
P34 = Passage("makocki2016:0152", "makocki2016", 152, "Putin is a tactician rather than a strategist.", page=34,
              page_end=34)
PARA = Passage("alexeeva2018:0012", "alexeeva2018", 12, "Is this strategic redirection a coherent strategy?",
               paragraph=6)
ITEMS = [
    ExportItem(P17, CHAILLOT, quote="the relationship is not anything like", offset=12, end_offset=49,
               note="on symmetry"),
    ExportItem(P34, CHAILLOT),
    ExportItem(PARA, ARTICLE, note="the core question"),
]


def test_csv_rows():
    rows = list(csv.DictReader(io.StringIO(export(ITEMS, "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 3
    assert rows[0]["quote"] == "the relationship is not anything like" and rows[0]["page"] == "17"
    assert rows[0]["authors"] == "Michal Makocki; Nicu Popescu" and rows[0]["note"] == "on symmetry"
    assert rows[1]["quote"] == P34.text and rows[1]["locator"] == "p. 34"
    assert rows[2]["paragraph"] == "6" and rows[2]["locator"] == "para. 6"


def test_bibtex_parses_with_unique_keys_and_pages():
    library = bibtexparser.parse_string(export(ITEMS, "bibtex"))
    assert not library.failed_blocks
    entries = library.entries
    assert [e.key for e in entries] == ["makocki2016-p17", "makocki2016-p34", "alexeeva2018"]
    first = {f.key: f.value for f in entries[0].fields}
    assert first["pages"] == "17" and first["year"] == "2016" and first["author"] == "Makocki, Michal and Popescu, Nicu"
    assert "the relationship is not anything like" in first["note"]
    third = {f.key: f.value for f in entries[2].fields}
    assert third["journal"] == "China Perspectives" and third["pages"] == "69--77"


def test_ris_parses():
    entries = rispy.loads(export(ITEMS, "ris"))
    assert [e["type_of_reference"] for e in entries] == ["RPRT", "RPRT", "JOUR"]
    assert [e["start_page"] for e in entries] == ["17", "34", "69"]
    assert entries[0]["authors"] == ["Makocki, Michal", "Popescu, Nicu"]
    assert entries[0]["id"] != entries[1]["id"]
    assert "on symmetry" in entries[0]["notes"][0]


def test_csl_json_is_an_array_zotero_reads():
    data = json.loads(export(ITEMS, "csl-json"))
    assert isinstance(data, list) and len(data) == 3
    for item in data:
        assert {"id", "type", "title", "author", "issued", "page"} <= set(item)
        assert all({"family", "given"} <= set(a) for a in item["author"])
        assert item["issued"]["date-parts"][0][0] in (2016, 2018)
    assert [d["type"] for d in data] == ["report", "report", "article-journal"]
    assert (data[0]["page"], data[0]["locator"], data[0]["label"]) == ("17", "17", "page")
    assert (data[2]["locator"], data[2]["label"]) == ("6", "paragraph")
    assert len({d["id"] for d in data}) == 3


def test_markdown_quotes_and_cites():
    text = export(ITEMS, "markdown")
    assert "> the relationship is not anything like" in text
    assert "*China and Russia: an Eastern partnership in the making?*" in text
    assert "`makocki2016:0059`" in text and "para. 6" in text
    whole = export([ExportItem(P17, CHAILLOT)], "markdown")
    assert "\\[sic\\] \\& more" in whole or "\\[sic\\] & more" in whole  # brackets shown, not read as links


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_handles_an_empty_selection(fmt):
    assert isinstance(export([], fmt), str)


def test_unknown_format_lists_the_valid_ones():
    with pytest.raises(UsageError) as err:
        export(ITEMS, "docx")
    assert all(fmt in str(err.value) for fmt in FORMATS)


# ---------------------------------------------------------------- hostile records and text

HOSTILE_TITLE = 'Evil} , note = {pwned}}\n@misc{injected, title={x}}\n% 100\\% # & $5 _under ~tilde {'
HOSTILE_TEXT = '=HYPERLINK("http://evil.example","click")\r\nTY  - JOUR\nER  - \n@article{inj, title={y}}'
HOSTILE = Record("evil}doc\n@misc{x", HOSTILE_TITLE, authors=("+Eve Hacker",), publisher="@Pub\tInc", year=2020,
                 url="https://example.org/a}b{c")
HOSTILE_PASSAGE = Passage("evil:0001", "evil", 1, HOSTILE_TEXT, page=3, page_end=3)
HOSTILE_ITEMS = [ExportItem(HOSTILE_PASSAGE, HOSTILE, note="-2+3"), ExportItem(P34, CHAILLOT)]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_hostile_bibtex_is_one_entry_per_item_and_round_trips_as_data():
    from bibtexparser.middlewares import LatexDecodingMiddleware

    text = export(HOSTILE_ITEMS, "bibtex")
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware(keep_math_mode=False)])
    assert not library.failed_blocks
    assert len(library.entries) == 2  # nothing injected
    first = library.entries[0]
    assert "@" not in first.key and "}" not in first.key and "\n" not in first.key
    assert set(first.fields_dict) >= {"title", "note", "author"} and "injected" not in text.split("title")[0]
    # Decoded, the hostile title is the title (its line breaks collapsed): data, not syntax.
    assert first.fields_dict["title"].value == _flat(HOSTILE_TITLE)
    assert _flat(HOSTILE_TEXT) in first.fields_dict["note"].value
    # The raw file's braces balance inside every field, as BibTeX counts them (backslashes ignored).
    for line in text.splitlines():
        if " = {" in line:
            value = line.split(" = {", 1)[1].rstrip(",")[:-1]
            assert value.count("{") == value.count("}"), line
    assert library.entries[1].fields_dict["title"].value == CHAILLOT.title


def test_hostile_ris_cannot_inject_tags():
    text = export(HOSTILE_ITEMS, "ris")
    entries = rispy.loads(text)
    assert len(entries) == 2
    first = entries[0]
    assert first["title"] == _flat(HOSTILE_TITLE)
    assert first["type_of_reference"] == "RPRT"  # the text's "TY  - JOUR" line did not become a tag
    assert any(_flat(HOSTILE_TEXT) in note for note in first["notes"])
    # Every line is a tag line: nothing a value held started a line of its own.
    assert all(line[:2].isalnum() and line[2:6] == "  - " for line in text.splitlines() if line)


def test_hostile_csv_cells_are_neutralised_for_spreadsheets():
    rows = list(csv.DictReader(io.StringIO(export(HOSTILE_ITEMS, "csv"))))
    assert len(rows) == 2
    first = rows[0]
    assert first["quote"] == "'" + HOSTILE_TEXT  # the text itself, behind a quote a spreadsheet shows as text
    assert first["authors"] == "'+Eve Hacker" and first["publisher"] == "'@Pub\tInc" and first["note"] == "'-2+3"
    assert first["title"] == HOSTILE_TITLE  # starts with a letter: left alone
    for row in rows:
        for value in row.values():
            assert not value or value[0] not in "=+-@\t\r", value


def test_hostile_markdown_cannot_break_out():
    text = export(HOSTILE_ITEMS, "markdown")
    first = text.split("\n\n2. ")[0]
    head = first.splitlines()[0]
    assert head.startswith("1. ") and "@misc{injected" in head  # the citation, title and all, on one line
    assert "\\#" in head and "\\_under" in head  # markup characters shown as written
    assert not any(line.startswith("@") or line.startswith("TY") for line in first.splitlines())
