"""Entities on documents no rule was written from: the six CRS reports built alone (general rules only),
curation through the CLI, names-list screening. Real spaCy, MiniLM and Whoosh throughout."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus_search.api import Corpus
from corpus_search.cli import cli
from corpus_search.entities import AliasTable, Tagger, alias_key, entity_mentions
from corpus_search.models import Passage

ROOT = Path(__file__).resolve().parents[1]
NAMES = ROOT / "tests" / "data" / "screen_names.csv"
# The names issue 14 found among people, organisations and places of a build of these reports.
JUNK = ["Annual Threat Assessment", "Background", "COMPLETE", "Fahrenheit", "Coordinator Specialist",
        "Demands Action", "Kazakh", "HEU", "LEU", "Financial", "Defense", "Outbound Ships", "P.L",
        "JCPOAprohibited"]


@pytest.fixture(scope="module")
def crs(crs_index, tmp_path_factory):
    # Curation goes to a folder of this module's own, so the shared index is never changed for others.
    c = Corpus.open(crs_index, tmp_path_factory.mktemp("crs-curation"))
    yield c
    c.close()


def _ids(corpus: Corpus, name: str) -> set[str]:
    return {p.passage_id for p in corpus.passages_mentioning([name])}


# -- abbreviations ---------------------------------------------------------------------------
def test_abbreviation_and_long_form_give_the_same_passages(crs):
    short, long_ = _ids(crs, "JCPOA"), _ids(crs, "Joint Comprehensive Plan of Action")
    assert short == long_
    # The issue counted five passages with "JCPOA" that it was no entity in.
    assert len(short) >= 5


@pytest.mark.parametrize("short, long_", [
    ("ODNI", "Office of the Director of National Intelligence"),  # stands in for DoD: the reports never write it
    ("TSP", "Tanker Security Program"),
    ("DIA", "Defense Intelligence Agency"),
])
def test_other_defined_abbreviations_find_the_same_passages(crs, short, long_):
    assert _ids(crs, short) == _ids(crs, long_) != set()


def test_search_with_either_form_returns_the_same_results(crs_index):
    runner = CliRunner()
    out = []
    for name in ("JCPOA", "Joint Comprehensive Plan of Action"):
        res = runner.invoke(cli, ["--index", str(crs_index), "search", "enrichment", "--entity", name,
                                  "--limit", "50", "--json"])
        assert res.exit_code == 0, res.output
        out.append(sorted(r["passage_id"] for r in json.loads(res.output)["results"]))
    assert out[0] == out[1] != []


def test_a_hyphen_after_an_abbreviation_at_a_line_end_is_kept(crs):
    texts = " ".join(p.text for p in crs.passages("crs-if12106"))
    assert "JCPOA-prohibited" in texts or "JCPOA-" in texts
    assert "JCPOAprohibited" not in texts


@pytest.mark.parametrize("junk", JUNK)
def test_no_junk_name_is_an_entity(crs, junk):
    names = {e.name for e in crs.entities()}
    assert junk not in names


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger()


def _mentions(tagger: Tagger, texts: list[str]):
    passages = [Passage(f"doc:{i:04d}", "doc", i, t) for i, t in enumerate(texts)]
    raw = tagger.tag(passages)
    mentions, _ = entity_mentions(passages, raw)
    return mentions


def test_case_variants_and_the_long_form_are_one_entity(tagger):
    mentions = _mentions(tagger, [
        "The U.S. Department of Defense (DoD) asked Congress for more money in 2025.",
        "Critics said DOD had not explained the request, and the DoD budget office declined to comment.",
    ])
    by_text = {m.text: m.name for m in mentions}
    assert by_text.get("DoD") == by_text.get("DOD") == "Department of Defense"


def test_british_and_american_spellings_are_one_entity(tagger):
    assert alias_key("Centre for Analysis of Strategies and Technologies") == \
        alias_key("Center for Analysis of Strategies and Technologies")
    assert alias_key("Shanghai Cooperation Organisation") == alias_key("Shanghai Cooperation Organization")
    mentions = _mentions(tagger, [
        "Ruslan Pukhov of the Centre for Analysis of Strategies and Technologies in Moscow said so.",
        "A later study by the Center for Analysis of Strategies and Technologies disagreed with him.",
    ])
    names = {m.name for m in mentions if "Analysis" in m.text}
    assert len(names) == 1


def test_an_abbreviation_written_first_teaches_its_long_form(tagger):
    mentions = _mentions(tagger, [
        "Inspectors of the IAEA (International Atomic Energy Agency) visited the site in May.",
        "The IAEA later reported that access had been denied.",
    ])
    assert {m.name for m in mentions if m.text == "IAEA"} == {"International Atomic Energy Agency"}


def test_a_lower_case_long_form_makes_a_term_not_a_name(tagger):
    mentions = _mentions(tagger, [
        "Iran holds a stock of highly enriched uranium (HEU) under safeguards.",
        "The HEU stock grew in 2025 according to the agency.",
    ])
    assert "HEU" not in {m.name for m in mentions}


# -- curation --------------------------------------------------------------------------------
def _entity(corpus: Corpus, name: str):
    return next((e for e in corpus.entities() if e.name == name), None)


def test_merge_shows_one_entity_with_both_counts_and_undo_restores_both(crs):
    # Two names of one department the build cannot know are one ("State Department" and
    # "Department of State" it merges itself, as word-order variants).
    a, b = "Department of War", "Department of Defense"
    ea, eb = _entity(crs, a), _entity(crs, b)
    assert ea is not None and eb is not None, "both names are entities of the CRS build"
    union = _ids(crs, a) | _ids(crs, b)
    crs.curate("merge", a, b)
    merged = _entity(crs, b)
    assert _entity(crs, a) is None
    assert merged.passages == len(union) and merged.mentions == ea.mentions + eb.mentions
    assert _ids(crs, a) == _ids(crs, b) == union  # the old name still finds them
    facets = crs.search("department", mode="keyword", entities=[b], limit=50).facets
    org = dict(facets.get(merged.label, []))
    assert org.get(b) and a not in org
    crs.curation().undo()
    assert _entity(crs, a).passages == ea.passages and _entity(crs, b).passages == eb.passages


def test_a_rename_onto_another_entitys_name_is_refused_and_points_to_merge(crs):
    """It merged the two without a word, and the renamed entity took the other's label."""
    from corpus_search.errors import UsageError

    a, b = "Department of War", "Department of Defense"
    ea, eb = _entity(crs, a), _entity(crs, b)
    with pytest.raises(UsageError, match=r"already exists.*curate merge") as caught:
        crs.curate("rename", a, b.upper())
    assert "\n" not in str(caught.value)
    assert _entity(crs, a).passages == ea.passages and _entity(crs, b).passages == eb.passages
    assert not crs.curation().changes  # nothing recorded
    crs.curate("rename", a, "U.S. Department of War")  # a new name is still a rename
    assert _entity(crs, "U.S. Department of War").passages == ea.passages
    crs.curation().undo()


