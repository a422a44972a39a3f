"""Quotation verification: verbatim wherever typing and layout differ, and honest about near misses."""

from __future__ import annotations

import hashlib

import pytest

from corpus_search.errors import QueryError
from corpus_search.models import Difference, Document, Passage, Record, Verdict
from corpus_search.quote import CLOSE, _gapped_matches, classify, parse_quote, render_report, similarity, verify, word_diff
from corpus_search.store import Store

# A tiny store whose text has the typography real sources have: curly quotes, en dashes, an
# "fi" ligature, a line-end hyphen kept in a compound, a lifted footnote marker, a page break
# inside a paragraph and a paragraph that runs on into the next.
PARAGRAPHS = [
    ("Moscow\u2019s \u2018turn to the East\u2019 \u2013 announced in 2014 \u2013 was meant to oﬀset the sanctions "
     "of the Soviet-Chinese era. Russia looked east for capital.", 10, ()),
    ("Gazprom dragged its feet on the pipeline. Russia looked east for capital. The first deliveries may "
     "not take place until 2021 or even later.", 11, ((57, "12"),)),
    ("The fear of being eclipsed by the meteoric rise of China is driving Russia\u2019s reluctance", 12, ()),
    ("to fully embrace economic opportunities offered by the world\u2019s most populous country.", 12, ()),
]
OTHER = "A wholly different report about fisheries in the North Atlantic and their quotas."


def _store(tmp_path) -> Store:
    store = Store.create(tmp_path / "store.db")
    for doc_id, paragraphs in (("doc", PARAGRAPHS), ("other", [(OTHER, 3, ())])):
        text, passages = "", []
        for seq, (body, page, breaks) in enumerate(paragraphs):
            if text:
                text += "\n\n"
            start = len(text)
            text += body
            end_page = int(breaks[-1][1]) if breaks else page
            passages.append(Passage(f"{doc_id}:{seq:04d}", doc_id, seq, body, page=page, page_end=end_page,
                                    start=start, end=len(text), page_breaks=breaks))
        record = Record(doc_id=doc_id, title=f"Report {doc_id}", authors=("Ann Author",), year=2016, publisher="Pub")
        sha = hashlib.sha256(text.encode()).hexdigest()
        store.add_document(Document(doc_id, f"{doc_id}.txt", sha, record), len(store.documents()), text, passages)
    store.commit()
    return store


@pytest.fixture
def store(tmp_path):
    s = _store(tmp_path)
    yield s
    s.close()


@pytest.mark.parametrize(
    "typed",
    [
        "Moscow's 'turn to the East' -- announced in 2014 -- was meant to offset the sanctions",  # straight, "--", no ligature
        "“Moscow’s ‘turn to the East’ — announced in 2014 — was meant to offset the sanctions.”",  # curly, em dash
        "Moscow's  'turn to the\nEast' - announced in 2014 - was meant to offset   the sanctions",  # spacing, line breaks
        "moscow's 'turn to the East' \u2011 announced in 2014 \u2011 was meant to offset the sanctions",  # U+2011, first letter
        "Moscow's 'turn to the East' announced in 2014 was meant to offset the sanctions",  # dashes left out
    ],
)
def test_typing_differences_still_match_verbatim(store, typed):
    report = verify(store, typed)
    assert report.found and report.verdict == "found"
    (match,) = report.matches
    assert match.exact and match.similarity == 1.0 and match.page == 10
    # The source's own characters, cut from the passage, never the typed ones.
    assert match.source_text.startswith("Moscow\u2019s \u2018turn") and "oﬀset the sanctions" in match.source_text
    passage = store.passage(match.passage_id)
    assert passage.text[match.start : match.end] == match.source_text


