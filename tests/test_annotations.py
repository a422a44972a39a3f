"""Annotations that last: on the real bundled corpus, across rebuilds, kills, two writers, export and import."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpus_search.annotations import (AnnotationConflict, AnnotationStore, annotate, export, import_text,
                                       note_html)
from corpus_search.annotations.store import FILENAME, new_annotation, store_dir
from corpus_search.errors import UsageError

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


@pytest.fixture
def store(tmp_path):
    s = AnnotationStore.open(tmp_path / "annotations")
    yield s
    s.close()


def body_passages(corpus, doc_id: str, min_len: int = 200):
    return [p for p in corpus.passages(doc_id) if p.kind == "body" and len(p.text) >= min_len]


def middle_words(text: str, n: int = 8) -> str:
    words = text.split(" ")
    k = len(words) // 2
    return " ".join(words[k : k + n])


def run_cli(*args, index, env_extra=None, input=None, preexec_fn=None):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(SRC), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "corpus_search", "--index", str(index), *args],
                          capture_output=True, text=True, env=env, timeout=300, input=input, preexec_fn=preexec_fn)


def _memory_cap(gib: int = 4):
    """A child's address-space limit, so a file read whole fails fast instead of filling the machine."""
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_AS, (gib << 30, gib << 30))


# -- creating and reading -------------------------------------------------------------------------

def test_an_annotation_keeps_its_words_page_note_and_tags_after_reopening(corpus, tmp_path):
    passage = body_passages(corpus, "makocki2016")[10]
    quote = middle_words(passage.text)
    store = AnnotationStore.open(tmp_path / "a")
    made = annotate(corpus, passage.passage_id, store, quote=quote, note="Compare with *Alexeeva*.",
                    tags=["energy", "energy", " russia "], collections=["Chapter 2"])
    store.close()

    again = AnnotationStore.open(tmp_path / "a").get(made.id)
    assert again.exact == quote
    assert passage.text[again.passage_start : again.passage_end] == quote
    assert corpus.store.document_text(passage.doc_id)[again.doc_start : again.doc_end] == quote
    assert again.page == passage.page_at(again.passage_start)
    assert again.note == "Compare with *Alexeeva*."
    assert again.tags == ("energy", "russia")
    assert again.collections == ("Chapter 2",)
    assert again.file_sha256 == corpus.document("makocki2016").sha256
    assert len(again.prefix) == 32 and len(again.suffix) <= 32


def test_a_quote_copied_with_curly_quotes_and_odd_spacing_lands_on_the_source_words(corpus, store):
    passage = body_passages(corpus, "alexeeva2018")[3]
    quote = middle_words(passage.text, 6)
    typed = "  " + quote.upper().replace(" ", "   ") + " "
    a = annotate(corpus, passage.passage_id, store, quote=typed)
    assert a.exact == quote


def test_a_quote_not_in_the_passage_is_refused_clearly(corpus, store):
    passage = body_passages(corpus, "alexeeva2018")[3]
    with pytest.raises(UsageError, match="not in this passage"):
        annotate(corpus, passage.passage_id, store, quote="words that this passage never says")
    assert store.count() == 0


def test_list_filters_by_tag_collection_document_and_note_text(corpus, store):
    a_passage = body_passages(corpus, "alexeeva2018")[2]
    m_passage = body_passages(corpus, "makocki2016")[2]
    a = annotate(corpus, a_passage.passage_id, store, note="Belt and Road framing", tags=["bri"], collections=["ch1"])
    m = annotate(corpus, m_passage.passage_id, store, note="sanctions angle, see Zhvania", tags=["sanctions"],
                 collections=["ch1", "ch2"])
    assert [x.id for x in store.list(tag="bri")] == [a.id]
    assert [x.id for x in store.list(collection="ch1")] == [a.id, m.id]
    assert [x.id for x in store.list(collection="ch2")] == [m.id]
    assert [x.id for x in store.list(doc_id="makocki2016")] == [m.id]
    assert [x.id for x in store.list(search="ZHVANIA")] == [m.id]
    assert store.list(search="100%_") == []
    store.move_in_collection("ch1", m.id, -1)
    assert [x.id for x in store.list(collection="ch1")] == [m.id, a.id]
    assert store.collections() == [("ch1", 2), ("ch2", 1)]


