"""Sharded search on a real local Ray cluster: the bundled corpus in 3 shards, 2 replicas each.

What a user would notice: the sharded top 10 is the unsharded top 10 (ids, order, scores, evidence,
totals, facets) for every mode and filter; killing a worker during a stream of queries fails none and
changes no answer; a changed shard file is refused. One local cluster for the module, shut down after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import trials  # noqa: E402

pytestmark = pytest.mark.cluster

SHARDS, REPLICAS = 3, 2
QUERIES = [
    "pipeline gas exports to China",
    "sanctions",
    "EEU and the Belt and Road Initiative",  # each name also searched in its other form (query_aliases)
    '"Power of Siberia"',
    "nuclear cooperation AND Russia",
    "energy security in central asia",
    "oil pric*",
    "Belt and Road Initiative",
    "arms sales and military technology",
    "Arctic shipping route",
    "what did the presidents agree about the partnership",
    "trade between the two countries grew",
    "renewable energy investment",
]
CLUSTER_ENV = {"CORPUS_SEARCH_BACKEND": "cluster", "CORPUS_SEARCH_SHARDS": str(SHARDS),
               "CORPUS_SEARCH_REPLICAS": str(REPLICAS), "CORPUS_SEARCH_CLUSTER_CPUS": "2"}


@pytest.fixture(scope="module")
def sharded_root(built_index, tmp_path_factory) -> Path:
    """A copy of the session's index, split into shards by the command a user runs."""
    root = tmp_path_factory.mktemp("sharded") / "index"
    shutil.copytree(built_index, root)
    done = _cli(["--index", str(root), "shard", "--shards", str(SHARDS)])
    assert done.returncode == 0, done.stderr
    assert f"in {SHARDS} shards" in done.stdout
    return root