@pytest.mark.parametrize("typed, changed", [
    ("Moscow's 'turn to the east' - announced in 2014 - was meant to offset the sanctions", ("East", "east")),
    ("MOSCOW'S 'TURN TO THE EAST'", ("Moscow's", "MOSCOW'S")),
    ("Moscows 'turn to the East' - announced in 2014", ("Moscow's", "Moscows")),  # an apostrophe left out
    ("Moscow's 'turn to the East' - announced in 2014 - was meant to offset the sanction's", ("sanctions", "sanction's")),
])
def test_a_changed_capital_or_apostrophe_is_no_verbatim_quotation(store, typed, changed):
    """The skeleton that finds a quotation leaves case and apostrophes out, so "it's coastline" was FOUND verbatim
    where the source says "its coastline". Found that way, it is altered: the source's words and the diff shown."""
    report = verify(store, typed)
    assert not report.found and report.verdict == "altered"
    match = report.matches[0]
    assert not match.exact and 0.9 <= match.similarity < 1.0 and match.difference == "typo"
    assert match.source_text.startswith("Moscow\u2019s \u2018turn")
    source_word, typed_word = changed
    marked = {op: words for op, words in match.diff if op != "="}
    assert typed_word in marked["-"] and source_word.split()[-1] in marked["+"].replace("\u2019", "'"), match.diff
    assert "NOT FOUND as quoted" in render_report(report) and "[-" in render_report(report)


def test_a_punctuation_change_is_marked_in_the_diff(store):
    """A full stop typed as a comma: a near match whose diff marked nothing, as words were compared without
    their punctuation."""
    report = verify(store, "Gazprom dragged its feet on the pipeline, Russia looked east for capital")
    assert report.verdict == "altered"
    marked = [(op, words) for op, words in report.matches[0].diff if op != "="]
    assert marked == [("-", "pipeline,"), ("+", "pipeline.")], report.matches[0].diff


def test_a_compound_hyphen_matches_with_or_without_it(store):
    assert verify(store, "sanctions of the Soviet-Chinese era").found
    assert verify(store, "sanctions of the Soviet Chinese era").found


def test_every_occurrence_is_reported(store):
    report = verify(store, "Russia looked east for capital")
    assert report.found
    assert [m.passage_id for m in report.matches] == ["doc:0000", "doc:0001"]


def test_whole_words_only(store):
    assert not verify(store, "oscow's 'turn to the East").found


def test_page_is_the_page_of_the_first_word(store):
    before = verify(store, "Gazprom dragged its feet on the pipeline").matches[0]
    assert (before.page, before.page_end) == (11, 11)
    across = verify(store, "on the pipeline. Russia looked east for capital. The first deliveries").matches[0]
    assert (across.page, across.page_end) == (11, 12) and across.citation.endswith(", 11-12.")
    after = verify(store, "The first deliveries may not take place until 2021").matches[0]
    assert (after.page, after.page_end) == (12, 12)


def test_a_quotation_running_into_the_next_paragraph(store):
    report = verify(store, "driving Russia's reluctance to fully embrace economic opportunities")
    assert report.found
    (match,) = report.matches
    assert match.passage_ids == ("doc:0002", "doc:0003")
    assert match.source_text == "driving Russia\u2019s reluctance\n\nto fully embrace economic opportunities"
    position = match.selector["position"]
    assert store.document_text("doc")[position["start"] : position["end"]] == match.source_text


def test_selector_and_file_hash(store):
    match = verify(store, "Gazprom dragged its feet").matches[0]
    text = store.document_text("doc")
    sel = match.selector
    assert sel["type"] == "TextQuoteSelector" and sel["exact"] == "Gazprom dragged its feet"
    assert text.endswith(sel["suffix"] + text[text.index(sel["suffix"]) + len(sel["suffix"]):])
    assert sel["suffix"] == text[match.selector["position"]["end"] :][:32]
    assert sel["prefix"] == text[: sel["position"]["start"]][-32:]
    assert match.file_sha256 == store.document("doc").sha256


