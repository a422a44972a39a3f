"""A source read again is tagged and embedded only where its text changed: a new pipeline version, an edited file.

Each check compares with what a build from nothing makes of the same corpus, so what is taken from an
earlier build is what the models would have made again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from corpus_search import build_cache, build_entities, build_plan, build_vectors, entity_tagger
from corpus_search.api import Corpus, build
from corpus_search.build_report import Progress
from corpus_search.sentences import SentenceIndex
from tests.conftest import CORPUS, ROOT

SRC = ROOT / "src"

RECORD = 'id = "{id}"\ntitle = "A chapter"\nauthors = ["Ann Author"]\nyear = 2016\ntype = "report"\n'


def _paragraphs(n: int) -> list[str]:
    """Real paragraphs of a bundled source (its longer ones), to build small corpora from."""
    text = (CORPUS / "makocki-popescu-2016-chaillot.txt").read_text(encoding="utf-8")
    paras = [" ".join(p.split()) for p in text.split("\n\n") if len(p) > 400]
    return paras[:n]


def _write(corpus, name: str, paras: list[str]) -> None:
    (corpus / f"{name}.txt").write_text("\n\n".join(paras) + "\n", encoding="utf-8")
    (corpus / f"{name}.toml").write_text(RECORD.format(id=name), encoding="utf-8")


def _snapshot(index) -> dict:
    """passage text -> (vector, raw mentions as offsets and labels, sentence spans and vectors)."""
    c = Corpus.open(index)
    try:
        ids = list(c.vectors.ids)
        passages = c.store.get_passages(ids)
        vectors = c.vectors.vectors_for(ids)
        raw: dict[str, list] = {}
        for pid, start, end, text, label in c.store.raw_mentions(ids):
            raw.setdefault(pid, []).append((start, end, text, label))
        sents = SentenceIndex.open(c.generation)
        out = {}
        for row, pid in enumerate(ids):
            spans, vecs = sents.of_passage(row)
            out[passages[pid].text] = (vectors[pid], raw.get(pid, []), np.asarray(spans), np.asarray(vecs))
        return out
    finally:
        c.close()


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for text, (vec, raw, spans, svecs) in a.items():
        vec2, raw2, spans2, svecs2 = b[text]
        assert raw == raw2, text[:60]
        assert np.array_equal(spans, spans2), text[:60]
        # a batch of other passages pads differently: the same text's vector agrees to float rounding
        assert np.allclose(vec, vec2, atol=1e-5) and np.allclose(svecs, svecs2, atol=1e-5), text[:60]


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    paras = _paragraphs(12)
    _write(folder, "first", paras[:7])
    _write(folder, "second", paras[7:])
    return folder


def test_a_new_pipeline_version_reads_every_source_again_but_runs_no_model_on_the_same_text(corpus, tmp_path,
                                                                                           monkeypatch):
    index = tmp_path / "index"
    first = build(corpus, index)
    assert first.work["tagged"] == first.work["embedded"] == first.passages == 12
    before = _snapshot(index)
    monkeypatch.setattr(build_plan, "PIPELINE_VERSION", build_plan.PIPELINE_VERSION + "-next")
    again = build(corpus, index)
    assert again.changed and not any(s.reused for s in again.sources)  # every source read again
    assert again.work == {"tagged": 0, "tags_found_by_text": 12, "embedded": 0, "vectors_found_by_text": 12}
    after = _snapshot(index)
    _same(before, after)
    for text, (vec, raw, spans, svecs) in before.items():  # taken, not made again: bit for bit
        assert np.array_equal(vec, after[text][0]) and np.array_equal(svecs, after[text][3])
    c = Corpus.open(index)
    assert c.search("Power of Siberia", mode="semantic").hits
    c.close()


def test_an_edited_source_runs_the_models_on_its_changed_passage_alone(corpus, tmp_path):
    index = tmp_path / "index"
    build(corpus, index)
    paras = _paragraphs(12)[:7]
    paras[3] = paras[3].replace("China", "the People's Republic of China", 1) + " Gazprom disagreed."
    _write(corpus, "first", paras)
    edited = build(corpus, index)
    assert {s.doc_id: s.reused for s in edited.sources} == {"first": False, "second": True}
    assert edited.work == {"tagged": 1, "tags_found_by_text": 6, "embedded": 1, "vectors_found_by_text": 6}
    fresh = tmp_path / "fresh"
    build(corpus, fresh)  # the same corpus from nothing
    _same(_snapshot(fresh), _snapshot(index))
    c = Corpus.open(index)
    hits = c.search("Gazprom disagreed", mode="keyword").hits
    assert hits and "Gazprom disagreed." in hits[0].passage.text
    c.close()


def test_a_changed_tagger_tags_again_and_the_vectors_are_still_found(corpus, tmp_path, monkeypatch):
    index = tmp_path / "index"
    build(corpus, index)
    monkeypatch.setattr(build_plan, "PIPELINE_VERSION", build_plan.PIPELINE_VERSION + "-next")
    monkeypatch.setattr(entity_tagger, "TAGGER_VERSION", entity_tagger.TAGGER_VERSION + "-next")
    again = build(corpus, index)
    assert again.work == {"tagged": 12, "tags_found_by_text": 0, "embedded": 0, "vectors_found_by_text": 12}


def test_an_index_that_kept_no_digests_is_embedded_again(corpus, tmp_path, monkeypatch):
    """An index built before digests were kept: its vectors cannot be matched to a text, so none is taken."""
    index = tmp_path / "index"
    with monkeypatch.context() as m:
        m.setattr(build_vectors.Digests, "save", lambda self, gen, ids: None)
        build(corpus, index)
    monkeypatch.setattr(build_plan, "PIPELINE_VERSION", build_plan.PIPELINE_VERSION + "-next")
    again = build(corpus, index)
    assert again.work["embedded"] == 12 and again.work["vectors_found_by_text"] == 0
    assert again.work["tags_found_by_text"] == 12  # the tagger's fingerprint is in the manifest
    third = build(corpus, index, force=True)  # --force tries everything again, whatever it finds
    assert third.work["tagged"] == third.work["embedded"] == 12


def test_what_an_older_index_carried_over_is_digested_at_the_next_build(corpus, tmp_path, monkeypatch):
    """Built before digests: the next build that changes anything digests what it carries over, so the
    version change after it embeds only what changed."""
    index = tmp_path / "index"
    with monkeypatch.context() as m:
        m.setattr(build_vectors.Digests, "save", lambda self, gen, ids: None)
        build(corpus, index)
    before = _snapshot(index)
    (corpus / "third.txt").write_text(_paragraphs(13)[12] + "\n", encoding="utf-8")  # one new source
    added = build(corpus, index)
    assert added.work["embedded"] == 1 and {s.doc_id: s.reused for s in added.sources}["first"]
    monkeypatch.setattr(build_plan, "PIPELINE_VERSION", build_plan.PIPELINE_VERSION + "-next")
    bumped = build(corpus, index)
    assert bumped.work == {"tagged": 0, "tags_found_by_text": 13, "embedded": 0, "vectors_found_by_text": 13}
    after = _snapshot(index)
    for text, (vec, _, _, svecs) in before.items():  # taken, not made again: bit for bit
        assert np.array_equal(vec, after[text][0]) and np.array_equal(svecs, after[text][3])


def test_digest_files_that_are_not_ours_are_ignored_never_unpickled(tmp_path):
    """An index folder from elsewhere: a pickled array or one of the wrong shape finds nothing by text."""
    ids = ["doc:0000", "doc:0001"]
    np.save(tmp_path / build_vectors.PASSAGE_DIGESTS, np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    np.save(tmp_path / build_vectors.SENTENCE_DIGESTS, np.zeros((3, 16), dtype=np.uint8))
    found = build_vectors.Digests.of_generation(tmp_path, ids)
    assert found.passage == {} and found.sentences == {}
    good = build_vectors.Digests(passage={"doc:0000": b"\x01" * 16}, sentences={"doc:0001": b"\x02" * 16})
    good.save(tmp_path, ids)
    again = build_vectors.Digests.of_generation(tmp_path, ids)
    assert again.passage == {"doc:0000": b"\x01" * 16} and again.sentences == {"doc:0001": b"\x02" * 16}


# -- a build that stops before it publishes -------------------------------------------------------

class _StopAt(Progress):
    """A user's Ctrl-C (or a crash) as the build reaches a stage."""

    def __init__(self, stage: str):
        self.at = stage

    def stage(self, name: str, total: int) -> None:
        if name == self.at:
            raise KeyboardInterrupt


