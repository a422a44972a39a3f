"""Remove is undoable, purge really purges, and both act on exactly one source (issue 17, part C)."""

from __future__ import annotations

import hashlib
import html
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from corpus_search import trash
from corpus_search.errors import CorpusSearchError, NotFoundError, UsageError
from corpus_search.records import find_sources

ROOT = Path(__file__).resolve().parents[1]
MINIMAL_PDF = ROOT.parent / "shared" / "testdata" / "pdf" / "sample-files" / "001-trivial" / "minimal-document.pdf"

# Made-up words no model, alias table or other source knows: if any of them (or the stem the keyword
# index keeps) is anywhere under indexes/, the purged document's text is still there.
UNIQUE = ("zorbulated", "quixotrane", "flumbergast", "glorpstead", "vexillomancy")
SECRET = (
    "Glorpstead Holdings zorbulated the quixotrane contract in March.\n\n"
    "The flumbergast clause was never published; vexillomancy decided the rest.\n\n"
    "A third paragraph repeats that Glorpstead owned the quixotrane rights.\n"
)
KEEP = "The Altai pipeline would carry gas from western Siberia to China.\n"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def corpus(tmp_path) -> Path:
    c = tmp_path / "corpus"
    c.mkdir()
    (c / "secret.txt").write_text(SECRET, encoding="utf-8")
    (c / "secret.toml").write_text('title = "Internal memo"\nauthors = ["Pat Doe"]\nyear = 2021\n', encoding="utf-8")
    (c / "keep.txt").write_text(KEEP, encoding="utf-8")
    return c


def leaks(index: Path, words=UNIQUE) -> list[str]:
    """Files under `index` holding any word or its index stem: raw bytes, any case, UTF-8/16/32, or zlib-deflated."""
    from corpus_search.search import stem

    encodings = ("utf-8", "utf-16-le", "utf-32-le")
    needles = {w.encode(enc) for word in words for w in (word, stem(word)) for enc in encodings}
    found = []
    for path in sorted(p for p in index.rglob("*") if p.is_file()):
        data = path.read_bytes()
        blobs = [data] + _inflated(data)
        if any(n in blob.lower() for blob in blobs for n in needles):
            found.append(path.relative_to(index).as_posix())
    return found


def _inflated(data: bytes) -> list[bytes]:
    """Whatever inflates from every zlib header in `data` (Whoosh can deflate posting blocks)."""
    out = []
    for i in range(len(data) - 1):
        if data[i] == 0x78 and data[i + 1] in (0x01, 0x5E, 0x9C, 0xDA):
            try:
                out.append(zlib.decompressobj().decompress(data[i:], 1 << 22))
            except zlib.error:
                continue
    return out


def keyword_hits(index: Path, query: str) -> list[str]:
    from corpus_search.api import Corpus

    c = Corpus.open(index)
    try:
        return [h.passage.doc_id for h in c.search(query, mode="keyword", limit=20).hits]
    finally:
        c.close()


# -- remove and restore ------------------------------------------------------------------------
def test_remove_then_restore_gives_back_identical_bytes(corpus):
    before = {p: sha(corpus / p) for p in ("secret.txt", "secret.toml")}
    item = trash.remove(corpus, "secret.txt")
    assert not (corpus / "secret.txt").exists() and not (corpus / "secret.toml").exists()
    assert [p.name for p in find_sources(corpus)] == ["keep.txt"]  # the build never reads the trash
    listed = trash.list_trash(corpus)
    assert [(i.id, i.path) for i in listed] == [(item.id, "secret.txt")]
    assert {f.path: f.sha256 for f in listed[0].files} == before
    trash.restore(corpus, item.id)
    assert {p: sha(corpus / p) for p in before} == before
    assert trash.list_trash(corpus) == []
    assert not any((corpus / trash.TRASH_DIR).iterdir())


def test_restore_by_path_takes_the_latest_removal(corpus):
    trash.remove(corpus, "keep.txt")
    (corpus / "keep.txt").write_text("second version\n")
    trash.remove(corpus, "keep.txt")
    trash.restore(corpus, "keep.txt")
    assert (corpus / "keep.txt").read_text() == "second version\n"
    assert [i.path for i in trash.list_trash(corpus)] == ["keep.txt"]