# -- re-anchoring after a source changes --------------------------------------------------------

def test_a_changed_source_reanchors_unchanged_words_and_keeps_the_deleted_paragraphs_note_as_an_orphan(
        built_index, corpus_copy, tmp_path, monkeypatch):
    from corpus_search.api import Corpus, build

    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    monkeypatch.setenv("CORPUS_SEARCH_ANNOTATIONS", str(tmp_path / "annotations"))
    store = AnnotationStore.open(tmp_path / "annotations")
    source = next(corpus_copy.glob("alexeeva*.txt"))
    raw = source.read_text(encoding="utf-8")

    corpus = Corpus.open(index)
    # Paragraphs whose text the source file holds verbatim, so the test can delete or edit them there.
    usable = [p for p in body_passages(corpus, "alexeeva2018", 300)
              if raw.count(p.text[:80]) == 1 and raw.count(p.text[-60:]) == 1]
    assert len(usable) >= 4
    keep_before, gone, edited, keep_after = usable[1], usable[len(usable) // 3], usable[len(usable) // 2], usable[-2]
    kept = [annotate(corpus, p.passage_id, store, quote=middle_words(p.text), note=f"note {i}", tags=["kept"])
            for i, p in enumerate((keep_before, keep_after))]
    orphan = annotate(corpus, gone.passage_id, store, quote=middle_words(gone.text, 12), note="on a deleted paragraph")
    edited_quote = middle_words(edited.text, 16)
    fuzzy = annotate(corpus, edited.passage_id, store, quote=edited_quote, note="words edited")
    before = {a.id: (a.page, a.exact) for a in kept}
    corpus.close()

    # Delete one paragraph, change one word inside another quote, and add a paragraph near the top
    # (every later offset moves).
    start = raw.index(gone.text[:80])
    end = raw.index(gone.text[-60:]) + 60
    raw = raw[:start] + raw[end:]
    words = edited_quote.split(" ")
    words[len(words) // 2] = words[len(words) // 2] + "s"
    raw = raw.replace(edited_quote, " ".join(words), 1) if edited_quote in raw else raw
    first = raw.index(keep_before.text[:80])
    raw = raw[:first] + "A paragraph added in this version of the source.\n\n" + raw[first:]
    source.write_text(raw, encoding="utf-8")

    report = build(corpus_copy, index)
    counts = report.annotations
    assert counts["orphaned"] == 1, counts
    assert counts["unchanged"] + counts["exact"] + counts["fuzzy"] == 3, counts

    corpus = Corpus.open(index)
    try:
        text = corpus.store.document_text("alexeeva2018")
        for a in kept:
            now = store.get(a.id)
            assert now.status == "anchored" and now.anchored_by == "exact"
            assert (now.page, now.exact) == before[a.id]
            assert text[now.doc_start : now.doc_end] == now.exact
            assert corpus.passage(now.passage_id).text[now.passage_start : now.passage_end] == now.exact
            assert now.doc_start != a.doc_start  # it did move: found by its quote, not its old offset
        lost = store.get(orphan.id)
        assert lost.orphan and lost.exact == orphan.exact and lost.note == "on a deleted paragraph"
        assert lost in store.list(search="deleted paragraph")
        assert store.list(orphans=True) == [lost]  # `annotations list --orphans`
        moved = store.get(fuzzy.id)
        if edited_quote not in source.read_text(encoding="utf-8"):
            assert counts["fuzzy"] == 1
            assert moved.status == "anchored" and moved.anchored_by == "fuzzy"
            assert text[moved.doc_start : moved.doc_end] == moved.exact
        # A second build with nothing changed leaves every annotation where it is.
        versions = {a.id: a.version for a in store.list()}
        build(corpus_copy, index)
        assert {a.id: a.version for a in store.list()} == versions
    finally:
        corpus.close()
        store.close()


def test_every_orphan_comes_back_when_its_document_is_restored_unchanged(corpus, store):
    """A removed document's annotations are orphaned; restored byte for byte, its words are back at their old
    positions. Re-anchoring once stopped at the first of them (a count it had no name for) and left the rest
    reported as words "changed or removed"."""
    from corpus_search.annotations import ORPHAN, reanchor_store

    made = [annotate(corpus, p.passage_id, store, quote=middle_words(p.text), note=f"note {i}")
            for i, p in enumerate(body_passages(corpus, "makocki2016")[3:7])]
    for a in made:  # what a build without the document does to them
        store.set_position(a.id, status=ORPHAN, anchored_by="", passage_start=None, passage_end=None)
    assert len(store.list(orphans=True)) == 4

    counts = reanchor_store(store, corpus.store)

    assert counts == {"unchanged": 0, "exact": 4, "fuzzy": 0, "orphaned": 0}
    assert store.list(orphans=True) == []
    for a in made:
        now = store.get(a.id)
        assert now.status == "anchored" and now.anchored_by == "position"
        assert (now.passage_id, now.passage_start, now.passage_end, now.exact) == (
            a.passage_id, a.passage_start, a.passage_end, a.exact)
    assert reanchor_store(store, corpus.store)["unchanged"] == 4  # and stay put at the next build


def test_an_edit_begun_before_a_build_moved_the_note_is_not_a_conflict(corpus, store):
    """A build that re-anchors a note (here: orphans it, then finds it again) changed no field of the
    user's; an edit made on the version read before it is saved, not refused as "changed elsewhere"."""
    from corpus_search.annotations import ORPHAN, reanchor_store

    passage = body_passages(corpus, "makocki2016")[4]
    made = annotate(corpus, passage.passage_id, store, quote=middle_words(passage.text), note="first thoughts")
    store.set_position(made.id, status=ORPHAN, anchored_by="", passage_start=None, passage_end=None)
    assert reanchor_store(store, corpus.store)["exact"] == 1

    saved = store.update(made.id, made.version, note="second thoughts")
    assert saved.note == "second thoughts" and saved.status == "anchored"
    with pytest.raises(AnnotationConflict):  # a real concurrent edit is still refused
        store.update(made.id, made.version, note="a stale third")
    assert store.get(made.id).note == "second thoughts"


def test_a_fuzzy_placement_is_whole_words():
    from corpus_search.annotations import place

    text = "Reports said that about forty-five ships were waiting at anchor off Fujairah, the port, on Monday."
    found = place(text, "about forty ships were waiting at anchor off Fujairah", "Reports said that ", ", the port")
    assert found.method == "fuzzy"
    assert text[found.start:found.end] == "about forty-five ships were waiting at anchor off Fujairah"


def test_a_note_moved_onto_changed_words_keeps_whole_words_and_the_words_it_was_made_on(
        built_index, corpus_copy, tmp_path, monkeypatch):
    """A word inside a note's quote lengthened ("forty" to "forty-five"): the fuzzy re-anchoring cut the
    words at both ends ("out forty-five ... off Fujai") and the words the note was made on were lost."""
    from corpus_search.annotations import import_text, open_store
    from corpus_search.api import Corpus, build

    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    monkeypatch.setenv("CORPUS_SEARCH_ANNOTATIONS", str(tmp_path / "annotations"))
    source = next(corpus_copy.glob("alexeeva*.txt"))
    raw = source.read_text(encoding="utf-8")
    corpus = Corpus.open(index)
    passage = next(p for p in body_passages(corpus, "alexeeva2018")[4:] if raw.count(middle_words(p.text, 12)) == 1)
    quote = middle_words(passage.text, 12)
    store = open_store(index)
    made = annotate(corpus, passage.passage_id, store, quote=quote, note="the heart of it")
    corpus.close()
    words = quote.split(" ")
    words[1] = words[1] + "-and-more"  # the second word grows: the alignment slides into the first
    source.write_text(raw.replace(quote, " ".join(words)), encoding="utf-8")

    assert build(corpus_copy, index).annotations["fuzzy"] == 1
    moved = store.get(made.id)
    text = Corpus.open(index).store.document_text("alexeeva2018")
    assert moved.exact == text[moved.doc_start:moved.doc_end]
    assert moved.exact.split(" ")[0] == words[0] and moved.exact.split(" ")[-1] == words[-1], moved.exact
    assert "-and-more" in moved.exact and moved.original == quote and moved.note == "the heart of it"
    corpus = Corpus.open(index)
    markdown, _ = export([moved], "markdown", corpus)
    corpus.close()
    assert quote in markdown and moved.exact in markdown  # the words it was made on, and the source's now
    again = AnnotationStore.open(tmp_path / "copy")
    import_text(export([moved], "w3c")[0], again)
    assert again.get(made.id).original == quote
    again.close()
    store.close()


def test_a_note_follows_its_file_renamed(tmp_path, monkeypatch):
    """A source with no record takes its id from its file name: renamed, its notes were orphaned although
    the file was byte for byte the same. They follow it now, found by the file's hash."""
    from corpus_search.annotations import open_store
    from corpus_search.api import Corpus, build

    monkeypatch.setenv("CORPUS_SEARCH_ANNOTATIONS", str(tmp_path / "annotations"))
    folder = tmp_path / "corpus"
    folder.mkdir()
    paras = [p for p in (ROOT / "corpus" / "makocki-popescu-2016-chaillot.txt").read_text(encoding="utf-8")
             .split("\n\n") if len(p) > 400][:4]
    (folder / "field-notes.txt").write_text("\n\n".join(paras) + "\n", encoding="utf-8")
    index = tmp_path / "index"
    build(folder, index)
    corpus = Corpus.open(index)
    passage = max(corpus.passages(corpus.documents()[0].doc_id), key=lambda p: len(p.text))
    store = open_store(index)
    made = annotate(corpus, passage.passage_id, store, quote=middle_words(passage.text), note="follow me")
    corpus.close()

    (folder / "field-notes.txt").rename(folder / "field-notes-2016.txt")
    counts = build(folder, index).annotations
    assert counts["orphaned"] == 0 and counts["exact"] == 1, counts
    moved = store.get(made.id)
    assert moved.status == "anchored" and moved.doc_id != made.doc_id and moved.exact == made.exact
    corpus = Corpus.open(index)
    assert corpus.passage(moved.passage_id).text[moved.passage_start:moved.passage_end] == made.exact
    corpus.close()
    store.close()


def test_an_index_built_beside_another_leaves_the_others_notes_alone(built_index, tmp_path, monkeypatch):
    """Two index folders side by side shared annotations/: building the second re-anchored the first's notes
    against its own documents and orphaned every one. Each index now has a store of its own there."""
    import sqlite3

    from corpus_search.annotations import after_build, open_store
    from corpus_search.api import Corpus, build
    from corpus_search.generations import STORE, Generations

    monkeypatch.setenv("CORPUS_SEARCH_ANNOTATIONS", "auto")
    project = tmp_path / "project"
    first = project / "indexes"
    shutil.copytree(built_index, first)
    corpus = Corpus.open(first)
    passage = body_passages(corpus, "makocki2016")[2]
    store = open_store(first)
    made = annotate(corpus, passage.passage_id, store, quote=middle_words(passage.text), note="mine")
    corpus.close()
    store.close()
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "memo.txt").write_text("A memo on the Power of Siberia pipeline, signed in Moscow.\n", encoding="utf-8")

    second = project / "scans-index"
    report = build(scans, second)
    assert report.annotations == {}  # not the first index's notes
    assert store_dir(second) == project / "annotations-scans-index" and store_dir(first) == project / "annotations"
    store = open_store(first)
    assert store.get(made.id).status == "anchored" and store.bound_to() == "indexes"

    # A store from before binding: the second index's build leaves it as it is, the first's binds it.
    with sqlite3.connect(project / "annotations" / FILENAME) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'index_name'")
    counts = after_build(second, Generations(second).current() / STORE)
    assert "none of the 1 notes" in counts["error"] and store.get(made.id).status == "anchored"
    assert after_build(first, Generations(first).current() / STORE)["unchanged"] == 1
    assert store.bound_to() == "indexes"
    store.close()

    # The project's index folder renamed: its notes go with it.
    first.rename(project / "index-2025")
    assert store_dir(project / "index-2025") == project / "annotations"
    store = open_store(project / "index-2025")
    assert store.bound_to() == "index-2025" and store.get(made.id).note == "mine"
    store.close()


def test_an_unchanged_build_places_the_orphans_again(built_index, corpus_copy, tmp_path, monkeypatch):
    """Orphaned by a build that did not have their document, they stayed orphans at every build after it
    that found nothing to do."""
    from corpus_search.annotations import ORPHAN, open_store
    from corpus_search.api import Corpus, build

    monkeypatch.setenv("CORPUS_SEARCH_ANNOTATIONS", str(tmp_path / "annotations"))
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    assert not build(corpus_copy, index).changed
    corpus = Corpus.open(index)
    passage = body_passages(corpus, "alexeeva2018")[3]
    store = open_store(index)
    made = annotate(corpus, passage.passage_id, store, quote=middle_words(passage.text), note="kept")
    corpus.close()
    store.set_position(made.id, status=ORPHAN, anchored_by="", passage_start=None, passage_end=None)

    report = build(corpus_copy, index)
    assert not report.changed and report.annotations["exact"] == 1
    assert store.get(made.id).status == "anchored"
    store.close()


# -- durability ---------------------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys
    from corpus_search.annotations import AnnotationStore
    from corpus_search.annotations.store import new_annotation
    store = AnnotationStore.open(sys.argv[1])
    tag, n = sys.argv[2], int(sys.argv[3])
    for i in range(n):
        a = store.add(new_annotation(doc_id="d", file_sha256="x", exact=f"words {tag} {i}",
                                     note="n" * 2000, tags=[tag], collections=["shared"]))
        print(a.id, flush=True)  # acknowledged: the transaction has committed
""")


def _writer(folder: Path, tag: str, n: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.Popen([sys.executable, "-c", WRITER, str(folder), tag, str(n)], stdout=subprocess.PIPE,
                            text=True, env=env)


def test_kill_9_during_saves_loses_at_most_the_save_in_flight(tmp_path):
    folder = tmp_path / "annotations"
    rng = random.Random(15)
    acknowledged: list[str] = []
    for round_ in range(5):
        proc = _writer(folder, f"r{round_}", 100000)
        deadline = time.monotonic() + rng.uniform(0.3, 1.5)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.strip():
                acknowledged.append(line.strip())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        acknowledged += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
        store = AnnotationStore.open(folder)
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {a.id for a in store.list()}
        missing = [i for i in acknowledged if i not in stored]
        assert not missing, f"round {round_}: {len(missing)} acknowledged annotations lost"
        store.close()
    assert len(acknowledged) > 20


def test_two_writers_appending_to_one_collection_lose_nothing(tmp_path):
    folder = tmp_path / "annotations"
    AnnotationStore.open(folder).close()
    procs = [_writer(folder, tag, 60) for tag in ("left", "right")]
    ids = [line.strip() for p in procs for line in p.communicate(timeout=120)[0].splitlines()]
    assert all(p.returncode == 0 for p in procs)
    store = AnnotationStore.open(folder)
    items = store.list(collection="shared")
    assert len(items) == 120 and {a.id for a in items} == set(ids)
    ords = [r[0] for r in store.conn.execute("SELECT ord FROM collection_items WHERE collection = 'shared'")]
    assert len(set(ords)) == 120  # a place each: no append overwrote another's position


def test_a_stale_edit_is_refused_and_tag_additions_merge(tmp_path):
    folder = tmp_path / "annotations"
    one, two = AnnotationStore.open(folder), AnnotationStore.open(folder)  # two connections, two editors
    a = one.add(new_annotation(doc_id="d", file_sha256="x", exact="words", note="first"))
    seen_by_two = two.get(a.id)
    one.update(a.id, a.version, note="edited by one")
    with pytest.raises(AnnotationConflict, match="changed elsewhere"):
        two.update(seen_by_two.id, seen_by_two.version, note="edited by two")
    assert two.get(a.id).note == "edited by one"
    one.add_tags(a.id, ["x"])
    two.add_tags(a.id, ["y"])
    assert set(one.get(a.id).tags) == {"x", "y"}


# -- export and import ----------------------------------------------------------------------------

def _some_annotations(corpus, store):
    made = []
    for i, p in enumerate(body_passages(corpus, "makocki2016")[:3] + body_passages(corpus, "crs-r48903", 100)[:2]):
        made.append(annotate(corpus, p.passage_id, store, quote=middle_words(p.text, 5 + i),
                             note=f"**n{i}** [x](https://e.org)",
                             tags=[f"t{i % 2}"], collections=["A"] if i % 2 else ["A", "B"]))
    return made


def test_w3c_export_imported_into_an_empty_store_gives_identical_annotations(corpus, tmp_path):
    first = AnnotationStore.open(tmp_path / "one")
    _some_annotations(corpus, first)
    text, warnings = export(first.list(), "w3c")
    data = json.loads(text)
    assert data["@context"] == "http://www.w3.org/ns/anno.jsonld" and data["type"] == "AnnotationCollection"
    item = data["first"]["items"][0]
    assert {b["purpose"] for b in item["body"]} == {"commenting", "tagging"}
    doc_target, passage_target = item["target"]
    assert item["type"] == "Annotation" and doc_target["selector"][0]["type"] == "TextQuoteSelector"
    assert doc_target["source"].startswith("urn:corpus-search:doc:")
    assert passage_target["selector"]["type"] == "TextPositionSelector"

    second = AnnotationStore.open(tmp_path / "two")
    counts = import_text(text, second, corpus.store)
    assert counts["imported"] == 5 and counts["orphaned"] == 0
    assert [a.to_json() for a in second.list()] == [a.to_json() for a in first.list()]
    assert second.collections() == first.collections()
    assert import_text(text, second, corpus.store)["skipped"] == 5  # importing twice adds nothing


def test_a_hypothesis_export_imports_onto_the_right_document_and_page(corpus, store, tmp_path):
    passage = body_passages(corpus, "alexeeva2018")[5]
    quote = middle_words(passage.text, 10)
    i = passage.text.index(quote)
    # Hypothesis's client export file: {"export_date", "export_userid", "client_version", "annotations": [API rows]}.
    row = {
        "id": "Hk9bJLXxEe-B3Wd9pUGIwA",
        "created": "2024-03-04T10:11:12.345678+00:00",
        "updated": "2024-03-05T09:00:00.000000+00:00",
        "user": "acct:jdoe@hypothes.is",
        "uri": "https://journals.openedition.org/chinaperspectives/7869",
        "text": "Hypothesis note with a [link](javascript:alert(1))",
        "tags": ["imported", "bri"],
        "group": "__world__",
        "permissions": {"read": ["group:__world__"], "admin": ["acct:jdoe@hypothes.is"],
                        "update": ["acct:jdoe@hypothes.is"], "delete": ["acct:jdoe@hypothes.is"]},
        "target": [{"source": "https://journals.openedition.org/chinaperspectives/7869", "selector": [
            {"type": "RangeSelector", "startContainer": "/div[1]/p[4]", "startOffset": 0,
             "endContainer": "/div[1]/p[4]", "endOffset": 64},
            {"type": "TextPositionSelector", "start": 12345, "end": 12345 + len(quote)},
            {"type": "TextQuoteSelector", "exact": quote, "prefix": passage.text[max(i - 32, 0):i],
             "suffix": passage.text[i + len(quote): i + len(quote) + 32]}]}],
        "document": {"title": ["China Perspectives"]},
        "links": {"html": "https://hypothes.is/a/Hk9bJLXxEe-B3Wd9pUGIwA"},
        "flagged": False, "hidden": False,
        "user_info": {"display_name": "J. Doe"},
    }
    elsewhere = "https://elsewhere.example/x"
    lost = dict(row, id="other", text="nowhere", uri=elsewhere, target=[{"source": elsewhere, "selector": [
        {"type": "TextQuoteSelector", "exact": "a sentence no source in this corpus contains, at all, anywhere",
         "prefix": "", "suffix": ""}]}])
    export_file = {"export_date": "2024-03-06T00:00:00.000Z", "export_userid": "acct:jdoe@hypothes.is",
                   "client_version": "1.1400.0", "annotations": [row, lost]}
    counts = import_text(json.dumps(export_file), store, corpus.store)
    assert counts == {"format": "hypothesis", "imported": 2, "skipped": 0, "anchored": 1, "orphaned": 1, "long_quotes": 0}
    placed = store.list(tag="imported")
    anchored = next(a for a in placed if not a.orphan)
    assert anchored.doc_id == "alexeeva2018" and anchored.passage_id == passage.passage_id
    assert anchored.exact == quote and anchored.page == passage.page_at(i)
    assert anchored.author == "J. Doe" and anchored.created.startswith("2024-03-04")
    assert set(anchored.tags) == {"imported", "bri"}
    orphan = next(a for a in placed if a.orphan)
    assert orphan.exact.startswith("a sentence no source") and orphan.source == "https://elsewhere.example/x"
    assert "<a " not in note_html(anchored.note)  # its javascript: link stays text


@pytest.mark.parametrize("fmt", ["csv", "bibtex", "ris", "csl-json", "markdown"])
def test_collections_export_to_reference_manager_formats_with_quote_note_and_page(corpus, store, fmt):
    made = _some_annotations(corpus, store)
    text, warnings = export(store.list(collection="B"), fmt, corpus)
    assert not warnings
    in_b = [a for a in made if "B" in a.collections]
    for a in in_b:
        assert a.exact.split(" ")[0] in text
    assert "n0" in text  # the note travels with its quotation
    assert made[1].exact not in text  # not in collection B


# -- hostile notes --------------------------------------------------------------------------------

@pytest.mark.parametrize("note", [
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "[x](https://ok.org\" onmouseover=\"alert(1))",
    "![](http://tracker.example/pixel.png)",
])
def test_hostile_notes_render_inert(note):
    out = note_html(note)
    assert "<script" not in out and "<img" not in out and "javascript:" not in out
    assert "onerror=" not in out.replace("onerror&#61;", "")
    assert 'onmouseover="' not in out
    assert "](" not in out  # no Markdown link left for a later renderer to make


def test_a_note_renders_the_markdown_a_researcher_uses():
    out = note_html("**Key** point, see *p. 4*\n\n[source](https://example.org/a?b=1)")
    assert "<strong>Key</strong>" in out and "<em>" in out
    assert '<a href="https://example.org/a?b=1" rel="nofollow noopener noreferrer"' in out


def test_a_megabyte_note_is_refused_with_the_setting_to_change(corpus, store, monkeypatch):
    passage = body_passages(corpus, "alexeeva2018")[1]
    with pytest.raises(UsageError, match="CORPUS_SEARCH_NOTE_MAX_CHARS"):
        annotate(corpus, passage.passage_id, store, note="x" * 1_000_000)
    a = annotate(corpus, passage.passage_id, store, note="short")
    with pytest.raises(UsageError, match="capped at 20,000"):
        store.update(a.id, a.version, note="y" * 1_000_000)
    monkeypatch.setenv("CORPUS_SEARCH_NOTE_MAX_CHARS", "10")
    with pytest.raises(UsageError, match="capped at 10"):
        annotate(corpus, passage.passage_id, store, note="eleven char")


def test_an_import_with_one_oversized_note_stores_nothing(store):
    rows = [{"type": "Annotation", "body": {"type": "TextualBody", "value": note, "purpose": "commenting"},
             "target": {"source": "urn:corpus-search:doc:x", "selector": {"type": "TextQuoteSelector", "exact": "w"}}}
            for note in ("fine", "z" * 1_000_000)]
    with pytest.raises(UsageError, match="capped"):
        import_text(json.dumps(rows), store)
    assert store.count() == 0
    with pytest.raises(UsageError, match="not JSON"):
        import_text("{oops", store)
    with pytest.raises(UsageError, match="no annotations found"):
        import_text('{"hello": 1}', store)


def test_an_import_with_a_quote_over_the_quote_cap_is_placed_only_verbatim_and_quickly(corpus, store):
    """A pasted 8,000-character quote was matched fuzzily against every document: 22 s here, 96 s at 16,000."""
    text = corpus.store.document_text("makocki2016")
    verbatim = text[1000:7000]
    rows = [{"uri": "https://example.org/x", "user": "acct:a@hypothes.is", "text": note,
             "target": [{"selector": [{"type": "TextQuoteSelector", "exact": exact}]}]}
            for note, exact in (("nowhere", ("China Russia gas " * 500)[:8000]), ("verbatim", verbatim))]
    started = time.monotonic()
    counts = import_text(json.dumps({"rows": rows}), store, corpus.store)
    assert time.monotonic() - started < 5
    assert counts == {"format": "hypothesis", "imported": 2, "skipped": 0, "anchored": 1, "orphaned": 1,
                      "long_quotes": 2}
    placed = {a.note: a for a in store.list()}
    assert placed["nowhere"].orphan and placed["nowhere"].exact.startswith("China Russia gas")
    assert placed["verbatim"].doc_id == "makocki2016" and placed["verbatim"].exact == verbatim


def test_a_hypothesis_row_without_its_user_is_read_as_hypothesis_with_its_note(store):
    """Labelled "w3c", the row was read for a W3C body: its note (Hypothesis's "text") was lost."""
    row = {"uri": "makocki2016", "text": "my note", "tags": ["t"],
           "target": [{"selector": [{"type": "TextQuoteSelector", "exact": "gas"}]}]}
    counts = import_text(json.dumps({"rows": [row], "total": 1}), store)
    assert counts["format"] == "hypothesis"
    [a] = store.list()
    assert a.note == "my note" and a.tags == ("t",) and a.source == "makocki2016"


# -- the command line -------------------------------------------------------------------------------

def test_cli_annotate_list_export_import(corpus, built_index, tmp_path):
    env = {"CORPUS_SEARCH_ANNOTATIONS": str(tmp_path / "annotations")}
    passage = body_passages(corpus, "makocki2016")[4]
    quote = middle_words(passage.text)
    proc = run_cli("annotate", passage.passage_id, "--quote", quote, "--note", "cli note", "--tag", "t1", "--tag", "t2",
                   "--collection", "Draft", "--json", index=built_index, env_extra=env)
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)
    assert made["exact"] == quote and made["tags"] == ["t1", "t2"] and made["collections"] == ["Draft"]

    listed = json.loads(run_cli("annotations", "list", "--tag", "t2", "--json", index=built_index,
                                env_extra=env).stdout)
    assert [a["id"] for a in listed] == [made["id"]]
    assert json.loads(run_cli("annotations", "list", "--search", "nothing like it", "--json", index=built_index,
                              env_extra=env).stdout) == []

    w3c = run_cli("annotations", "export", "--collection", "Draft", index=built_index, env_extra=env)
    assert w3c.returncode == 0 and json.loads(w3c.stdout)["total"] == 1
    bib = run_cli("annotations", "export", "--format", "bibtex", index=built_index, env_extra=env)
    assert bib.returncode == 0 and "@" in bib.stdout and "cli note" in bib.stdout

    exported = tmp_path / "out.jsonld"
    exported.write_text(w3c.stdout, encoding="utf-8")
    other = {"CORPUS_SEARCH_ANNOTATIONS": str(tmp_path / "other")}
    imported = run_cli("annotations", "import", str(exported), "--json", index=built_index, env_extra=other)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"] == 1

    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    for args in (("annotations", "import", str(bad)), ("annotate", passage.passage_id, "--quote", "absent words here"),
                 ("annotate", passage.passage_id, "--note", "x" * 30000),
                 ("annotations", "edit", made["id"], "--version", "99", "--note", "late")):
        proc = run_cli(*args, index=built_index, env_extra=env)
        assert proc.returncode != 0
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("make", [
    lambda p: p.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8"),  # RecursionError: exit 70
    lambda p: p.symlink_to("/dev/zero"),  # read whole before the cap: MemoryError, exit 70
    lambda p: p.write_bytes(b'{"rows": [{"uri": "caf\xe9"}]}'),  # not UTF-8
], ids=["nested-json", "dev-zero", "latin-1"])
def test_a_hostile_import_file_is_one_usage_error_line(built_index, tmp_path, make):
    path = tmp_path / "import.json"
    make(path)
    proc = run_cli("annotations", "import", str(path), index=built_index,
                   env_extra={"CORPUS_SEARCH_ANNOTATIONS": str(tmp_path / "ann")}, preexec_fn=_memory_cap())
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "internal error" not in proc.stderr