def test_a_build_stopped_before_it_wrote_the_index_leaves_its_model_work_to_the_next(corpus, tmp_path, monkeypatch):
    """Everything was tagged and embedded, in parts of 5 passages, when the build stopped: the next build
    runs no model, and makes the index a build from nothing makes."""
    monkeypatch.setenv("CORPUS_SEARCH_CHECKPOINT_PASSAGES", "5")
    index = tmp_path / "index"
    with pytest.raises(KeyboardInterrupt):
        build(corpus, index, progress=_StopAt("write indexes"))
    assert not list(index.glob("gen-*/manifest.json"))  # nothing was written
    parts = sorted(p.name.split("-")[0] for p in (index / build_cache.CACHE_DIR).iterdir())
    assert parts.count("vec") == 3 and parts.count("tags") == 3 and parts.count("sent") >= 1, parts

    logged: list[str] = []
    progress = Progress()
    progress.log = logged.append
    again = build(corpus, index, progress=progress)
    assert again.work == {"tagged": 0, "tags_found_by_text": 0, "embedded": 0, "vectors_found_by_text": 0,
                          "tags_from_stopped_build": 12, "vectors_from_stopped_build": 12}
    assert any("stopped before it finished" in line for line in logged), logged
    assert not (index / build_cache.CACHE_DIR).exists()  # published: the generation holds it all now
    fresh = tmp_path / "fresh"
    build(corpus, fresh)
    _same(_snapshot(fresh), _snapshot(index))


