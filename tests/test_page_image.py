"""The original page of a PDF: rendered in a capped worker, cached by file hash, the passage marked on it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from conftest import EXTRA_CRS
from corpus_search import page_image
from corpus_search.errors import SourceError
from corpus_search.ingest import extract, sha256_file
from corpus_search.models import Document, Record
from corpus_search.passages import split_document
from hostile_pdf import write_hostile_pdf

INTRO = "Before U.S. and Israeli military operations began"


def _document(corpus: Path, name: str, pages: int) -> Document:
    return Document(doc_id="d", path=name, sha256=sha256_file(corpus / name), record=Record(doc_id="d", title="d"),
                    pages=pages)


@pytest.fixture
def report(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(EXTRA_CRS / "reports" / "R48903.3.pdf", corpus / "R48903.3.pdf")
    record = Record(doc_id="d", title="d")
    passages = split_document(record, extract(corpus / "R48903.3.pdf", record).pages, pdf=True).passages
    intro = next(p for p in passages if p.text.startswith(INTRO))
    return corpus, tmp_path / "index", _document(corpus, "R48903.3.pdf", 8), intro


def test_page_is_rendered_once_and_cached_by_file_hash(report) -> None:
    corpus, index, doc, intro = report
    image = page_image.page_image(index, corpus, doc, intro.pdf_page)
    assert image.png.parent == index / "page-images" and image.png.name.startswith(doc.sha256)
    assert image.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 890 <= image.width <= 910 and image.height > image.width  # a portrait letter page, 900 px wide
    assert INTRO in image.chars
    written = image.png.stat().st_mtime_ns
    again = page_image.page_image(index, corpus, doc, intro.pdf_page)
    assert again.png.stat().st_mtime_ns == written and again.chars == image.chars


def test_the_passage_and_a_quotation_in_it_are_marked_where_they_are(report) -> None:
    corpus, index, doc, intro = report
    image = page_image.page_image(index, corpus, doc, intro.pdf_page)
    whole = page_image.boxes_for(image, page_image.text_on_page(intro, intro.pdf_page))
    assert len(whole) >= 10  # one box per line of the paragraph
    start = intro.text.index("As of April 7")
    end = intro.text.index("for fear of attack") + len("for fear of attack")
    quote = page_image.boxes_for(image, page_image.text_on_page(intro, intro.pdf_page, start, end))
    assert 1 <= len(quote) <= 3
    # The quotation's lines lie inside the paragraph's, below its first line.
    assert whole[0].top < quote[0].top and quote[-1].bottom <= whole[-1].bottom + 1e-6
    # Text that is not on the page marks nothing.
    assert page_image.boxes_for(image, "Gazprom and CNPC signed the pipeline contract in Beijing") == []


def test_a_huge_page_is_rendered_within_the_pixel_cap(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    writer = PdfWriter()
    # A strip 200 points wide and 14,400 tall (the most PDF allows): at 900 px wide it would be 58 Mpx.
    writer.add_blank_page(width=200, height=14400)
    with open(corpus / "huge.pdf", "wb") as fh:
        writer.write(fh)
    image = page_image.page_image(tmp_path / "index", corpus, _document(corpus, "huge.pdf", 1), 1)
    assert 3_500_000 <= image.width * image.height <= 4_000_000
    assert abs(image.height / image.width - 72) < 1  # smaller, not cropped or squashed


def test_a_page_that_renders_for_ever_stops_at_the_time_cap(tmp_path: Path, monkeypatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_hostile_pdf(corpus / "bomb.pdf", pages=1, mb_per_page=70)
    monkeypatch.setenv("CORPUS_SEARCH_PAGE_IMAGE_TIMEOUT", "2")
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        page_image.page_image(tmp_path / "index", corpus, _document(corpus, "bomb.pdf", 1), 1)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "\n" not in message and ("2 s" in message or "memory" in message)
    assert not list((tmp_path / "index" / "page-images").glob("*.png*"))  # no image, nor a part of one


@pytest.mark.parametrize("case", ["outside", "changed", "missing", "not-a-page", "broken"])
def test_bad_requests_are_one_clear_error(report, tmp_path: Path, case: str) -> None:
    corpus, index, doc, _ = report
    page = 1
    if case == "outside":
        doc = Document(**{**doc.__dict__, "path": "../../etc/passwd.pdf"})
    elif case == "changed":
        (corpus / doc.path).write_bytes((corpus / doc.path).read_bytes() + b"\n% appended\n")
    elif case == "missing":
        (corpus / doc.path).unlink()
    elif case == "not-a-page":
        page = 9
    elif case == "broken":
        (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer <<>>\n%%EOF\n")
        doc = _document(corpus, "broken.pdf", 1)
    with pytest.raises((SourceError, page_image.UsageError)) as caught:
        page_image.page_image(index, corpus, doc, page)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
