"""Word files, web pages, e-mail and mailboxes as sources, and nothing under corpus/ left unlisted.

One real build (spaCy, MiniLM, Whoosh) of a folder made from the public-domain CRS reports
(formats_fixtures.py), with hostile files beside them; the tests read what a user would see.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import formats_fixtures as F
from corpus_search.models import STATUS_FAILED, STATUS_OK, STATUS_SKIPPED, Record

pytestmark = pytest.mark.skipif(not F.available(), reason="needs pandoc and shared/testdata/extra/crs-reports")

SENDER = "Clayton Thomas <clayton.thomas@example.org>"
DATE = "Thu, 09 Apr 2026 10:00:00 -0400"


def _make_corpus(corpus: Path, work: Path) -> None:
    F.docx(F.IRAN_MD, corpus / "iran.docx")
    author = F.header_field(F.RUSSIA_MD, "Author")
    F.html_page(F.RUSSIA_MD, corpus / "russia.html", "Russia's Nuclear Weapons", author, "2026-04-22")
    china = F.docx(F.CHINA_MD, work / "china-15th-five-year-plan.docx")
    body = F.paragraphs(F.CEASEFIRE_MD)[0]
    mail = F.message(body, "U.S.-Iran Ceasefire: Assessment, Reactions, and Issues", SENDER,
                     "Analyst One <a1@example.org>, b2@example.org", DATE, [F.HORMUZ_PDF, china])
    F.eml(corpus / "mail" / "ceasefire.eml", mail)
    messages = [F.message(p, f"Australia: Background and U.S. Relations ({i})", "Jared G. Tupuola <jt@example.org>",
                          "desk@example.org", f"Fri, 1{i} Apr 2026 09:00:00 +0000")
                for i, p in enumerate(F.paragraphs(F.AUSTRALIA_MD)[:3], 1)]
    F.mbox(corpus / "mail" / "australia.mbox", messages)
    (corpus / "tables.xlsx").write_bytes(b"PK\x03\x04 not really a spreadsheet")
    hostile = corpus / "hostile"
    hostile.mkdir()
    F.zip_bomb_docx(hostile / "zip-bomb.docx")
    F.zip_bomb_docx(hostile / "ratio-bomb.docx", megabytes=50)
    F.entity_bomb_docx(hostile / "billion-laughs.docx")
    F.garbage_eml(hostile / "garbage.eml")
    F.truncated_eml(hostile / "truncated.eml", mail)
    scripts = "<html><head><title>Scripts</title></head><body>" + "<script>SCRIPTTEXTONLY()</script>" * 5000 \
        + "<noscript>SCRIPTTEXTONLY</noscript></body></html>"
    (hostile / "scripts-only.html").write_text(scripts, encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    corpus = tmp_path_factory.mktemp("formats-corpus")
    index = tmp_path_factory.mktemp("formats-index")
    (corpus / "mail").mkdir()
    _make_corpus(corpus, tmp_path_factory.mktemp("formats-work"))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cmd = [sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index", str(index)]
    first = subprocess.run(cmd + ["build"], capture_output=True, text=True, timeout=900, env=env)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(cmd + ["build", "--json"], capture_output=True, text=True, timeout=900, env=env)
    assert again.returncode == 0, again.stderr
    listing = subprocess.run(cmd + ["documents", "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert listing.returncode == 0, listing.stderr
    from corpus_search.api import Corpus

    opened = Corpus.open(index)
    yield {"corpus": corpus, "index": index, "output": first.stdout, "again": json.loads(again.stdout),
           "documents": json.loads(listing.stdout), "api": opened}
    opened.close()


def _docs(built) -> dict[str, dict]:
    return {(d["path"], d.get("attachment")): d for d in built["documents"]}


def _straight(text: str) -> str:
    """Pandoc sets typographic quotes; the Markdown has straight ones."""
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')


def _semantic(built, query: str, limit: int = 3):
    return built["api"].search(query, mode="semantic", limit=limit).hits


# ---------------------------------------------------------------- search finds each format


def test_semantic_search_finds_a_passage_that_is_only_in_the_word_file(built):
    hits = _semantic(built, "how long would Tehran need to make enough weapons-grade uranium for one bomb")
    assert any(h.passage.doc_id == "iran" and "weapons-grade" in h.passage.text for h in hits), \
        [(h.passage.doc_id, h.passage.text[:80]) for h in hits]


def test_semantic_search_finds_a_passage_that_is_only_in_the_web_page(built):
    hits = _semantic(built, "Moscow's arsenal of nonstrategic nuclear warheads")
    assert hits and hits[0].passage.doc_id == "russia", [(h.passage.doc_id, h.passage.text[:80]) for h in hits]


def test_semantic_search_finds_a_passage_that_is_only_in_an_e_mail_attachment(built):
    hits = _semantic(built, "cargo other than oil shipped through the Strait of Hormuz")
    top = built["api"].document(hits[0].passage.doc_id)
    assert (top.parent, top.attachment) == ("mail-ceasefire", "R48903.3.pdf")
    assert "Hormuz" in hits[0].passage.text


def test_a_word_file_attached_to_a_message_is_searchable_as_its_own_document(built):
    hits = _semantic(built, "China's five-year plan for science, technology and the economy")
    doc = built["api"].document(hits[0].passage.doc_id)
    assert doc.parent == "mail-ceasefire" and doc.attachment == "china-15th-five-year-plan.docx"
    assert doc.doc_id == "mail-ceasefire.att2-china-15th-five-year-plan"


def test_the_message_body_is_searchable_under_the_message(built):
    body = F.paragraphs(F.CEASEFIRE_MD)[0]
    hits = _semantic(built, body[:160], limit=2)
    # The truncated copy of the same message (a hostile case) holds the same body: one result, naming the other.
    assert {hits[0].passage.doc_id, *(c.doc_id for c in hits[0].copies)} == {"mail-ceasefire", "hostile-truncated"}
    assert hits[0].passage.text.startswith(body[:40])


# ---------------------------------------------------------------- records from the file


def test_e_mail_headers_land_in_the_record(built):
    record = built["api"].record("mail-ceasefire")
    assert record.title == "U.S.-Iran Ceasefire: Assessment, Reactions, and Issues"
    assert record.authors == ("Clayton Thomas",)
    assert record.recipients == ("Analyst One", "b2@example.org")
    assert (record.date, record.year, record.type) == ("2026-04-09", 2026, "email")


def test_an_e_mail_is_cited_as_a_message_from_its_sender_to_its_recipients(built):
    """It was cited like a publication: "Clayton Thomas, U.S.-Iran Ceasefire ... (April 9, 2026)", with no
    word of whom it was sent to."""
    from corpus_search.cite import cite

    record = built["api"].record("mail-ceasefire")
    subject = "U.S.-Iran Ceasefire: Assessment, Reactions, and Issues"
    assert cite(record, None, "chicago") == (f"Clayton Thomas, “{subject},” email message to Analyst One and "
                                             "b2@example.org, April 9, 2026.")
    assert cite(record, None, "mla") == (f"Thomas, Clayton. “{subject}.” Received by Analyst One and "
                                         "b2@example.org, 9 Apr. 2026.")
    assert cite(record, None, "apa") == f"Thomas, C. (2026, April 9). {subject} [Email to Analyst One and b2@example.org]."
    assert "howpublished = {Email to Analyst One and b2@example.org}" in cite(record, None, "bibtex")


def test_web_page_title_author_and_date_land_in_the_record(built):
    record = built["api"].record("russia")
    author = F.header_field(F.RUSSIA_MD, "Author")
    assert (record.title, record.authors, record.date, record.year) == ("Russia's Nuclear Weapons", (author,),
                                                                       "2026-04-22", 2026)
    assert "title from the file itself" in built["api"].document("russia").message


def test_a_toml_record_wins_over_what_the_file_says(tmp_path):
    from corpus_search.records import with_found

    record = Record(doc_id="r", title="Title from the record", authors=("Record, Author",))
    found = {"title": "Page title", "authors": ["Someone Else"], "date": "2026-04-22"}
    merged = with_found(record, found)
    assert (merged.title, merged.authors, merged.date, merged.year) == ("Title from the record", ("Record, Author",),
                                                                       "2026-04-22", 2026)


def test_each_mbox_message_is_a_document_with_its_own_headers(built):
    messages = [d for d in built["api"].documents() if d.parent == "mail-australia"]
    assert [d.doc_id for d in messages] == ["mail-australia.msg1", "mail-australia.msg2", "mail-australia.msg3"]
    assert messages[1].record.title == "Australia: Background and U.S. Relations (2)"
    assert messages[1].record.authors == ("Jared G. Tupuola",) and messages[1].record.date == "2026-04-12"
    assert all(d.status == STATUS_OK and d.passages for d in messages)


# ---------------------------------------------------------------- nothing silent


def test_every_file_under_the_corpus_is_listed_by_documents(built):
    listed = {d["path"] for d in built["documents"]}
    on_disk = {p.relative_to(built["corpus"]).as_posix() for p in built["corpus"].rglob("*") if p.is_file()}
    assert listed == on_disk
    for d in built["documents"]:
        assert d["status"] and (d["status"].startswith("ok") or d["message"]), d


def test_an_unsupported_file_is_listed_as_skipped_with_the_format_named(built):
    row = _docs(built)[("tables.xlsx", None)]
    assert (row["doc_id"], row["status"]) == (None, STATUS_SKIPPED)
    assert row["message"].startswith(".xlsx is not a supported format (supported: .pdf")
    assert "tables.xlsx: skipped: .xlsx is not a supported format" in built["output"]
    # The summary counts the files it read as sources and the skipped ones apart.
    summary = re.search(r"passages from (\d+) sources? \((\d+) other files? skipped\)", built["output"])
    skipped = sum(1 for d in built["documents"] if d["status"] == STATUS_SKIPPED)
    assert summary and int(summary.group(2)) == skipped >= 1


def test_attachments_are_linked_to_their_message_in_documents_json(built):
    docs = _docs(built)
    pdf = docs[("mail/ceasefire.eml", "R48903.3.pdf")]
    assert (pdf["parent"], pdf["status"], pdf["doc_id"]) == ("mail-ceasefire", STATUS_OK, "mail-ceasefire.att1-r48903-3")
    assert pdf["pages"] == 8 and pdf["passages"] > 10
    # Cited with the date its first page prints ("April 10, 2026"), not "(n.d.)".
    record = built["api"].record("mail-ceasefire.att1-r48903-3")
    assert (record.date, record.year) == ("2026-04-10", 2026)
    first = built["api"].passages("mail-ceasefire.att1-r48903-3")[0]
    assert "(2026" in built["api"].cite(first.passage_id, style="apa")
    message = docs[("mail/ceasefire.eml", None)]
    assert message["parent"] is None and "2 attachments" in message["message"]


def test_the_documents_command_shows_the_link_and_the_skipped_file(built):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out = subprocess.run([sys.executable, "-m", "corpus_search", "--index", str(built["index"]), "documents"],
                         capture_output=True, text=True, timeout=300, env=env).stdout
    assert "(in mail-ceasefire: R48903.3.pdf)" in out
    assert "skipped: .xlsx is not a supported format" in out and "tables.xlsx" in out


def test_an_unchanged_rebuild_reports_attachments_and_skipped_files_too(built):
    again = built["again"]
    assert again["changed"] is False
    paths = {(s["path"], s["attachment"]) for s in again["sources"]}
    assert ("mail/ceasefire.eml", "R48903.3.pdf") in paths and ("tables.xlsx", None) in paths


def test_a_new_unsupported_file_is_listed_after_the_next_build(built, tmp_path):
    import shutil

    from corpus_search.api import Corpus, build

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(built["index"], index)
    corpus.mkdir()
    shutil.copy2(built["corpus"] / "iran.docx", corpus / "iran.docx")
    build(corpus, index)
    (corpus / "slides.pptx").write_bytes(b"PK\x03\x04")
    report = build(corpus, index)
    assert any(s.path == "slides.pptx" and s.status == STATUS_SKIPPED for s in report.sources)
    opened = Corpus.open(index)
    try:
        assert [u["path"] for u in opened.unindexed()] == ["slides.pptx"]
    finally:
        opened.close()


# ---------------------------------------------------------------- hostile input


@pytest.mark.parametrize("name, words", [
    ("zip-bomb.docx", "over the 256 MiB limit (a zip bomb?)"),
    ("ratio-bomb.docx", "over the 200:1 limit (a zip bomb?)"),
    ("billion-laughs.docx", "declares entities"),
    ("garbage.eml", "not an e-mail message"),
])
def test_a_hostile_file_fails_with_one_line_saying_why(built, name, words):
    row = _docs(built)[(f"hostile/{name}", None)]
    assert row["status"] == STATUS_FAILED
    assert words in row["message"] and "\n" not in row["message"]
    assert f"hostile/{name}: failed: " in built["output"]


def test_a_truncated_message_keeps_its_body_and_fails_only_its_broken_attachment(built):
    docs = _docs(built)
    assert docs[("hostile/truncated.eml", None)]["status"] == STATUS_OK
    assert "defects" in docs[("hostile/truncated.eml", None)]["message"]
    assert docs[("hostile/truncated.eml", "R48903.3.pdf")]["status"] == STATUS_FAILED


def test_no_script_style_or_navigation_text_is_indexed(built):
    texts = [p.text for p in built["api"].passages()]
    for junk in ("SCRIPTTEXTONLY", "NAVIGATIONMENUONLY", "FOOTERTEXTONLY", "STYLETEXTONLY", "font: 12px"):
        assert not any(junk in t for t in texts), junk
    row = _docs(built)[("hostile/scripts-only.html", None)]
    assert (row["status"], row["detail"]) == ("failed", "empty")  # CONTRACT.md's word, and the build's


# ---------------------------------------------------------------- without a build


def test_a_word_footnote_is_lifted_to_a_footnote_passage(tmp_path):
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document

    first, second = F.paragraphs(F.IRAN_MD)[:2]
    md = tmp_path / "note.md"
    md.write_text(f"# Background\n\n{first}^[{second}]\n", encoding="utf-8")
    record = Record(doc_id="note", title="Note")
    extraction = extract(F.docx(md, tmp_path / "note.docx"), record)
    split = split_document(record, extraction.pages)
    kinds = {p.kind: _straight(p.text) for p in split.passages}
    assert kinds["footnote"].startswith(second[:60])
    assert kinds["body"].startswith(first[:60]) and second[:60] not in kinds["body"]
    assert kinds["heading"] == "Background"


def test_explicit_page_breaks_in_a_word_file_number_its_pages(tmp_path):
    from corpus_search.ingest import extract

    first, second = F.paragraphs(F.IRAN_MD)[:2]
    md = tmp_path / "breaks.md"
    md.write_text(f'{first}\n\n```{{=openxml}}\n<w:p><w:r><w:br w:type="page"/></w:r></w:p>\n```\n\n{second}\n',
                  encoding="utf-8")
    extraction = extract(F.docx(md, tmp_path / "breaks.docx"), Record(doc_id="b", title="B", page_offset=10))
    assert [(p.label, _straight(p.text)[:40]) for p in extraction.pages] == [("11", first[:40]), ("12", second[:40])]


def test_a_word_table_keeps_its_rows_and_cells(tmp_path):
    from corpus_search.ingest import extract

    md = tmp_path / "table.md"
    md.write_text("| Report | Author |\n|---|---|\n| IF12106 | " + F.header_field(F.IRAN_MD, "Author")
                  + " |\n| IF12672 | " + F.header_field(F.RUSSIA_MD, "Author") + " |\n", encoding="utf-8")
    text = extract(F.docx(md, tmp_path / "table.docx"), Record(doc_id="t", title="T")).pages[0].text
    assert text.splitlines()[1] == "IF12106 | " + F.header_field(F.IRAN_MD, "Author")


def test_an_empty_word_table_cell_keeps_the_cells_after_it_in_their_columns(tmp_path):
    """"Oman | | 12" lost its empty cell and read "Oman | 12": 12 moved under the wrong year."""
    from corpus_search.ingest import extract

    md = tmp_path / "table.md"
    md.write_text("| Country | 2025 | 2026 |\n|---|---|---|\n| Oman |  | 12 |\n| Qatar | 7 | 9 |\n", encoding="utf-8")
    text = extract(F.docx(md, tmp_path / "table.docx"), Record(doc_id="t", title="T")).pages[0].text
    rows = [" ".join(r.split()) for r in text.splitlines()]
    assert rows == ["Country | 2025 | 2026", "Oman | | 12", "Qatar | 7 | 9"], rows


def test_a_long_word_table_is_cut_between_its_rows_with_the_header_row_leading(tmp_path):
    """A Word table of forty rows was one paragraph: its passages were cut where a sentence in a cell seemed to
    end, halfway through a row, and its header row was a passage of its own. A web page's table is cut between
    rows, and a Word table is now too."""
    from corpus_search.ingest import extract
    from corpus_search.passage_text import MAX_PASSAGE
    from corpus_search.passages import split_document

    md = tmp_path / "notes.md"
    md.write_text("# Footnotes of the report\n\n" + F.notes_table(F.HORMUZ_MD), encoding="utf-8")
    record = Record(doc_id="notes", title="Notes")
    passages = split_document(record, extract(F.docx(md, tmp_path / "notes.docx"), record).pages).passages
    table = [p for p in passages if " | " in p.text]
    assert len(table) > 1 and all(len(p.text) <= MAX_PASSAGE for p in table)
    assert table[0].text.startswith("Note | Source Note 1 | ")
    # every passage opens with a row, and the rows run on from one passage to the next, none cut in two
    assert all(re.match(r"Note \d+ \| ", p.text) for p in table[1:]), [p.text[:30] for p in table]
    numbers = [int(n) for p in table for n in re.findall(r"(?:^| )Note (\d+) \| ", p.text)]
    assert numbers == list(range(1, 41))
    assert {p.section for p in table} == {"Footnotes of the report"} and {p.kind for p in table} == {"body"}


def test_a_word_footnote_is_cited_with_the_section_that_refers_to_it(tmp_path):
    """A Word file's notes come after its last paragraph: a note to the first section was cited with the last."""
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document

    first, second, third = F.paragraphs(F.IRAN_MD)[:3]
    md = tmp_path / "sections.md"
    md.write_text(f"# Background\n\n{first}^[{third}]\n\n# Issues for Congress\n\n{second}\n", encoding="utf-8")
    record = Record(doc_id="sections", title="Sections")
    passages = split_document(record, extract(F.docx(md, tmp_path / "sections.docx"), record).pages).passages
    notes = [p for p in passages if p.kind == "footnote"]
    assert [(_straight(p.text)[:60], p.section) for p in notes] == [(third[:60], "Background")]
    referring = next(p for p in passages if p.notes == ("1",) and p.kind == "body")
    assert referring.section == "Background" and _straight(referring.text).startswith(first[:60])
    assert next(p for p in passages if _straight(p.text).startswith(second[:60])).section == "Issues for Congress"


