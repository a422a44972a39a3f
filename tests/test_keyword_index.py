"""The keyword index: Whoosh behind our interface, phrases, folding, and no code from its files."""

from __future__ import annotations

import os
from pathlib import Path
import pickle

import numpy as np
import pytest

from corpus_search.errors import IndexMissingError
from corpus_search.keyword_index import KeywordDoc, KeywordIndex
from corpus_search.keyword_safety import safe_loads

DOCS = [
    KeywordDoc("a:0001", "a", "body", "The Altai pipeline was rejected by China.", "Chapter 3"),
    KeywordDoc("a:0002", "a", "body", "Sino\u2011Russian pipelines, said Frédéric.", "Chapter 3"),
    KeywordDoc("b:0001", "b", "footnote", "A pipeline altogether elsewhere.", ""),
]


@pytest.fixture
def index(tmp_path):
    ix = KeywordIndex.create(tmp_path / "kw", DOCS)
    yield ix
    ix.close()


@pytest.mark.parametrize(
    "query, expected",
    [
        ('"Altai pipeline"', ["a:0001"]),
        ("pipelines", ["a:0001", "a:0002", "b:0001"]),  # stemming
        ("sino-russian", ["a:0002"]),  # typed hyphen meets U+2011
        ("frederic", ["a:0002"]),  # accents fold before stemming
        ('"rejected by china"', ["a:0001"]),  # no stop words dropped from phrases
        ("pipeline NOT china", ["a:0002", "b:0001"]),  # operators are syntax, not stop words
        ("pipeline AND china", ["a:0001"]),
        ("altai OR elsewhere", ["a:0001", "b:0001"]),
        ("pipeline not china", ["a:0001", "a:0002", "b:0001"]),  # lower case: plain words
        ("(pipeline NOT china) ANDMAYBE altai", ["a:0002", "b:0001"]),  # NOT inside a binary operator
        ("pipeline AND (rejected OR elsewhere NOT china)", ["b:0001"]),
        ("pipeline ANDNOT china", ["a:0002", "b:0001"]),
        ("pipel?ne", ["a:0001", "a:0002", "b:0001"]),  # "?" inside a word: one letter, matched to the stem "pipelin"
        ("Al?ai", ["a:0001"]),
        ("Al??i", ["a:0001"]),  # two in a row: the first was taken for a question's end
        ("altai?", ["a:0001"]),  # "?" ending a word ends a question
        ("rejec?ed", ["a:0001"]),  # "rejected" is indexed as "reject"
    ],
)
def test_queries(index, query, expected):
    assert sorted(pid for pid, _ in index.search(query).ids) == expected


@pytest.mark.parametrize(
    "glob, term, matches",
    [
        ("pipel?ne", "pipelin", True),  # "pipeline" stems to "pipelin"
        ("hel?um", "helium", True),
        ("hel?um", "held", False),  # "held" matches "hel?" but "heldum" is no word stemmed to "held"
        ("wom?n", "women", True),
        ("p?pe*", "pipelin", True),
        ("gaz?rom", "gazp", False),
    ],
)
def test_a_one_letter_wildcard_matches_the_stems_of_the_words_it_matches(glob, term, matches):
    from corpus_search.keyword_query import stem_glob_matches

    assert stem_glob_matches(glob, term) is matches


def test_a_one_letter_wildcard_finds_both_spellings_whatever_the_stemmer_made_of_them(tmp_path):
    docs = [KeywordDoc("x:1", "x", "body", "A regional organisation of states.", ""),
            KeywordDoc("x:2", "x", "body", "The Shanghai Cooperation Organization met.", ""),
            KeywordDoc("x:3", "x", "body", "Farming and the colour of the soil.", "")]
    ix = KeywordIndex.create(tmp_path / "kw", docs)
    try:
        # Stemmed, "organisation" is "organis" and "organization" "organ": no glob over the stems finds both.
        assert sorted(p for p, _ in ix.search("organi?ation").ids) == ["x:1", "x:2"]
        assert sorted(p for p, _ in ix.search("organi?ation NOT regional").ids) == ["x:2"]
        assert [p for p, _ in ix.search("colo?r").ids] == ["x:3"]
        assert [p for p, _ in ix.search("col?r").ids] == []  # one letter, not two: "colour" is no match
    finally:
        ix.close()


