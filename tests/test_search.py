"""End to end: the real index of the bundled corpus answers the questions a researcher asks."""

from __future__ import annotations

import pytest

from corpus_search.errors import NotFoundError, QueryError, UsageError


def _texts(result):
    return [h.passage.text for h in result.hits]


def test_altai_phrase_finds_all_three_chaillot_passages(corpus):
    result = corpus.search('"Altai pipeline"', mode="keyword", limit=10)
    hits = [h for h in result.hits if "Altai pipeline" in h.passage.text]
    assert {h.passage.doc_id for h in hits} == {"makocki2016"}
    assert sorted(h.passage.page for h in hits) == [32, 33, 37]
    # A phrase query matches only passages holding the phrase.
    assert all("altai pipeline" in h.passage.text.casefold() for h in result.hits)


def test_hybrid_finds_rejected_altai_route_from_a_paraphrase(corpus):
    result = corpus.search("Why would Beijing refuse a gas route that also serves Europe?", limit=5)
    assert any("Altai" in t and "reject" in t for t in _texts(result))
    assert result.mode == "hybrid"


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_entity_filter_keeps_only_passages_mentioning_it(corpus, mode):
    result = corpus.search("pipeline", mode=mode, entities=["Gazprom"], limit=20)
    assert len(result.hits) > 1
    for hit in result.hits:
        assert "Gazprom" in {m.name for m in hit.entities}


def test_two_entities_mean_both(corpus):
    result = corpus.search("pipeline", entities=["Gazprom", "China"], limit=20)
    assert result.hits
    for hit in result.hits:
        names = {m.name for m in hit.entities}
        assert {"Gazprom", "China"} <= names


def test_doc_filter(corpus):
    result = corpus.search("Russia", doc_ids=["alexeeva2018"], limit=20)
    assert result.hits and all(h.passage.doc_id == "alexeeva2018" for h in result.hits)
    # The article is cited by paragraph.
    assert any(h.passage.paragraph is not None for h in result.hits)


def test_kind_filter_leaves_out_footnotes(corpus):
    result = corpus.search("Russia China", kinds=["body"], limit=30)
    assert result.hits and all(h.passage.kind == "body" for h in result.hits)


def test_unknown_document_and_entity_are_clear_errors(corpus):
    with pytest.raises(NotFoundError, match="no document"):
        corpus.search("gas", doc_ids=["nope"])
    with pytest.raises(QueryError, match="no entity"):
        corpus.search("gas", entities=["Gazpromm"])
    with pytest.raises(UsageError):
        corpus.search("gas", mode="fuzzy")


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01"])
def test_empty_query_is_a_clear_error(corpus, query):
    with pytest.raises(QueryError, match="empty"):
        corpus.search(query)


def test_filters_without_words_list_the_passages_in_order(corpus):
    result = corpus.search("", entities=["Yan Xuetong"], limit=100)
    assert result.hits and result.total == len(result.hits)
    assert all("Yan Xuetong" in {m.name for m in h.entities} for h in result.hits)
    seqs = [(h.passage.doc_id, h.passage.seq) for h in result.hits]
    assert seqs == sorted(seqs, key=lambda s: ([d.doc_id for d in corpus.documents()].index(s[0]), s[1]))


@pytest.mark.parametrize(
    ("query", "words", "warned"),
    [
        ('"Altai pipeline', ("altai", "pipeline"), True),
        ("(gas AND", ("gas",), True),
        ("title:gas", ("title", "gas"), True),
        ("AND", (), True),
        ("OR OR", (), True),
        ("*", (), True),
        ("gas~~", ("gas",), False),
        ("pipe*", ("pipe",), False),
        ("x" * 10_000, (), True),  # cut to the first max_query_chars: a word no passage has
        ("a\tb\nc", ("a", "b", "c"), False),
    ],
)
def test_malformed_queries_still_answer(corpus, query, words, warned):
    """Passages holding the query's words (a warning when the syntax was set aside), or none, said why."""
    result = corpus.search(query, mode="keyword")
    assert bool(result.warnings) == warned, result.warnings
    if words:
        assert result.hits and result.total >= len(result.hits)
        assert all(any(w in t.casefold() for w in words) for t in _texts(result))
    else:
        assert not result.hits and result.total == 0