def test_restore_refuses_when_something_occupies_the_path(corpus):
    item = trash.remove(corpus, "secret.txt")
    (corpus / "secret.txt").write_text("a new file with the old name\n")
    with pytest.raises(UsageError, match="already at that path"):
        trash.restore(corpus, item.id)
    assert (corpus / "secret.txt").read_text() == "a new file with the old name\n"
    assert not (corpus / "secret.toml").exists()  # nothing half-restored
    assert [i.id for i in trash.list_trash(corpus)] == [item.id]


def test_a_record_shared_by_another_source_is_kept(corpus):
    (corpus / "report.txt").write_text("Shared text.\n")
    (corpus / "report.pdf").write_bytes(MINIMAL_PDF.read_bytes())
    (corpus / "report.toml").write_text('title = "Shared record"\n')
    record = sha(corpus / "report.toml")
    plan = trash.plan_purge(corpus, corpus.parent / "no-index", "report.txt")
    assert plan.corpus_files == ("report.txt",) and plan.kept == ("report.toml",)
    item = trash.remove(corpus, "report.pdf")
    assert sha(corpus / "report.toml") == record and (corpus / "report.txt").exists()
    assert {f.path: f.moved for f in item.files} == {"report.pdf": True, "report.toml": False}
    plan = trash.plan_purge(corpus, corpus.parent / "no-index", "report.txt")
    assert plan.corpus_files == ("report.txt", "report.toml") and plan.kept == ()  # now the .txt's alone
    trash.restore(corpus, item.id)
    assert (corpus / "report.pdf").read_bytes() == MINIMAL_PDF.read_bytes() and sha(corpus / "report.toml") == record


def test_both_sources_of_a_shared_record_removed_then_restored_in_any_order(corpus):
    (corpus / "report.txt").write_text("Shared text.\n")
    (corpus / "report.pdf").write_bytes(MINIMAL_PDF.read_bytes())
    (corpus / "report.toml").write_text('title = "Shared record"\n')
    before = {p.name: sha(p) for p in corpus.glob("report.*")}
    txt = trash.remove(corpus, "report.txt")  # the record stays for the .pdf
    pdf = trash.remove(corpus, "report.pdf")  # now the record goes with the last source reading it
    assert not list(corpus.glob("report.*"))
    trash.restore(corpus, txt.id)
    trash.restore(corpus, pdf.id)
    assert {p.name: sha(p) for p in corpus.glob("report.*")} == before


