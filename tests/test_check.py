"""Manuscript checking: find the quotations in a draft and classify each against the corpus."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from corpus_search.check import check_draft, extract_quotations, read_draft, render_check
from corpus_search.errors import QueryError, SourceError

MANUSCRIPT = Path(__file__).parent / "data" / "manuscript.md"

# What tests/data/manuscript.md quotes, in order, and what each one really is.
EXPECTED = [
    # (start of the quotation, verdict, difference, doc_id, page or paragraph)
    ("the relationship is not anything like", "found", "", "makocki2016", 17),
    ("Russia and China are not simply cooperating ...", "found", "", "makocki2016", 17),  # ellipsis
    ("nearly daily foreign policy statements", "found", "", "makocki2016", 16),  # runs over onto p. 17
    ("offensive contingency plans for both", "found", "", "makocki2016", 17),  # across a paragraph break
    ("Is this strategic redirection", "found", "", "alexeeva2018", 6),  # block quote; cited by paragraph
    ("Putin is a strategist rather than a tactician", "altered", "reordered", "makocki2016", 34),
    ("consciously plays up the card", "altered", "changed words", "makocki2016", 17),
    ("Dependence on a strategic partner", "altered", "omitted words", "makocki2016", 34),
    ("the 1951 Australia\u2011New Zealand", "found", "", "crs-if10491", 1),  # U+2011 typed
    ("Moscow and Beijing signed a formal", "not found", None, None, None),  # invented
]


def test_extracts_every_kind_of_quotation():
    draft = (
        'He said "one two three four" and “five six seven eight”.\n'
        "She wrote ‘nine ten eleven twelve’, didn’t she? Not ‘short’ or Moscow’s plan.\n\n"
        "> thirteen fourteen\n> fifteen sixteen with “inner quoted words here”\n\n"
        "```\n\"code is not a quotation at all\"\n```\n"
        'A "two words" scare quote and a repeat: "one two three four".\n'
    )
    assert extract_quotations(draft) == [
        "one two three four",
        "five six seven eight",
        "nine ten eleven twelve",
        "thirteen fourteen fifteen sixteen with “inner quoted words here”",
    ]


def test_single_curly_quotes_are_not_confused_with_apostrophes():
    draft = ("Russia’s ‘pivot’ was Moscow’s answer; the ‘respect diplomacy of the Chinese side’ helped "
             "in the ’90s, when rock ’n’ roll summits were the Kremlin’s favourite ones.")
    assert extract_quotations(draft) == ["respect diplomacy of the Chinese side"]


def test_quotation_marks_do_not_pair_across_paragraphs():
    assert extract_quotations('An opening " mark alone.\n\nAnother " one, later on here.') == []


def test_manuscript_has_ten_quotations():
    quotes = extract_quotations(read_draft(MANUSCRIPT))
    assert len(quotes) == len(EXPECTED)
    for quote, expected in zip(quotes, EXPECTED):
        assert quote.startswith(expected[0])


def test_read_draft_formats(tmp_path):
    txt = tmp_path / "draft.txt"
    txt.write_text("“quoted words in a text draft”", encoding="utf-8")
    assert read_draft(txt) == "“quoted words in a text draft”"
    docx = tmp_path / "draft.docx"
    body = (
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        "<w:p><w:r><w:t>He wrote “the relationship is </w:t></w:r><w:r><w:t>not anything like”.</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Second paragraph.</w:t></w:r></w:p></w:body></w:document>"
    )
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", body)
    assert read_draft(docx) == "He wrote “the relationship is not anything like”.\n\nSecond paragraph."
    assert extract_quotations(read_draft(docx)) == ["the relationship is not anything like"]


@pytest.mark.parametrize(("name", "content"), [("draft.pdf", b"%PDF-1.4"), ("draft.docx", b"not a zip")])
def test_unreadable_drafts_raise_source_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError):
        read_draft(path)


def test_missing_draft_raises_source_error(tmp_path):
    with pytest.raises(SourceError):
        read_draft(tmp_path / "absent.md")


def test_manuscript_report_classifies_every_quotation(corpus):
    reports = check_draft(corpus.store, read_draft(MANUSCRIPT), semantic=corpus.semantic)
    assert len(reports) == len(EXPECTED)
    for report, (start, verdict, difference, doc_id, where) in zip(reports, EXPECTED):
        assert report.quote.startswith(start)
        assert report.verdict == verdict, (start, report.verdict, report.matches[:1])
        assert report.found == (verdict == "found")
        if doc_id is None:
            assert all(m.similarity < 0.75 for m in report.matches)
            continue
        best = report.matches[0]
        assert best.doc_id == doc_id and best.difference == difference
        assert (best.paragraph if doc_id == "alexeeva2018" else best.page) == where


# ---------------------------------------------------------------- hostile and heavy drafts

CRS_PDFS = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "extra" / "crs-reports" / "pdf"
_DOCUMENT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
# Word writes a run, with its formatting, for every stretch of text an edit or a spell check touched:
# often one per word. That markup is most of a real document.xml and compresses well.
_RUN = ('<w:r w:rsidR="00A1B2C3"><w:rPr><w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman"/>'
        '<w:sz w:val="24"/></w:rPr><w:t xml:space="preserve">{} </w:t></w:r>')


def _crs_paragraphs() -> list[str]:
    from pypdf import PdfReader

    lines = []
    for pdf in sorted(CRS_PDFS.rglob("*.pdf")):
        for page in PdfReader(pdf).pages:
            lines += [" ".join(line.split()) for line in (page.extract_text() or "").splitlines() if line.strip()]
    return lines


@pytest.fixture(scope="module")
def word_draft(tmp_path_factory) -> tuple[Path, list[str]]:
    """A 2.6 MB .docx of public-domain CRS report text with Word's per-word runs, and its paragraphs."""
    from xml.sax.saxutils import escape

    paragraphs = _crs_paragraphs()
    body = "".join('<w:p><w:pPr><w:spacing w:after="120"/></w:pPr>'
                   + "".join(_RUN.format(escape(word)) for word in para.split()) + "</w:p>" for para in paragraphs)
    path = tmp_path_factory.mktemp("drafts") / "long-draft.docx"
    copies = 1
    while True:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("word/document.xml", _DOCUMENT + body * copies + "</w:body></w:document>")
        if path.stat().st_size >= 2.6 * 1024 * 1024:
            return path, paragraphs * copies
        copies = max(copies + 1, int(copies * 2.6 * 1024 * 1024 / path.stat().st_size))