def test_malformed_query_says_so_and_searches_the_words(corpus):
    result = corpus.search('"Altai pipeline', mode="keyword")
    assert any("syntax" in w for w in result.warnings)
    assert any("Altai" in t for t in _texts(result))


def test_non_breaking_hyphen_matches_typed_hyphen(corpus):
    # The article prints "Sino‑Russian" with U+2011.
    result = corpus.search('"Sino-Russian rapprochement"', mode="keyword", doc_ids=["alexeeva2018"], limit=50)
    assert any("Sino\u2011Russian rapprochement" in t for t in _texts(result))


def test_highlights_mark_query_words(corpus):
    result = corpus.search("pipelines", mode="keyword", limit=3)
    hit = result.hits[0]
    marked = {hit.passage.text[s:e].casefold() for s, e in hit.highlights}
    assert any(w.startswith("pipeline") for w in marked)


def test_facets_count_entities_of_matching_passages(corpus):
    result = corpus.search("gas pipeline", limit=10)
    orgs = dict(result.facets.get("ORG", ()))
    assert orgs.get("Gazprom", 0) >= 2


def test_results_carry_printed_pages_and_citations(corpus):
    data = corpus.search_json('"Soviet-Chinese brotherhood"', mode="keyword")
    top = data["results"][0]
    assert top["page"] == 17 and top["doc_id"] == "makocki2016"
    assert "17" in top["citation"] and "Makocki" in top["citation"]
    for key in ("rank", "passage_id", "doc_id", "title", "page", "paragraph", "section", "kind", "text", "score",
                "entities", "citation"):
        assert key in top


def test_place_rollup_is_an_option_not_a_merge(corpus):
    from corpus_search.search import Filters

    plain = corpus.searcher.allowed_passages(Filters(entities=("Russia",)))
    widened = corpus.searcher.allowed_passages(Filters(entities=("Russia",), rollup=True))
    assert "Moscow" in corpus.searcher.within(["Russia"])
    moscow_only = corpus.store.passages_mentioning(["Moscow"]) - plain
    assert moscow_only, "some passages name Moscow but not Russia"
    assert plain < widened and moscow_only <= widened


def test_abbreviation_and_full_name_filter_the_same_passages(corpus):
    by_abbr = corpus.search("customs tariffs", entities=["EEU"], limit=100)
    by_name = corpus.search("customs tariffs", entities=["Eurasian Economic Union"], limit=100)
    ids = [h.passage.passage_id for h in by_abbr.hits]
    assert ids and ids == [h.passage.passage_id for h in by_name.hits]
    only_abbr = [h for h in by_abbr.hits if "EEU" in h.passage.text and "Eurasian Economic Union" not in h.passage.text]
    assert only_abbr, "passages that only say 'EEU' are found by the full name too"


@pytest.mark.parametrize("limit", [10_000_000, 1001, 0, -5, "10", 2.5, True])
def test_limits_outside_one_to_the_cap_are_errors(corpus, limit):
    with pytest.raises(UsageError, match="limit"):
        corpus.search("gas pipeline", mode="keyword", limit=limit)


def test_the_limit_cap_is_a_setting(corpus, monkeypatch):
    assert len(corpus.search("gas", mode="keyword", limit=1000).hits) <= 1000
    monkeypatch.setenv("CORPUS_SEARCH_MAX_LIMIT", "3")
    with pytest.raises(UsageError, match="more than 3.*CORPUS_SEARCH_MAX_LIMIT"):
        corpus.search("gas", mode="keyword", limit=4)
    assert len(corpus.search("gas", mode="keyword", limit=3).hits) == 3


