"""OCR of scanned PDFs: real CRS reports rasterised at 200 dpi (no text layer), read by Tesseract in a build."""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from pathlib import Path

import pytest
from scans import crs_pdfs, rasterise, text_layer, write_image_pdf

from corpus_search import ocr
from corpus_search.models import STATUS_NO_TEXT, STATUS_OK, STATUS_OK_OCR, Record

pytestmark = [
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed (make tesseract)"),
    pytest.mark.skipif(len(crs_pdfs()) < 2, reason="CRS test PDFs missing"),
]


def _words(text: str) -> list[str]:
    return text.split()


def _plain_run(text: str, length: int = 20, skip: int = 30) -> str:
    """`length` consecutive words of running prose (letters and punctuation only), after the first `skip` words."""
    words = _words(text)
    run: list[str] = []
    for i, word in enumerate(words):
        if i >= skip and re.fullmatch(r"[A-Za-z][a-z]*[.,;:]?", word):
            run.append(word)
            if len(run) == length:
                return " ".join(run)
        else:
            run = []
    raise AssertionError("no run of plain words on that page")


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """A corpus with: a report only as a scan, another report both born-digital and scanned, and hostile scans."""
    from corpus_search.api import build

    root = tmp_path_factory.mktemp("ocr")
    corpus = root / "corpus"
    corpus.mkdir()
    only_scan, both = crs_pdfs()[0], crs_pdfs()[1]
    rasterise(only_scan, corpus / "scan-only.pdf")
    rasterise(both, corpus / "scan-copy.pdf")
    shutil.copy(both, corpus / "born-digital.pdf")
    # Hostile: 500 image-only pages, and a 30,000 x 30,000 px page, each a few KB to a few hundred KB.
    write_image_pdf(corpus / "five-hundred-pages.pdf", 500, (612, 792), (200, 260))
    write_image_pdf(corpus / "huge-page.pdf", 1, (10800, 10800), (30000, 30000))
    index = root / "index"
    progress = _Recorder()
    started = time.monotonic()
    report = build(corpus, index, progress=progress)
    return {"corpus": corpus, "index": index, "report": report, "seconds": time.monotonic() - started,
            "only_scan": only_scan, "both": both, "log": progress.lines}


