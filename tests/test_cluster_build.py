"""`build --cluster`: the same index as a local build, from Ray tasks and actors, even when a worker dies."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import trials  # noqa: E402

from corpus_search.build import KEYWORD, STORE, Progress, build
from corpus_search.generations import Generations

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

# Every table a build writes, in a stable order, minus the build's own timestamps.
TABLES = {
    "documents": "SELECT * FROM documents ORDER BY doc_id",
    "passages": "SELECT * FROM passages ORDER BY passage_id",
    "raw_mentions": "SELECT * FROM raw_mentions ORDER BY 1, 2, 3, 4, 5",
    "mentions": "SELECT * FROM mentions ORDER BY 1, 2, 3, 4, 5",
    "aliases": "SELECT * FROM aliases ORDER BY 1, 2, 3, 4",
    "meta": "SELECT * FROM meta WHERE key NOT IN ('created', 'corpus_dir') ORDER BY key",
}


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster of two CPUs for the module, always shut down after."""
    from corpus_search import cluster

    mp = pytest.MonkeyPatch()
    mp.setenv("CORPUS_SEARCH_CLUSTER_CPUS", "2")
    cluster.connect("local")
    yield
    cluster.disconnect()
    mp.undo()


class Recorder(Progress):
    def __init__(self):
        self.lines: list[str] = []
        self.stage_name = ""

    def stage(self, name, total):
        self.stage_name = name

    def log(self, message):
        self.lines.append(message)


def _rows(index: Path) -> dict[str, list]:
    gen = Generations(index).current()
    conn = sqlite3.connect(gen / STORE)
    try:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}
    finally:
        conn.close()


def _vectors(index: Path) -> dict[str, np.ndarray]:
    gen = Generations(index).current()
    return {name: np.load(gen / name) for name in ("vectors.npy", "sentence_vectors.npy", "sentence_spans.npy")}


def _keyword_hits(index: Path, queries: list[str]) -> list:
    from corpus_search.backends import keyword_backend

    keyword = keyword_backend().open(Generations(index).current() / KEYWORD)
    try:
        return [[(pid, round(score, 6)) for pid, score in keyword.search(q, limit=20).ids] for q in queries]
    finally:
        keyword.close()


def _queries(index: Path) -> list[str]:
    """A few queries from the index's own text (three words of every 25th passage): nothing chosen by hand."""
    texts = [row[0] for row in sqlite3.connect(Generations(index).current() / STORE).execute(
        "SELECT text FROM passages ORDER BY passage_id")]
    return [" ".join([w for w in t.split() if w.isalpha()][:3]) for t in texts[::25] if any(w.isalpha() for w in t.split())]


def assert_same_index(cluster_index: Path, local_index: Path) -> None:
    ours, theirs = _rows(cluster_index), _rows(local_index)
    for table in TABLES:
        assert ours[table] == theirs[table], f"{table} differs from the local build"
    assert ours["passages"] and ours["mentions"]
    mine, local = _vectors(cluster_index), _vectors(local_index)
    gen_a, gen_b = Generations(cluster_index).current(), Generations(local_index).current()
    assert (gen_a / "vector_ids.json").read_text() == (gen_b / "vector_ids.json").read_text()
    assert np.array_equal(mine["sentence_spans.npy"], local["sentence_spans.npy"])
    for name in ("vectors.npy", "sentence_vectors.npy"):
        assert mine[name].shape == local[name].shape
        assert np.abs(mine[name] - local[name]).max() < 1e-6, name  # bit-identical on this machine
    queries = _queries(local_index)
    assert len(queries) >= 5
    assert _keyword_hits(cluster_index, queries) == _keyword_hits(local_index, queries)


