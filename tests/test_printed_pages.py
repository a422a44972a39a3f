"""Printed page numbers read from the pages when a PDF declares no /PageLabels."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import EXTRA_CRS, GEOTOPO
from corpus_search import pdf_worker
from corpus_search.ingest import extract
from corpus_search.models import Record
from corpus_search.printed_pages import detect
from corpus_search.records import load_record
from test_cli import run

R48903 = EXTRA_CRS / "reports" / "R48903.3.pdf"
INTRO = "Before U.S. and Israeli military operations began"


def test_report_without_record_gets_the_pages_its_footers_print(tmp_path: Path) -> None:
    # The MANIFEST beside the file: a cover and a contents page, so the printed "1" is PDF page 3.
    source = tmp_path / "R48903.3.pdf"
    shutil.copy(R48903, source)
    record = load_record(source, tmp_path)
    assert record.guessed
    pages = extract(source, record).pages
    assert [p.label for p in pages] == [None, None, "1", "2", "3", "4", "5", "6"]


def test_a_record_page_offset_still_overrides(tmp_path: Path) -> None:
    pages = extract(R48903, Record(doc_id="r", title="r", page_offset=10)).pages
    assert [p.label for p in pages] == [str(n) for n in range(11, 19)]


def test_declared_page_labels_are_kept() -> None:
    pages = extract(GEOTOPO, Record(doc_id="g", title="g")).pages
    assert [p.label for p in pages[:5]] == ["i", "ii", "iii", "1", "2"]


def test_detection_agrees_with_declared_labels_on_a_long_book() -> None:
    # GeoTopo (117 pages, LaTeX) declares its labels: reading its pages alone must find the same numbers.
    result = pdf_worker.extract(str(GEOTOPO), None)
    declared = result["labels"]
    found = detect([p.get("text", "") for p in result["pages"]])
    arabic = [i for i, label in enumerate(declared) if label.isdigit()]
    assert len(arabic) == 114
    assert [found[i] for i in arabic] == [declared[i] for i in arabic]
    # Its front matter prints no number: no label is invented for it.
    assert found[:3] == [None, None, None]


@pytest.mark.parametrize("texts", [
    [],
    ["no numbers here"] * 5,
    ["Table 1 shows", "In 2019 the", "Figure 7", "Footnote 3 text"],  # numbers that agree on no sequence
    ["7 CRS Report R45281, Iran Conflict", "14 Alexis Ellender", "24 U.S. Census Bureau", "31 U.S. Census"],
])
def test_no_numbering_means_no_labels(texts) -> None:
    assert detect(texts) is None


def test_roman_front_matter_then_arabic() -> None:
    pages = ["Title page\nA Book"] + [f"Preface text\n{r}" for r in ("ii", "iii", "iv")] + [
        f"Chapter text line\nmore text\n{n}" for n in range(1, 7)]
    assert detect(pages) == [None, "ii", "iii", "iv", "1", "2", "3", "4", "5", "6"]


def test_quote_and_cite_give_the_printed_page(paged_index: Path) -> None:
    proc = run("search", INTRO, "--mode", "keyword", "--json", "--limit", "1", index=paged_index)
    assert proc.returncode == 0, proc.stderr
    hit = json.loads(proc.stdout)["results"][0]
    assert (hit["page"], hit["pdf_page"]) == (1, 3)

    proc = run("quote", INTRO, "--json", index=paged_index)
    assert proc.returncode == 0, proc.stderr
    match = json.loads(proc.stdout)["matches"][0]
    assert match["exact"] and (match["page"], match["pdf_page"]) == (1, 3)
    assert "1" in match["citation"] and ", 3." not in match["citation"]

    proc = run("cite", hit["passage_id"], index=paged_index)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(", 1.")

    passages = json.loads(run("passages", "--json", index=paged_index).stdout)
    excerpt = [p for p in passages if p["doc_id"] == "geotopo-auszug"]
    # Three pages cut from GeoTopo (its PDF pages 6-8 print 3-5) keep the numbers they print.
    assert {p["pdf_page"] for p in excerpt} == {1, 2, 3}
    assert {p["page"] for p in excerpt} == {3, 4, 5}


def test_a_record_page_offset_of_zero_switches_detection_off(tmp_path: Path) -> None:
    """An explicit page_offset = 0 says the PDF's pages are the printed pages: no number is read from them."""
    detected = extract(R48903, Record(doc_id="r", title="r")).pages
    explicit = extract(R48903, Record(doc_id="r", title="r", page_offset=0)).pages
    assert [p.label for p in detected][:4] != ["1", "2", "3", "4"]  # the footers say otherwise
    assert [p.label for p in explicit] == [str(i + 1) for i in range(len(explicit))]


def test_a_page_offset_in_a_record_file_is_read_as_given(tmp_path: Path) -> None:
    from corpus_search.errors import SourceError
    from corpus_search.records import record_from_dict

    assert record_from_dict({}, "x").page_offset is None
    assert record_from_dict({"page_offset": 0}, "x").page_offset == 0
    assert record_from_dict({"page_offset": "4"}, "x").page_offset == 4
    with pytest.raises(SourceError, match="page_offset"):
        record_from_dict({"page_offset": "four"}, "x")