def test_filters(index):
    assert [p for p, _ in index.search("pipeline", kinds=["footnote"]).ids] == ["b:0001"]
    assert [p for p, _ in index.search("pipeline", doc_ids=["b"]).ids] == ["b:0001"]
    assert [p for p, _ in index.search("pipeline", allowed={"a:0002"}).ids] == ["a:0002"]


def test_update_replaces_a_documents_passages(tmp_path):
    KeywordIndex.create(tmp_path / "kw", DOCS).close()
    ix = KeywordIndex.update(tmp_path / "kw", ["a"], [KeywordDoc("a:0001", "a", "body", "Power of Siberia", "")])
    assert ix.count() == 2
    assert not ix.search("Altai").ids and ix.search("Siberia").ids[0][0] == "a:0001"
    ix.close()


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-index",))


def test_restricted_unpickler_refuses_foreign_objects():
    with pytest.raises(pickle.UnpicklingError, match="foreign object"):
        safe_loads(pickle.dumps(_Evil()))
    assert safe_loads(pickle.dumps({"a": [1, 2.0, "x", b"y", frozenset({3})]})) == {
        "a": [1, 2.0, "x", b"y", frozenset({3})]
    }


def _global_call(module: str, name: str, arg: str) -> bytes:
    """A protocol-4 pickle that calls module's `name` (dotted names allowed) with one string."""
    def short(text: str) -> bytes:
        data = text.encode()
        return b"\x8c" + bytes([len(data)]) + data

    return b"\x80\x04" + short(module) + short(name) + b"\x93" + short(arg) + b"\x85R."


@pytest.mark.parametrize("module, name", [
    ("whoosh.compat", "exec_"),           # exec under a Whoosh name
    ("whoosh.index", "os.system"),        # a dotted name reaching a module Whoosh imported
    ("whoosh.filedb.filestore", "os.system"),
    ("builtins", "eval"),
])
def test_whoosh_names_that_run_code_are_refused(tmp_path, monkeypatch, module, name):
    import whoosh.filedb.filestore  # noqa: F401  (the modules must be loaded for the lookup to succeed)
    import whoosh.index  # noqa: F401

    monkeypatch.chdir(tmp_path)
    arg = "open('pwned', 'w')" if name in ("exec_", "eval") else "touch pwned"
    payload = _global_call(module, name, arg)
    with pytest.raises(pickle.UnpicklingError, match="foreign object"):
        safe_loads(payload)
    assert not (tmp_path / "pwned").exists()
    # The same bytes through the ordinary unpickler do run: the test's payload is a real one.
    pickle.loads(payload)
    assert (tmp_path / "pwned").exists()


def test_a_tampered_index_runs_no_code(tmp_path, monkeypatch):
    """A schema carrying a payload (as a hostile index folder would) is refused on open."""
    from whoosh import index as windex

    from corpus_search.keyword_analysis import INDEX_NAME, schema as index_schema

    monkeypatch.chdir(tmp_path)
    schema = index_schema()
    schema["text"].payload = _Evil()
    (tmp_path / "kw").mkdir()
    windex.create_in(str(tmp_path / "kw"), schema, indexname=INDEX_NAME)
    with pytest.raises(IndexMissingError, match="foreign object"):
        KeywordIndex.open(tmp_path / "kw")
    assert not (tmp_path / "pwned-by-index").exists()


def test_a_query_past_the_time_cap_returns_what_it_found_with_a_warning(tmp_path, monkeypatch):
    docs = [KeywordDoc(f"d:{i:04d}", "d", "body", f"gas pipeline number {i}", "") for i in range(2000)]
    ix = KeywordIndex.create(tmp_path / "kw", docs)
    monkeypatch.setenv("CORPUS_SEARCH_QUERY_TIMEOUT", "0")
    hits = ix.search('"gas pipeline" OR number*', limit=10)  # syntax: Whoosh runs it (plain words are NumPy's)
    assert any("too long" in w for w in hits.warnings)
    assert 0 < len(hits.ids) <= 10
    monkeypatch.setenv("CORPUS_SEARCH_QUERY_TIMEOUT", "10")
    assert not ix.search("gas pipeline", limit=10).warnings
    ix.close()