class _Recorder:
    """Build progress as the CLI gets it (its `log` lines go to stderr)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def stage(self, name: str, total: int) -> None: ...

    def advance(self, done: int) -> None: ...

    def log(self, message: str) -> None:
        self.lines.append(message)


@contextlib.contextmanager
def _opened(index: Path):
    from corpus_search.api import Corpus

    corpus = Corpus.open(index)
    try:
        yield corpus
    finally:
        corpus.close()


def _source(report, path: str):
    return next(s for s in report.sources if s.path == path)


def test_the_test_scans_have_no_text_layer(scanned):
    for name in ("scan-only.pdf", "scan-copy.pdf"):
        assert text_layer(scanned["corpus"] / name).strip() == ""


def test_a_scanned_report_builds_ok_ocr_with_confidence(scanned):
    src = _source(scanned["report"], "scan-only.pdf")
    assert src.status == STATUS_OK_OCR, src.line()
    assert "read by OCR" in src.message and src.passages > 5
    assert "ok (OCR)" in src.line()
    with _opened(scanned["index"]) as corpus:
        passages = corpus.passages(src.doc_id)
        assert passages and all(p.ocr for p in passages)
        assert all(p.ocr_confidence is not None and 50 < p.ocr_confidence <= 100 for p in passages)
        exported = corpus.passages_json(src.doc_id)[0]
        assert exported["ocr"] is True and exported["ocr_confidence"] == passages[0].ocr_confidence
        born = corpus.passages(_source(scanned["report"], "born-digital.pdf").doc_id)
        assert born and not any(p.ocr for p in born)
        # The status is what `documents` lists.
        assert corpus.document(src.doc_id).status == STATUS_OK_OCR


def test_a_scan_being_ocrd_reports_pages_done_and_time_left(scanned):
    lines = [ln for ln in scanned["log"] if ln.startswith("scan-only.pdf: OCR ")]
    assert lines, scanned["log"]
    assert all(re.fullmatch(r"scan-only\.pdf: OCR [12]/3 pages, about \d+:\d\d left", ln) for ln in lines), lines


def test_hostile_scans_end_with_one_line_and_nothing_else_is_affected(scanned):
    report = scanned["report"]
    pages = _source(report, "five-hundred-pages.pdf")
    assert pages.status == STATUS_NO_TEXT and pages.passages == 0
    assert "500 pages need OCR" in pages.message and "CORPUS_SEARCH_OCR_MAX_PAGES" in pages.message
    huge = _source(report, "huge-page.pdf")
    assert huge.status == STATUS_NO_TEXT and huge.passages == 0
    assert "30000 x 30000 px" in huge.message and "CORPUS_SEARCH_OCR_MAX_PIXELS" in huge.message
    for src in (pages, huge):
        assert "\n" not in src.line() and len(src.line()) < 400
    assert _source(report, "born-digital.pdf").status == STATUS_OK
    assert _source(report, "scan-copy.pdf").status == STATUS_OK_OCR


def test_a_quotation_from_the_born_digital_copy_is_found_on_the_same_page_of_the_scan(scanned):
    from pypdf import PdfReader

    page_text = PdfReader(scanned["both"]).pages[1].extract_text()
    quotation = _plain_run(page_text)
    assert len(quotation.split()) == 20
    report = scanned["report"]
    scan_id = _source(report, "scan-copy.pdf").doc_id
    born_id = _source(report, "born-digital.pdf").doc_id
    with _opened(scanned["index"]) as corpus:
        result = corpus.quote(quotation)
        assert result.found, result.to_json()
        by_doc = {m.doc_id: m for m in result.matches}
        assert scan_id in by_doc and born_id in by_doc, result.to_json()
        assert by_doc[scan_id].page == by_doc[born_id].page
        assert by_doc[scan_id].ocr and not by_doc[born_id].ocr
        data = result.to_json()
        scan_json = next(m for m in data["matches"] if m["doc_id"] == scan_id)
        assert scan_json["ocr"] is True and "ocr_equivalent" in scan_json


@pytest.mark.parametrize("ocr_has, typed_as", [("m", "rn"), ("e", "c"), ("i", "l")])
def test_a_quotation_that_differs_only_by_ocr_confusions_says_where(scanned, ocr_has, typed_as):
    from corpus_search.quote import render_report

    scan_id = _source(scanned["report"], "scan-only.pdf").doc_id
    with _opened(scanned["index"]) as corpus:
        passage = max(corpus.passages(scan_id), key=lambda p: len(p.text))
        words = passage.text.split()[:15]
        # The clean copy and the OCR text differ by what Tesseract confuses: here "m" typed where OCR has "rn"
        # ("e" where it read "c", "I" where it read "L").
        target = next(i for i, w in enumerate(words) if ocr_has in w and w.isalpha())
        typed = list(words)
        typed[target] = words[target].replace(ocr_has, typed_as, 1)
        result = corpus.quote(" ".join(typed))
        assert result.found
        match = next(m for m in result.matches if m.doc_id == scan_id)
        assert match.ocr and not match.exact
        assert [eq["quote"] for eq in match.ocr_equivalent] == [typed[target]]
        eq = match.ocr_equivalent[0]
        assert passage.text[eq["start"]:eq["end"]] == words[target]
        text = render_report(result)
        assert "modulo OCR confusions" in text and repr(words[target]) in text


def test_semantic_search_finds_a_passage_that_exists_only_in_a_scan(scanned):
    from pypdf import PdfReader

    sentence = _plain_run(PdfReader(scanned["only_scan"]).pages[0].extract_text(), length=14, skip=60)
    scan_id = _source(scanned["report"], "scan-only.pdf").doc_id
    with _opened(scanned["index"]) as corpus:
        result = corpus.search(sentence, mode="semantic", limit=3)
        assert result.hits and result.hits[0].passage.doc_id == scan_id
        assert result.hits[0].passage.ocr
        assert corpus.hit_json(result.hits[0])["ocr"] is True


def test_page_words_gives_ocr_boxes_in_pdf_points(scanned):
    """The OCR box of a word sits where the born-digital PDF draws that word (pdfium's character boxes)."""
    import pypdfium2 as pdfium

    scan_id = _source(scanned["report"], "scan-only.pdf").doc_id
    with _opened(scanned["index"]) as corpus:
        sha = corpus.document(scan_id).sha256
    cache = ocr.cache_dir(scanned["index"])
    words = ocr.page_words(cache, sha, 1)
    assert words and len(words) > 100
    pdf = pdfium.PdfDocument(str(scanned["only_scan"]))
    page = pdf[1]
    height = page.get_size()[1]
    textpage = page.get_textpage()
    counts: dict[str, int] = {}
    for w in words:
        counts[w.text] = counts.get(w.text, 0) + 1
    sample = [w for w in words if w.confidence >= 90 and len(w.text) >= 8 and w.text.isalpha() and counts[w.text] == 1]
    assert len(sample) >= 10
    agree = 0
    for w in sample[:40]:
        found = textpage.search(w.text, match_case=True, match_whole_word=True).get_next()
        if found is None:
            continue
        left, _bottom, _right, top = textpage.get_charbox(found[0])
        agree += abs(left - w.bbox[0]) < 4 and abs((height - top) - w.bbox[1]) < 4
    pdf.close()
    assert agree >= 0.8 * min(len(sample), 40)
    assert ocr.page_words(cache, sha, 99) is None
    assert ocr.page_words(cache, "../../etc/passwd", 0) is None


def test_a_rebuild_of_an_unchanged_scan_ocrs_nothing(scanned):
    from corpus_search.api import build

    cache = ocr.cache_dir(scanned["index"])
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.rglob("*.json")}
    assert len(before) > 6
    with _opened(scanned["index"]) as corpus:
        old = [p.text for p in corpus.passages(_source(scanned["report"], "scan-only.pdf").doc_id)]
    report = build(scanned["corpus"], scanned["index"], force=True)  # every source extracted again
    assert _source(report, "scan-only.pdf").status == STATUS_OK_OCR
    pages = sorted(cache.glob("pages/*/*.json"))
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in pages}
    assert after == {p: v for p, v in before.items() if "pages" in p.parts}  # no page written again
    with _opened(scanned["index"]) as corpus:
        assert [p.text for p in corpus.passages(_source(report, "scan-only.pdf").doc_id)] == old


