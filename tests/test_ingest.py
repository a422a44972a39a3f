"""Ingest: hostile and ordinary PDFs from shared/testdata/pdf, hostile text files, and the corpus seeds."""

from __future__ import annotations

import codecs
import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_search import models
from corpus_search.errors import UsageError
from corpus_search.ingest import extract, sha256_file
from corpus_search.models import Record
from corpus_search.records import load_record

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT / "corpus"
PDF_DATA = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "pdf"
GEOTOPO = PDF_DATA / "sample-files/009-pdflatex-geotopo/GeoTopo-komprimiert.pdf"
ALL_STATUSES = {v for k, v in vars(models).items() if k.startswith("STATUS_")}

needs_pdf_data = pytest.mark.skipif(not PDF_DATA.is_dir(), reason=f"PDF test corpus not found at {PDF_DATA}")
pytestmark = pytest.mark.timeout(60)


def rec(password: str | None = None, **kw: object) -> Record:
    return Record(doc_id="t", title="t", password=password, **kw)  # type: ignore[arg-type]


def all_text(pages: list[models.Page]) -> str:
    return "".join(p.text for p in pages)


# ---------------------------------------------------------------- the shared PDF corpus


@dataclass(frozen=True)
class Row:
    path: str
    pages: int | None  # the Pages column, None for "–"