def test_a_document_moved_to_the_trash_and_restored_runs_no_model_again(corpus, tmp_path):
    """The undo of a removal re-embedded and re-tagged the whole document: the build that removed it had
    emptied the cache and the generation after it no longer held its work. Now that build saves it."""
    from corpus_search import trash

    index = tmp_path / "index"
    build(corpus, index)
    item = trash.remove(corpus, "second.txt")
    gone = build(corpus, index)
    assert [r["doc_id"] for r in gone.removed] == ["second"]
    assert list((index / build_cache.CACHE_DIR).glob("vec-*.npz"))  # the removed document's work, kept
    trash.restore(corpus, item.id)
    logged: list[str] = []
    progress = Progress()
    progress.log = logged.append
    back = build(corpus, index, progress=progress)
    assert back.work["tagged"] == 0 and back.work["embedded"] == 0, back.work
    assert back.work["tags_from_stopped_build"] == back.work["vectors_from_stopped_build"] == 5
    assert any("a document the last build removed" in line for line in logged), logged
    assert not (index / build_cache.CACHE_DIR).exists()
    fresh = tmp_path / "fresh"
    build(corpus, fresh)
    _same(_snapshot(fresh), _snapshot(index))

    # A purge leaves none of the purged document's work behind, there either.
    item = trash.remove(corpus, "second.txt")
    build(corpus, index)
    assert (index / build_cache.CACHE_DIR).exists()
    trash.purge(corpus, index, item.id)
    assert not (index / build_cache.CACHE_DIR).exists()