def test_a_damaged_cache_file_is_read_again_not_trusted(tmp_path):
    scan = rasterise(crs_pdfs()[0], tmp_path / "scan.pdf", pages=[0])
    cache = tmp_path / "cache"
    first = ocr.read_pages(scan, [0], None, ocr.Options(cache=cache))
    assert first.tesseract_runs == 1 and first.pages[0].text.strip()
    (entry,) = cache.glob("pages/*/*.json")
    entry.write_text('{"format": 1, "text": 5, "words": "x"}')
    again = ocr.read_pages(scan, [0], None, ocr.Options(cache=cache))
    assert again.tesseract_runs == 1 and again.pages[0].text == first.pages[0].text
    assert ocr.read_pages(scan, [0], None, ocr.Options(cache=cache)).tesseract_runs == 0


def test_a_missing_language_pack_is_one_line_naming_the_package(tmp_path):
    scan = rasterise(crs_pdfs()[0], tmp_path / "scan.pdf", pages=[0])
    outcome = ocr.read_pages(scan, [0], None, ocr.Options(language="xyz_qq"))
    assert not outcome.pages
    assert "tesseract-ocr-xyz-qq" in outcome.stopped and "CORPUS_SEARCH_OCR_LANGUAGE" in outcome.stopped
    assert "\n" not in outcome.stopped


def test_ocr_stops_at_the_time_cap_with_a_status_naming_the_setting(tmp_path, monkeypatch):
    from corpus_search.source_worker import process

    scan = rasterise(crs_pdfs()[2], tmp_path / "scan.pdf")
    monkeypatch.setenv("CORPUS_SEARCH_PDF_TIMEOUT", "6")  # OCR gets 1 s of it: not enough for 3 pages
    started = time.monotonic()
    result = process(scan, Record(doc_id="scan", title="scan"), tmp_path / "cache")
    assert time.monotonic() - started < 10
    assert result.status == STATUS_NO_TEXT and not result.passages
    assert "CORPUS_SEARCH_PDF_TIMEOUT" in result.message and "\n" not in result.message


def test_purging_a_scan_deletes_its_ocr_from_the_cache(tmp_path):
    from corpus_search.api import build
    from corpus_search.ingest import sha256_file
    from corpus_search.trash import purge

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    scan = rasterise(crs_pdfs()[3], corpus / "scan.pdf", pages=[1])
    kept = rasterise(crs_pdfs()[4], corpus / "kept.pdf", pages=[1])
    digest, kept_digest = sha256_file(scan), sha256_file(kept)
    build(corpus, index)
    cache = ocr.cache_dir(index)
    assert ocr.page_words(cache, digest, 0)
    assert len(list(cache.glob("pages/*/*.json"))) == 2
    purge(corpus, index, "scan.pdf")
    assert ocr.page_words(cache, digest, 0) is None
    # The purged scan's page is gone from the cache; the other scan's stays.
    assert len(list(cache.glob("pages/*/*.json"))) == 1
    assert ocr.page_words(cache, kept_digest, 0)


