"""The backend seam: Searcher answers the same way over any KeywordBackend / VectorBackend.

The acceptance checks run over the real backends (Whoosh, NumPy) and over two small in-memory ones
defined here: real classes implementing OUR protocols (a dict of word counts, a list of vectors), so
a second backend has a reference for what it must do. spaCy, MiniLM and the store stay real.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pytest

from corpus_search import backends
from corpus_search.errors import UsageError
from corpus_search.keyword_index import KeywordHits
from corpus_search.search import Filters, Searcher
from tests.test_cli import one_error_line, run

_WORD = re.compile(r"\w+")


class DictKeyword:
    """A KeywordBackend: plain BM25 (k1 1.2, b 0.75) over lower-cased words, held in dicts."""

    def __init__(self, passages):
        self.counts = {p.passage_id: Counter(w.lower() for w in _WORD.findall(p.text)) for p in passages}
        self.df = Counter(w for c in self.counts.values() for w in c)
        self.lengths = {pid: sum(c.values()) for pid, c in self.counts.items()}
        self.mean = sum(self.lengths.values()) / max(1, len(self.lengths))

    def search(self, query, limit=100, allowed=None):
        words = [w.lower() for w in _WORD.findall(query)]
        scores = {}
        for pid, c in self.counts.items():
            if allowed is not None and pid not in allowed:
                continue
            norm = 1.2 * (0.25 + 0.75 * self.lengths[pid] / self.mean)
            s = sum(c[w] / (c[w] + norm) * 2.2 * math.log(1 + len(self.counts) / self.df[w]) for w in words if w in c)
            if s:
                scores[pid] = s
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return KeywordHits(ids=ranked[:limit], total=len(ranked), warnings=[])

    def count(self):
        return len(self.counts)

    def close(self):
        pass


class ListVectors:
    """A VectorBackend: a list of (passage id, normalised vector), cosine by a loop over it."""

    def __init__(self, pairs):
        self.pairs = [(pid, np.asarray(v, dtype=np.float32)) for pid, v in pairs]
        self.ids = [pid for pid, _ in self.pairs]

    def __len__(self):
        return len(self.pairs)

    def row(self, passage_id):
        return self.ids.index(passage_id) if passage_id in self.ids else None

    def allowed_mask(self, allowed):
        return np.array([pid in allowed for pid in self.ids], dtype=bool)

    def search(self, query_vec, k=100, allowed=None):
        scored = [(pid, float(v @ query_vec)) for pid, v in self.pairs if allowed is None or pid in allowed]
        return sorted(scored, key=lambda item: (-item[1], item[0]))[:k]


@pytest.fixture(scope="module", params=["real", "memory"])
def searcher(request, corpus):
    if request.param == "real":
        return corpus.searcher
    passages = list(corpus.store.get_passages(corpus.vectors.ids).values())
    vectors = ListVectors((pid, corpus.vectors.matrix[i]) for i, pid in enumerate(corpus.vectors.ids))
    return Searcher(corpus.store, DictKeyword(passages), vectors, corpus.encode_query)


@pytest.fixture(scope="module")
def passages(corpus):
    return list(corpus.store.get_passages(corpus.vectors.ids).values())


def test_the_real_backends_satisfy_the_protocols(corpus):
    assert isinstance(corpus.keyword, backends.keyword_backend())
    assert isinstance(corpus.vectors, backends.vector_backend())
    assert corpus.keyword.count() == len(corpus.vectors) > 0


def test_a_word_found_in_one_passage_finds_that_passage(searcher, passages):
    words = Counter(w.lower() for p in passages for w in set(_WORD.findall(p.text)))
    # A long word that only one passage holds (no stemming question: several passages share no form of it)
    word, owner = next((w, p) for p in passages for w in _WORD.findall(p.text)
                       if len(w) >= 9 and w.isalpha() and words[w.lower()] == 1)
    result = searcher.search(word, mode="keyword")
    assert owner.passage_id in [h.passage.passage_id for h in result.hits[:3]]
    assert all(h.keyword_rank is not None for h in result.hits)


def test_semantic_search_puts_the_passage_itself_first_and_scores_fall(searcher, passages):
    texts = Counter(p.text for p in passages)
    target = next(p for p in passages if 300 < len(p.text) < 1200 and texts[p.text] == 1)
    result = searcher.search(target.text, mode="semantic")
    assert result.hits[0].passage.passage_id == target.passage_id
    scores = [h.semantic_score for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0.95


def test_hybrid_fuses_both_rankings(searcher, passages):
    texts = Counter(p.text for p in passages)
    target = next(p for p in passages if 300 < len(p.text) < 1200 and texts[p.text] == 1)
    query = " ".join(w.lower() for w in _WORD.findall(target.text))  # its words, none read as an operator
    result = searcher.search(query, mode="hybrid", limit=20)
    top = result.hits[0]
    assert top.passage.passage_id == target.passage_id
    assert top.keyword_rank and top.semantic_rank  # found by words and by meaning
    for h in result.hits:
        expected = sum(1 / (60 + r) for r in (h.keyword_rank, h.semantic_rank) if r)
        assert h.fused_score == pytest.approx(expected, abs=1e-6)


def test_an_entity_filter_keeps_only_passages_that_mention_it(searcher, corpus):
    entity = corpus.store.entities(limit=1)[0]
    mentioning = corpus.store.passages_mentioning([entity.name])
    for mode in ("keyword", "semantic", "hybrid"):
        result = searcher.search(entity.name, mode=mode, filters=Filters(entities=(entity.name,)), limit=50)
        assert result.hits, mode
        assert {h.passage.passage_id for h in result.hits} <= mentioning, mode


@pytest.mark.parametrize("setting", ["keyword_backend", "vector_backend"])
def test_an_unknown_backend_setting_names_the_choices(monkeypatch, setting):
    monkeypatch.setenv(f"CORPUS_SEARCH_{setting.upper()}", "lucene")
    with pytest.raises(UsageError, match=f"CORPUS_SEARCH_{setting.upper()}.*choose from"):
        getattr(backends, setting)()


def test_an_unknown_backend_is_one_line_from_the_cli(built_index, monkeypatch):
    monkeypatch.setenv("CORPUS_SEARCH_VECTOR_BACKEND", "faiss")
    line = one_error_line(run("search", "treaty", index=built_index))
    assert "'faiss'" in line and "numpy" in line


def test_a_build_with_an_unknown_backend_stops_before_reading_a_source(tmp_path, monkeypatch):
    monkeypatch.setenv("CORPUS_SEARCH_KEYWORD_BACKEND", "lucene")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("A short source.\n", encoding="utf-8")
    line = one_error_line(run("build", index=tmp_path / "index", corpus=tmp_path / "corpus"))
    assert "whoosh" in line
    assert not (tmp_path / "index").exists() or not any((tmp_path / "index").glob("gen-*"))


# A second keyword backend, as a plug-in would register one: Whoosh's own class under another name.
# What is tested is the seam's bookkeeping (which backend wrote a generation), so the class is real.
_OTHER = "whoosh-b"
_REGISTER = f"from corpus_search import backends; backends.KEYWORD[{_OTHER!r}] = backends.KEYWORD['whoosh']; "


@pytest.fixture
def other_keyword_backend(monkeypatch):
    monkeypatch.setitem(backends.KEYWORD, _OTHER, backends.KEYWORD["whoosh"])
    return _OTHER


def test_the_manifest_names_the_backends_that_wrote_it(built_index):
    from corpus_search.generations import Generations

    _, manifest, _ = Generations(built_index).good()
    assert manifest["keyword_backend"] == "whoosh" and manifest["vector_backend"] == "numpy"


def test_an_index_is_not_opened_through_another_backend(built_index, other_keyword_backend, monkeypatch):
    from corpus_search.api import Corpus
    from corpus_search.errors import IndexMissingError

    monkeypatch.setenv("CORPUS_SEARCH_KEYWORD_BACKEND", other_keyword_backend)
    with pytest.raises(IndexMissingError, match="written by the keyword backend 'whoosh', not 'whoosh-b'.*corpus-search build"):
        Corpus.open(built_index)


def test_another_backend_is_refused_in_one_line_from_the_cli(built_index, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("CORPUS_SEARCH_KEYWORD_BACKEND", _OTHER)
    code = _REGISTER + "import sys; from corpus_search.cli import main; sys.argv = ['corpus-search'] + sys.argv[1:]; main()"
    proc = subprocess.run([sys.executable, "-c", code, "--index", str(built_index), "search", "pipeline"],
                          capture_output=True, text=True, timeout=300)
    line = one_error_line(proc)
    assert proc.returncode == 3  # IndexMissingError: the index is foreign to these settings
    assert "'whoosh'" in line and f"'{_OTHER}'" in line and "CORPUS_SEARCH_KEYWORD_BACKEND" in line


def test_a_build_with_another_backend_rewrites_the_index_and_only_it_opens_it(tmp_path, other_keyword_backend,
                                                                               monkeypatch):
    from corpus_search.api import Corpus, build
    from corpus_search.errors import IndexMissingError
    from corpus_search.generations import Generations

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("The Altai pipeline was shelved.\n\nGazprom dragged its feet.\n",
                                                encoding="utf-8")
    index = tmp_path / "index"
    build(tmp_path / "corpus", index)
    monkeypatch.setenv("CORPUS_SEARCH_KEYWORD_BACKEND", other_keyword_backend)
    report = build(tmp_path / "corpus", index)
    # Nothing the old backend wrote is carried over: the unchanged source is processed again.
    assert report.changed and not any(s.reused for s in report.sources)
    assert Generations(index).good()[1]["keyword_backend"] == other_keyword_backend
    corpus = Corpus.open(index)
    try:
        assert corpus.search("Altai", mode="keyword").hits
    finally:
        corpus.close()
    monkeypatch.delenv("CORPUS_SEARCH_KEYWORD_BACKEND")
    with pytest.raises(IndexMissingError, match=f"written by the keyword backend '{other_keyword_backend}'"):
        Corpus.open(index)