def _zip_bomb(path: Path, unzipped_mb: int) -> Path:
    """A .docx whose one paragraph of "a"s unzips to `unzipped_mb` MiB (about a thousand times its size)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("word/document.xml", "w", force_zip64=True) as xml:
        xml.write((_DOCUMENT + "<w:p><w:r><w:t>").encode())
        chunk = b"a" * (1024 * 1024)
        for _ in range(unzipped_mb):
            xml.write(chunk)
        xml.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return path


def _check_cli(built_index: Path, draft: Path, **env: str) -> tuple[subprocess.CompletedProcess, int]:
    """`corpus-search check DRAFT` as a user runs it, and the peak memory (MiB) of its processes."""
    probe = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(p.returncode)")
    cmd = [sys.executable, "-c", probe, sys.executable, "-m", "corpus_search", "--index", str(built_index), "check",
           str(draft)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **env})
    *lines, peak = proc.stderr.splitlines()
    proc.stderr = "\n".join(lines)
    return proc, int(peak) // 1024


def _one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.timeout(600)
def test_a_long_word_draft_is_read_in_little_memory(built_index, word_draft):
    # Parsed whole, this file's 94 MB of XML took 1.3 GB; streamed in the worker, tens of MB.
    path, paragraphs = word_draft
    text = read_draft(path)
    assert text.count("\n\n") == len(paragraphs) - 1 and paragraphs[0].split()[0] in text[:200]
    proc, peak = _check_cli(built_index, path)
    summary = proc.stdout.rstrip().splitlines()[-1]
    assert "quotations:" in summary and not proc.stderr
    # CRS text quotes sources the bundled corpus does not hold: not every quotation is verbatim, and check says so.
    all_verbatim = re.fullmatch(r"\d+ quotations?: \d+ found", summary) is not None
    assert proc.returncode == (0 if all_verbatim else 1), summary
    assert peak < 400, f"check peaked at {peak} MiB"


@pytest.mark.timeout(300)
def test_a_docx_zip_bomb_stops_at_the_unzip_cap(built_index, tmp_path):
    bomb = _zip_bomb(tmp_path / "bomb.docx", 300)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    proc, peak = _check_cli(built_index, bomb)
    line = _one_line(proc)
    assert "unzips to more than 256 MiB" in line and "CORPUS_SEARCH_MAX_DRAFT_UNZIPPED_MB" in line
    assert peak < 400, f"check peaked at {peak} MiB"


@pytest.mark.timeout(300)
def test_the_draft_worker_is_held_to_its_memory_cap(built_index, tmp_path):
    # The unzip and text caps raised out of the way: only the worker's memory limit stops this one.
    bomb = _zip_bomb(tmp_path / "one-paragraph.docx", 300)
    proc, peak = _check_cli(built_index, bomb, CORPUS_SEARCH_DRAFT_MEMORY_MB="200",
                            CORPUS_SEARCH_MAX_DRAFT_UNZIPPED_MB="1000", CORPUS_SEARCH_MAX_DRAFT_MB="1000")
    line = _one_line(proc)
    assert "more than 200 MiB of memory" in line and "CORPUS_SEARCH_DRAFT_MEMORY_MB" in line
    assert peak < 400, f"check peaked at {peak} MiB"


@pytest.mark.parametrize(("setting", "value", "expected"), [
    ("CORPUS_SEARCH_MAX_DRAFT_MB", "1", "the largest draft `check` reads is 1 MiB"),
    ("CORPUS_SEARCH_DRAFT_TIMEOUT", "0.2", "took longer than 0.2 s"),
])
def test_draft_size_and_time_caps(word_draft, monkeypatch, setting, value, expected):
    monkeypatch.setenv(setting, value)
    with pytest.raises(SourceError, match=re.escape(expected)):
        read_draft(word_draft[0])


def test_a_long_quotation_in_a_draft_is_reported_not_checked(corpus, monkeypatch):
    monkeypatch.setenv("CORPUS_SEARCH_MAX_QUOTE_CHARS", "30")
    draft = 'He wrote "the relationship is not anything like the Soviet-Chinese brotherhood" and "gas flows east today".'
    short, long_ = sorted(check_draft(corpus.store, draft), key=lambda r: len(r.quote))
    assert short.verdict != "too long" and long_.verdict == "too long" and not long_.matches
    assert "NOT CHECKED" in render_check([long_]) and "CORPUS_SEARCH_MAX_QUOTE_CHARS" in render_check([long_])


def test_a_draft_with_too_many_quotations_is_refused(corpus, monkeypatch):
    draft = " ".join(f'"quoted words number {n}"' for n in range(2001))
    assert len(extract_quotations(draft)) == 2001
    with pytest.raises(QueryError, match="2,001 quotations; the most `check` verifies is 2,000"):
        check_draft(corpus.store, draft)


def test_a_draft_over_its_time_budget_reports_the_rest_unchecked(corpus, monkeypatch):
    """Each long quotation costs seconds; a draft may not hold a terminal or the app for hours."""
    draft = read_draft(MANUSCRIPT)
    monkeypatch.setenv("CORPUS_SEARCH_CHECK_TIMEOUT", "0")
    reports = check_draft(corpus.store, draft)
    assert len(reports) == 10 and {r.verdict for r in reports} == {"out of time"}
    text = render_check(reports)
    assert "NOT CHECKED: the draft's time budget ran out" in text and text.endswith("10 quotations: 10 out of time")
    monkeypatch.setenv("CORPUS_SEARCH_CHECK_TIMEOUT", "600")
    assert "out of time" not in {r.verdict for r in check_draft(corpus.store, draft)}