@pytest.mark.parametrize(
    "typed",
    [
        "Gazprom dragged its feet ... The first deliveries may not take place",
        "Gazprom dragged its feet … The first deliveries may not take place",
        "Gazprom dragged its feet [...] The first deliveries may not take place",
        "The fear of being eclipsed . . . the world's most populous country",  # across two paragraphs
    ],
)
def test_ellipsis_parts_in_order_in_one_or_two_passages(store, typed):
    report = verify(store, typed)
    assert report.found
    match = report.matches[0]
    assert ("+", "on the pipeline. Russia looked east for capital.") in match.diff or "fear" in typed


@pytest.mark.parametrize(
    "typed",
    [
        "The first deliveries may not take place ... Gazprom dragged its feet",  # wrong order
        "Gazprom dragged its feet ... fisheries in the North Atlantic",  # parts from two documents
        "Moscow's 'turn to the East' ... to fully embrace economic opportunities",  # passages not adjacent
    ],
)
def test_ellipsis_parts_that_do_not_belong_together(store, typed):
    assert not verify(store, typed).found


def test_ellipsis_parts_the_source_has_in_the_other_order_are_shown_rearranged(store):
    """Both parts are verbatim in one passage, B before A: "NOT FOUND in the corpus" with half of it as the
    closest text hid that. It is the source's words rearranged, shown over the span that holds them both."""
    report = verify(store, "The first deliveries may not take place ... Gazprom dragged its feet")
    assert not report.found and report.verdict == Verdict.ALTERED
    match = report.matches[0]
    assert match.difference == Difference.REORDERED and match.passage_id == "doc:0001"
    assert match.source_text.startswith("Gazprom dragged its feet") and match.source_text.endswith(
        "The first deliveries may not take place")
    assert "reordered" in render_report(report)
    # Parts from two documents, or from passages that are not adjacent, are no rearrangement.
    for typed in ("fisheries in the North Atlantic ... Gazprom dragged its feet",
                  "to fully embrace economic opportunities ... Moscow's 'turn to the East'"):
        assert all(m.difference != Difference.REORDERED for m in verify(store, typed).matches), typed


def test_bracketed_insertions_are_editorial(store):
    assert verify(store, "[T]he first deliveries may not take place").found
    assert verify(store, "[Gazprom's] first deliveries may not take place until 2021").found
    match = verify(store, "Gazprom dragged [its] feet on the pipeline").matches[0]
    assert match.source_text == "Gazprom dragged its feet on the pipeline"


def test_a_pasted_footnote_marker_is_ignored(store):
    assert verify(store, "was meant to offset the sanctions2 of the Soviet-Chinese era").found


@pytest.mark.parametrize(
    ("typed", "difference"),
    [
        ("Gazprom dragged its feet on the pipline", "typo"),
        ("Gazprom dragged its heels on the pipeline", "changed words"),
        ("Gazprom dragged its feet on the pipeline", None),  # control: verbatim
        ("Gazprom dragged feet on the pipeline", "omitted words"),
        ("Gazprom dragged its feet on the new gas pipeline", "added words"),
        ("Gazprom dragged on the pipeline its feet", "reordered"),
    ],
)
def test_near_misses_say_what_differs(store, typed, difference):
    report = verify(store, typed)
    if difference is None:
        assert report.found
        return
    assert not report.found and report.verdict == "altered"
    best = report.matches[0]
    assert not best.exact and CLOSE <= best.similarity < 1.0
    assert best.difference == difference and best.passage_id == "doc:0001"
    assert best.source_text.startswith("Gazprom dragged its feet")


def test_words_left_out_without_an_ellipsis_show_the_whole_source_span(store):
    """A researcher who drops a clause without marking it is told so, with the source's whole sentence: the closest
    window by spelling alone stopped before the quotation's last words and was taken for a paraphrase."""
    typed = "Gazprom dragged its feet on the pipeline. The first deliveries may not take place until 2021"
    report = verify(store, typed)
    assert not report.found and report.verdict == "altered"
    best = report.matches[0]
    assert best.difference == "omitted words" and best.passage_id == "doc:0001"
    assert best.source_text == ("Gazprom dragged its feet on the pipeline. Russia looked east for capital. "
                                "The first deliveries may not take place until 2021")
    assert best.similarity == pytest.approx(1 - 5 / 21 / 2, abs=0.001)  # 5 of the span's 21 words left out
    assert ("+", "Russia looked east for capital.") in best.diff