# -- the NumPy scorer for plain-word queries (bm25.py) -------------------------------------------
SCORER_QUERIES = (
    "Power of Siberia gas pipeline price negotiations", "Russia's turn to the East after Ukraine sanctions",
    "Chinese investment in the Russian Far East", "Shanghai Cooperation Organisation", "gas", "gas gas",
    "Gazprom's deal", "zzzunknownword", "Siberia China Russia gas", "arms sales S-400 and Su-35 to China",
    # a name's other form at a third (query_aliases): a boosted term, a boosted phrase (where all its words are)
    'Shanghai Cooperation Organisation security "SCO"^0.3', 'EEU customs "Eurasian Economic Union"^0.3',
    'Belt and Road and the Eurasian Economic Union "BRI"^0.3 "EEU"^0.3', 'gas "Power of Siberia"',
    'gas "Power of Siberia"~3 pipeline', '"Power of Siberia"',
)


def _other_forms_as_words(q):
    """The query as the NumPy scorer reads it: a boosted phrase (a name's other form) matches where all its
    words are, so Whoosh is given an And of them with the phrase's boost; a typed phrase stays a phrase."""
    from whoosh import query as wq

    if isinstance(q, wq.Phrase) and q.boost != 1.0:
        return wq.And([wq.Term(q.fieldname, w) for w in q.words], boost=q.boost)
    if isinstance(q, wq.Or):
        return wq.Or([_other_forms_as_words(sub) for sub in q.subqueries], boost=q.boost)
    return q


def _whoosh_exact(ix: KeywordIndex, query: str, keep, limit: int) -> list[tuple[str, float]]:
    """Whoosh's own top hits for the same parsed query and the same allowed documents."""
    import numpy as np
    from whoosh.collectors import FilterCollector, TopCollector

    q, _ = ix.parse(query)
    q = _other_forms_as_words(q)
    allow = {int(i) for i in np.flatnonzero(keep)}
    if not allow:
        return []
    collector = FilterCollector(TopCollector(limit=limit), allow=allow)
    ix._get_searcher().search_with_collector(q, collector)
    return [(r["passage_id"], r.score) for r in collector.results()]


@pytest.fixture(scope="module")
def real_indexes(corpus, tmp_path_factory):
    """Keyword indexes of the bundled passages: one made at once, one updated (two segments, deletions)."""
    passages = corpus.passages()
    docs = [KeywordDoc(p.passage_id, p.doc_id, p.kind, p.text, p.section) for p in passages]
    root = tmp_path_factory.mktemp("kw")
    KeywordIndex.create(root / "whole", docs).close()
    KeywordIndex.create(root / "updated", [d for d in docs if d.doc_id != "makocki2016"]).close()
    KeywordIndex.update(root / "updated", ["alexeeva2018"],
                        [d for d in docs if d.doc_id in ("makocki2016", "alexeeva2018")]).close()
    yield {name: KeywordIndex.open(root / name) for name in ("whole", "updated")}, passages


@pytest.mark.parametrize("name", ["whole", "updated"])
@pytest.mark.parametrize("filters", ["none", "kinds", "doc_ids", "allowed", "nothing allowed"])
def test_plain_word_queries_rank_and_score_as_whoosh_does(real_indexes, name, filters):
    indexes, passages = real_indexes
    ix = indexes[name]
    assert ix._scorer is not None
    if name == "updated":
        assert len(ix._ix.reader().leaf_readers()) == 2  # the case where segments matter
    kwargs = {"none": {}, "kinds": {"kinds": ["footnote", "caption"]}, "doc_ids": {"doc_ids": ["makocki2016"]},
              "allowed": {"allowed": {p.passage_id for p in passages[::3]}},
              "nothing allowed": {"allowed": {"no-such:0001"}}}[filters]
    keep = ix._scorer.mask(kwargs.get("doc_ids"), kwargs.get("kinds"), kwargs.get("allowed"))
    compared = 0
    for query in SCORER_QUERIES:
        fast = ix.search(query, limit=20, **kwargs)
        exact = _whoosh_exact(ix, query, keep, 20)
        assert [p for p, _ in fast.ids] == [p for p, _ in exact], query
        assert [s for _, s in fast.ids] == pytest.approx([s for _, s in exact], rel=1e-9), query
        compared += len(exact)
        assert fast.total >= len(fast.ids)
    assert (compared > 0) == (filters != "nothing allowed")


