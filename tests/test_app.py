"""The Streamlit app, driven through AppTest against a real index of the bundled corpus."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "src" / "corpus_search" / "app" / "streamlit_app.py"  # the package's entry: pages/ sits beside it
# "12 passages match", "1 passage matches the words", "0 passages pass the filters" (which leave none to search)
SUMMARY = re.compile(r"(\d+) passages? (?:match|pass)")


@pytest.fixture
def app(built_index, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(built_index))
    # Each test its own annotation store: what one saves to a collection never shows in another.
    monkeypatch.setenv("CORPUS_SEARCH_ANNOTATIONS", str(tmp_path / "annotations"))
    monkeypatch.setenv("CORPUS_SEARCH_CORPUS", str(ROOT / "corpus"))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def search(at, query: str):
    at.text_input(key="q").input(query).run()
    assert not at.exception, at.exception
    return at


def cards(at) -> list[str]:
    """The header lines of the result cards (title · authors · year · page)."""
    return [m.value for m in at.markdown if m.value.startswith('<div class="cs-head">')]


def matched(at) -> int:
    for m in at.markdown:
        found = SUMMARY.search(m.value)
        if found:
            return int(found.group(1))
    raise AssertionError("no '... passages match' (or '... pass the filters') line on the page")


def test_empty_search_page_says_what_to_do(app):
    assert any("Type words to search for" in i.value for i in app.info)
    assert not cards(app)


def test_query_shows_result_cards_with_page_numbers_and_highlights(app):
    search(app, "Power of Siberia")
    heads = cards(app)
    assert len(heads) == 10
    assert all(re.search(r'cs-loc">(p\. \d+|pp\. \d+–\d+|para\. \d+)<', h) for h in heads), heads
    passages = [m.value for m in app.markdown if m.value.startswith('<div class="cs-passage">')]
    assert any("<mark>Siberia</mark>" in p for p in passages)
    assert matched(app) >= 10


def test_the_results_header_counts_what_matches_in_each_mode(app, corpus):
    # Hybrid and semantic rank candidates from each side; the header must not call them matches.
    query = "gas pipeline"
    words, searched = corpus.search(query, mode="keyword").total, len(corpus.passages())
    search(app, query)
    header = html.unescape(" ".join(m.value for m in app.markdown if "cs-summary" in m.value))
    assert f"{words} passages match the words of “{query}”; the other {searched - words} were ranked by meaning; " \
           "showing the best 10" in header, header
    app.radio(key="mode").set_value("semantic").run()
    header = html.unescape(" ".join(m.value for m in app.markdown if "cs-summary" in m.value))
    assert f"showing the 10 of {searched} passages closest in meaning to “{query}”" in header, header
    assert "match" not in header


def test_entity_filter_narrows_the_results(app):
    search(app, "gas pipeline")
    before = matched(app)
    app.multiselect(key="entity").select("Gazprom").run()
    after = matched(app)
    assert 0 < after < before
    # Every card now mentions Gazprom (its chips list the passage's entities).
    chips = [p for p in app.get("button_group") if p.key and p.key.startswith("chip-")]
    assert chips and all("Gazprom" in p.options for p in chips)


def test_two_entities_at_once_keep_only_passages_mentioning_both(app):
    search(app, "gas")
    app.multiselect(key="entity").select("Gazprom").run()
    one = matched(app)
    app.multiselect(key="entity").select("CNPC").run()
    assert matched(app) <= one


def test_leaving_out_footnotes_and_captions(app):
    search(app, "Power of Siberia")
    app.multiselect(key="skip").select("caption").select("footnote").run()
    assert not any('cs-badge">caption<' in h or 'cs-badge">footnote<' in h for h in cards(app))


def test_keyword_syntax_error_is_shown_in_plain_words(app):
    search(app, '"unclosed phrase AND (')
    assert not app.exception
    assert app.warning or app.error or cards(app)


def test_unknown_entity_in_the_url_is_ignored_not_an_error(built_index, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(built_index))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["q"] = "Power of Siberia"
    at.query_params["entity"] = "No Such Thing"
    at.run()
    assert not at.exception


def test_open_in_reader_shows_the_page_of_the_passage(app):
    search(app, "Power of Siberia")
    head = cards(app)[0]
    page = re.search(r'cs-loc">p\. (\d+)', head).group(1)
    app.button(key="open-1").click().run()
    assert not app.exception, app.exception
    # Headings and notes are Markdown with the page label escaped (p&#46; 17): compare what a reader sees.
    assert [html.unescape(s.value) for s in app.subheader] == [f"p. {page}"]
    assert any('cs-hit' in m.value for m in app.markdown)


def test_reader_shows_footnotes_beside_the_text(app):
    app.switch_page("pages/reader.py").run()
    app.selectbox(key="rdoc").select("alexeeva2018").run()
    notes = [m.value for m in app.markdown if 'class="cs-footnote"' in m.value]
    for _ in range(8):
        if notes:
            break
        app.button(key="next").click().run()
        notes = [m.value for m in app.markdown if 'class="cs-footnote"' in m.value]
    assert notes, "no footnotes shown on the first pages of a document that has them"


def test_add_to_collection_and_export_markdown(app):
    search(app, "Power of Siberia")
    app.button(key="add-1").click().run()
    app.button(key="add-2").click().run()
    app.switch_page("pages/collection.py").run()
    assert not app.exception, app.exception
    assert len([m for m in app.markdown if m.value.startswith('<div class="cs-head">')]) == 2
    app.selectbox(key="export_fmt").select("markdown").run()
    preview = app.code[-1].value
    assert preview.startswith("1. ") and "\n2. " in preview and "China and Russia" in preview
    assert app.get("download_button")


def test_quote_check_finds_the_quotation_on_page_17(app):
    app.switch_page("pages/quote.py").run()
    app.text_area(key="quote_text").input(
        "the relationship is not anything like the Soviet-Chinese brotherhood").run()
    app.button(key="quote_go").click().run()
    assert not app.exception, app.exception
    assert any("p. 17" in html.unescape(s.value) for s in app.success)
    heads = [m.value for m in app.markdown if m.value.startswith('<div class="cs-head">')]
    assert 'cs-loc">p. 17<' in heads[0]
    passage = [m.value for m in app.markdown if "<mark>" in m.value][0]
    assert "<mark>the relationship is not anything like the Soviet&#45;Chinese brotherhood</mark>" in passage
    assert any("17" in c.value for c in app.code)  # the citations carry the page
    # These are Dai Bingguo's words, which the source quotes: the page says so.
    assert any("quoting someone" in i.value for i in app.info), [i.value for i in app.info]


def test_quote_check_shows_what_differs_for_an_altered_quotation(app):
    app.switch_page("pages/quote.py").run()
    app.text_area(key="quote_text").input("the relationship is nothing like the Soviet Chinese brotherhood").run()
    app.button(key="quote_go").click().run()
    assert any("altered" in w.value for w in app.warning)
    assert any("<del>" in m.value and "<ins>" in m.value for m in app.markdown)


def test_entities_page_lists_passages_of_the_chosen_entity(app):
    app.switch_page("pages/entities.py").run()
    assert not app.exception, app.exception
    app.selectbox(key="ent_name").select("Gazprom").run()
    assert app.subheader[0].value == "Gazprom"
    marked = [m.value for m in app.markdown if "<mark>" in m.value]
    assert marked and all("<mark>" in m for m in marked)


def test_documents_page_lists_every_source_with_status(app):
    app.switch_page("pages/documents.py").run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert len(table) == 8 and set(table["status"]) == {"ok"}


def test_missing_index_explains_how_to_build(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(tmp_path / "nothing"))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception
    assert at.header[0].value == "No index yet"
    assert at.button(key="build_missing")


def test_upload_stores_a_safe_name_rebuilds_and_dedupes(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from corpus_search.api import build

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "first.txt").write_text("The Power of Siberia pipeline carries gas from Russia to China.\n")
    index = tmp_path / "index"
    build(corpus, index)
    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(index))
    monkeypatch.setenv("CORPUS_SEARCH_CORPUS", str(corpus))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.switch_page("pages/documents.py").run()
    data = b"Harbin and Vladivostok trade grew along the Amur river bridge.\n"

    def upload(name: str):
        at.file_uploader(key="up_file").upload(name, data, "text/plain")
        at.text_input(key="up_title").input('A "tricky" title \\ [x](javascript:alert(1))')
        at.text_input(key="up_year").input("2019")
        at.button[[b.label for b in at.button].index("Add and rebuild")].click().run()
        assert not at.exception, at.exception

    # A refused form keeps what was typed.
    at.file_uploader(key="up_file").upload("kept.txt", data, "text/plain")
    at.text_input(key="up_title").input("Kept title")
    at.text_input(key="up_year").input("20x9")
    at.button[[b.label for b in at.button].index("Add and rebuild")].click().run()
    assert any("The year must be a number" in e.value for e in at.error)
    assert (at.text_input(key="up_title").value, at.text_input(key="up_year").value) == ("Kept title", "20x9")

    upload("../../evil.txt")
    assert any("Saved as uploads/" in s.value for s in at.success), [e.value for e in at.error]
    # A file added leaves an empty form for the next one.
    assert (at.text_input(key="up_title").value, at.text_input(key="up_year").value) == ("", "")
    wait_for_build(index)
    stored = list((corpus / "uploads").iterdir())
    assert sorted(p.suffix for p in stored) == [".toml", ".txt"]
    assert not (tmp_path / "evil.txt").exists()
    at.switch_page("pages/documents.py").run()
    titles = list(at.dataframe[0].value["title"])
    assert 'A "tricky" title \\ [x](javascript:alert(1))' in titles

    upload("again.txt")
    assert any("already in the corpus" in i.value for i in at.info)
    assert len(list((corpus / "uploads").iterdir())) == 2


def wait_for_build(index: Path, seconds: float = 300) -> dict:
    """The app builds in a background process: wait for the one it started to end."""
    import time

    from corpus_search import build_job

    deadline = time.monotonic() + seconds
    while (job := build_job.status(index)) is not None and job["state"] == "running":
        assert time.monotonic() < deadline, f"the build is still running after {seconds} s: {job}"
        time.sleep(0.5)
    assert job is not None, "no build was started"
    return job


def test_filters_without_words_list_the_passages(built_index, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(built_index))
    monkeypatch.setenv("CORPUS_SEARCH_CORPUS", str(ROOT / "corpus"))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["entity"] = "Yan Xuetong"
    at.run()
    assert not at.exception, at.exception
    summary = " ".join(m.value for m in at.markdown if "cs-summary" in m.value)
    assert "pass the filters" in summary
    assert len(cards(at)) >= 2
    passages = [m.value for m in at.markdown if m.value.startswith('<div class="cs-passage">')]
    assert all("Yan" in p for p in passages)


@pytest.mark.timeout(600)
def _documents_page(tmp_path, monkeypatch, add):
    """A corpus of one text and what `add(corpus folder)` puts there, built, and the app's Documents page on it."""
    from streamlit.testing.v1 import AppTest

    from corpus_search.api import build

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "first.txt").write_text("The Power of Siberia pipeline carries gas from Russia to China.\n")
    add(corpus)
    build(corpus, index)
    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(index))
    monkeypatch.setenv("CORPUS_SEARCH_CORPUS", str(corpus))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.switch_page("pages/documents.py").run()
    assert not at.exception, at.exception
    return at, corpus, index