def test_a_word_endnote_is_a_footnote_passage_in_the_section_that_refers_to_it(tmp_path):
    """Endnotes (word/endnotes.xml) were not read at all: their text was lost and their references dropped."""
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document

    first, second, third = F.paragraphs(F.IRAN_MD)[:3]
    md = tmp_path / "endnotes.md"
    md.write_text(f"# Background\n\n{first}^[{third}]\n\n# Issues for Congress\n\n{second}\n", encoding="utf-8")
    path = F.endnotes_docx(md, tmp_path / "endnotes.docx")
    with zipfile.ZipFile(path) as archive:
        assert "word/endnotes.xml" in archive.namelist() and "word/footnotes.xml" not in archive.namelist()
    record = Record(doc_id="endnotes", title="Endnotes")
    passages = split_document(record, extract(path, record).pages).passages
    assert [(p.kind, _straight(p.text)[:60], p.section) for p in passages if third[:60] in _straight(p.text)] == [
        ("footnote", third[:60], "Background")]
    assert next(p for p in passages if _straight(p.text).startswith(first[:60])).notes == ("1",)


_SIGNATURE = ["Jane Roe", "Senior Editor", "The Maritime Ledger", "Tel. +1 555 0100"]


def _signed_message(kind: str, body: str, quoted: str):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Jane Roe <jane@example.org>", "Clayton Thomas <ct@example.org>", "Re: Hormuz"
    msg["Date"] = "Mon, 13 Apr 2026 09:00:00 +0000"
    attribution = "On Sun, 12 Apr 2026, Clayton Thomas <ct@example.org> wrote:"
    if kind == "html":  # as Outlook writes one: each line of the signature a paragraph of its own
        lines = "".join(f"<p>{html.escape(line)}</p>" for line in ["Best regards,", *_SIGNATURE])
        msg.set_content(f"<html><body><p>{html.escape(body)}</p>{lines}<div>{html.escape(attribution)}</div>"
                        f"<blockquote><p>{html.escape(quoted)}</p></blockquote></body></html>", subtype="html")
    elif kind == "delimiter":  # "-- " and the lines after it set apart by blank lines, then a quoted message
        msg.set_content(f"{body}\n\n-- \n" + "\n\n".join(_SIGNATURE) + f"\n\n{attribution}\n> {quoted}\n")
    else:  # a closing line, a name and a title, and the message it answers
        msg.set_content(f"{body}\n\nBest,\n\n{_SIGNATURE[0]}\n{_SIGNATURE[1]}\n\n{attribution}\n> {quoted}\n")
    return msg