@pytest.mark.parametrize("query", ["pipeline gas China", "Power of Siberia", '"Power of Siberia"', "gas NOT oil",
                                   "Gazp* AND pipeline", "sanctions"])
def test_an_index_updated_in_place_scores_as_one_built_at_once(real_indexes, query):
    """The same passages, indexed at once or by an update that deleted and re-added a document, give the same
    scores on both paths: Whoosh's own statistics count deleted documents until its segments merge."""
    indexes, _ = real_indexes
    whole = indexes["whole"].search(query, limit=30)
    updated = indexes["updated"].search(query, limit=30)
    assert whole.ids and whole.total == updated.total, query
    assert sorted(p for p, _ in updated.ids) == sorted(p for p, _ in whole.ids), query
    scores = dict(whole.ids)
    for pid, score in updated.ids:
        assert score == pytest.approx(scores[pid], rel=1e-9), (query, pid)


@pytest.mark.parametrize("word", ["pipeline", "Gazprom", "sanctions"])
def test_a_one_word_search_ranks_by_relevance(real_indexes, word):
    """Whoosh's coordination bonus once zeroed every score of a one-word search (index order)."""
    ix = real_indexes[0]["whole"]
    for query in (word, f"{word} NOT zzzunknownword"):  # the NumPy scorer, then Whoosh
        scores = [s for _, s in ix.search(query, limit=50).ids]
        assert len(scores) > 3 and all(s > 0 for s in scores), query
        assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1], query


def test_syntax_goes_to_whoosh_and_an_index_without_a_scorer_still_answers(real_indexes, tmp_path):
    import shutil

    from corpus_search.bm25 import plain_terms

    ix = real_indexes[0]["whole"]
    for query in ('"Power of Siberia"', 'gas "Power of Siberia"', "gas NOT oil", "gas AND oil", "Gazp*"):
        assert plain_terms(ix.parse(query)[0]) is None, query
        assert ix.search(query, limit=5).ids, query
    folder = Path(ix._ix.storage.folder)
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    for path in old.glob("bm25*"):
        path.unlink()
    legacy = KeywordIndex.open(old)
    assert legacy._scorer is None
    top = ix.search("Power of Siberia gas pipeline", limit=10).ids
    assert [p for p, _ in legacy.search("Power of Siberia gas pipeline", limit=10).ids] == [p for p, _ in top]
    legacy.close()


def test_an_empty_allowed_set_means_no_results_on_both_paths(index):
    assert index.search("pipeline", allowed=set()).ids == []
    assert index.search('"Altai pipeline"', allowed=set()).ids == []
    assert index.search('"Altai pipeline"', allowed={"nope:1"}).ids == []


def test_an_empty_index_answers_nothing_on_both_paths(tmp_path):
    ix = KeywordIndex.create(tmp_path / "kw", [])
    assert ix._scorer is not None and ix.count() == 0
    assert ix.search("gas pipeline").ids == [] and ix.search('"gas pipeline"').ids == []
    ix.close()


# -- highlighting reads text as the index does ----------------------------------------------------
@pytest.mark.parametrize(
    "query, text, marked",
    [
        ("Frederic", "Sino\u2011Russian pipelines, said Frédéric.", ["Frédéric"]),  # accents folded
        ("pipelines", "The Altai pipeline; PIPELINES elsewhere.", ["pipeline", "PIPELINES"]),  # stemmed
        ("Russia's gas", "Russia’s gas and Russia's oil", ["Russia", "gas", "Russia"]),  # not the 's
        ("the of", "the end of it", ["the", "of"]),  # only stop words: they are what was asked
    ],
)
def test_highlight_marks_what_the_index_matched(index, query, text, marked):
    from corpus_search.search import highlight_spans, query_terms

    assert [text[s:e] for s, e in highlight_spans(text, query_terms(query))] == marked


def test_a_hit_found_by_folding_is_marked(index):
    from corpus_search.search import highlight_spans, query_terms

    (pid, _), = index.search("Frederic").ids
    text = next(d.text for d in DOCS if d.passage_id == pid)
    assert [text[s:e] for s, e in highlight_spans(text, query_terms("Frederic"))] == ["Frédéric"]