def test_removing_a_symlinked_source_moves_the_link_only(corpus, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "precious.txt"
    target.write_text("not the corpus's to delete\n")
    (corpus / "link.txt").symlink_to(target)
    (corpus / "inner.txt").symlink_to(corpus / "keep.txt")
    before = sha(target), sha(corpus / "keep.txt")

    item = trash.remove(corpus, "link.txt")
    trash.remove(corpus, "inner.txt")
    assert (sha(target), sha(corpus / "keep.txt")) == before
    assert not os.path.lexists(corpus / "link.txt")
    held = corpus / trash.TRASH_DIR / item.id / "files" / "link.txt"
    assert held.is_symlink() and os.readlink(held) == str(target)
    assert item.files[0].link == str(target) and item.files[0].sha256 is None

    trash.restore(corpus, item.id)
    assert (corpus / "link.txt").is_symlink() and os.readlink(corpus / "link.txt") == str(target)
    trash.purge(corpus, tmp_path / "no-index", "link.txt")
    trash.purge(corpus, tmp_path / "no-index", "inner.txt")
    assert not os.path.lexists(corpus / "link.txt") and not os.path.lexists(corpus / "inner.txt")
    assert (sha(target), sha(corpus / "keep.txt")) == before


def test_a_symlinked_record_is_moved_as_a_link(corpus, tmp_path):
    shared = tmp_path / "records.toml"
    shared.write_text('title = "Kept outside"\n')
    (corpus / "keep.toml").symlink_to(shared)
    trash.remove(corpus, "keep.txt")
    assert shared.read_text() == 'title = "Kept outside"\n' and not os.path.lexists(corpus / "keep.toml")


def test_a_symlinked_folder_is_never_moved_or_deleted_through(corpus, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "doc.txt").write_text("outside\n")
    (corpus / "sub").symlink_to(outside)
    for act in (lambda: trash.remove(corpus, "sub/doc.txt"),
                lambda: trash.purge(corpus, tmp_path / "no-index", "sub/doc.txt")):
        with pytest.raises(UsageError, match="symbolic link"):
            act()
    assert (outside / "doc.txt").read_text() == "outside\n"


def test_a_trash_folder_that_is_a_link_is_refused(corpus, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (corpus / trash.TRASH_DIR).symlink_to(elsewhere)
    with pytest.raises(UsageError, match="trash"):
        trash.remove(corpus, "secret.txt")
    assert (corpus / "secret.txt").exists() and not any(elsewhere.iterdir())


@pytest.mark.parametrize("rel", ["../outside.txt", "a/../../outside.txt", "/etc/passwd", "a\x00.txt", ".", "",
                                 "_trash/x.txt", ".hidden.txt", "keep.toml", "README.md"])
def test_paths_outside_the_corpus_or_not_sources_are_refused(corpus, rel):
    (corpus.parent / "outside.txt").write_text("keep me")
    (corpus / "README.md").write_text("about this corpus")
    for act in (trash.remove, trash.restore, lambda c, r: trash.purge(c, c.parent / "no-index", r)):
        with pytest.raises(CorpusSearchError):
            act(corpus, rel)
    assert (corpus.parent / "outside.txt").read_text() == "keep me"
    assert sorted(p.name for p in corpus.iterdir()) == ["README.md", "keep.txt", "secret.toml", "secret.txt"]


def test_an_absolute_path_inside_the_corpus_is_accepted(corpus):
    item = trash.remove(corpus, str(corpus / "keep.txt"))
    assert item.path == "keep.txt"


def test_a_tampered_trash_entry_cannot_restore_outside_the_corpus(corpus):
    item = trash.remove(corpus, "keep.txt")
    entry = corpus / trash.TRASH_DIR / item.id / trash.ENTRY
    data = json.loads(entry.read_text())
    data["files"][0]["path"] = "../escaped.txt"
    entry.write_text(json.dumps(data))
    assert trash.list_trash(corpus) == []
    with pytest.raises(NotFoundError):
        trash.restore(corpus, item.id)
    assert not (corpus.parent / "escaped.txt").exists()


def test_purge_without_an_index_deletes_from_the_corpus_and_the_trash(corpus, tmp_path):
    trash.remove(corpus, "secret.txt")
    (corpus / "secret.txt").write_text("re-added\n")
    plan = trash.purge(corpus, tmp_path / "no-index", "secret.txt")
    assert plan.corpus_files == ("secret.txt",) and len(plan.trash_ids) == 1
    assert not (corpus / "secret.txt").exists() and trash.list_trash(corpus) == []
    assert not (tmp_path / "no-index").exists()  # a purge never creates an index
    with pytest.raises(NotFoundError):
        trash.purge(corpus, tmp_path / "no-index", "secret.txt")


# -- with a real index ---------------------------------------------------------------------------
def test_removed_then_restored_document_is_searchable_again_after_a_build(corpus, tmp_path):
    from corpus_search.api import build

    index = tmp_path / "index"
    build(corpus, index)
    assert "secret" in keyword_hits(index, "quixotrane")
    before = sha(corpus / "secret.txt")
    item = trash.remove(corpus, "secret.txt")
    build(corpus, index)
    assert keyword_hits(index, "quixotrane") == []
    trash.restore(corpus, item.id)
    assert sha(corpus / "secret.txt") == before
    build(corpus, index)
    assert "secret" in keyword_hits(index, "quixotrane")


@pytest.mark.parametrize("how", ["trashed-then-built", "straight-from-the-corpus", "deleted-by-hand"])
def test_purge_leaves_none_of_the_documents_words_under_the_index(corpus, tmp_path, how):
    from corpus_search.api import Corpus, build
    from corpus_search.generations import Generations

    index = tmp_path / "index"
    build(corpus, index)
    if how == "trashed-then-built":
        key = trash.remove(corpus, "secret.txt").id
    elif how == "deleted-by-hand":  # gone from the corpus, not in the trash: the index still names it
        key = "secret.txt"
        (corpus / "secret.txt").unlink()
        (corpus / "secret.toml").unlink()
    else:
        key = "secret.txt"
        (corpus / "keep.txt").write_text(KEEP + "\nA second paragraph about the Amur bridge.\n")
    build(corpus, index)
    # Today both generations hold the words: the rollback one in full, the current one at least
    # as deleted rows or postings (or in full when the document is still in the corpus).
    assert len(Generations(index).list()) == 2
    assert leaks(index), "the check must see the words before the purge"

    trash.purge(corpus, index, key)
    assert leaks(index) == []
    assert not (corpus / "secret.txt").exists() and trash.list_trash(corpus) == []
    assert len(Generations(index).list()) == 1
    c = Corpus.open(index)
    try:
        assert not c.warnings and [d.doc_id for d in c.documents()] == ["keep"]
    finally:
        c.close()
    assert keyword_hits(index, "Altai pipeline") == ["keep"]


def test_purge_with_a_linked_generation_folder_still_deletes_the_rollback_generation(corpus, tmp_path):
    # A link named like a generation made the purge stop with an internal error before it deleted
    # the rollback generation, which still held the document in full.
    from corpus_search.api import build

    index = tmp_path / "index"
    build(corpus, index)
    key = trash.remove(corpus, "secret.txt").id
    build(corpus, index)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("the user's own file\n")
    (index / "gen-000000").symlink_to(outside)
    trash.purge(corpus, index, key)
    assert leaks(index) == []
    assert (outside / "mine.txt").read_text() == "the user's own file\n"


def test_purge_while_a_build_runs_deletes_nothing_and_says_so(corpus, tmp_path):
    from corpus_search.api import build
    from corpus_search.errors import BuildLockedError
    from corpus_search.generations import Generations

    index = tmp_path / "index"
    build(corpus, index)
    with Generations(index).lock():  # a build in progress
        with pytest.raises(BuildLockedError, match="another build is running"):
            trash.purge(corpus, index, "secret.txt")
    assert (corpus / "secret.txt").read_text(encoding="utf-8") == SECRET


def test_removing_the_pdf_keeps_the_shared_record_and_the_txt_builds_with_it(tmp_path):
    from corpus_search.api import Corpus, build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "report.txt").write_text("The Power of Siberia pipeline was signed in May 2014.\n")
    (corpus / "report.pdf").write_bytes(MINIMAL_PDF.read_bytes())
    (corpus / "report.toml").write_text('title = "Shared record"\nauthors = ["Ann Author"]\nyear = 2020\n')
    trash.remove(corpus, "report.pdf")
    assert (corpus / "report.toml").exists()
    report = build(corpus, tmp_path / "index")
    assert [(s.path, s.status) for s in report.sources] == [("report.txt", "ok")]
    c = Corpus.open(tmp_path / "index")
    try:
        assert c.record("report").title == "Shared record" and not c.record("report").guessed
    finally:
        c.close()


# -- the command line ----------------------------------------------------------------------------
def cli(*args, corpus: Path, index: Path):
    cmd = [sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index", str(index), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"), timeout=300)