def test_a_source_over_the_time_cap_is_listed_with_its_reason_and_can_be_retried_or_removed(tmp_path, monkeypatch):
    from hostile_pdf import write_hostile_pdf

    monkeypatch.setenv("CORPUS_SEARCH_PDF_TIMEOUT", "2")
    slow = lambda c: write_hostile_pdf(c / "slow.pdf", pages=1, mb_per_page=3)  # noqa: E731 (seconds of pypdf work)
    at, corpus, index = _documents_page(tmp_path, monkeypatch, slow)
    assert any(html.unescape(w.value).startswith("slow.pdf: failed: over the time cap (2 s)") for w in at.warning), \
        [w.value for w in at.warning]

    at.button(key="retry_slow").click().run()
    assert not at.exception, at.exception
    job = wait_for_build(index)
    assert job["state"] == "done" and job["retry"] == ["slow"]
    sources = {s["path"]: s for s in job["report"]["sources"]}
    assert not sources["slow.pdf"]["reused"] and sources["first.txt"]["reused"]  # processed again, alone

    at.switch_page("pages/documents.py").run()
    at.button(key="remove_slow").click().run()
    assert not at.exception, at.exception
    assert not (corpus / "slow.pdf").exists()
    job = wait_for_build(index)
    assert job["state"] == "done", job
    at.switch_page("pages/documents.py").run()
    assert list(at.dataframe[0].value["file"]) == ["first.txt"]
    assert not any("slow.pdf" in html.unescape(w.value) for w in at.warning)


