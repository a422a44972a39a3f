"""Manuscript checking: find the quotations in a draft and classify each against the corpus."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from corpus_search.check import check_draft, extract_quotations, read_draft
from corpus_search.errors import SourceError

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