@pytest.mark.parametrize("kind", ["closing", "delimiter", "html"])
def test_an_e_mail_signature_is_one_body_passage_and_heads_nothing(tmp_path, kind):
    """A signature's short lines ("Jane Roe", "Senior Editor") read as headings, and the message quoted after
    them was cited under "Jane Roe"."""
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document

    body, quoted = F.paragraphs(F.CEASEFIRE_MD)[:2]
    record = Record(doc_id="signed", title="Signed")
    path = F.eml(tmp_path / f"{kind}.eml", _signed_message(kind, body, quoted))
    passages = split_document(record, extract(path, record).pages).passages
    assert [p.text for p in passages if p.kind == "heading"] == []
    assert {p.section for p in passages} == {""}
    signature = [p for p in passages if "Jane Roe" in p.text and "Senior Editor" in p.text]
    assert len(signature) == 1 and signature[0].kind == "body"
    assert signature[0].text.endswith(" ".join(_SIGNATURE[:2] if kind == "closing" else _SIGNATURE))
    if kind == "delimiter":  # the delimiter's dashes are no broken word to glue to the name
        assert signature[0].text.startswith("-- Jane Roe")
    assert any(_straight(p.text).endswith(quoted) for p in passages)


def test_an_epub_reads_its_chapters_and_its_title(tmp_path):
    from corpus_search.ingest import extract

    book = F.pandoc(F.AUSTRALIA_MD, tmp_path / "australia.epub", "-M", "title=Australia: Background and U.S. Relations",
                    "-M", "author=" + F.header_field(F.AUSTRALIA_MD, "Author"))
    extraction = extract(book, Record(doc_id="a", title="a", guessed=True))
    assert extraction.status == STATUS_OK
    assert extraction.found["title"] == "Australia: Background and U.S. Relations"
    assert extraction.found["authors"] == [F.header_field(F.AUSTRALIA_MD, "Author")]
    assert F.paragraphs(F.AUSTRALIA_MD)[0][:80] in _straight("\n".join(p.text for p in extraction.pages))


