"""uploads: browser-supplied names never reach the file system; same bytes stored once; records parse."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from corpus_search.errors import CorpusSearchError, NotFoundError, UsageError
from corpus_search.records import find_sources, load_record
from corpus_search.uploads import UploadRecord, remove_source, save_upload, to_toml

TEXT = "The Power of Siberia pipeline was signed in May 2014.\n".encode()
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def corpus(tmp_path) -> Path:
    c = tmp_path / "corpus"
    c.mkdir()
    return c


HOSTILE_NAMES = [
    "../../x.txt",
    "../../../etc/passwd.txt",
    "/etc/cron.d/evil.txt",
    "C:\\Windows\\evil.txt",
    "a\x00b.txt",
    "x" * 300 + ".txt",
    ".hidden.txt",
    "name with spaces & ; $(rm -rf).txt",
    "ünïcødé 文件.TXT",
    "_private.txt",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_stored_under_a_generated_name_inside_the_corpus(corpus, name):
    saved = save_upload(corpus, name, TEXT, UploadRecord(title="T"))
    assert saved.path.parent == corpus / "uploads"
    assert saved.path.resolve().is_relative_to(corpus.resolve())
    assert len(saved.path.name) == len("0123456789abcdef.txt")
    assert saved.path.read_bytes() == TEXT
    # Nothing else appeared anywhere near the corpus.
    outside = {p for p in corpus.parent.rglob("*") if not p.resolve().is_relative_to(corpus.resolve())}
    assert outside == set()
    # The build will find it (not hidden, not under an underscore folder).
    assert saved.path in find_sources(corpus)


@pytest.mark.parametrize("name", ["evil.exe", "noext", "x.pdf.sh", "../x.toml", "a.txt\x00.sh"])
def test_other_kinds_of_file_are_refused(corpus, name):
    with pytest.raises(UsageError):
        save_upload(corpus, name, TEXT, UploadRecord(title="T"))
    assert not any(corpus.rglob("*.*"))


def test_same_content_twice_is_stored_once(corpus):
    first = save_upload(corpus, "report.txt", TEXT, UploadRecord(title="First"))
    second = save_upload(corpus, "copy of report.txt", TEXT, UploadRecord(title="Second"))
    assert not first.duplicate and second.duplicate
    assert second.path == first.path and second.doc_id == first.doc_id
    assert len(find_sources(corpus)) == 1
    assert load_record(first.path, corpus).title == "First"


def test_content_already_in_the_corpus_under_another_name_is_a_duplicate(corpus):
    (corpus / "mine.txt").write_bytes(TEXT)
    saved = save_upload(corpus, "upload.txt", TEXT, UploadRecord(title="T"))
    assert saved.duplicate and saved.path == corpus / "mine.txt"
    assert not (corpus / "uploads").exists() or not any((corpus / "uploads").iterdir())


def test_record_with_hostile_fields_round_trips_through_toml(corpus):
    title = 'A "quoted" title \\ with\nnewline\ttab \x01 and ] [ = # ✓'
    rec = UploadRecord(title=title, authors=("O'Brien, Pat", 'Li "Lee"'), year=2016, type="article",
                       publisher="Pub \\ House", journal="J. of \"Things\"")
    saved = save_upload(corpus, "x.txt", TEXT, rec)
    record = load_record(saved.path, corpus)
    assert record.doc_id == saved.doc_id
    assert record.title == 'A "quoted" title \\ with newline tab and ] [ = # ✓'
    assert record.authors == ("O'Brien, Pat", 'Li "Lee"')
    assert record.year == 2016 and record.type == "article"
    assert record.publisher == "Pub \\ House" and record.journal == 'J. of "Things"'
    assert not record.guessed


def test_pdf_upload_is_checked_for_a_pdf_header(corpus):
    saved = save_upload(corpus, "paper.PDF", PDF, UploadRecord(title="P"))
    assert saved.path.suffix == ".pdf"
    with pytest.raises(UsageError, match="PDF"):
        save_upload(corpus, "fake.pdf", b"not a pdf at all", UploadRecord(title="P"))


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\x00bad utf8 \xc3\x28"])
def test_empty_or_undecodable_text_is_refused(corpus, data):
    with pytest.raises(UsageError):
        save_upload(corpus, "x.txt", data, UploadRecord(title="T"))


@pytest.mark.parametrize("rec", [UploadRecord(title="T", type="novel"), UploadRecord(title="T", year=123456)])
def test_bad_record_fields_are_refused(corpus, rec):
    with pytest.raises(UsageError):
        save_upload(corpus, "x.txt", TEXT, rec)


def test_missing_title_falls_back_to_the_file_name(corpus):
    saved = save_upload(corpus, "../Annual Report.txt", TEXT, UploadRecord(title="  "))
    assert load_record(saved.path, corpus).title == "Annual Report"


def test_remove_source_moves_the_file_and_its_record_to_the_trash(corpus):
    saved = save_upload(corpus, "x.txt", TEXT, UploadRecord(title="T"))
    rel = saved.path.relative_to(corpus).as_posix()
    item = remove_source(corpus, rel)
    assert {f.path for f in item.files} == {rel, saved.record_path.relative_to(corpus).as_posix()}
    assert not saved.path.exists() and not saved.record_path.exists()
    held = corpus / "_trash" / item.id / "files" / rel
    assert held.read_bytes() == TEXT
    assert find_sources(corpus) == []


@pytest.mark.parametrize("rel", ["../outside.txt", "/etc/passwd", "uploads/../../outside.txt", "a\x00.txt", "."])
def test_remove_source_refuses_paths_outside_the_corpus(corpus, rel):
    (corpus.parent / "outside.txt").write_text("keep me")
    with pytest.raises(CorpusSearchError):
        remove_source(corpus, rel)
    assert (corpus.parent / "outside.txt").exists()


def test_remove_source_of_a_missing_file(corpus):
    with pytest.raises(NotFoundError):
        remove_source(corpus, "nothing.txt")


@pytest.mark.parametrize("value", ['plain', 'q"uote', "back\\slash", "line\nbreak", "\x00\x1f\x7f", "ünï ✓ 文"])
def test_toml_string_parses_back_to_the_same_value(value):
    assert tomllib.loads(to_toml({"k": value, "l": [value]})) == {"k": value, "l": [value]}


def test_to_toml_refuses_bad_keys():
    with pytest.raises(ValueError):
        to_toml({"a = 1\nb": "x"})
    assert tomllib.loads(to_toml({"n": 3, "b": True, "l": ["a", 'b"']})) == {"n": 3, "b": True, "l": ["a", 'b"']}


def test_word_web_mail_and_e_book_files_can_be_added_and_are_sources(corpus, tmp_path):
    import formats_fixtures as F

    if not F.available():
        pytest.skip("needs pandoc and the CRS reports")
    word = F.docx(F.IRAN_MD, tmp_path / "iran.docx").read_bytes()
    page = F.pandoc(F.RUSSIA_MD, tmp_path / "russia.html", "-s", "-M", "title=Russia").read_bytes()
    mail = bytes(F.message(F.paragraphs(F.CEASEFIRE_MD)[0], "Ceasefire", "a@example.org", "b@example.org",
                           "Thu, 09 Apr 2026 10:00:00 -0400"))
    for name, data in (("Iran.DOCX", word), ("russia.htm", page), ("note.eml", mail)):
        saved = save_upload(corpus, name, data, UploadRecord(title=name))
        assert saved.path in find_sources(corpus)


@pytest.mark.parametrize("name, data, words", [
    ("fake.docx", b"plain text, not a zip", "not a zip archive"),
    ("fake.epub", b"%PDF-1.4", "not a zip archive"),
    ("fake.eml", b"From: a\x00\x00\x00 binary", "binary bytes"),
])
def test_a_file_that_is_not_what_its_suffix_says_is_refused(corpus, name, data, words):
    with pytest.raises(UsageError, match=words):
        save_upload(corpus, name, data, UploadRecord(title="T"))