def test_unknown_label_is_an_error_listing_the_known_ones(corpus):
    known = corpus.labels()
    assert "GPE" in known and "ORG" in known
    for call in (lambda: corpus.search("gas", labels=["NOPE"]), lambda: corpus.entities(label="NOPE")):
        with pytest.raises(QueryError) as caught:
            call()
        assert "'NOPE'" in str(caught.value) and ", ".join(known) in str(caught.value)
    # Known labels, in any case, still filter.
    hits = corpus.search("gas", mode="keyword", labels=["org"], limit=5).hits
    assert hits and all(any(m.label == "ORG" for m in corpus.mentions([h.passage.passage_id])[h.passage.passage_id])
                        for h in hits)
    assert all(e.label == "GPE" for e in corpus.entities(label="gpe", limit=5))


def _mentioning_by_rows(store, names):
    """The passages mentioning any of `names`, read from the mention rows themselves."""
    return {m.passage_id for m in store.all_mentions() if m.name in set(names)}


def test_the_entity_filter_reads_each_entitys_stored_passages_and_they_are_its_mentions(corpus):
    store = corpus.store
    assert store._has_entity_lists()  # a new build writes them
    counts = {e.name: e for e in store.entities()}
    common = sorted(counts, key=lambda n: -len(_mentioning_by_rows(store, [n])))[:12]
    for name in common:
        assert store.passages_mentioning([name]) == _mentioning_by_rows(store, [name])
    assert store.passages_mentioning(common[:3]) == _mentioning_by_rows(store, common[:3])  # any of them
    assert store.passages_mentioning(["No Such Entity"]) == set()


def test_a_store_built_before_the_entity_lists_filters_the_same(corpus, built_index, tmp_path):
    import shutil
    import sqlite3

    from corpus_search.generations import Generations
    from corpus_search.store import Store

    old = tmp_path / "store.sqlite"
    shutil.copy(Generations(built_index).current() / "store.sqlite", old)
    conn = sqlite3.connect(old)
    conn.execute("DROP TABLE entity_passages")
    conn.commit()
    conn.close()
    store = Store.open(old)
    try:
        assert not store._has_entity_lists()
        for name in ("Gazprom", "China", "Russia"):
            assert store.passages_mentioning([name]) == corpus.store.passages_mentioning([name])
            assert store.passages_mentioning([name])
    finally:
        store.close()


@pytest.mark.parametrize("mode, limit", [("semantic", 10), ("hybrid", 100), ("keyword", 100)])
def test_facets_count_the_entities_of_the_results_once_per_passage(corpus, mode, limit):
    from collections import Counter

    # A semantic search counts over its hits; hybrid and keyword over the passages that hold the words, the best
    # 200 of them (the candidates a side brings; 252 hold these words).
    result = corpus.search("gas pipeline to China", mode=mode, limit=limit)
    counted = result.hits
    if mode != "semantic":
        words = corpus.search("gas pipeline to China", mode="keyword", limit=200)
        assert words.keyword_total > 200 and result.facets_over == ("words", 200) and len(words.hits) == 200
        counted = words.hits
    by_label: dict[str, Counter] = {}
    for h in counted:
        for m in h.entities:
            by_label.setdefault(m.label, Counter())[m.name] += 1
    assert result.facets
    for label, shown in result.facets.items():
        assert [n for _, n in shown] == [n for _, n in by_label[label].most_common(len(shown))]  # the commonest
        for name, n in shown:
            assert by_label[label][name] == n


@pytest.mark.parametrize("query", ["Altai pipeline", "gas price negotiations"])
def test_a_facets_count_is_what_its_filter_leaves_of_the_passages_holding_the_words(corpus, query):
    """Counted over a hybrid search's best 100 (most found by meaning alone), "Altai pipeline" showed "Donald Trump
    (3)", and that filter then found no passage holding the words."""
    result = corpus.search(query, mode="hybrid")
    assert result.facets_over[0] == "words" and result.facets
    for label, items in result.facets.items():
        for name, n in items[:3]:
            narrowed = corpus.search(query, mode="hybrid", entities=(name,))
            assert narrowed.keyword_total == n, (label, name, n, narrowed.keyword_total)


def test_facets_of_a_search_no_passage_holds_the_words_of_count_by_meaning(corpus):
    result = corpus.search("qqqxyz zzzunknownword", mode="hybrid")  # no word the index holds
    assert result.keyword_total == 0 and result.facets_over == ("meaning", 100)