def one_error_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_cli_remove_trash_restore_and_purge(corpus, tmp_path):
    index = tmp_path / "no-index"
    before = sha(corpus / "secret.txt")
    removed = json.loads(cli("remove", "secret.txt", "--json", corpus=corpus, index=index).stdout)
    assert removed["path"] == "secret.txt" and {f["path"] for f in removed["files"]} == {"secret.txt", "secret.toml"}
    listed = json.loads(cli("trash", "--json", corpus=corpus, index=index).stdout)
    assert [i["id"] for i in listed] == [removed["id"]]
    restored = cli("restore", removed["id"], "--json", corpus=corpus, index=index)
    assert json.loads(restored.stdout)["id"] == removed["id"] and sha(corpus / "secret.txt") == before

    refused = cli("purge", "secret.txt", corpus=corpus, index=index)
    line = one_error_line(refused)
    assert "secret.txt" in line and "secret.toml" in line and "--yes" in line
    assert sha(corpus / "secret.txt") == before
    purged = cli("purge", "secret.txt", "--yes", "--json", corpus=corpus, index=index)
    assert json.loads(purged.stdout)["corpus_files"] == ["secret.txt", "secret.toml"], purged.stderr
    assert not (corpus / "secret.txt").exists() and (corpus / "keep.txt").exists()


@pytest.mark.parametrize("args", [("remove", "../outside.txt"), ("remove", "/etc/passwd"), ("remove", "nothing.txt"),
                                  ("restore", "nothing.txt"), ("restore", "20260101-000000-abcdef"),
                                  ("purge", "nothing.txt", "--yes")])