@pytest.fixture(scope="module")
def sharded(corpus, sharded_root):
    """The sharded index opened with backend = cluster (the local one, `corpus`, is opened first)."""
    from corpus_search import cluster
    from corpus_search.api import Corpus

    saved = {k: os.environ.get(k) for k in CLUSTER_ENV}
    os.environ.update(CLUSTER_ENV)
    opened = None
    try:
        opened = Corpus.open(sharded_root)
        yield opened
    finally:
        if opened is not None:
            opened.close()
        cluster.disconnect()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cli(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_search", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def _same(local, sharded) -> None:
    """Everything a reader of the two result pages could tell apart."""
    assert [h.passage.passage_id for h in sharded.hits] == [h.passage.passage_id for h in local.hits]
    for a, b in zip(local.hits, sharded.hits):
        assert b.score == pytest.approx(a.score, abs=1e-6)
        assert (b.keyword_rank, b.semantic_rank) == (a.keyword_rank, a.semantic_rank)
        assert b.evidence == a.evidence
    assert sharded.total == local.total
    assert sharded.facets == local.facets
    assert sharded.warnings == local.warnings


def test_the_index_is_split_by_document(sharded, corpus):
    """Every passage on exactly one shard, all of a document's on the same one, and none left out."""
    owner = sharded.shards.owner
    passages = corpus.passages()
    assert len(owner) == len(passages)
    by_doc: dict[str, set[int]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, set()).add(owner[p.passage_id])
    assert all(len(s) == 1 for s in by_doc.values())
    assert len({k for s in by_doc.values() for k in s}) > 1  # the corpus really is spread


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_sharded_top10_equals_unsharded(sharded, corpus, mode):
    for query in QUERIES:
        _same(corpus.search(query, mode=mode), sharded.search(query, mode=mode))


@pytest.mark.parametrize("limit", [1, 3, 40])
def test_sharded_hybrid_equals_unsharded_at_any_page_size(sharded, corpus, limit):
    """The rerank reads the sentences of a fused head that grows with the page: still the unsharded answer."""
    for query in QUERIES[::2]:
        _same(corpus.search(query, mode="hybrid", limit=limit), sharded.search(query, mode="hybrid", limit=limit))


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_a_query_asks_each_shard_once(sharded, corpus, mode, monkeypatch):
    """One round trip to the shards per query (each answers both retrievers and the rerank's sentences at
    once): a cluster's time per query is that trip plus the local work, whatever the mode or filter."""
    calls = []
    real = sharded.shards._call_all
    monkeypatch.setattr(sharded.shards, "_call_all", lambda *a, **kw: calls.append(a[0]) or real(*a, **kw))
    place = _filters(corpus)[0]
    for query in QUERIES[:4]:
        for filters in ({}, place):
            calls.clear()
            _same(corpus.search(query, mode=mode, **filters), sharded.search(query, mode=mode, **filters))
            assert calls == ["retrieve"], (query, filters, calls)


def _filters(corpus) -> list[dict]:
    """Filters over what this corpus holds: its commonest entities, a label, two documents, a language."""
    top = corpus.entities(limit=40)
    people = [e.name for e in top if e.label == "PERSON"][:1]
    places = [e.name for e in top if e.label == "GPE"][:2]
    docs = [d.doc_id for d in corpus.documents()][:2]
    lang = corpus.languages()[0][0]
    return [{"entities": places[:1]}, {"entities": places}, {"entities": people}, {"labels": ["ORG"]},
            {"doc_ids": docs}, {"doc_ids": docs[:1], "kinds": ["body"]}, {"lang": lang},
            {"entities": places[:1], "rollup": True}]


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_filtered_sharded_results_equal_unsharded(sharded, corpus, mode):
    for filters in _filters(corpus):
        for query in QUERIES[:6]:
            _same(corpus.search(query, mode=mode, **filters), sharded.search(query, mode=mode, **filters))


def test_quotation_search_by_meaning_is_unchanged(sharded, corpus):
    """Quote verification asks the vector index for the closest passages: the shards answer alike."""
    text = corpus.passages()[40].text[:200]
    assert [m.passage_id for m in sharded.quote(text).matches] == [m.passage_id for m in corpus.quote(text).matches]
    assert [pid for pid, _ in sharded.semantic("gas pipeline", k=20)] == [pid for pid, _ in corpus.semantic("gas pipeline", k=20)]


def test_killing_a_worker_mid_stream_fails_no_query(sharded, corpus):
    """~100 queries while one replica is killed: none fails, every answer is the unsharded one, and
    the killed replica is replaced."""
    import ray

    stream = [(q, m) for q in QUERIES for m in ("hybrid", "keyword", "semantic")] * trials.n(2, 3)  # 78 or 117
    expected = {(q, m): corpus.search(q, mode=m) for q, m in set(stream)}
    victims = [sharded.shards.replicas[1][0].handle, sharded.shards.replicas[2][1].handle]
    reached = [threading.Event(), threading.Event()]

    def killer():
        for event, victim in zip(reached, victims):
            event.wait(timeout=120)
            ray.kill(victim, no_restart=True)

    thread = threading.Thread(target=killer)
    thread.start()
    failures = []
    try:
        for i, (q, m) in enumerate(stream):
            if i == 30:
                reached[0].set()
            if i == 60:
                reached[1].set()
            try:
                _same(expected[(q, m)], sharded.search(q, mode=m))
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none hidden
                failures.append((q, m, repr(exc)))
    finally:
        for event in reached:
            event.set()
        thread.join()
    assert failures == []
    alive = [r.handle for reps in sharded.shards.replicas for r in reps]
    assert not set(map(id, victims)) & set(map(id, alive))
    assert all(len(reps) == REPLICAS for reps in sharded.shards.replicas)  # each killed one was replaced
    for k in (1, 2):  # and the replacements answer
        ray.get([r.ready_ref for r in sharded.shards.replicas[k]], timeout=120)


def test_a_changed_shard_file_is_refused(sharded_root, tmp_path):
    """A shard file changed after sharding (same size) makes the generation damaged, like any index file."""
    root = tmp_path / "index"
    shutil.copytree(sharded_root, root)
    from corpus_search.generations import Generations

    gen = Generations(root).current()
    victim = gen / "shards" / "1" / "vectors.npy"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    done = _cli(["--index", str(root), "search", "gas", "--json"], env=CLUSTER_ENV)
    assert done.returncode != 0
    assert "shards/1/vectors.npy is corrupt" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in done.stderr


def test_a_replica_that_finds_its_shard_changed_refuses_it(sharded, sharded_root, tmp_path):
    """Changed after the index was opened: a replacement replica checks its files and will not serve them;
    once no replica of that shard is left, a query fails with one line saying why."""
    import ray

    from corpus_search.api import Corpus
    from corpus_search.shard_search import ShardUnavailableError

    root = tmp_path / "index"
    shutil.copytree(sharded_root, root)
    opened = Corpus.open(root)
    try:
        assert opened.search("gas pipeline", mode="keyword").hits
        victim = opened.generation / "shards" / "0" / "sentence_vectors.npy"
        data = bytearray(victim.read_bytes())
        data[-1] ^= 0xFF
        victim.write_bytes(bytes(data))
        for r in list(opened.shards.replicas[0]):
            ray.kill(r.handle, no_restart=True)
        for r in list(opened.shards.replicas[0]):
            _wait_until_dead(r.handle)
        with pytest.raises(ShardUnavailableError, match=r"shard 0 .*sentence_vectors\.npy is corrupt"):
            opened.search("gas pipeline", mode="keyword")
    finally:
        opened.close()


def _wait_until_dead(handle, timeout: float = 60) -> None:
    """Wait for a killed actor to be gone. ray.kill only asks the GCS to kill it and returns: a call sent
    straight after goes to the actor's worker directly and can still be answered (1 round in 8 here), and
    a query would then be served by the old replica, which read its files before they were changed."""
    import time

    import ray

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ray.get(handle.__ray_ready__.remote(), timeout=timeout)
        except ray.exceptions.RayActorError:
            return
        time.sleep(0.05)
    pytest.fail(f"a replica still answered {timeout} s after ray.kill")


def test_shards_written_in_parallel_are_the_shards_written_in_one_process(sharded_root, tmp_path):
    """The shard command writes a big index's shards in one process each: the same files (Whoosh's by
    content, as it names segments at random), so every answer above holds for them too."""
    import importlib.util

    from corpus_search import shards
    from corpus_search.generations import Generations

    spec = importlib.util.spec_from_file_location("compare_shards", Path(__file__).parents[1] / "bench" / "compare_shards.py")
    compare_shards = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(compare_shards)
    root = tmp_path / "index"
    shutil.copytree(sharded_root, root)
    gen = Generations(root).current()
    before = json.loads((gen / "shards" / "shards.json").read_text(encoding="utf-8"))["passages"]
    assert shards.write(gen, SHARDS, workers=SHARDS) == before
    assert compare_shards.compare(sharded_root, root) == []
    # and the comparison sees a shard that holds another's passages
    victim = gen / "shards" / "1" / "keyword"
    shutil.rmtree(victim)
    shutil.copytree(gen / "shards" / "0" / "keyword", victim)
    assert any("shard 1: Whoosh content differs" in p for p in compare_shards.compare(sharded_root, root))


def test_shards_must_match_the_setting(sharded_root):
    """Asking for another number of shards than the index holds says which command rewrites them."""
    done = _cli(["--index", str(sharded_root), "search", "gas"], env={**CLUSTER_ENV, "CORPUS_SEARCH_SHARDS": "4"})
    assert done.returncode != 0
    assert "run `corpus-search shard --shards 4`" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_shard_command_rewrites_only_when_the_count_changes(sharded_root, tmp_path):
    from corpus_search import shards
    from corpus_search.generations import Generations

    root = tmp_path / "index"
    shutil.copytree(sharded_root, root)
    again = _cli(["--index", str(root), "shard", "--shards", str(SHARDS)])
    assert again.returncode == 0 and "already split into 3 shards; nothing to do" in again.stdout
    before = Generations(root).current()
    two = _cli(["--index", str(root), "shard", "--shards", "2"])
    assert two.returncode == 0, two.stderr
    after = Generations(root).current()
    assert after != before and shards.count(after) == 2
    assert Generations(root).problem(after) is None  # the new shard files are in the manifest
    bad = _cli(["--index", str(root), "shard", "--shards", "0"])
    assert bad.returncode != 0 and bad.stderr.startswith("error: shards must be a whole number")
    assert len(bad.stderr.strip().splitlines()) == 1


_DYING_WORKER = """
import os, signal, sys
from corpus_search import cluster
import ray

cluster.connect("local")

@ray.remote(max_retries=0)
def die():
    os.kill(os.getpid(), signal.SIGKILL)

try:
    ray.get(die.remote(), timeout=120)
except ray.exceptions.WorkerCrashedError:
    print("crashed", file=sys.stderr, flush=True)
sys.stdin.read()  # until the test has seen Ray's message (or given up)
cluster.disconnect()
"""


def test_rays_own_messages_go_to_stderr_never_stdout(tmp_path):
    """A joined driver hears of a dead worker ("(raylet) A worker died ..."): that goes to stderr, so a
    CLI's --json on stdout stays JSON when a worker or a host is lost."""
    proc = subprocess.Popen([sys.executable, "-c", _DYING_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CORPUS_SEARCH_CLUSTER_CPUS": "1"})
    said = []
    timer = threading.Timer(120, proc.kill)
    timer.start()
    try:
        for line in proc.stderr:
            said.append(line)
            if "(raylet)" in line and "worker died" in line.lower():
                break
        proc.stdin.close()
        rest_err = proc.stderr.read()
        out = proc.stdout.read()
        proc.wait(timeout=60)
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
    said.append(rest_err)
    assert any("crashed" in line for line in said), "".join(said)[-3000:]
    assert any("(raylet)" in line for line in said), "".join(said)[-3000:]
    assert out == ""
    raylet = [line for line in said if "(raylet)" in line]
    assert not any("\x1b[" in line for line in raylet), raylet  # a pipe gets no colour codes