def test_a_cluster_build_equals_the_local_build(ray_cluster, built_index, tmp_path):
    progress = Recorder()
    report = build(CORPUS, tmp_path / "index", progress=progress, cluster="local")
    assert all(s.status.startswith("ok") for s in report.sources), report.sources
    assert not report.retries
    assert_same_index(tmp_path / "index", built_index)
    # Rates and time left across the workers, through the Progress interface the CLI renders.
    assert any("documents/s" in line and "passages/s" in line for line in progress.lines), progress.lines
    assert any("embedding passages on 2 workers" in line for line in progress.lines), progress.lines

    # Semantic and hybrid search answer alike too.
    from corpus_search.api import Corpus

    ours, local = Corpus.open(tmp_path / "index"), Corpus.open(built_index)
    try:
        for query in _queries(built_index)[:4]:
            for mode in ("semantic", "hybrid"):
                a = [h.passage.passage_id for h in ours.search(query, mode=mode, limit=10).hits]
                b = [h.passage.passage_id for h in local.search(query, mode=mode, limit=10).hits]
                assert a == b, (query, mode)
    finally:
        ours.close()
        local.close()


class KillOnce(Recorder):
    """Kills the embedding workers (kill -9 on their processes) as soon as the first batch of passages is embedded.

    Every one of them, not the first by name: on a loaded machine one worker can still be loading its model
    while the other embeds the first batch, and a worker killed before it held a batch leaves nothing to
    retry (it is replaced, which is right, but the test would see no retry). The one that embedded the
    first batch holds work, or is sent more, when it dies."""

    def __init__(self):
        super().__init__()
        self.killed: list[int] = []

    def advance(self, done):
        if not self.killed and self.stage_name == "entities + embeddings" and done > 0:
            import ray

            names = [n for n in ray.util.list_named_actors() if "-embed-" in n]
            assert names
            pids = ray.get([ray.get_actor(n).pid.remote() for n in names])
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            self.killed = pids


def test_a_worker_killed_mid_build_is_retried_reported_and_loses_nothing(ray_cluster, built_index, tmp_path):
    progress = KillOnce()
    report = build(CORPUS, tmp_path / "index", progress=progress, cluster="local")
    assert progress.killed
    assert report.retries and all(r.startswith("retried embedding batch") for r in report.retries), report.retries
    assert any("retried embedding batch" in line for line in progress.lines)
    assert all(s.status.startswith("ok") for s in report.sources)
    assert_same_index(tmp_path / "index", built_index)


def _extraction_workers() -> list[int]:
    """This cluster's Ray workers running an extraction task now: children of its raylet (found by the socket
    ray.nodes() names, so another build's cluster on the machine is never touched), titled ray::_extract."""
    import ray

    sockets = [n["RayletSocketName"].encode() for n in ray.nodes() if n["Alive"]]
    procs = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
                procs[int(proc.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), (proc / "cmdline").read_bytes())
            except (OSError, ValueError, IndexError):
                continue
    raylets = {pid for pid, (_, cmd) in procs.items() if any(b"--raylet_socket_name=" + s in cmd for s in sockets)}
    return [pid for pid, (parent, cmd) in procs.items() if parent in raylets and cmd.startswith(b"ray::_extract")]


