"""A PDF's own title and authors (its information dictionary) name it when no .toml record does."""

from __future__ import annotations

import pytest
from pypdf import PdfReader, PdfWriter

from corpus_search.extractors.common import stated_metadata
from corpus_search.extractors.pdf import extract
from corpus_search.models import Record
from corpus_search.records import with_found
from tests.conftest import EXTRA_CRS


def test_a_crs_report_names_its_title_and_authors():
    """The cited PDF was "R48903.3 (n.d.)": its file name. Its properties name the report and its two authors."""
    path = EXTRA_CRS / "reports" / "R48903.3.pdf"
    guessed = Record(doc_id="r48903.3", title="R48903.3", guessed=True, title_guessed=True)
    found = extract(path, guessed).found
    assert found == {"title": "The Strait of Hormuz in Brief: Non-Oil Shipments and Effects on U.S. Shippers",
                     "authors": ["John Frittelli", "Ben Goldman"]}
    record = with_found(guessed, found)
    assert record.title.startswith("The Strait of Hormuz") and record.authors == ("John Frittelli", "Ben Goldman")
    # What a .toml record says wins.
    declared = Record(doc_id="r48903.3", title="Strait of Hormuz", authors=("CRS",))
    assert with_found(declared, found) == declared


@pytest.mark.parametrize("info, expected", [
    ({"title": "Microsoft Word - draft3.docx", "author": "jsmith"}, {}),
    ({"title": "Untitled-1", "author": "Administrator"}, {}),
    ({"title": "report_final_v2.pdf", "author": "Microsoft Office User"}, {}),
    ({"title": "IF10491", "author": "user01"}, {}),  # an identifier, an account
    ({"title": "Geometrie und Topologie", "author": "Martin Thoma"},
     {"title": "Geometrie und Topologie", "authors": ["Martin Thoma"]}),
    ({"author": "Smith, John"}, {"authors": ["Smith, John"]}),  # one name, surname first: not split
    ({"author": "Anna Berg; Li Wei"}, {"authors": ["Anna Berg", "Li Wei"]}),
    ({"author": "UNICEF"}, {"authors": ["UNICEF"]}),
    ({"author": "Department of Health and Human Services"}, {"authors": ["Department of Health and Human Services"]}),
    ({"author": "Johnson & Johnson"}, {"authors": ["Johnson & Johnson"]}),
    ({"author": "Clayton Thomas, Christopher M. Blanchard, and Jim Zanotti"},
     {"authors": ["Clayton Thomas", "Christopher M. Blanchard", "Jim Zanotti"]}),
])
def test_what_reads_as_a_title_and_names(info, expected):
    assert stated_metadata(info) == expected


def test_a_pdf_whose_properties_are_junk_keeps_its_file_name(tmp_path):
    source = PdfReader(EXTRA_CRS / "reports" / "R48903.3.pdf")
    writer = PdfWriter()
    writer.add_page(source.pages[2])
    writer.add_metadata({"/Title": "Microsoft Word - R48903 draft.docx", "/Author": "Administrator"})
    path = tmp_path / "draft.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    assert extract(path, Record(doc_id="draft", title="draft", guessed=True)).found == {}