def manifest_rows() -> list[Row]:
    manifest = PDF_DATA / "MANIFEST.md"
    if not manifest.is_file():
        return []
    rows = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*`([^`]+\.pdf)`\s*\|\s*([^|]*)\|", line)
        if match:
            count = match.group(2).strip().strip("*")
            rows.append(Row(match.group(1), int(count) if count.isdigit() else None))
    return rows


ROWS = manifest_rows()


@dataclass(frozen=True)
class Expect:
    status: str
    contains: tuple[str, ...] = ()  # text that must come out
    message: str = ""  # words the user-facing message must hold
    all_pages_text: bool = False  # every page has text


OK = models.STATUS_OK
# The Expected column of MANIFEST.md, as assertions (without a password).
EXPECTED: dict[str, Expect] = {
    "sample-files/001-trivial/minimal-document.pdf": Expect(OK, ("Lorem ipsum",)),
    "sample-files/004-pdflatex-4-pages/pdflatex-4-pages.pdf": Expect(OK, all_pages_text=True),
    "sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf": Expect(
        models.STATUS_PASSWORD, message="password"
    ),
    "sample-files/006-pdflatex-outline/pdflatex-outline.pdf": Expect(OK, ("Foo",), all_pages_text=True),
    "sample-files/009-pdflatex-geotopo/GeoTopo-komprimiert.pdf": Expect(OK, ("Topologie",), all_pages_text=True),
    "sample-files/011-google-doc-document/google-doc-document.pdf": Expect(OK, ("Beautiful is better than ugly.",)),
    "sample-files/012-libreoffice-form/libreoffice-form.pdf": Expect(OK, ("Example for a Form", "Gender:")),
    # pypdf duplicates the Arabic word; only ask that both scripts come through.
    "sample-files/015-arabic/habibi.pdf": Expect(OK, ("habibi", "حَبيبي")),
    "sample-files/015-arabic/habibi-rotated.pdf": Expect(OK, ("habibi",), all_pages_text=True),
    "sample-files/016-libre-office-link/libre-office-link.pdf": Expect(OK, ("This is a link to an awesome blog.",)),
    "sample-files/024-annotations/annotated_pdf.pdf": Expect(OK, ("Some text.", "Not highlighted")),
    "sample-files/026-latex-multicolumn/multicolumn.pdf": Expect(OK, all_pages_text=True),
    "ocrmypdf/tests/resources/c02-22.pdf": Expect(models.STATUS_NO_TEXT, message="no extractable text"),
    "ocrmypdf/tests/resources/linn.pdf": Expect(models.STATUS_NO_TEXT, message="no extractable text"),
    "ocrmypdf/tests/resources/invalid.pdf": Expect(models.STATUS_FAILED, message="not a readable PDF"),
    "ocrmypdf/tests/resources/truetype_font_nomapping.pdf": Expect(models.STATUS_LOW_QUALITY, message="garbled"),
    "ocrmypdf/tests/resources/vector.pdf": Expect(models.STATUS_NO_TEXT, message="no extractable text"),
    "pikepdf/tests/resources/form_dd0293.pdf": Expect(OK, ("DD FORM 293",), all_pages_text=True),
    "pikepdf/tests/resources/graph-encrypted.pdf": Expect(models.STATUS_PASSWORD, message="password"),
    "pikepdf/tests/resources/content-stream-errors.pdf": Expect(models.STATUS_OK_SKIPPED, ("Potato",), "page 3"),
    "pikepdf/tests/resources/sandwich.pdf": Expect(OK, ("LinnSequencer",)),
    "pikepdf/tests/resources/fuzz/378014596.pdf": Expect(models.STATUS_FAILED, message="not a readable PDF"),
    "pikepdf/tests/resources/newline-buffer-test.pdf": Expect(models.STATUS_EMPTY, message="no pages"),
    "pikepdf/tests/resources/cyclic-toc.pdf": Expect(models.STATUS_NO_TEXT, message="no extractable text"),
}


@needs_pdf_data
def test_manifest_lists_the_24_pdfs() -> None:
    assert len(ROWS) == 24
    assert {r.path for r in ROWS} == set(EXPECTED), "a manifest row without an expectation here (or vice versa)"


@needs_pdf_data
@pytest.mark.timeout(30)
@pytest.mark.parametrize("row", ROWS, ids=[r.path.rsplit("/", 1)[-1] for r in ROWS])
def test_manifest_pdf(row: Row) -> None:
    expect = EXPECTED[row.path]
    result = extract(PDF_DATA / row.path, rec())
    assert result.status == expect.status, result.message
    assert expect.message in result.message
    assert (result.message == "") == (result.status == OK)
    text = all_text(result.pages)
    for snippet in expect.contains:
        assert snippet in text
    assert "\x00" not in text
    if result.pages and row.pages is not None:
        # Skipped pages are left out, but the rest keep their physical numbers.
        assert len(result.pages) + len(result.skipped_pages) == row.pages
        assert [p.index for p in result.pages] == sorted(
            set(range(row.pages)) - {n - 1 for n in result.skipped_pages}
        )
    if expect.all_pages_text:
        assert all(p.text.strip() for p in result.pages)
    if result.status in (models.STATUS_FAILED, models.STATUS_PASSWORD, models.STATUS_EMPTY):
        assert result.pages == []


@needs_pdf_data
def test_corrupt_page_is_skipped_and_the_others_keep_their_numbers() -> None:
    result = extract(PDF_DATA / "pikepdf/tests/resources/content-stream-errors.pdf", rec())
    assert result.status == models.STATUS_OK_SKIPPED
    assert result.skipped_pages == (3,)
    assert [(p.index, p.label, p.text) for p in result.pages] == [
        (0, "1", "Potato"),
        (1, "2", "Potato"),
        (3, "4", "Potato"),
    ]
    assert result.message == "page 3 unreadable: Unexpected end of stream; skipped"


@needs_pdf_data
@pytest.mark.timeout(30)
def test_geotopo_page_labels_and_no_nul() -> None:
    result = extract(GEOTOPO, rec(page_offset=7))  # /PageLabels win over the record's offset
    assert len(result.pages) == 117
    assert [p.label for p in result.pages[:5]] == ["i", "ii", "iii", "1", "2"]
    assert result.pages[-1].label == "114"
    text = all_text(result.pages)
    assert "\x00" not in text
    assert "Auﬂage" in text  # ligatures are left for the cleaner's NFKC
    assert len(text) > 130_000


@needs_pdf_data
def test_page_offset_applies_when_the_pdf_declares_no_labels() -> None:
    result = extract(PDF_DATA / "sample-files/004-pdflatex-4-pages/pdflatex-4-pages.pdf", rec(page_offset=68))
    assert [p.label for p in result.pages] == ["69", "70", "71", "72"]


PASSWORDS = [
    ("sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf", "openpassword", OK),
    ("sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf", "permissionpassword", OK),
    # AES-256: decrypts, but the page is an image only.
    ("pikepdf/tests/resources/graph-encrypted.pdf", "user", models.STATUS_NO_TEXT),
    ("pikepdf/tests/resources/graph-encrypted.pdf", "owner", models.STATUS_NO_TEXT),
]


@needs_pdf_data
@pytest.mark.parametrize(("path", "password", "status"), PASSWORDS)
def test_encrypted_pdf_opens_with_the_records_password(path: str, password: str, status: str) -> None:
    result = extract(PDF_DATA / path, rec(password))
    assert result.status == status, result.message
    assert len(result.pages) == 1
    if status == OK:
        assert "Lorem ipsum" in result.pages[0].text


@needs_pdf_data
@pytest.mark.parametrize("path", sorted({p for p, _, _ in PASSWORDS}))
def test_wrong_password_says_so(path: str) -> None:
    result = extract(PDF_DATA / path, rec("not-the-password"))
    assert result.status == models.STATUS_PASSWORD
    assert "wrong" in result.message


@needs_pdf_data
def test_empty_user_password_opens_without_one() -> None:
    result = extract(PDF_DATA / "pikepdf/tests/resources/form_dd0293.pdf", rec())
    assert result.status == OK
    assert len(result.pages) == 4


@needs_pdf_data
@pytest.mark.timeout(20)
def test_slow_pdf_is_stopped_at_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUS_SEARCH_PDF_TIMEOUT", "0.05")
    result = extract(GEOTOPO, rec())
    assert result.status == models.STATUS_FAILED
    assert result.message.startswith("took longer than 0.05 s")


@needs_pdf_data
@pytest.mark.timeout(30)
def test_memory_limit_fails_the_file_not_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUS_SEARCH_PDF_MEMORY_MB", "60")
    result = extract(GEOTOPO, rec())
    assert result.status == models.STATUS_FAILED
    assert "ran out of memory" in result.message
    assert "CORPUS_SEARCH_PDF_MEMORY_MB" in result.message


@needs_pdf_data
def test_oversize_pdf_is_refused_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUS_SEARCH_MAX_SOURCE_MB", "0")
    result = extract(GEOTOPO, rec())
    assert result.status == models.STATUS_FAILED
    assert "CORPUS_SEARCH_MAX_SOURCE_MB" in result.message


@pytest.mark.timeout(120)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), prefix=st.sampled_from([b"", b"%PDF-1.4\n", b"%PDF-1.7\n1 0 obj <<"]))
def test_random_bytes_as_pdf_never_raise(tmp_path: Path, data: bytes, prefix: bytes) -> None:
    path = tmp_path / "fuzz.pdf"
    path.write_bytes(prefix + data)
    result = extract(path, rec())
    assert result.status in ALL_STATUSES
    assert result.status == OK or result.message


# ---------------------------------------------------------------- text files


def write(tmp_path: Path, data: bytes, name: str = "source.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_zero_byte_text_is_empty(tmp_path: Path) -> None:
    result = extract(write(tmp_path, b""), rec())
    assert result.status == models.STATUS_EMPTY
    assert result.pages == []


def test_whitespace_only_text_is_empty(tmp_path: Path) -> None:
    assert extract(write(tmp_path, b" \n\n\t \n"), rec()).status == models.STATUS_EMPTY


def test_binary_junk_named_txt_is_not_text(tmp_path: Path) -> None:
    junk = random.Random(7).randbytes(8192)
    result = extract(write(tmp_path, junk), rec())
    assert result.status == models.STATUS_FAILED
    assert "not a text file" in result.message


def test_control_characters_without_nuls_are_not_text(tmp_path: Path) -> None:
    junk = bytes(random.Random(3).choice(range(1, 32)) for _ in range(4000))
    assert "not a text file" in extract(write(tmp_path, junk), rec()).message


@needs_pdf_data
def test_pdf_named_txt_says_what_it_is(tmp_path: Path) -> None:
    data = (PDF_DATA / "sample-files/001-trivial/minimal-document.pdf").read_bytes()
    result = extract(write(tmp_path, data, "paper.txt"), rec())
    assert result.status == models.STATUS_FAILED
    assert "looks like a PDF" in result.message


def test_latin1_text_is_decoded_and_the_encoding_noted(tmp_path: Path) -> None:
    text = "Café, naïve façade; Straße und Übung.\n" * 3
    result = extract(write(tmp_path, text.encode("latin-1")), rec())
    assert result.status == OK
    assert result.pages[0].text == text
    assert result.encoding in ("cp1252", "latin-1")
    assert result.encoding in result.message


def test_cp1252_quotes_and_dashes(tmp_path: Path) -> None:
    result = extract(write(tmp_path, b"\x93Quoted\x94 \x96 and \x85 more text here.\n"), rec())
    assert result.pages[0].text == "“Quoted” – and … more text here.\n"
    assert result.encoding == "cp1252"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    data = b"plain words " * 20 + b"\x81\n"
    result = extract(write(tmp_path, data), rec())
    assert result.status == OK
    assert result.encoding == "latin-1"


def test_invalid_utf8_does_not_fail(tmp_path: Path) -> None:
    data = "Mostly valid UTF-8: é, ü, —.\n".encode() + b"A stray \xff\xfe byte pair.\n"
    result = extract(write(tmp_path, data), rec())
    assert result.status == OK
    assert "not valid UTF-8" in result.message
    assert result.pages[0].text.startswith("Mostly valid UTF-8")


@pytest.mark.parametrize(
    ("codec", "bom", "name"),
    [
        ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16-le"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16-be"),
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("utf-32-le", codecs.BOM_UTF32_LE, "utf-32-le"),
    ],
)
def test_byte_order_marks(tmp_path: Path, codec: str, bom: bytes, name: str) -> None:
    text = "Sino‑Russian relations, “quoted”, Ελληνικά, 中文.\n"
    result = extract(write(tmp_path, bom + text.encode(codec)), rec())
    assert result.status == OK, result.message
    assert result.pages[0].text == text  # the BOM itself is not text
    assert result.encoding == name
    assert result.message == ""


def test_utf16_without_bom_is_refused_with_a_hint(tmp_path: Path) -> None:
    result = extract(write(tmp_path, "no byte order mark here\n".encode("utf-16-le")), rec())
    assert result.status == models.STATUS_FAILED
    assert "byte-order mark" in result.message


def test_nul_is_stripped(tmp_path: Path) -> None:
    data = b"A text export with a stray\x00 NUL in it, as some exports have.\n" * 4
    result = extract(write(tmp_path, data), rec())
    assert result.status == OK
    assert "\x00" not in result.pages[0].text
    assert "stray NUL" in result.pages[0].text


def test_oversize_text_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUS_SEARCH_MAX_SOURCE_MB", "1")
    result = extract(write(tmp_path, b"word " * 300_000), rec())
    assert result.status == models.STATUS_FAILED
    assert "1 MiB limit" in result.message
    assert "CORPUS_SEARCH_MAX_SOURCE_MB" in result.message


def test_missing_file_directory_and_unknown_type_fail_cleanly(tmp_path: Path) -> None:
    assert extract(tmp_path / "gone.txt", rec()).status == models.STATUS_FAILED
    assert extract(tmp_path, rec()).status == models.STATUS_FAILED
    result = extract(write(tmp_path, b"PK\x03\x04", "notes.xlsx"), rec())
    assert result.status == models.STATUS_SKIPPED
    assert result.message.startswith(".xlsx is not a supported format (supported: .pdf, .txt, .md, .markdown, .docx")
    broken = extract(write(tmp_path, b"PK\x03\x04", "notes.docx"), rec())
    assert broken.status == models.STATUS_FAILED
    assert broken.message.startswith("not a readable zip archive")


def test_markdown_is_read_as_rendered_with_the_pages_text_marks(tmp_path: Path) -> None:
    result = extract(write(tmp_path, b"# Title\n\n**Body**.\n\f## Second page\n", "notes.md"), rec())
    assert result.status == OK and result.found == {"title": "Title"}
    assert [(p.label, p.text) for p in result.pages] == [("1", "Title\n\nBody.\n"), ("2", "Second page\n")]


def test_text_without_page_marks_is_one_unlabelled_page(tmp_path: Path) -> None:
    result = extract(write(tmp_path, b"one\ntwo\n"), rec(page_offset=4))
    assert [(p.index, p.label) for p in result.pages] == [(0, None)]


def test_form_feeds_split_pages_and_labels_follow_the_offset(tmp_path: Path) -> None:
    result = extract(write(tmp_path, b"first\fsecond\f\fFourth\f"), rec(page_offset=4))
    assert [p.text for p in result.pages] == ["first", "second", "", "Fourth"]  # blank page keeps its place
    assert [p.label for p in result.pages] == ["5", "6", "7", "8"]


def test_leading_space_convention(tmp_path: Path) -> None:
    data = b" Page one\nbody\n  indented, same page\n \n Page three\nend\n"
    result = extract(write(tmp_path, data), rec(page_starts="leading-space"))
    assert [p.text for p in result.pages] == [" Page one\nbody\n  indented, same page\n", " \n", " Page three\nend\n"]
    assert [p.label for p in result.pages] == ["1", "2", "3"]


@pytest.mark.timeout(120)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), name=st.sampled_from(["a.txt", "a.md"]))
def test_random_bytes_as_text_never_raise(tmp_path: Path, data: bytes, name: str) -> None:
    result = extract(write(tmp_path, data, name), rec(page_starts="leading-space"))
    assert result.status in ALL_STATUSES
    assert "\x00" not in all_text(result.pages)


# ---------------------------------------------------------------- the corpus seeds and CRS reports


CHAILLOT = CORPUS / "makocki-popescu-2016-chaillot.txt"
ARTICLE = CORPUS / "alexeeva-lasserre-2018-china-perspectives.txt"


@pytest.mark.skipif(not CHAILLOT.is_file(), reason="Chaillot seed not in corpus/")
def test_chaillot_pages_follow_the_printed_numbers() -> None:
    result = extract(CHAILLOT, load_record(CHAILLOT, CORPUS))
    assert result.status == OK
    assert result.encoding == "utf-8"
    assert len(result.pages) == 48  # printed pp. 5-52
    assert [p.label for p in result.pages] == [str(n) for n in range(5, 53)]
    # "see Box 4 on pages 17-18": the box heading is on the 13th page, printed 17.
    first_box4 = next(p for p in result.pages if "Box 4:" in p.text)
    assert (first_box4.index, first_box4.label) == (12, "17")
    assert result.pages[0].text.startswith(" Foreword")
    assert all_text(result.pages).rstrip() == CHAILLOT.read_text(encoding="utf-8").rstrip()


@pytest.mark.skipif(not ARTICLE.is_file(), reason="article seed not in corpus/")
def test_article_is_one_page() -> None:
    result = extract(ARTICLE, load_record(ARTICLE, CORPUS))
    assert result.status == OK
    assert [(p.index, p.label) for p in result.pages] == [(0, None)]
    assert "Sino‑Russian" in result.pages[0].text  # U+2011 left for the cleaner


CRS = sorted((CORPUS / "crs").glob("*.pdf"))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", CRS, ids=[p.name for p in CRS])
def test_crs_reports(path: Path) -> None:
    result = extract(path, load_record(path, CORPUS))
    assert result.status == OK, result.message
    assert len(result.pages) in (3, 8)
    # No /PageLabels: the labels are the numbers the pages print (R48903: cover and contents, then "1").
    unnumbered = 2 if path.name == "R48903.pdf" else 0
    expected = [None] * unnumbered + [str(n) for n in range(1, len(result.pages) + 1 - unnumbered)]
    assert [p.label for p in result.pages] == expected
    assert all(p.text.strip() for p in result.pages)


def test_sha256_file(tmp_path: Path) -> None:
    data = random.Random(1).randbytes(3 << 20)  # more than one read chunk
    path = write(tmp_path, data, "blob.bin")
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


@needs_pdf_data
def test_a_bad_setting_is_a_usage_error_not_a_file_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORPUS_SEARCH_PDF_TIMEOUT", "soon")
    with pytest.raises(UsageError, match="CORPUS_SEARCH_PDF_TIMEOUT"):
        extract(GEOTOPO, rec())


@needs_pdf_data
def test_a_password_given_later_goes_into_the_record_and_opens_the_pdf(tmp_path: Path) -> None:
    """What the Documents page does for a source that "needs a password": the record keeps its other lines."""
    import shutil

    from corpus_search.uploads import set_password

    pdf = tmp_path / "uploads" / "3e333bff0196d0c5.pdf"
    pdf.parent.mkdir()
    shutil.copy(PDF_DATA / "sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf", pdf)
    record = pdf.with_suffix(".toml")
    record.write_text('# my notes on this one\ntitle = "Board minutes"\n\n[extra]\nplace = "x"\n',
                      encoding="utf-8")
    failed = extract(pdf, load_record(pdf, tmp_path))
    assert failed.status == models.STATUS_PASSWORD and "\n" not in failed.message
    assert failed.message.count("password") == 1 and "3e333bff0196d0c5.toml" in failed.message  # said once

    set_password(tmp_path, "uploads/3e333bff0196d0c5.pdf", 'open"password')
    set_password(tmp_path, "uploads/3e333bff0196d0c5.pdf", "openpassword")  # the last one given wins
    text = record.read_text(encoding="utf-8")
    assert text.startswith("# my notes on this one\ntitle = \"Board minutes\"\n") and text.count("password =") == 1
    assert text.index("password") < text.index("[extra]")
    result = extract(pdf, load_record(pdf, tmp_path))
    assert result.status == OK and "Lorem ipsum" in result.pages[0].text
    with pytest.raises(UsageError):
        set_password(tmp_path, "../outside.pdf", "x")
    with pytest.raises(UsageError):
        set_password(tmp_path, "uploads/3e333bff0196d0c5.pdf", "two\nlines")