@pytest.mark.parametrize("query", [
    "How does the plan describe the imbalance between supply and demand in China's economy?",
    "What tariffs did the Trump administration apply to Australian imports?",
    "Which country mediated the ceasefire?",
])
def test_a_longer_page_keeps_the_order_of_a_shorter_one(corpus, query):
    # The rerank's head was the page when the page was longer than it, so asking for 60 results reordered the top 10.
    short = [h.passage.passage_id for h in corpus.search(query, mode="hybrid", limit=10).hits]
    long = [h.passage.passage_id for h in corpus.search(query, mode="hybrid", limit=60).hits]
    assert long[:10] == short


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
@pytest.mark.parametrize("query, left_out", [
    ("pipeline NOT Gazprom", ["Gazprom"]),
    ("gas pipeline ANDNOT (Gazprom OR CNPC)", ["Gazprom", "CNPC"]),
    ('Siberia NOT "Power of Siberia"', ["Power of Siberia"]),
])
def test_not_leaves_the_words_out_of_results_by_meaning_too(corpus, mode, query, left_out):
    """The README's example: "pipeline NOT Gazprom" leaves out every passage that mentions Gazprom. The keyword side
    always did; results by meaning held Gazprom's passages at the top until the keyword index told it which."""
    result = corpus.search(query, mode=mode, limit=30)
    assert len(result.hits) >= 10
    held = [h.passage.passage_id for h in result.hits
            if any(w.casefold() in (h.passage.text + " " + h.passage.section).casefold() for w in left_out)]
    assert not held, held
    # Without the exclusion the same words by meaning do reach those passages: the test has something to exclude.
    plain = corpus.search(query.split(" NOT ")[0].split(" ANDNOT ")[0], mode=mode, limit=30)
    assert any(w.casefold() in h.passage.text.casefold() for h in plain.hits for w in left_out)


def test_a_query_that_only_excludes_searches_nothing_by_meaning(corpus):
    result = corpus.search("NOT Gazprom", mode="semantic", limit=10)
    assert not result.hits and any("only excludes" in w for w in result.warnings)
    hybrid = corpus.search("NOT Gazprom", mode="hybrid", limit=10)  # the keyword side's: every passage without it
    assert hybrid.hits and not [h for h in hybrid.hits if "Gazprom" in h.passage.text]


@pytest.mark.parametrize("query", ["!!!", "*", "???"])
def test_a_query_with_no_letter_or_digit_ranks_nothing_by_meaning(corpus, query):
    """Hybrid search showed ten passages "ranked by meaning" for "!!!": the model's reading of punctuation."""
    result = corpus.search(query, mode="hybrid", limit=10)
    assert not result.hits and not result.by_meaning
    assert any("no letters or digits" in w for w in result.warnings)
    from corpus_search.render import _summary

    assert "ranked by meaning" not in _summary(result, quoted=False)


def test_a_document_id_typed_with_other_capitals_is_that_document(corpus):
    """Ids are the file names lower-cased ("R48903.3.pdf" is r48903.3): `--doc R48903.3` failed."""
    result = corpus.search("pipeline", doc_ids=["MAKOCKI2016"], limit=5)
    assert result.hits and {h.passage.doc_id for h in result.hits} == {"makocki2016"}
    assert [p.doc_id for p in corpus.passages("Alexeeva2018")][:1] == ["alexeeva2018"]
    with pytest.raises(NotFoundError, match="no document 'makoki'"):
        corpus.search("pipeline", doc_ids=["makoki"])


def test_an_unknown_document_id_names_the_nearest_not_every_id():
    """A corpus of thousands of files listed every id in the one-line error."""
    from corpus_search.store_passages import known_doc_id

    known = {f"report-{n:04d}" for n in range(3000)} | {"crs-r48903", "crs-r48902"}
    assert known_doc_id("CRS-R48903", known) == "crs-r48903"
    with pytest.raises(NotFoundError) as err:
        known_doc_id("crs-r4890", known)
    message = str(err.value)
    assert "nearest: crs-r48903, crs-r48902," in message and "3,002 documents" in message and len(message) < 300