def test_a_page_image_repeated_in_a_scan_is_ocrd_once(tmp_path):
    from corpus_search.source_worker import process

    pdf = write_image_pdf(tmp_path / "blank.pdf", 100, (612, 792), (200, 260))
    result = process(pdf, Record(doc_id="blank", title="blank"), tmp_path / "cache")
    # Every page ends read, with nothing on it; the one image behind them all was OCR'd once.
    assert result.status == STATUS_NO_TEXT and "found no text on 100 page" in result.message
    assert len(list((tmp_path / "cache").glob("pages/*/*.json"))) == 1


def test_the_reader_marks_a_passage_on_a_scanned_page_by_its_ocr_word_boxes(scanned):
    """A scan has no text layer; the mark comes from OCR's word boxes and sits where the original prints the words."""
    import pypdfium2 as pdfium

    from corpus_search import page_image

    scan_id = _source(scanned["report"], "scan-only.pdf").doc_id
    with _opened(scanned["index"]) as corpus:
        document = corpus.document(scan_id)
        passage = next(p for p in corpus.passages(scan_id) if p.pdf_page == 2 and p.kind == "body" and len(p.text) > 200)
        image = page_image.page_image(scanned["index"], scanned["corpus"], document, 2)
    assert image.chars.strip(), "the scan's page took the OCR's words as its characters"
    text = page_image.text_on_page(passage, 2)
    boxes = page_image.boxes_for(image, text)
    assert boxes, "the passage is marked on the scanned page"
    first_words = " ".join(_words(text)[:4])
    pdf = pdfium.PdfDocument(str(scanned["only_scan"]))
    page = pdf[1]
    height = page.get_size()[1]
    textpage = page.get_textpage()
    found = textpage.search(first_words, match_case=False).get_next()
    assert found is not None
    _left, _bottom, _right, top = textpage.get_charbox(found[0])
    pdf.close()
    assert abs(boxes[0].top - (height - top) / height) < 0.02


def test_documents_json_says_ok_ocr_for_a_scan_as_the_contract_spells_it(scanned):
    with _opened(scanned["index"]) as corpus:
        rows = {r["path"]: r for r in corpus.documents_json()}
    assert (rows["scan-only.pdf"]["status"], rows["scan-only.pdf"]["detail"]) == ("ok-ocr", STATUS_OK_OCR)
    assert rows["born-digital.pdf"]["status"] == "ok"
    assert rows["huge-page.pdf"]["status"] in ("ok-ocr", "failed")
    assert {r["status"] for r in rows.values()} <= {"ok", "ok-ocr", "skipped", "failed"}


def _ocr_page(pdf: Path, index: int) -> str:
    """The text the real tesseract reads from one page of `pdf` scanned at 200 dpi, as the build reads it."""
    import io

    import pypdfium2 as pdfium

    image = pdfium.PdfDocument(pdf)[index].render(scale=ocr.DPI / 72, grayscale=True).to_pil()
    png = io.BytesIO()
    image.save(png, "PNG")
    return ocr.parse_tsv(ocr._tesseract(png.getvalue(), "eng", 120)).text


def test_a_running_head_and_a_date_line_over_the_second_column_are_read_at_the_pages_top():
    """IF12672 has two columns. Tesseract reads the date line ("Updated April 22, 2026") and the running head
    printed over the second column between the columns: in the middle of the sentence the first column ends
    and the second goes on with ("...dual-capable systems ... | warheads” intended for NSNW")."""
    pdf = Path(__file__).resolve().parents[1] / "corpus" / "crs" / "IF12672.pdf"
    first, second = _ocr_page(pdf, 0), _ocr_page(pdf, 1)
    paragraphs = [" ".join(p.split()) for p in first.split("\n\n")]
    cut = next(i for i, p in enumerate(paragraphs) if p.startswith("Russia also has a variety of dual-capable"))
    assert paragraphs[cut + 1].startswith("warheads")  # the second column goes on where the first stopped
    assert first.index("Updated April 22, 2026") < first.index("According to the Pentagon")
    assert second.index("Russia’s Nuclear Weapons") < second.index("employment scenarios")
    # A line or two inside the body's height is not moved: the author's line under the second column stays last
    # but for the footer's address.
    lines = [ln for ln in second.splitlines() if ln.strip()]
    assert lines[-2].startswith("Anya L. Fink") and lines[-1].startswith("https://crsreports.congress.gov")