def test_an_entity_bomb_in_an_epub_package_is_refused(tmp_path):
    import zipfile

    from corpus_search.ingest import extract

    bomb = F.entity_bomb_docx(tmp_path / "bomb.docx").read_bytes()
    with zipfile.ZipFile(tmp_path / "bomb.docx") as z:
        xml = z.read("word/document.xml")
    assert bomb
    with zipfile.ZipFile(tmp_path / "bomb.epub", "w") as z:
        z.writestr("META-INF/container.xml", xml)
    result = extract(tmp_path / "bomb.epub", Record(doc_id="e", title="e"))
    assert result.status == STATUS_FAILED and "declares entities" in result.message


def test_the_app_documents_page_names_skipped_files_and_attachments(built, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    app_file = Path(__file__).resolve().parents[1] / "src" / "corpus_search" / "app" / "streamlit_app.py"
    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(built["index"]))
    monkeypatch.setenv("CORPUS_SEARCH_CORPUS", str(built["corpus"]))
    monkeypatch.setenv("CORPUS_SEARCH_ANNOTATIONS", str(tmp_path / "annotations"))
    at = AppTest.from_file(str(app_file), default_timeout=120)
    at.switch_page("pages/documents.py").run()
    assert not at.exception, at.exception
    files = list(at.dataframe[0].value["file"])
    assert "mail/ceasefire.eml > R48903.3.pdf" in files
    warnings = [html.unescape(w.value) for w in at.warning]  # the page escapes file names and messages
    assert any(w.startswith("tables.xlsx: skipped: .xlsx is not a supported format") for w in warnings), warnings
    assert any(w.startswith("hostile/zip-bomb.docx > ") or w.startswith("hostile/zip-bomb.docx: failed") for w in warnings)