def test_highlight_analysis_is_the_index_analyzer():
    from corpus_search.keyword_analysis import analyze, analyzer

    text = (Path(__file__).resolve().parents[1] / "corpus" / "alexeeva-lasserre-2018-china-perspectives.txt").read_text()
    assert analyze(text) == [(t.text, t.startchar, t.endchar) for t in analyzer()(text, chars=True)]


@pytest.mark.parametrize("share", [2, 20])  # half the passages (the filter asked per row), a twentieth (ids looked up)
def test_a_filters_keyword_mask_marks_exactly_its_passages(corpus, share):
    scorer = corpus.keyword._scorer
    assert scorer is not None
    pids = [str(p) for p in scorer._pids]
    allowed = {p for p in pids[::share] if p} | {"no-such-document:0001"}
    mask = scorer._only(allowed)
    assert [pids[i] for i in np.flatnonzero(mask)] == [p for p in pids if p in allowed]


@pytest.mark.parametrize("positive, negative", [("pipeline", "china"), ("gas", "pipeline OR russia"),
                                                ('"Power of Siberia"', "gazprom"), ("sanctions", "crimea")])
@pytest.mark.parametrize("limit", [1, 10, 200, 1000])  # 1000: more than the corpus holds, every match collected
def test_not_leaves_out_every_passage_with_the_word_and_counts_what_it_returns(corpus, positive, negative, limit):
    # Whoosh's AndNotMatcher let the first positive passage through when the NOT side started before
    # it: "pipeline NOT china" returned a passage about China's oil pipelines (fix_whoosh_and_not).
    def ids(query):
        return {pid for pid, _ in corpus.keyword.search(query, limit=1000).ids}

    want = ids(positive) - ids(negative)
    assert want and ids(negative) & ids(positive)  # the NOT has something to leave out
    got = corpus.keyword.search(f"{positive} NOT ({negative})", limit=limit)
    assert {pid for pid, _ in got.ids} <= want and len(got.ids) == min(limit, len(want))
    assert got.total == len(want)


def test_a_names_other_form_matches_where_all_its_words_are_and_a_typed_phrase_by_position(real_indexes):
    """The other form of a name ("Eurasian Economic Union", searched at a third) matches passages holding
    all its words, from the postings; a phrase the user typed still needs the words in order."""
    ix = real_indexes[0]["whole"]
    words = {p for p, _ in ix.search("eurasian AND economic AND union", limit=1000).ids}
    typed = {p for p, _ in ix.search('"eurasian economic union"', limit=1000).ids}
    other = {p for p, _ in ix.search('zzzunknownword "eurasian economic union"^0.3', limit=1000).ids}
    assert other == words and typed <= words and typed


@pytest.mark.parametrize("glob, word, matches", [
    ("p*l?n", "pipelin", True), ("*", "", True), ("a*", "", False), ("*a*b", "xaxxb", True), ("*a*b", "xaxxbc", False),
    ("a?c*", "abcdef", True), ("a?c*", "acdef", False), ("a**b", "ab", True),
])
def test_glob_match(glob, word, matches):
    from corpus_search.keyword_query import glob_match

    assert glob_match(glob, word) is matches


def test_a_glob_of_many_stars_answers_at_once_whatever_the_words_indexed(tmp_path):
    """A regular expression made from the glob backtracked: "*e" ten times and "?q" against a run of 60
    "e"s (OCR noise, base64) ran for over five minutes, before the query's deadline applied."""
    import time

    docs = [KeywordDoc("n:1", "n", "body", "An OCR line of noise: " + "e" * 60 + " and more text.", ""),
            KeywordDoc("n:2", "n", "body", "Control text about gas pipelines.", "")]
    ix = KeywordIndex.create(tmp_path / "kw", docs)
    try:
        started = time.monotonic()
        assert ix.search("*e" * 12 + "?q").ids == []
        assert [p for p, _ in ix.search("*e" * 12 + "?").ids] == ["n:1"]
        assert time.monotonic() - started < 30  # a hang guard, not a speed target: the old code took minutes
    finally:
        ix.close()