def test_an_extraction_worker_killed_mid_task_is_retried_and_reported(ray_cluster, tmp_path):
    import threading

    corpus = tmp_path / "corpus"
    (corpus / "crs").mkdir(parents=True)
    # Enough sources that one is being extracted when the killer looks (each takes a second or more).
    for pdf in sorted((CORPUS / "crs").glob("*.pdf"))[:trials.n(3, 6)]:
        for part in (pdf, pdf.with_suffix(".toml")):
            if part.exists():
                shutil.copy(part, corpus / "crs" / part.name)
    killed: list[int] = []
    stop = threading.Event()

    def killer():
        while not stop.is_set() and not killed:
            for pid in _extraction_workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            stop.wait(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    progress = Recorder()
    try:
        report = build(corpus, tmp_path / "cluster", progress=progress, cluster="local")
    finally:
        stop.set()
        thread.join()
    assert killed, "no extraction task was seen running"
    assert any(r.startswith("retried crs/") for r in report.retries), report.retries
    assert all(s.status == "ok" and s.passages for s in report.sources), report.sources
    local = build(corpus, tmp_path / "local")
    assert [(s.path, s.passages) for s in report.sources] == [(s.path, s.passages) for s in local.sources]
    ours, theirs = _rows(tmp_path / "cluster"), _rows(tmp_path / "local")
    assert ours["passages"] == theirs["passages"] and ours["mentions"] == theirs["mentions"]


def test_a_broken_pdf_fails_alone_as_in_a_local_build(ray_cluster, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.txt").write_text("Gazprom signed the Power of Siberia contract with CNPC in May 2014.\n\n"
                                     "The pipeline carries gas from eastern Siberia to China.", encoding="utf-8")
    (corpus / "junk.pdf").write_bytes(b"%PDF-1.3\nnot really\n%%EOF")
    on_cluster = build(corpus, tmp_path / "cluster", cluster="local")
    local = build(corpus, tmp_path / "local")
    status = {s.path: (s.status, s.message, s.passages) for s in on_cluster.sources}
    assert status["junk.pdf"][0] == "failed" and status["junk.pdf"][1]
    assert status["note.txt"][0] == "ok" and status["note.txt"][2] > 0
    assert status == {s.path: (s.status, s.message, s.passages) for s in local.sources}
    assert _rows(tmp_path / "cluster") == _rows(tmp_path / "local")


def _cli(*args, env=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "corpus_search", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.parametrize("args, env, says", [
    (["build", "--cluster", "127.0.0.1:9"], {}, "cannot join the Ray cluster at 127.0.0.1:9"),
    (["build", "--cluster", "no-port-here"], {}, "is not host:port"),
    # --cluster alone takes the address from the setting.
    (["build", "--cluster"], {"CORPUS_SEARCH_CLUSTER_ADDRESS": "127.0.0.1:9"}, "cannot join the Ray cluster at 127.0.0.1:9"),
])
def test_a_bad_cluster_address_is_one_line_exit_2_and_writes_nothing(tmp_path, args, env, says):
    index = tmp_path / "index"
    proc = _cli("--corpus", str(CORPUS), "--index", str(index), *args, env=env)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not index.exists()


def test_a_plain_build_stays_local_and_never_imports_ray(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.txt").write_text("Gazprom signed the Power of Siberia contract with CNPC in May 2014.", encoding="utf-8")
    code = ("import sys; from corpus_search.cli import main; sys.argv = ['corpus-search', '--corpus', sys.argv[1], "
            "'--index', sys.argv[2], 'build']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'ray' not in sys.modules, 'a plain build imported Ray'\nprint('no ray')")
    proc = subprocess.run([sys.executable, "-c", code, str(corpus), str(tmp_path / "index")], capture_output=True,
                          text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert proc.returncode == 0 and "no ray" in proc.stdout, proc.stderr[-500:]
    assert "1 passage from 1 source, built" in proc.stdout


def test_joining_a_cluster_sets_keepalive_so_a_cut_host_is_noticed_and_keeps_the_users_values(tmp_path):
    """Without keepalive a call to a host whose cable was pulled waits minutes (docs/scaling.md, section 5):
    cluster.connect, which the CLI and the app both join through, sets Ray's defaults unless the user did."""
    code = ("import os; from corpus_search import cluster; cluster.connect('local'); "
            "from ray._raylet import Config; "
            "print(Config.grpc_client_keepalive_time_ms(), Config.grpc_client_keepalive_timeout_ms()); "
            "cluster.disconnect()")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_grpc_client_keepalive")}
    env.update(HF_HUB_OFFLINE="1", CORPUS_SEARCH_CLUSTER_CPUS="1", RAY_grpc_client_keepalive_timeout_ms="7777")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["10000", "7777"], proc.stdout