def test_attachments_over_the_cap_are_counted_in_the_message_not_dropped_silently(tmp_path, monkeypatch):
    from corpus_search.ingest import extract

    monkeypatch.setenv("CORPUS_SEARCH_MAX_ATTACHMENTS", "1")
    china = F.docx(F.CHINA_MD, tmp_path / "china.docx")
    mail = F.message(F.paragraphs(F.CEASEFIRE_MD)[0], "Ceasefire", SENDER, "b@example.org", DATE, [china, china])
    result = extract(F.eml(tmp_path / "two.eml", mail), Record(doc_id="two", title="two"))
    assert [a.name for a in result.attachments] == ["china.docx"]
    assert "1 more attachments not read (over CORPUS_SEARCH_MAX_ATTACHMENTS)" in result.message
    box = extract(F.mbox(tmp_path / "box.mbox", [mail, mail, mail]), Record(doc_id="box", title="box"))
    assert len(box.attachments) == 1 and "2 more messages not read" in box.message


@pytest.mark.parametrize("timeout", ["120", "1.2"])
def test_no_copy_of_an_attachment_is_left_behind_even_when_the_worker_is_killed(tmp_path, monkeypatch, timeout):
    import tempfile

    from corpus_search.source_worker import process

    china = F.docx(F.CHINA_MD, tmp_path / "china.docx")
    mail = F.eml(tmp_path / "m.eml", F.message(F.paragraphs(F.CEASEFIRE_MD)[0], "Ceasefire", SENDER,
                                               "b@example.org", DATE, [F.HORMUZ_PDF, china]))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # this process's temporary files
    monkeypatch.setenv("TMPDIR", str(scratch))  # and the worker's, were it left to choose
    monkeypatch.setenv("CORPUS_SEARCH_PDF_TIMEOUT", timeout)
    result = process(mail, Record(doc_id="m", title="m"))
    if timeout == "120":
        assert result.status == STATUS_OK and len(result.children) == 2
    assert list(scratch.iterdir()) == []