def test_cards_mark_the_answering_sentence_and_explain_shows_the_scores(app):
    search(app, "Which Georgia port ships frozen chicken to the Gulf states?")
    passages = [m.value for m in app.markdown if m.value.startswith('<div class="cs-passage">')]
    first = html.unescape(re.sub(r"<[^>]+>", "", passages[0].split('<span class="cs-evidence">', 1)[1]))
    assert "frozen chicken" in first and "Savannah" in first
    assert any("sentence that best answers" in c.value for c in app.caption)
    assert not any("keyword #" in html.unescape(c.value) for c in app.caption)
    app.toggle(key="explain").set_value(True).run()
    assert not app.exception, app.exception
    shown = [html.unescape(c.value) for c in app.caption]
    explained = [c for c in shown if "keyword #" in c or "keyword -" in c]
    assert len(explained) == len(cards(app)) and all("semantic" in e and "fused" in e for e in explained)


def test_a_text_every_report_prints_is_one_card_naming_the_other_reports(app):
    """The CRS disclaimer stands on a page of each of the six reports: one card, and a caption with the others."""
    search(app, "This document was prepared by the Congressional Research Service")
    passages = [m.value for m in app.markdown if m.value.startswith('<div class="cs-passage">')]
    assert sum("This document was prepared by" in html.unescape(re.sub(r"<[^>]+>", "", p)) for p in passages) == 1
    shown = [html.unescape(c.value) for c in app.caption if "The same text, shown once" in c.value]
    assert len(shown) == 1 and shown[0].count("[crs-") == 5


