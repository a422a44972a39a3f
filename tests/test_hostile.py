"""Never trust the input: a corpus full of hostile files builds, and each file ends with a status and a message.

tests/test_ingest.py checks `ingest.extract` on each file; here the whole build (the real CLI, the real
models) runs over one corpus folder holding all of them beside two real text sources.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from corpus_search.api import Corpus
from corpus_search.models import (
    STATUS_EMPTY,
    STATUS_FAILED,
    STATUS_LOW_QUALITY,
    STATUS_NO_TEXT,
    STATUS_OK,
    STATUS_OK_OCR,
    STATUS_OK_SKIPPED,
    STATUS_PASSWORD,
)

ROOT = Path(__file__).resolve().parents[1]
PDFS = ROOT.parent / "shared" / "testdata" / "pdf"
STATUSES = {STATUS_OK, STATUS_OK_SKIPPED, STATUS_NO_TEXT, STATUS_PASSWORD, STATUS_FAILED, STATUS_EMPTY,
            STATUS_LOW_QUALITY, STATUS_OK_OCR}
CAP_MB = 2
# The 117-page GeoTopo PDF adds ~1,400 passages to tag and embed (minutes on a small machine); it is a long
# but valid document that tests/test_ingest.py covers. CORPUS_SEARCH_HOSTILE_ALL_PDFS=1 builds it here too.
ALL_PDFS = os.environ.get("CORPUS_SEARCH_HOSTILE_ALL_PDFS") == "1"
LONG_PDFS = {"GeoTopo-komprimiert.pdf"}
RECORD = 'id = "{id}"\ntitle = "{title}"\nauthors = ["Ann Author"]\nyear = 2020\ntype = "report"\n'

# name -> bytes of a hostile text source
TEXT_FILES = {
    "zero-bytes.txt": b"",
    "only-whitespace.txt": b"  \n\n\t \r\n",
    "binary-junk.txt": random.Random(8).randbytes(20_000),
    "nul-bytes.txt": b"\x00" * 4096,
    "latin-1.txt": "La coopération énergétique entre Moscou et Pékin: Gazprom, la Chine, le gazoduc.\n\n"
                   "Deuxième paragraphe à propos de Rosneft.\n".encode("latin-1"),
    "utf-16-bom.txt": "\ufeffThe Vankor oil field supplies the Skovorodino spur.\n\n"
                      "A second paragraph about Transneft tariffs.\n".encode("utf-16-le"),
    "invalid-utf-8.txt": b"Sinopec and Rosneft met in Tianjin.\n\nbroken \xff\xfe\xc3\x28 bytes in the middle of "
                         b"a sentence about the Eastern Siberia pipeline.\n",
    "control-chars.txt": "Escape \x1b[31mred\x1b[0m and bell \x07 inside a line about Lukoil.\n\n"
                         "Bidi \u202eoverride\u202c and zero\u200bwidth space.\n".encode(),
}
EXPECTED = {  # the status a user should see, where the file leaves only one sensible answer
    "zero-bytes.txt": STATUS_EMPTY,
    "only-whitespace.txt": STATUS_EMPTY,
    "binary-junk.txt": STATUS_FAILED,
    "nul-bytes.txt": STATUS_FAILED,
    "latin-1.txt": STATUS_OK,
    "utf-16-bom.txt": STATUS_OK,
    "invalid-utf-8.txt": STATUS_OK,
    "control-chars.txt": STATUS_OK,
    "too-large.txt": STATUS_FAILED,
    "bad-record.txt": STATUS_FAILED,
    "zz-duplicate-id.txt": STATUS_FAILED,
    "pdf/ocrmypdf-invalid.pdf": STATUS_FAILED,
    "pdf/pikepdf-378014596.pdf": STATUS_FAILED,
    "pdf/libreoffice-writer-password.pdf": STATUS_PASSWORD,
    "pdf/graph-encrypted.pdf": STATUS_PASSWORD,
    "pdf/c02-22.pdf": STATUS_OK_OCR if shutil.which("tesseract") else STATUS_NO_TEXT,  # a scan: OCR reads it
    "pdf/minimal-document.pdf": STATUS_OK,
    "pdf/content-stream-errors.pdf": STATUS_OK_SKIPPED,
}


def _excerpt(path: Path, chars: int) -> str:
    text = path.read_text(encoding="utf-8")[:chars]
    return text[: text.rfind("\n\n")].rstrip() + "\n"


def _pdf_name(path: Path) -> str:
    """Flattened, unique file names (two sample folders hold files of the same stem)."""
    name = path.stem
    if name in ("invalid", "378014596"):
        name = f"{path.parts[len(PDFS.parts)]}-{name}"
    return f"{name}.pdf"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict:
    corpus = tmp_path_factory.mktemp("hostile-corpus")
    index = tmp_path_factory.mktemp("hostile-index")
    # Two real sources so the build has content.
    for name, src, doc_id in (("real-a", "makocki-popescu-2016-chaillot.txt", "reala"),
                              ("real-b", "alexeeva-lasserre-2018-china-perspectives.txt", "realb")):
        (corpus / f"{name}.txt").write_text(_excerpt(ROOT / "corpus" / src, 6000), encoding="utf-8")
        (corpus / f"{name}.toml").write_text(RECORD.format(id=doc_id, title=name), encoding="utf-8")
    for name, data in TEXT_FILES.items():
        (corpus / name).write_bytes(data)
    # Over the size cap (CAP_MB is set for this build): skipped with a message, never read whole.
    with open(corpus / "too-large.txt", "wb") as f:
        f.write(b"Gazprom and CNPC. " * ((CAP_MB * 1024 * 1024 + 65536) // 18))
    # A record that is not TOML, and a record whose id another source already uses.
    (corpus / "bad-record.txt").write_text("Text with a broken record beside it.\n", encoding="utf-8")
    (corpus / "bad-record.toml").write_text('id = "unterminated\ntitle = [', encoding="utf-8")
    (corpus / "zz-duplicate-id.txt").write_text("Text claiming another source's id.\n", encoding="utf-8")
    (corpus / "zz-duplicate-id.toml").write_text(RECORD.format(id="reala", title="dup"), encoding="utf-8")
    (corpus / "pdf").mkdir()
    pdfs = sorted(p for p in PDFS.rglob("*.pdf") if ALL_PDFS or p.name not in LONG_PDFS)
    assert len(pdfs) >= 20
    for path in pdfs:
        (corpus / "pdf" / _pdf_name(path)).write_bytes(path.read_bytes())
    assert len(list((corpus / "pdf").iterdir())) == len(pdfs)

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CORPUS_SEARCH_MAX_SOURCE_MB=str(CAP_MB))
    cmd = [sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index", str(index), "build"]
    first = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=900, env=env)
    # Again, for the report a user reads: unchanged sources (failed ones too) are carried over.
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    return {"corpus": corpus, "index": index, "first": first, "again": again, "pdfs": len(pdfs)}


def _sources(hostile) -> dict[str, dict]:
    assert hostile["first"].returncode == 0, hostile["first"].stderr
    return {s["path"]: s for s in json.loads(hostile["first"].stdout)["sources"]}


def test_the_build_completes_and_reports_every_source(hostile):
    sources = _sources(hostile)
    on_disk = {p.relative_to(hostile["corpus"]).as_posix() for p in hostile["corpus"].rglob("*")
               if p.suffix in (".txt", ".pdf")}
    assert set(sources) == on_disk
    assert "Traceback" not in hostile["first"].stderr
    n_hostile = len(on_disk) - 2
    print(f"\n[reliability] hostile: {n_hostile} hostile files ({hostile['pdfs']} PDFs) in one build; statuses: "
          + json.dumps({s: sum(x["status"] == s for x in sources.values()) for s in sorted(STATUSES)}))


def test_every_source_ends_ok_skipped_or_failed_with_a_message(hostile):
    for path, s in _sources(hostile).items():
        assert s["status"] in STATUSES, (path, s)
        if s["status"] != STATUS_OK:
            assert s["message"].strip(), f"{path}: status {s['status']!r} without a message"


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_hostile_file_gets_the_status_a_user_expects(hostile, path):
    s = _sources(hostile)[path]
    assert s["status"] == EXPECTED[path], s
    if s["status"] not in (STATUS_OK, STATUS_OK_SKIPPED, STATUS_OK_OCR):
        assert s["passages"] == 0


@pytest.mark.parametrize("path, words", [
    ("too-large.txt", "over the 2 MiB limit"),
    ("bad-record.txt", "not valid TOML"),
    ("zz-duplicate-id.txt", "already used"),
    ("latin-1.txt", "not valid UTF-8"),
    ("binary-junk.txt", "not a text file"),
    ("pdf/libreoffice-writer-password.pdf", "password"),
])
def test_the_message_says_what_went_wrong(hostile, path, words):
    assert words in _sources(hostile)[path]["message"]


def test_the_report_a_user_reads_names_every_file_with_its_status(hostile):
    again = hostile["again"]
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    for path, s in _sources(hostile).items():
        line = next((ln for ln in lines if ln.startswith(f"{path}: ")), None)
        assert line is not None, f"{path} is missing from the build report"
        assert line.startswith(f"{path}: {s['status']}")


def test_real_and_decoded_text_is_searchable(hostile):
    c = Corpus.open(hostile["index"])
    try:
        assert c.warnings == []
        docs = {d.path: d for d in c.documents()}
        assert docs["real-a.txt"].passages > 0 and docs["real-b.txt"].passages > 0
        assert c.search("Russia China", mode="keyword").hits
        for query, path in (("coopération énergétique", "latin-1.txt"), ("Vankor Skovorodino", "utf-16-bom.txt"),
                            ("Tianjin", "invalid-utf-8.txt"), ("Lukoil", "control-chars.txt")):
            hits = c.search(query, mode="keyword").hits
            assert hits and hits[0].passage.doc_id == docs[path].doc_id, query
        for p in c.passages():  # no control character (NUL, ESC, BEL, ...) reaches the index
            assert not any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in p.text), p.passage_id
        n = c.store.passage_count()
        assert n == c.keyword.count() == len(c.vectors) == c.manifest["counts"]["passages"]
    finally:
        c.close()


# -- issue 17: a PDF that expands to gigabytes of text costs its time cap, not the build ---------------------
CAP_S = 5  # CORPUS_SEARCH_PDF_TIMEOUT for these builds: the bomb needs minutes, the real sources a second


@pytest.mark.timeout(120)
def test_the_source_worker_stops_a_text_bomb_at_the_time_cap(tmp_path, monkeypatch):
    import time

    from hostile_pdf import write_hostile_pdf

    from corpus_search.models import Record
    from corpus_search.source_worker import process

    bomb = write_hostile_pdf(tmp_path / "bomb.pdf")
    assert bomb.stat().st_size < 1_000_000  # half a megabyte on disk
    monkeypatch.setenv("CORPUS_SEARCH_PDF_TIMEOUT", "2")
    started = time.monotonic()
    result = process(bomb, Record(doc_id="bomb", title="Bomb"))
    assert time.monotonic() - started < 2 + 5
    assert (result.status, result.passages) == (STATUS_FAILED, ())
    assert result.message.startswith("over the time cap (2 s)")


@pytest.mark.timeout(120)
def test_the_source_worker_stops_a_source_at_the_memory_cap(tmp_path, monkeypatch):
    from corpus_search.models import Record
    from corpus_search.source_worker import process

    big = tmp_path / "big.txt"
    big.write_text("Gazprom and CNPC signed. " * 2_400_000, encoding="utf-8")  # 60 MB of text
    monkeypatch.setenv("CORPUS_SEARCH_PDF_MEMORY_MB", "250")
    result = process(big, Record(doc_id="big", title="Big"))
    assert result.status == STATUS_FAILED
    assert result.message.startswith("over the memory cap (250 MiB)")


@pytest.mark.timeout(180)
def test_a_build_stopped_by_sigterm_leaves_no_worker_running_past_the_cap(tmp_path):
    """`kill PID` (not the group) of a build left its source workers running with no cap: minutes of CPU."""
    import signal
    import time

    from hostile_pdf import write_hostile_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_hostile_pdf(corpus / "bomb.pdf", pages=8)  # a minute or more of work: an orphan outlives the wait below
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CORPUS_SEARCH_PDF_TIMEOUT="3")
    build = subprocess.Popen([sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index",
                              str(tmp_path / "index"), "build"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)

    def running() -> list[int]:
        """The build's source workers still running (in its process group; zombies excluded)."""
        found = []
        for proc in Path("/proc").iterdir():
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[2]) == build.pid and stat[0] != "Z" and b"source_worker" in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except (OSError, ValueError, IndexError):
                continue
        return found

    deadline = time.monotonic() + 60
    while not running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running(), "the build started no source worker"
    build.send_signal(signal.SIGTERM)  # the build alone, as `kill PID` or a service manager does
    build.wait(timeout=30)
    deadline = time.monotonic() + 40  # the cap is 4 s of CPU; generous for a loaded machine
    while running() and time.monotonic() < deadline:
        time.sleep(0.5)
    left = running()
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "a source worker kept running after its build was stopped"


