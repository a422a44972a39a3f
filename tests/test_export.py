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
from corpus_search.models import Passage
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