def test_the_quotations_own_words_in_another_order_are_altered_not_a_paraphrase(store):
    """Spelled far apart (similarity below CLOSE), the same words reversed were called a paraphrase when the vector
    index vouched for the passage, and "not found" when it did not."""
    for semantic in (lambda text, k: [("doc:0000", 0.9)], None):
        report = verify(store, "capital for east looked Russia", semantic=semantic)
        assert report.verdict == "altered"
        best = report.matches[0]
        assert best.difference == "reordered" and best.similarity < CLOSE
        assert best.source_text == "Russia looked east for capital"


def test_words_scattered_over_a_passage_are_no_quotation_with_words_left_out(store):
    """Four words found in order, but with more words between them than quoted: not a quotation missing words."""
    report = verify(store, "Gazprom feet take place")
    assert not report.found
    assert all(m.difference != "omitted words" or len(m.source_text.split()) <= 8 for m in report.matches)


def test_nonsense_is_not_found_and_scores_low(store):
    report = verify(store, "The purple elephant danced quietly over seventeen frozen lakes")
    assert not report.found and report.verdict == "not found"
    assert all(m.similarity < 0.6 and not m.exact for m in report.matches)


def test_empty_quotation_is_a_query_error(store):
    with pytest.raises(QueryError):
        verify(store, " “ … ” ")


def test_report_json_has_the_contract_shape(store):
    data = verify(store, "Gazprom dragged its feet").to_json()
    assert set(data) >= {"quote", "found", "matches"}
    match = data["matches"][0]
    for key in ("passage_id", "doc_id", "page", "paragraph", "exact", "similarity", "source_text", "citation",
                "passage_ids", "page_end", "start", "end", "difference", "diff", "selector", "file_sha256"):
        assert key in match


def test_semantic_candidates_are_used_and_paraphrase_reported(store):
    def semantic(text, k):
        return [("doc:0002", 0.83)]

    report = verify(store, "Moscow is afraid that Beijing will outgrow it", semantic=semantic)
    assert not report.found and report.verdict == "paraphrase"
    assert report.matches[0].passage_id == "doc:0002" and report.matches[0].difference == "paraphrase"


def test_a_paraphrase_of_one_sentence_of_a_long_paragraph_is_that_paragraph(corpus):
    """The source says it in paragraph 21, one sentence of a long paragraph: "Russia's current pivot towards China
    would seem to be based above all on the realisation of major bilateral projects". Read by the paragraph's vector
    alone, a heading of the other paper ("Russia needs to pivot to China for investment, trade growth") came first."""
    report = corpus.quote("Russia's pivot to China is based on major bilateral projects")
    assert not report.found and report.verdict == "paraphrase"
    first = report.matches[0]
    assert (first.doc_id, first.paragraph) == ("alexeeva2018", 21)
    assert "major bilateral projects" in first.source_text


# ---------------------------------------------------------------- pieces


def test_parse_quote_splits_at_gaps():
    pattern = parse_quote("“[T]he cat ... sat on [the] mat.”")
    assert pattern.segments == ("hecat", "saton", "mat")
    assert pattern.open_start and not pattern.open_end
    assert pattern.plain == "The cat sat on the mat"


@pytest.mark.parametrize(
    ("quote", "source", "expected"),
    [
        ("a b c d", "a b c d", "typo"),
        ("a strategist rather than tactician", "a tactician rather than strategist", "reordered"),
        ("the card of the more generous partner", "the card of the more respectful partner", "changed words"),
        ("dependence on a partner is", "dependence on a single partner is", "omitted words"),
        ("dependence on a new partner is", "dependence on a partner is", "added words"),
        ("russia recieves gas from china", "russia receives gas from china", "typo"),
        ("moscow fears beijing outgrowing it", "the rise of china is driving russian reluctance", "paraphrase"),
    ],
)
def test_classify(quote, source, expected):
    assert classify(quote.split(), source.split()) == expected