@pytest.mark.timeout(180)
def test_a_killed_builds_scratch_folder_is_deleted_by_the_next_build(tmp_path):
    """A build killed outright cannot delete its workers' scratch folder, which may hold a copy of a
    private attachment; the next build that reads a source deletes it (it used to stay in /tmp)."""
    import signal
    import time

    from hostile_pdf import write_hostile_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_hostile_pdf(corpus / "bomb.pdf", pages=8)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CORPUS_SEARCH_PDF_TIMEOUT="3",
               TMPDIR=str(temp))
    build = subprocess.Popen([sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index",
                              str(tmp_path / "index"), "build"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    mine = f"corpus-search-source-{build.pid}-"
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(mine) for p in temp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(build.pid, signal.SIGKILL)  # the build and its workers: nothing runs a cleanup
    build.wait(timeout=30)
    left = [p for p in temp.iterdir() if p.name.startswith(mine)]
    assert left, "the killed build left no scratch folder: this test no longer tests anything"
    (left[0] / "attachment.pdf").write_bytes(b"a private attachment")  # as a worker copies one out

    (corpus / "bomb.pdf").unlink()
    (corpus / "note.txt").write_text("The Altai pipeline was discussed in Beijing.", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index",
                           str(tmp_path / "index"), "build"], env=env, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr
    assert not [p for p in temp.iterdir() if p.name.startswith("corpus-search-source-")]


def test_the_scratch_sweep_deletes_only_folders_of_processes_that_are_gone(tmp_path):
    from corpus_search.source_worker import SCRATCH_PREFIX, sweep_orphaned_scratch

    gone_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
    dead = tmp_path / f"{SCRATCH_PREFIX}{gone_pid}-abc123"
    live = tmp_path / f"{SCRATCH_PREFIX}{os.getpid()}-def456"
    young_legacy = tmp_path / f"{SCRATCH_PREFIX}x1y2z3_q"  # named before the id: kept until a day old
    old_legacy = tmp_path / f"{SCRATCH_PREFIX}a1b2c3_d"
    other = tmp_path / "corpus-search-cluster-abc"
    for folder in (dead, live, young_legacy, old_legacy, other):
        folder.mkdir()
        (folder / "attachment.pdf").write_bytes(b"private")
    os.utime(old_legacy, (0, 0))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("the user's file", encoding="utf-8")
    linked = tmp_path / f"{SCRATCH_PREFIX}{gone_pid}-link00"
    linked.symlink_to(outside, target_is_directory=True)
    (dead / "inside-link").symlink_to(outside, target_is_directory=True)

    deleted = sweep_orphaned_scratch(tmp_path, force=True)
    assert sorted(p.name for p in deleted) == sorted([dead.name, old_legacy.name])
    assert not dead.exists() and not old_legacy.exists()
    assert live.is_dir() and young_legacy.is_dir() and other.is_dir() and linked.is_symlink()
    assert (outside / "keep.txt").read_text(encoding="utf-8") == "the user's file"
    later = tmp_path / f"{SCRATCH_PREFIX}{gone_pid}-later0"  # once a process has swept, it does not again
    later.mkdir()
    assert sweep_orphaned_scratch(tmp_path) == [] and later.is_dir()
    assert sweep_orphaned_scratch(tmp_path, force=True) == [later] and not later.exists()


def test_a_killed_cluster_workers_copy_of_a_source_is_deleted_by_its_next_source(tmp_path, monkeypatch):
    """A cluster worker writes the whole source it reads to a scratch folder; killed, it left the copy."""
    import tempfile

    from corpus_search import cluster_workers, source_worker
    from corpus_search.models import Record

    gone_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
    left = tmp_path / f"{cluster_workers.CLUSTER_PREFIX}{gone_pid}-abc123"
    left.mkdir()
    (left / "private.pdf").write_bytes(b"a whole private source")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(source_worker, "_swept", set())  # as in a fresh worker process
    done = cluster_workers._extract("note.txt", b"The Altai pipeline was discussed in Beijing.",
                                    Record(doc_id="note", title="Note").to_json(), None)
    assert done.passages and "Altai" in done.passages[0].text
    assert not left.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(cluster_workers.CLUSTER_PREFIX)]


@pytest.fixture(scope="module")
def bomb_build(tmp_path_factory) -> dict:
    from hostile_pdf import write_hostile_pdf

    corpus = tmp_path_factory.mktemp("bomb-corpus")
    index = tmp_path_factory.mktemp("bomb-index")
    for name, src, doc_id in (("real-a", "makocki-popescu-2016-chaillot.txt", "reala"),
                              ("real-b", "alexeeva-lasserre-2018-china-perspectives.txt", "realb")):
        (corpus / f"{name}.txt").write_text(_excerpt(ROOT / "corpus" / src, 6000), encoding="utf-8")
        (corpus / f"{name}.toml").write_text(RECORD.format(id=doc_id, title=name), encoding="utf-8")
    (corpus / "uploads").mkdir()
    write_hostile_pdf(corpus / "uploads" / "bomb.pdf")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CORPUS_SEARCH_PDF_TIMEOUT=str(CAP_S))
    cmd = [sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index", str(index), "build", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    return {"corpus": corpus, "index": index, "done": done}


@pytest.mark.timeout(700)  # a hang guard: before issue 17 this build never finished
def test_a_text_bomb_pdf_fails_at_the_time_cap_and_the_build_goes_on(bomb_build):
    done = bomb_build["done"]
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    sources = {s["path"]: s for s in report["sources"]}
    bomb = sources["uploads/bomb.pdf"]
    assert (bomb["status"], bomb["passages"]) == (STATUS_FAILED, 0)
    assert bomb["message"].startswith(f"over the time cap ({CAP_S} s)")
    # The sources are processed side by side, so the whole stage costs about one cap, not more.
    assert report["stage_seconds"]["extract_clean"] < CAP_S + 15
    assert sources["real-a.txt"]["status"] == sources["real-b.txt"]["status"] == STATUS_OK
    c = Corpus.open(bomb_build["index"])
    try:
        assert c.search("Russia China", mode="keyword").hits
        listed = {d.path: d for d in c.documents()}
        assert listed["uploads/bomb.pdf"].status == STATUS_FAILED  # listed, with its reason, so it can be removed
        assert "over the time cap" in listed["uploads/bomb.pdf"].message
    finally:
        c.close()