class _Stages(Progress):
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.totals: dict[str, int] = {}

    def stage(self, name: str, total: int) -> None:
        self.totals[name] = total

    def log(self, message: str) -> None:
        self.lines.append(message)


def test_the_one_bar_for_both_models_says_what_its_steps_are(corpus, tmp_path):
    """Tagging and embedding share a bar counting both, so 12 passages make 24 steps: said before it starts."""
    progress = _Stages()
    report = build(corpus, tmp_path / "index", progress=progress)
    assert report.passages == 12 and report.work["tagged"] == 12 and report.work["embedded"] == 12
    assert progress.totals["entities + embeddings"] == 24
    assert "entities + embeddings: 12 passages to tag and 12 to embed, 24 steps" in progress.lines, progress.lines


def test_a_build_killed_while_it_embeds_loses_only_the_part_it_was_making(tmp_path):
    """A real process, killed (SIGKILL: no handler runs) once it has saved two parts of its vectors. The
    next build embeds only what was not saved, and its index is the one a build from nothing gives.

    96 real paragraphs in parts of 8: passages enough for the NER worker process (50 or more), and several
    parts left when it dies; the whole bundled corpus proved the same with seven times the embedding."""
    corpus_copy = tmp_path / "corpus"
    corpus_copy.mkdir()
    paras = _paragraphs(96)
    _write(corpus_copy, "first", paras[:60])
    _write(corpus_copy, "second", paras[60:])
    index = tmp_path / "index"
    env = {**os.environ, "CORPUS_SEARCH_CHECKPOINT_PASSAGES": "8", "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-m", "corpus_search", "--corpus", str(corpus_copy), "--index",
                             str(index), "build"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    cache = index / build_cache.CACHE_DIR
    deadline = time.monotonic() + 300
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if cache.is_dir() and len(list(cache.glob("vec-*.npz"))) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the build ended before two parts were saved: {proc.stderr.read()[-500:]}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the NER worker too
        proc.wait()
    saved = len(list(cache.glob("vec-*.npz")))

    again = build(corpus_copy, index)
    assert again.work["vectors_from_stopped_build"] >= 8 * saved
    assert again.passages >= build_entities.NerJob.MIN_PARALLEL  # the killed build tagged in a process of its own
    assert again.work["embedded"] > 0  # it died with parts still to make
    assert again.work["embedded"] + again.work["vectors_from_stopped_build"] == again.passages
    assert again.work["tagged"] + again.work.get("tags_from_stopped_build", 0) == again.passages
    fresh = tmp_path / "fresh"
    build(corpus_copy, fresh)
    _same(_snapshot(fresh), _snapshot(index))


def test_a_damaged_part_of_the_build_cache_is_skipped_and_deleted(tmp_path):
    cache = build_cache.BuildCache(tmp_path / "cache")
    keys = [bytes([i]) * 16 for i in range(3)]
    cache.add_vectors(keys, np.eye(3, 4, dtype=np.float32))
    cache.add_vectors([bytes([9]) * 16], np.ones((1, 4), dtype=np.float32))
    first, second = sorted(cache.folder.glob("vec-*.npz"), key=lambda p: p.stat().st_mtime_ns)
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped bit on disk
    first.write_bytes(bytes(data))
    (cache.folder / "vec-0123.npz.tmp").write_bytes(data[:100])  # a part whose write never finished
    np.save(cache.folder / "stray.npy", np.array([{"a": 1}], dtype=object))  # pickled: never opened

    found = build_cache.BuildCache(cache.folder).vectors()
    assert list(found) == [bytes([9]) * 16] and np.array_equal(found[bytes([9]) * 16], np.ones(4))
    assert not first.exists() and second.exists()
    cache.clear()
    assert not cache.folder.exists() and build_cache.BuildCache(cache.folder).vectors() == {}