def test_word_diff_marks_what_each_side_has():
    diff = word_diff("Putin is a strategist", "Putin is a tactician")
    assert diff == (("=", "Putin is a"), ("-", "strategist"), ("+", "tactician"))


def test_similarity_is_low_for_unrelated_words():
    assert similarity("the purple elephant danced".split(), "the rise of china is".split()) < 0.5
    assert similarity("a b c".split(), "a b c".split()) == 1.0


# ---------------------------------------------------------------- the real corpus


def test_acceptance_exact_quotation_in_the_chaillot_paper(corpus):
    report = corpus.quote("the relationship is not anything like the Soviet-Chinese brotherhood")
    assert report.found
    (match,) = report.matches
    assert match.doc_id == "makocki2016" and match.page == 17 and match.exact
    assert match.source_text.replace("\u2011", "-") == "the relationship is not anything like the Soviet-Chinese brotherhood"
    assert match.selector["type"] == "TextQuoteSelector" and match.selector["exact"] == match.source_text
    assert match.file_sha256 == corpus.store.document("makocki2016").sha256 and len(match.file_sha256) == 64
    assert match.citation.endswith("17.")


def test_acceptance_reordered_quotation(corpus):
    report = corpus.quote("Putin is a strategist rather than a tactician")
    assert not report.found
    best = report.matches[0]
    assert best.source_text == "Putin is a tactician rather than a strategist"
    assert best.page == 34 and best.difference == "reordered" and best.doc_id == "makocki2016"


def test_acceptance_ellipsis_within_one_paragraph(corpus):
    report = corpus.quote("Russia and China are not simply cooperating ... a true partnership of equals")
    assert report.found and report.matches[0].doc_id == "makocki2016"


def test_acceptance_ellipsis_across_documents_is_not_found(corpus):
    report = corpus.quote("the relationship is not anything like the Soviet-Chinese brotherhood ... "
                          "the relationship is underpinned by the 1951 Australia-New Zealand-United States")
    assert not report.found and report.verdict != "found"


def test_invented_quotation_is_not_found_in_the_corpus(corpus):
    report = corpus.quote("Moscow and Beijing signed a formal mutual defence treaty in the summer of 2015")
    assert not report.found and report.verdict == "not found"


# ---------------------------------------------------------------- bounded work


def test_a_quotation_over_the_cap_is_an_error_naming_the_cap(store, monkeypatch):
    words = ("Russia looked east for capital. " * 200)[:5001]
    with pytest.raises(QueryError, match="5,001 characters; the most `quote` checks is 5,000"):
        verify(store, words)
    monkeypatch.setenv("CORPUS_SEARCH_MAX_QUOTE_CHARS", "40")
    with pytest.raises(QueryError, match="CORPUS_SEARCH_MAX_QUOTE_CHARS"):
        verify(store, "Gazprom dragged its feet on the pipeline. Russia")


@pytest.mark.timeout(60)
def test_a_quotation_that_unfolds_past_the_cap_is_an_error(store):
    # U+FDFA unfolds (NFKC) into 18 characters: 4,999 of them passed the 5,000 cap and were
    # matched as 90,000 characters, over 4 minutes on one small document.
    with pytest.raises(QueryError, match="89,982 characters; the most `quote` checks is 5,000"):
        verify(store, "\ufdfa" * 4999)


def test_an_ellipsis_part_found_only_at_its_later_occurrence():
    # "beta" first occurs too far (over 80 characters, an insertion's reach) before "delta"; its
    # second occurrence is near enough. The match must not stop at the first.
    text = "alphabeta" + "x" * 70 + "beta" + "y" * 10 + "delta"
    assert _gapped_matches(text, parse_quote("alpha [a] beta [b] delta")) == [(0, len(text))]
    assert _gapped_matches(text + "zz", parse_quote("alpha [a] beta [b] omega")) == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize("parts", [3, 6])