def test_curation_file_is_readable_toml_with_the_history(crs):
    crs.curate("reject", "Persian Gulf")
    path = crs.curation().path
    text = path.read_text(encoding="utf-8")
    assert 'op = "reject"' in text and 'name = "Persian Gulf"' in text
    assert _entity(crs, "Persian Gulf") is None
    assert "Persian Gulf" not in {m.name for ms in crs.mentions([p.passage_id for p in crs.passages()]).values()
                                  for m in ms}
    crs.curation().undo()
    assert _entity(crs, "Persian Gulf") is not None
    assert "[[undone]]" in path.read_text(encoding="utf-8")


def test_rename_relabel_and_aliases_through_the_cli(crs_index, tmp_path):
    runner = CliRunner()
    base = ["--index", str(crs_index), "--corpus", str(tmp_path)]

    def run(*args):
        res = runner.invoke(cli, [*base, *args])
        assert res.exit_code == 0, res.output
        return res.output

    def entities():
        return {e["name"]: e for e in json.loads(run("entities", "--json"))}

    before = entities()["Tanker Security Program"]
    assert "renamed" in run("curate", "rename", "TSP", "U.S. Tanker Security Program")
    after = entities()
    assert "Tanker Security Program" not in after
    assert after["U.S. Tanker Security Program"]["passages"] == before["passages"]
    run("curate", "relabel", "U.S. Tanker Security Program", "PROJECT")
    assert entities()["U.S. Tanker Security Program"]["label"] == "PROJECT"
    run("curate", "add-alias", "U.S. Tanker Security Program", "Tanker Program")
    res = runner.invoke(cli, [*base, "search", "tanker", "--entity", "Tanker Program", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["total"] > 0
    run("curate", "remove-alias", "U.S. Tanker Security Program", "TSP")
    after = entities()
    assert "TSP" in after and after["TSP"]["passages"] > 0  # its mentions became their own entity
    history = json.loads(run("curate", "history", "--json"))["changes"]
    assert [c["op"] for c in history] == ["rename", "relabel", "add-alias", "remove-alias"]
    for _ in history:
        run("curate", "undo")
    assert entities()["Tanker Security Program"]["passages"] == before["passages"]


@pytest.mark.parametrize("args, message", [
    (["curate", "merge", "No Such Entity", "NATO"], "no entity called 'No Such Entity'"),
    (["curate", "relabel", "NATO", "not a label"], "is not a label"),
    (["curate", "undo"], "nothing to undo"),
])
def test_bad_curation_is_one_line_on_stderr(crs_index, tmp_path, args, message):
    res = _run_cli(["--index", str(crs_index), "--corpus", str(tmp_path), *args])
    assert res.returncode != 0
    assert message in res.stderr and "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def _run_cli(args: list[str]):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "corpus_search", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_a_build_keeps_the_curation_without_running_ner_again(crs_index, tmp_path):
    """An added alias teaches the next build; the sources are unchanged, so their mentions are reused."""
    from corpus_search.api import build
    from corpus_search.curation import Curation

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus" / "crs", corpus / "crs")
    index = tmp_path / "index"
    shutil.copytree(crs_index, index)
    c = Corpus.open(index, corpus)
    before = {n: len(c.passages_mentioning([n])) for n in ("Strait", "Strait of Hormuz")}
    c.close()
    assert all(before.values())
    Curation(corpus / "_entities").add("add-alias", "Strait of Hormuz", "Strait")
    report = build(corpus, index)
    assert all(s.reused for s in report.sources)
    c = Corpus.open(index, corpus)
    try:
        # Stored under the curated name by the build itself: the mentions of "Strait" moved.
        assert "Strait" not in c.store.entity_names()
        hormuz = _entity(c, "Strait of Hormuz")
        assert "Strait" in hormuz.aliases and hormuz.passages >= max(before.values())
    finally:
        c.close()


# -- screening -------------------------------------------------------------------------------
def _names() -> list[dict]:
    return list(csv.DictReader(NAMES.open(encoding="utf-8")))


def test_screen_fifty_names_finds_every_mention_with_its_page(crs, crs_index):
    rows = _names()
    assert len(rows) == 50
    res = CliRunner().invoke(cli, ["--index", str(crs_index), "screen", str(NAMES), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["names"] == 50
    by_name = {r["name"]: r for r in out["results"]}
    assert set(by_name) == {r["name"] for r in rows}  # unknown names reported, not dropped
    absent = {"Angela Merkel", "Wagner Group", "Rosatom", "Gazprom", "Emmanuel Macron", "Mitsubishi Heavy Industries"}
    assert set(out["not_found"]) == absent
    passages = crs.passages()
    for row in rows:
        result = by_name[row["name"]]
        if row["name"] in absent:
            assert result["matches"] == []
            continue
        # A page a reader can find: the printed one, or on a page that prints none (a cover), the PDF's own.
        assert all((m["page"] is not None or m["pdf_page"] is not None) and m["citation"]
                   for m in result["matches"]), row["name"]
        # Every passage that writes the name or one of its aliases is among the matches.
        forms = [row["name"], *[a for a in row["aliases"].split(";") if a]]
        expected = {p.passage_id for p in passages for f in forms
                    if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", p.text, 0 if f.isupper() else re.I)}
        assert expected <= {m["passage_id"] for m in result["matches"]}, row["name"]


def test_screen_matches_through_entities_and_aliases(crs):
    from corpus_search.screen import ScreenName, screen

    [result] = screen(crs, [ScreenName("Joint Comprehensive Plan of Action")])
    matched = {m.matched for m in result.matches}
    assert "JCPOA" in matched  # the abbreviation, found through the entity, not written in the list
    assert {m.passage_id for m in result.matches} >= _ids(crs, "JCPOA")


def test_screen_csv_and_fuzzy(crs_index, tmp_path):
    names = tmp_path / "names.csv"
    names.write_text("name,aliases\nJoint Comprehensive Plan of Actions,\nNobody Atall,\n", encoding="utf-8")
    runner = CliRunner()
    plain = runner.invoke(cli, ["--index", str(crs_index), "screen", str(names), "--csv"])
    assert plain.exit_code == 0, plain.output
    rows = list(csv.DictReader(io.StringIO(plain.output)))
    assert {r["name"]: r["found"] for r in rows}["Nobody Atall"] == "no"
    assert not any(r["found"] == "yes" for r in rows if r["name"] == "Joint Comprehensive Plan of Actions")
    fuzzy = runner.invoke(cli, ["--index", str(crs_index), "screen", str(names), "--csv", "--fuzzy", "90"])
    rows = list(csv.DictReader(io.StringIO(fuzzy.output)))
    hits = [r for r in rows if r["name"] == "Joint Comprehensive Plan of Actions" and r["found"] == "yes"]
    assert hits and all(r["page"] for r in hits) and {r["via"] for r in hits} >= {"fuzzy"}


def test_screen_refuses_a_list_without_names(crs_index, tmp_path):
    names = tmp_path / "empty.csv"
    names.write_text("name,aliases\n", encoding="utf-8")
    res = _run_cli(["--index", str(crs_index), "screen", str(names)])
    assert res.returncode != 0 and "no names" in res.stderr and "Traceback" not in res.stderr


def test_alias_table_is_corpus_data_not_library_data():
    # The package ships no names: a new corpus starts from general rules only.
    table = AliasTable.build([])
    assert not table.declared(alias_key("Gazprom")) and not table.declared(alias_key("Power of Siberia"))
    assert (ROOT / "corpus" / "_entities" / "aliases.toml").exists()


def test_an_entity_filter_searched_before_a_merge_follows_the_merge_at_once(crs):
    """The searcher keeps each filter's passage set; a curation change must drop it, not serve the old set."""
    # Two entities each with passages of its own that hold the query word.
    a, b = "Congress", "Congressional Research Service"

    def filtered() -> set[str]:
        hits = crs.search("congress", mode="keyword", entities=[b], limit=200).hits
        return {h.passage.passage_id for h in hits}

    before = filtered()  # kept by the searcher from here on
    union = _ids(crs, a) | _ids(crs, b)
    assert before and before <= union
    crs.curate("merge", a, b)
    try:
        after = filtered()
        assert _ids(crs, a) - _ids(crs, b) == set()
        assert after >= before and after - before, "passages that wrote only the merged spelling now pass the filter"
    finally:
        crs.curation().undo()
    assert filtered() == before


def test_a_new_corpus_gets_no_place_rollup(crs):
    # The bundled corpus's Russia/China roll-up is its own knowledge (corpus/_entities/aliases.toml);
    # these reports come without it, so --rollup widens nothing even for names that table lists.
    names = {e.name for e in crs.entities()}
    assert {"Russian", "Chinese", "American", "Moscow", "Beijing", "Washington"} & names
    for place in ("Russia", "China"):
        assert crs.searcher.within([place]) == []
        plain = crs.search("nuclear", mode="keyword", entities=[place], limit=200)
        widened = crs.search("nuclear", mode="keyword", entities=[place], rollup=True, limit=200)
        assert [h.passage.passage_id for h in widened.hits] == [h.passage.passage_id for h in plain.hits]


def test_a_place_named_in_ordinary_words_is_an_entity_of_a_new_corpus(crs):
    # "United States" is two ordinary words; the model tags it as a place again and again, and with
    # no alias file to declare it the noise rules must still keep it.
    assert crs.searcher.resolve_entity("United States") == ["United States"]
    assert _ids(crs, "United States")


def test_names_from_the_stored_counts_equal_the_grouped_mentions_under_each_curation(crs):
    """entity_names() reads the per-label counts the build wrote (grouping 7.4M mentions took 33 s at 1M
    passages); renamed, merged, relabelled and rejected names must come out as grouping the curated
    mentions gives them, and a split alias (which goes by each mention's text) falls back to grouping."""
    store = crs.store

    def grouped() -> dict[str, str]:
        counts: dict[str, dict[str, int]] = {}
        for name, label, n in store.conn.execute(f"SELECT name, label, count(*) FROM {store._m()} GROUP BY name, label"):
            counts.setdefault(name, {})[label] = n
        return {name: max(c.items(), key=lambda kv: kv[1])[0] for name, c in counts.items()}

    assert store._has_table("entity_labels")
    stored = store.conn.execute("SELECT sum(n) FROM entity_labels").fetchone()[0]
    assert stored == store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0] > 0
    assert store.entity_names() == grouped()
    gone = sorted(n for n, label in store.entity_names().items() if label == "GPE")[0]  # any place
    steps = [("merge", "Department of War", "Department of Defense"), ("rename", "Congress", "U.S. Congress"),
             ("relabel", "U.S. Congress", "GPE"), ("reject", gone)]
    done = 0
    try:
        for op, *args in steps:
            crs.curate(op, *args)
            done += 1
            names = store.entity_names()
            assert names == grouped(), op
        assert "Department of War" not in names and names["U.S. Congress"] == "GPE" and gone not in names
    finally:
        for _ in range(done):
            crs.curation().undo()
    assert store.entity_names() == grouped()