def test_retrying_an_attachment_reads_its_message_again_and_removing_the_message_drops_them(tmp_path):
    from corpus_search.api import Corpus, build

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    (corpus / "mail").mkdir(parents=True)
    china = F.docx(F.CHINA_MD, tmp_path / "china.docx")
    F.eml(corpus / "mail" / "ceasefire.eml", F.message(F.paragraphs(F.CEASEFIRE_MD)[0], "Ceasefire", SENDER,
                                                         "b@example.org", DATE, [china]))
    F.docx(F.IRAN_MD, corpus / "iran.docx")
    first = build(corpus, index)
    assert [s.doc_id for s in first.sources if s.parent] == ["mail-ceasefire.att1-china"]
    again = build(corpus, index, retry=["mail-ceasefire.att1-china"])
    reused = {s.doc_id: s.reused for s in again.sources}
    assert reused["mail-ceasefire"] is False and reused["mail-ceasefire.att1-china"] is False
    assert reused["iran"] is True
    (corpus / "mail" / "ceasefire.eml").unlink()
    build(corpus, index)
    opened = Corpus.open(index)
    try:
        assert [d.doc_id for d in opened.documents()] == ["iran"]
        assert {p.doc_id for p in opened.passages()} == {"iran"}
    finally:
        opened.close()