def test_ellipses_whose_last_part_is_missing_do_not_hang(corpus, parts):
    # A regular expression for this backtracked through every combination of "of the"s: with three
    # parts it took 15 s on the bundled corpus, with four more than five minutes.
    quote = " ... ".join(["of the"] * parts + ["xqzjw vvkq"])
    report = corpus.quote(quote)
    assert not report.found


@pytest.mark.timeout(180)  # a hang guard, not a speed target: bench/bench_quote.py measures speed
@pytest.mark.parametrize("where", ["corpus", "absent"])
def test_a_quotation_at_the_cap_is_checked(corpus, where):
    text = " ".join(corpus.store.document_text("makocki2016").split())
    if where == "absent":
        words = text.split()
        text = " ".join(words[i] for i in range(len(words) - 1, 0, -7))  # the corpus's words, not its sentences
    quote = text[1000:6000]
    quote = quote[quote.index(" ") + 1 : quote.rindex(" ")]
    report = corpus.quote(quote)
    assert report.matches and report.verdict in ("found", "altered", "not found", "paraphrase")
    if where == "corpus":
        assert report.matches[0].doc_id == "makocki2016"


def test_a_quotation_on_a_page_numbered_in_roman_numerals_gives_that_page(tmp_path):
    """A preface's page "ii" has no page number, only a label: quote said "page unknown" where cite said "ii"."""
    store = Store.create(tmp_path / "store.db")
    text = "The preface explains why the survey of the northern fisheries was begun again in 1998."
    passage = Passage("pre:0000", "pre", 0, text, page=None, page_label="ii", start=0, end=len(text))
    record = Record(doc_id="pre", title="Survey", authors=("Ann Author",), year=2001, publisher="Pub")
    store.add_document(Document("pre", "pre.txt", hashlib.sha256(text.encode()).hexdigest(), record), 0, text, [passage])
    store.commit()
    try:
        report = verify(store, "the survey of the northern fisheries was begun again")
        (match,) = report.matches
        assert report.found and match.page is None and match.page_label == "ii"
        assert "p. ii" in render_report(report) and "page unknown" not in render_report(report)
        assert report.to_json()["matches"][0]["page_label"] == "ii"
    finally:
        store.close()


def test_a_verbatim_quotation_says_where_the_source_itself_quotes_someone(tmp_path):
    """Found verbatim, with nothing said: the sentence was the source quoting an official, or it put two of
    the words in quotation marks. A writer citing them needs to know whose words they are."""
    store = Store.create(tmp_path / "s.db")
    text = ("Dai Bingguo said: \u2018the relationship is not anything like the Soviet-Chinese brotherhood, but a true "
            "partnership\u2019 (31 May 2016). Russia deployed \u201cseveral dozen\u201d nuclear weapons to Belarus, "
            "officials\u2019 statements say.")
    store.add_document(Document("d", "d.txt", "0" * 64, Record(doc_id="d", title="T")), 0, text,
                       [Passage("d:0000", "d", 0, text, page=4, page_end=4, start=0, end=len(text))])
    store.commit()
    within = verify(store, "the relationship is not anything like the Soviet-Chinese brotherhood").matches[0]
    assert within.exact and within.source_quotes == ("within",)
    words = verify(store, "Russia deployed several dozen nuclear weapons to Belarus").matches[0]
    assert words.exact and words.source_quotes == ("\u201cseveral dozen\u201d",)
    assert "puts \u201cseveral dozen\u201d in quotation marks" in render_report(
        verify(store, "Russia deployed several dozen nuclear weapons to Belarus"))
    assert verify(store, 'Russia deployed "several dozen" nuclear weapons').matches[0].source_quotes == ()
    plain = verify(store, "nuclear weapons to Belarus, officials' statements say").matches[0]
    assert plain.exact and plain.source_quotes == ()  # an apostrophe opens no quotation
    store.close()
