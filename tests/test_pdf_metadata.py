"""A PDF's own title and authors (its information dictionary) name it when no .toml record does."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pypdf import PdfReader, PdfWriter

from corpus_search.extractors.common import printed_date, stated_metadata
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
                     "authors": ["John Frittelli", "Ben Goldman"], "date": "2026-04-10"}
    record = with_found(guessed, found)
    assert record.title.startswith("The Strait of Hormuz") and record.authors == ("John Frittelli", "Ben Goldman")
    # What a .toml record says wins; what it leaves out (here the date) the file fills in.
    declared = Record(doc_id="r48903.3", title="Strait of Hormuz", authors=("CRS",))
    assert with_found(declared, found) == replace(declared, date="2026-04-10", year=2026)


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


@pytest.mark.parametrize("name, date", [
    ("in-focus/IF10491.14.pdf", "2026-04-10"),  # "Updated April 10, 2026" under the site's address
    ("insights/IN12678v4-u-s-iran-ceasefire-assessment-reactions-and-issu.pdf", "2026-04-09"),  # under a banner
])
def test_a_pdf_without_a_record_is_dated_by_the_date_its_first_page_prints(name, date):
    """A PDF attached to an e-mail, or saved with no .toml, was cited "(n.d.)" though its first page says when."""
    path = EXTRA_CRS / name
    guessed = Record(doc_id="x", title="x", guessed=True, title_guessed=True)
    record = with_found(guessed, extract(path, guessed).found)
    assert (record.date, record.year) == (date, int(date[:4]))
    # A record's own date still wins.
    assert with_found(Record(doc_id="x", title="x", date="2025-01-02", year=2025), {"date": date}).date == "2025-01-02"


@pytest.mark.parametrize("page, expected", [
    ("https://crsreports.congress.gov\nUpdated April 22, 2026\nRussia's Nuclear Weapons\n", "2026-04-22"),
    ("Title of the paper\n10 March 2016\nAbstract", "2016-03-10"),
    ("Occasional paper\nPublished: Sept. 2019\n", "2019-09"),
    ("Minutes\nDate: 2024-11-05\n", "2024-11-05"),
    ("Working paper\nDecember 2016\n", "2016-12"),
    # Dates the text talks about, not when it was written: in a sentence, a range, too far down, impossible.
    ("Title\nOn April 7, 2026, the United States and Iran agreed to a ceasefire.\n", None),
    ("Title\nJanuary 2020 - March 2021\n", None),
    ("\n".join(["Line"] * 20) + "\nApril 1, 2020", None),
    ("Title\nFebruary 31, 2020\nMarch 2999\n", None),
    ("Table of figures\n2019\n", None),  # a year alone is a heading or a table cell
])
def test_which_lines_are_a_documents_own_date(page, expected):
    assert printed_date(page, latest_year=2027) == expected


def test_word_text_and_markdown_files_are_dated_by_their_printed_date_too(tmp_path):
    """The same rule for every format whose file states no date: a memo's "Date: 3 March 2026" line."""
    import shutil
    import subprocess

    from corpus_search.extractors import docx, markdown, text

    body = "Memorandum on port fees\n\nDate: 3 March 2026\n\nOn 1 January 2025, the fees rose by a third.\n"
    guessed = Record(doc_id="m", title="m", guessed=True, title_guessed=True)
    (tmp_path / "memo.txt").write_text(body, encoding="utf-8")
    assert text.extract(tmp_path / "memo.txt", guessed).found == {"date": "2026-03-03"}
    (tmp_path / "memo.md").write_text("# " + body, encoding="utf-8")
    assert markdown.extract(tmp_path / "memo.md", guessed).found == {"title": "Memorandum on port fees",
                                                                     "date": "2026-03-03"}
    # Front matter that states a date wins over the printed one.
    (tmp_path / "front.md").write_text("---\ndate: 2025-12-01\n---\n# " + body, encoding="utf-8")
    assert markdown.extract(tmp_path / "front.md", guessed).found["date"] == "2025-12-01"
    if shutil.which("pandoc") is None:
        pytest.skip("pandoc is not installed (make pandoc)")
    subprocess.run(["pandoc", str(tmp_path / "memo.txt"), "-f", "markdown", "-o", str(tmp_path / "memo.docx")],
                   check=True, timeout=120)
    assert docx.extract(tmp_path / "memo.docx", guessed).found.get("date") == "2026-03-03"
    # A date the text talks about is not the document's.
    (tmp_path / "event.txt").write_text("Port fees\n\nOn 1 January 2025, the fees rose.\n", encoding="utf-8")
    assert "date" not in text.extract(tmp_path / "event.txt", guessed).found