def test_a_word_file_gives_the_title_in_its_properties(tmp_path):
    from corpus_search.ingest import extract

    title = F.IRAN_MD.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    word = F.pandoc(F.IRAN_MD, tmp_path / "titled.docx", "-M", f"title={title}")
    assert extract(word, Record(doc_id="t", title="t", guessed=True)).found == {"title": title}


def test_an_upload_left_untitled_takes_the_title_its_page_states_and_a_typed_title_wins(tmp_path):
    """An untitled upload's record holds only the file name, which must not hide the page's own <title>."""
    from corpus_search.records import load_record, with_found
    from corpus_search.uploads import UploadRecord, save_upload

    page = b"<html><head><title>Page title</title></head><body><p>Text of the page.</p></body></html>"
    found = {"title": "Page title"}
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    untitled = save_upload(corpus, "saved-page.html", page, UploadRecord(title="", authors=(), year=None, type="webpage"))
    assert with_found(load_record(untitled.path, corpus), found).title == "Page title"
    other = tmp_path / "other"
    other.mkdir()
    typed = save_upload(other, "saved-page.html", page, UploadRecord(title="My title", authors=(), year=None, type="webpage"))
    assert with_found(load_record(typed.path, other), found).title == "My title"


def test_the_lines_a_reply_quotes_lose_their_marks_so_a_quotation_of_them_is_found(tmp_path):
    """A reply chain kept its "> " marks in the text: "the Gulf supplies a large share of global urea
    exports", quoted from the earlier message, was "not found" (a typo, it said)."""
    from email.message import EmailMessage

    from corpus_search.api import Corpus, build
    from corpus_search.quote_report import quoting_notes

    said = ("The relationship is not anything like the Soviet-Chinese brotherhood of the 1950s, and both "
            "sides know it.")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Editor <ed@example.org>", "Reporter <r@example.org>", "Re: draft"
    msg["Date"] = "Mon, 13 Apr 2026 09:00:00 +0000"
    msg.set_content("Agreed, keep it.\nOn Sun, 12 Apr 2026, Reporter <r@example.org> wrote:\n"
                    "> " + said[:60] + "\n> " + said[60:] + "\n>\n>> An older line.\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    F.eml(corpus / "reply.eml", msg)
    build(corpus, tmp_path / "index")
    c = Corpus.open(tmp_path / "index")
    try:
        text = c.store.document_text(c.documents()[0].doc_id)
        assert ">" not in text.replace("<r@example.org>", "").replace("<ed@example.org>", "")
        report = c.quote(said)
        assert report.found and report.matches[0].exact, report
        assert "Agreed, keep it." not in c.passage(report.matches[0].passage_id).text
        # Those are the reporter's words, which the editor's reply quotes: said, with who wrote them.
        match = report.matches[0]
        assert c.passage(match.passage_id).kind == "quote"
        assert match.source_quotes[0] == "quoted message: On Sun, 12 Apr 2026, Reporter <r@example.org> wrote:"
        assert ("The e-mail quotes an earlier message here (\u201cOn Sun, 12 Apr 2026, Reporter <r@example.org> "
                "wrote:\u201d): these are that message's words, not its sender's.") in quoting_notes(match)
        assert report.to_json()["matches"][0]["source_quotes"][0].startswith("quoted message: ")
        # The editor's own words are no quotation of anyone.
        own = c.quote("Agreed, keep it.")
        assert own.found and not any(q.startswith("quoted message") for q in own.matches[0].source_quotes)
        assert c.passage(own.matches[0].passage_id).kind == "body"
    finally:
        c.close()


def test_a_word_files_author_is_read_from_its_properties_unless_it_is_an_account(tmp_path):
    """A .docx with no record cited "(n.d.)" with no author, though its properties named its author; an
    account name ("Administrator") is still no author."""
    from corpus_search.ingest import extract
    from corpus_search.records import load_record

    body = "\n\n".join(F.paragraphs(F.IRAN_MD)[:2])
    found = {}
    for name, author in (("signed", "Paul K. Kerr"), ("account", "Administrator")):
        md = tmp_path / f"{name}.md"
        md.write_text(body + "\n", encoding="utf-8")
        path = F.pandoc(md, tmp_path / f"{name}.docx", "-M", "title=Iran and Nuclear Weapons Production",
                        "-M", f"author={author}")
        found[name] = extract(path, load_record(path, tmp_path)).found
    assert found["signed"] == {"authors": ["Paul K. Kerr"], "title": "Iran and Nuclear Weapons Production"}
    assert "authors" not in found["account"] and found["account"]["title"]


@pytest.mark.parametrize("head, title, site", [
    # the title is the page's heading and a short name: the name is the site's
    ("<title>Shipping insurers balk | The Maritime Ledger</title>", "Shipping insurers balk", "The Maritime Ledger"),
    # the page names its site: only that name comes off
    ('<title>Pipelines | Gazprom | The Ledger</title><meta property="og:site_name" content="The Ledger">',
     "Pipelines | Gazprom", "The Ledger"),
    # a separator inside a title that is not the heading: the title stays whole
    ("<title>Russia - China: a partnership</title>", "Russia - China: a partnership", None),
])
def test_a_web_pages_title_loses_the_sites_name_which_becomes_its_publisher(head, title, site):
    from corpus_search.extractors.html import read_html
    from corpus_search.models import Record
    from corpus_search.records import with_found

    _, found = read_html(f"<html><head>{head}</head><body><h1>Shipping insurers balk</h1><p>Text.</p></body></html>")
    assert (found["title"], found.get("publisher")) == (title, site)
    record = with_found(Record(doc_id="page", title="page", guessed=True), found)
    assert (record.title, record.publisher) == (title, site)


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "unicode_escape", "utf-16", "bogus-x", "windows-1252"])
def test_a_web_page_that_declares_a_charset_it_is_not_in_is_read_as_cp1252(tmp_path, charset):
    """"undefined" and "idna" are Python codecs that refuse any page: the page failed ("could not be read:
    UnicodeError") instead of falling back to cp1252 as an unknown charset does."""
    from corpus_search.ingest import extract

    page = tmp_path / "page.html"
    page.write_bytes(f'<html><head><meta charset="{charset}"></head><body><p>Caf\xe9 \\n text about '
                     'pipelines \x93here\x94.</p></body></html>'.encode("latin-1"))
    extraction = extract(page, Record(doc_id="page", title="page"))
    assert extraction.status == STATUS_OK, extraction.message
    assert "Caf\u00e9 \\n text about pipelines \u201chere\u201d." in extraction.pages[0].text


def test_a_replys_quoted_spans_cover_the_quotation_and_its_attribution_even_wrapped():
    """The spans `quote` marks as an earlier message's words: the quoted lines, their blank lines, and the
    "On ..., X wrote:" line, also when a mail client wrapped it over two lines; never the sender's own lines."""
    from corpus_search.extractors.mail import quoted_reply

    text, spans = quoted_reply("Agreed.\nOn Sun, 12 Apr 2026, Tom Smith <\nt@x.org> wrote:\n> Premiums tripled.\n>\n"
                               "> Bookings paused.\nMine again.\n> A second quotation.")
    assert text == ("Agreed.\n\nOn Sun, 12 Apr 2026, Tom Smith <\nt@x.org> wrote:\nPremiums tripled.\n\n"
                    "Bookings paused.\n\nMine again.\n\nA second quotation.")
    assert [text[a:b] for a, b in spans] == [
        "On Sun, 12 Apr 2026, Tom Smith <\nt@x.org> wrote:\nPremiums tripled.\n\nBookings paused.",
        "A second quotation."]