def test_reader_marks_the_evidence_sentence_of_the_opened_hit(app):
    search(app, "Which Georgia port ships frozen chicken to the Gulf states?")
    app.button(key="open-1").click().run()
    assert not app.exception, app.exception
    hit = [m.value for m in app.markdown if "cs-hit" in m.value]
    assert hit and '<span class="cs-evidence">' in hit[0]


def test_an_edit_made_elsewhere_is_not_overwritten_by_a_box_loaded_before_it(app, corpus, tmp_path):
    """The note box keeps the text it was loaded with; saving it used the version read at that moment, so an edit
    made in another tab (or with the CLI) in between was silently overwritten."""
    from corpus_search.annotations import AnnotationStore, annotate

    store = AnnotationStore.open(tmp_path / "annotations")
    passage = next(p for p in corpus.passages("makocki2016") if p.kind == "body" and len(p.text) > 200)
    made = annotate(corpus, passage.passage_id, store, quote=passage.text[:60], note="first note")
    app.switch_page("pages/annotations.py").run()
    assert not app.exception, app.exception
    note_box = app.text_area(key=f"ann-edit-note-{made.id}")
    assert note_box.value == "first note"

    store.update(made.id, made.version, note="an edit made in another tab")  # while the box is open here
    app.text_input(key=f"ann-edit-tags-{made.id}").input("checked").run()
    app.button(key=f"ann-edit-save-{made.id}").click().run()

    assert not app.exception, app.exception
    assert any("was changed elsewhere" in e.value for e in app.error), [e.value for e in app.error]
    assert store.get(made.id).note == "an edit made in another tab"
    assert store.get(made.id).tags == ()
    # The box then shows the stored note, and a save from there goes through.
    app.run()
    assert app.text_area(key=f"ann-edit-note-{made.id}").value == "an edit made in another tab"
    app.text_area(key=f"ann-edit-note-{made.id}").input("merged by hand").run()
    app.button(key=f"ann-edit-save-{made.id}").click().run()
    assert not app.error and store.get(made.id).note == "merged by hand"
    store.close()


def test_a_note_changed_elsewhere_shows_in_an_untouched_box(app, corpus, tmp_path):
    from corpus_search.annotations import AnnotationStore, annotate

    store = AnnotationStore.open(tmp_path / "annotations")
    passage = next(p for p in corpus.passages("makocki2016") if p.kind == "body" and len(p.text) > 200)
    made = annotate(corpus, passage.passage_id, store, quote=passage.text[:60], note="first note")
    app.switch_page("pages/annotations.py").run()
    store.update(made.id, made.version, note="changed with the CLI")
    app.run()
    assert app.text_area(key=f"ann-edit-note-{made.id}").value == "changed with the CLI"
    store.close()


def test_the_readers_annotate_form_starts_on_the_passage_opened(app):
    """It started on the page's first passage, so a note meant for the hit could be saved on another passage."""
    search(app, "Altai pipeline")
    app.button(key="open-1").click().run()
    assert not app.exception, app.exception
    hit = app.query_params["hit"]
    hit = hit[0] if isinstance(hit, list) else hit
    form = app.selectbox(key="reader-annotate-pid")
    assert form.value == hit
    assert len(form.options) > 1  # the page holds other passages the form could have started on