def test_cli_bad_paths_are_one_line(corpus, tmp_path, args):
    (tmp_path / "outside.txt").write_text("keep me")
    one_error_line(cli(*args, corpus=corpus, index=tmp_path / "no-index"))
    assert (tmp_path / "outside.txt").read_text() == "keep me"


# -- the app -------------------------------------------------------------------------------------
def test_app_removes_to_the_trash_restores_and_purges(corpus, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from corpus_search import build_job
    from corpus_search.api import build

    index = tmp_path / "index"
    build(corpus, index)
    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(index))
    monkeypatch.setenv("CORPUS_SEARCH_CORPUS", str(corpus))
    at = AppTest.from_file(str(ROOT / "src" / "corpus_search" / "app" / "streamlit_app.py"), default_timeout=180)
    at.switch_page("pages/documents.py").run()
    before = sha(corpus / "secret.txt")

    def page():
        # Builds started from the app run in their own process: wait for the one just started to end.
        deadline = time.monotonic() + 300
        while (build_job.status(index) or {}).get("state") == "running" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert (build_job.status(index) or {}).get("state") != "running", "the app's build did not end"
        at.switch_page("pages/documents.py").run()
        assert not at.exception, at.exception

    def said(prefix: str) -> bool:
        return any(html.unescape(s.value).startswith(prefix) for s in at.success)

    def frame(marker: str):
        """The page's table with this column (AppTest does not expose dataframe keys)."""
        return next(d.value for d in at.dataframe if marker in d.value.columns)

    page()
    at.selectbox(key="rm_doc").select("secret").run()
    at.button(key="rm_go").click().run()
    assert not at.exception, at.exception
    assert said("Moved secret.txt to the trash"), [e.value for e in at.error]
    page()
    assert list(frame("removed (UTC)")["file"]) == ["secret.txt"]
    assert list(frame("status")["id"]) == ["keep"]

    at.button(key="trash_restore").click().run()
    assert said("Restored secret.txt"), [e.value for e in at.error]
    assert sha(corpus / "secret.txt") == before
    page()
    assert sorted(frame("status")["id"]) == ["keep", "secret"]

    at.selectbox(key="rm_doc").select("secret").run()
    at.button(key="rm_go").click().run()
    page()
    assert at.button(key="trash_purge").disabled  # purging asks first
    at.checkbox(key="purge_sure").check().run()
    at.button(key="trash_purge").click().run()
    assert not at.exception, at.exception
    assert said("Purged"), [e.value for e in at.error]
    assert trash.list_trash(corpus) == [] and leaks(index) == []


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, "[1]", '{"state": "running", "pid": "x"}',
                                     '{"state": "running", "pid": 0}', '{"state": "running", "pid": -1}'])
def test_hostile_json_in_the_trash_or_the_build_state_is_skipped(corpus, tmp_path, content):
    # Nested 100,000 deep, `trash` was an internal error; the app's build status raised on a list or a bad pid.
    from corpus_search import build_job

    kept = trash.remove(corpus, "secret.txt").id
    other = trash.remove(corpus, "keep.txt").id
    (corpus / "_trash" / other / "entry.json").write_text(content)
    assert [i.id for i in trash.list_trash(corpus)] == [kept]
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / build_job.STATE).write_text(content)
    assert build_job.status(tmp_path / "index") is None
    # pid 0 read as "running", and Cancel then killed its own process group: run it in a session of its own.
    done = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from corpus_search import "
                           "build_job; print(build_job.cancel(Path(sys.argv[1])))", str(tmp_path / "index")],
                          capture_output=True, text=True, timeout=60, start_new_session=True)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr


def test_removing_a_file_whose_name_is_not_utf8_is_one_line_and_leaves_no_debris(tmp_path):
    """`remove caf\\xe9.txt` failed writing its entry and left _trash/<id>/.entry.json.tmp behind."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    name = os.fsdecode(b"caf\xe9.txt")
    (corpus / name).write_text("Latin-1 name.\n", encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        trash.remove(corpus, name)
    assert str(caught.value) == "'caf\\xe9.txt': its name is not valid UTF-8; rename it (mv) and build again"
    assert (corpus / name).is_file()
    assert not (corpus / "_trash").exists() or not any((corpus / "_trash").rglob("*"))
