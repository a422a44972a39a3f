"""A source read again is tagged and embedded only where its text changed: a new pipeline version, an edited file.

Each check compares with what a build from nothing makes of the same corpus, so what is taken from an
earlier build is what the models would have made again.
"""

from __future__ import annotations

import numpy as np
import pytest

from corpus_search import build_plan, build_vectors, entity_tagger
from corpus_search.api import Corpus, build
from corpus_search.sentences import SentenceIndex
from tests.conftest import CORPUS

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