def test_a_quotation_over_two_numbered_paragraphs_is_cited_with_both_in_every_style(app):
    """The page said "para. 3" and every citation style too, where the library's own citation says paras. 3-4."""
    app.switch_page("pages/quote.py").run()
    app.text_area(key="quote_text").input(
        "Beijing is merely following the general dynamic that has characterised their development since the "
        "outset. The evolution of Sino-Russian relations since the fall of the USSR has been the subject of a "
        "great many academic studies").run()
    app.button(key="quote_go").click().run()
    assert not app.exception, app.exception
    assert any("paras. 3\u20134" in html.unescape(s.value) for s in app.success), [s.value for s in app.success]
    citations = [c.value for c in app.code]
    assert len(citations) >= 4
    assert all("3-4" in c for c in citations if "para" in c or "pars." in c), citations
    assert sum("paras. 3-4" in c or "pars. 3-4" in c for c in citations) >= 3, citations


def test_a_quotation_opened_in_the_reader_shows_the_pdf_page_it_starts_on(app, corpus):
    """A quotation on the second page of a passage that runs over a page break: the reader showed the passage's
    first PDF page and said the quotation could not be located on it."""
    quote = "United States is the top supplier of soybeans to the region"
    match = corpus.quote(quote).matches[0]
    passage = corpus.passage(match.passage_id)
    assert match.exact and match.pdf_page == passage.pdf_page + 1  # the case: it starts on the passage's next page
    app.switch_page("pages/quote.py").run()
    app.text_area(key="quote_text").input(quote).run()
    app.button(key="quote_go").click().run()
    app.button(key="q-open-one-0").click().run()
    assert not app.exception, app.exception
    shown = [s for s in app.selectbox if str(s.key).startswith("pdfpage-")]
    assert shown and shown[0].value == match.pdf_page, [(s.key, s.value) for s in shown]
    assert any(f"PDF page {match.pdf_page}: the quotation you opened is marked" in c.value for c in app.caption)


def test_a_quotation_not_in_the_sources_gets_no_citation_and_no_kind_of_change(app):
    """Its closest text was shown as "Similarity 46% (paraphrase)", with a word-salad diff and citations to copy."""
    app.switch_page("pages/quote.py").run()
    app.text_area(key="quote_text").input("China will invade Siberia next year and take the gas").run()
    app.button(key="quote_go").click().run()
    assert not app.exception, app.exception
    assert any("Not in the sources" in e.value for e in [*app.error, *app.warning])
    text = " ".join(m.value for m in app.markdown)
    assert "Closest text only" in text and "paraphrase" not in text and "<del>" not in text
    assert not app.code  # no citation offered for words the sources do not hold


def test_an_encrypted_pdf_that_failed_opens_with_a_password_typed_on_the_documents_page(tmp_path, monkeypatch):
    """It said "needs a password: encrypted: needs a password; add password = ..." and had nowhere to type one."""
    import shutil

    from conftest import TESTDATA_PDF

    source = TESTDATA_PDF / "sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf"
    if not source.exists():
        pytest.skip("needs ../shared/testdata/pdf")
    at, corpus, index = _documents_page(tmp_path, monkeypatch, lambda c: shutil.copy(source, c / "minutes.pdf"))
    said = [html.unescape(w.value) for w in at.warning if "minutes.pdf" in html.unescape(w.value)]
    assert len(said) == 1 and said[0].count("needs a password") == 1, said

    at.text_input(key="pw_text_minutes").input("openpassword")
    at.button(key="FormSubmitter:pw_minutes-Open it with this password and rebuild").click().run()
    assert not at.exception, at.exception
    job = wait_for_build(index)
    assert job["state"] == "done" and job["retry"] == ["minutes"], job
    sources = {s["path"]: s for s in job["report"]["sources"]}
    assert sources["minutes.pdf"]["status"] == "ok", sources["minutes.pdf"]
    assert 'password = "openpassword"' in (corpus / "minutes.toml").read_text(encoding="utf-8")


def test_a_links_values_that_name_nothing_are_dropped_with_a_warning(built_index, monkeypatch):
    """?mode=bogus, ?doc=nosuchdoc and ?lang=xx were dropped without a word; ?n=25 and ?doc=makocki2016 are kept."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(built_index))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["q"] = "Power of Siberia"
    at.query_params["mode"] = "bogus"
    at.query_params["doc"] = ["nosuchdoc", "makocki2016"]
    at.query_params["lang"] = "xx"
    at.run()
    assert not at.exception, at.exception
    said = [html.unescape(w.value) for w in at.warning if "Ignored in the link" in html.unescape(w.value)]
    assert len(said) == 1 and all(x in said[0] for x in ("mode=bogus", "doc=nosuchdoc", "lang=xx")), said
    assert "makocki2016" not in said[0]
    assert at.multiselect(key="doc").value == ["makocki2016"]


def test_a_reload_keeps_the_quotation_checked_and_the_entity_shown(built_index, monkeypatch, tmp_path):
    """Both were lost on a reload: the quote check came back empty, the Entities page on its top entity."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(built_index))
    monkeypatch.setenv("CORPUS_SEARCH_ANNOTATIONS", str(tmp_path / "annotations"))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("pages/quote.py").run()
    quote = "the relationship is not anything like the Soviet-Chinese brotherhood"
    at.text_area(key="quote_text").input(quote).run()
    at.button(key="quote_go").click().run()
    assert at.query_params["text"] in (quote, [quote])
    at.switch_page("pages/entities.py").run()
    at.selectbox(key="ent_name").select("Gazprom").run()
    assert at.query_params["name"] in ("Gazprom", ["Gazprom"])

    # A reload: a new session with the same URL.
    again = AppTest.from_file(str(APP), default_timeout=120)
    again.query_params["text"] = quote
    again.switch_page("pages/quote.py").run()
    assert not again.exception, again.exception
    assert again.text_area(key="quote_text").value == quote
    assert any("p. 17" in html.unescape(s.value) for s in again.success)
    again = AppTest.from_file(str(APP), default_timeout=120)
    again.query_params["name"] = "Gazprom"
    again.switch_page("pages/entities.py").run()
    assert not again.exception, again.exception
    assert again.selectbox(key="ent_name").value == "Gazprom" and again.subheader[0].value == "Gazprom"


def test_a_reload_keeps_the_collection_shown(built_index, monkeypatch, tmp_path):
    """The Collection page came back on the first collection after a reload."""
    from corpus_search.annotations import AnnotationStore
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(built_index))
    monkeypatch.setenv("CORPUS_SEARCH_ANNOTATIONS", str(tmp_path / "annotations"))
    store = AnnotationStore.open(tmp_path / "annotations")
    for name in ("Alpha reading", "Beta reading"):
        store.create_collection(name)
    store.close()
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("pages/collection.py").run()
    at.selectbox(key="coll-name").select("Beta reading").run()
    assert at.query_params["name"] in ("Beta reading", ["Beta reading"])

    again = AppTest.from_file(str(APP), default_timeout=120)
    again.query_params["name"] = "Beta reading"
    again.switch_page("pages/collection.py").run()
    assert not again.exception, again.exception
    assert again.selectbox(key="coll-name").value == "Beta reading"
    again.text_input(key="coll-rename").input("Beta  reading, revised").run()
    again.button(key="coll-rename-go").click().run()
    assert again.selectbox(key="coll-name").value == "Beta reading, revised"  # not the first one
    gone = AppTest.from_file(str(APP), default_timeout=120)  # a link to a collection since deleted
    gone.query_params["name"] = "Deleted reading"
    gone.switch_page("pages/collection.py").run()
    assert not gone.exception and gone.selectbox(key="coll-name").value == "Alpha reading"


def test_a_failed_upload_is_named_by_the_file_it_came_as(tmp_path, monkeypatch):
    """Listed only by its generated name ("uploads/3e333bff0196d0c5.pdf"), the user could not tell which it was."""
    def add(corpus):
        (corpus / "uploads").mkdir()
        (corpus / "uploads" / "3e333bff0196d0c5.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf\n%%EOF\n")
        (corpus / "uploads" / "3e333bff0196d0c5.toml").write_text(
            'title = "invalid"\ntitle_guessed = true\nuploaded_as = "invalid.pdf"\n', encoding="utf-8")

    at, _, _ = _documents_page(tmp_path, monkeypatch, add)
    said = [html.unescape(w.value) for w in at.warning if "3e333bff0196d0c5" in html.unescape(w.value)]
    assert len(said) == 1 and said[0].startswith("invalid (uploads/3e333bff0196d0c5.pdf): failed"), said
