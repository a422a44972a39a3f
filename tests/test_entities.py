"""Entities on the real seed texts with the real spaCy model: what a user filtering by entity sees."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import eval_entities  # noqa: E402

from corpus_search.entities import (  # noqa: E402
    AliasTable,
    RawMention,
    Tagger,
    alias_key,
    canonicalize,
    resolve,
    rollup,
    suggest,
)
from corpus_search.models import Passage  # noqa: E402


@pytest.fixture(scope="module")
def passages() -> list[Passage]:
    return eval_entities.seed_passages()


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger()


@pytest.fixture(scope="module")
def raw(tagger: Tagger, passages: list[Passage]) -> list[RawMention]:
    return tagger.tag(passages)


CORPUS_ENTITIES = ROOT / "corpus" / "_entities"  # the seeds' own aliases live with the corpus


@pytest.fixture(scope="module")
def table(passages: list[Passage]) -> AliasTable:
    return AliasTable.build(passages, CORPUS_ENTITIES)


@pytest.fixture(scope="module")
def mentions(raw, table):
    return canonicalize(raw, table)


@pytest.fixture(scope="module")
def labels(mentions) -> dict[str, str]:
    return {m.name: m.label for m in mentions}


@pytest.mark.parametrize(
    "forms",
    [
        ("the US", "U.S.", "US", "US’s"),
        ("United States'", "the United States", "United States’"),
        ("Russia's", "Russia´s", "Russia’s", "Russia"),
        ("Sino‑Russian", "Sino-Russian", "Sino–Russian"),
    ],
)
def test_alias_key_folds_spellings_a_reader_treats_as_one(forms):
    assert len({alias_key(f) for f in forms}) == 1


@pytest.mark.parametrize("short, full", [("EEU", "Eurasian Economic Union"), ("SCO", "Shanghai Cooperation Organisation"),
                                         ("US", "United States"), ("U.S.", "United States"), ("SREB", "Silk Road Economic Belt")])
def test_short_and_long_forms_share_a_canonical_name(table, short, full):
    assert table.canonical(short, "ORG")[0] == table.canonical(full, "ORG")[0] == full


def test_abbreviations_are_learned_from_the_texts(passages):
    table = AliasTable.build(passages)
    # DCFTA is in no data file: only the Chaillot annex and its body text define it.
    assert table.canonical("DCFTA", "ORG")[0] == "Deep and Comprehensive Free Trade Area"
    assert any(row[3] == "learned" for row in table.rows())


@pytest.mark.parametrize(
    "name, label",
    [
        ("Gazprom", "ORG"),
        ("Rosneft", "ORG"),
        ("Eurasian Economic Union", "ORG"),
        ("Shanghai Cooperation Organisation", "ORG"),
        ("Yan Xuetong", "PERSON"),
        ("Vladimir Putin", "PERSON"),
        ("Xi Jinping", "PERSON"),
        ("Power of Siberia", "PROJECT"),
        ("Belt and Road Initiative", "PROJECT"),
        ("Yamal LNG", "PROJECT"),
        ("Trans-Siberian Railway", "PROJECT"),
        ("Crimea", "GPE"),
        ("Moscow", "GPE"),
        ("Russian", "NORP"),
    ],
)
def test_entities_a_reader_would_look_for_have_the_right_label(labels, name, label):
    assert labels.get(name) == label


def test_one_label_per_entity(mentions):
    seen: dict[str, set[str]] = {}
    for m in mentions:
        seen.setdefault(m.name, set()).add(m.label)
    assert {n: ls for n, ls in seen.items() if len(ls) > 1} == {}


def test_metonyms_and_demonyms_keep_their_own_entity(labels):
    # "Moscow" meaning the government stays Moscow; rolling up to Russia is an opt-in.
    assert "Moscow" in labels and "Russia" in labels and "Russian" in labels


def test_the_place_rollup_is_the_corpus_s_own_table(table, passages):
    # The bundled corpus declares it (corpus/_entities/aliases.toml): nearest place first.
    assert rollup("Moscow", table) == ["Russia"]
    assert rollup("Eastern Siberia", table) == ["Siberia", "Russia"]
    # The package ships none, so a corpus without that file widens nothing.
    bare = AliasTable.build(passages)
    assert rollup("Moscow", bare) == [] and rollup("Eastern Siberia", bare) == []


def test_a_corpus_file_declares_its_own_rollup(tmp_path, passages):
    (tmp_path / "places.toml").write_text('[rollup]\n"Lyon" = ["France"]\n"France" = ["Europe"]\n', encoding="utf-8")
    table = AliasTable.build(passages, tmp_path)
    assert rollup("Lyon", table) == ["France", "Europe"] and rollup("Moscow", table) == []
    # The build stores it with the aliases, where a search reads it back; no --entity string reaches those rows.
    stored: dict[str, list[tuple[str, str]]] = {}
    for key, name, label, _ in table.rows():
        stored.setdefault(key, []).append((name, label))
    assert rollup("Lyon", stored) == ["France", "Europe"]
    assert resolve("Lyon", stored, {"Lyon": "GPE", "France": "GPE"}) == ["Lyon"]


@pytest.mark.parametrize("junk", ["he", "she", "Box 4", "Figure 1", "1", "2014", "sia", "two", "FDI", "Chapter 1"])
def test_no_junk_among_people_and_organisations(mentions, junk):
    names = {m.name for m in mentions if m.label in ("PERSON", "ORG")}
    assert junk not in names


def test_no_dates_or_numbers_survive(mentions):
    assert not {m.label for m in mentions} & {"DATE", "CARDINAL", "PERCENT", "MONEY", "ORDINAL", "QUANTITY", "TIME"}
    assert all(any(c.isalpha() for c in m.name) and len(m.name) > 1 for m in mentions)


def test_mention_spans_point_at_their_text(passages, mentions):
    by_id = {p.passage_id: p for p in passages}
    for m in mentions:
        assert by_id[m.passage_id].text[m.start : m.end] == m.text


def test_canonicalize_is_deterministic(raw, passages):
    first = canonicalize(raw, AliasTable.build(passages, CORPUS_ENTITIES))
    again = canonicalize(list(reversed(raw)), AliasTable.build(passages, CORPUS_ENTITIES))
    assert first == again


def test_ruler_and_aliases_beat_the_bare_model_on_the_gold_set():
    passages = eval_entities.seed_passages()
    results = eval_entities.evaluate(passages, eval_entities.load_gold(passages))
    bare, full = results["(a) bare model"], results["(c) whole pipeline"]
    assert eval_entities.recall(full["all"]) > eval_entities.recall(bare["all"])
    assert eval_entities.recall(full["projects"]) > eval_entities.recall(bare["projects"]) + 0.5
    assert eval_entities.precision(full["organisations"]) > eval_entities.precision(bare["organisations"])


@pytest.fixture(scope="module")
def store_view(mentions, table):
    """What Store.aliases() and Store.entity_names() would return after a build."""
    aliases: dict[str, list[tuple[str, str]]] = {}
    for key, name, label, _ in table.rows():
        aliases.setdefault(key, []).append((name, label))
    names = {m.name: m.label for m in mentions}
    return aliases, names


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Eurasian Economic Union", "Eurasian Economic Union"),
        ("eurasian economic union", "Eurasian Economic Union"),
        ("EEU", "Eurasian Economic Union"),
        ("the EEU", "Eurasian Economic Union"),
        ("U.S.", "United States"),
        ("Putin", "Vladimir Putin"),
        ("BRI", "Belt and Road Initiative"),
        ("One Belt One Road", "Belt and Road Initiative"),
        ("ESPO", "Eastern Siberia–Pacific Ocean pipeline"),
    ],
)
def test_resolve_finds_canonical_names_and_aliases(store_view, query, expected):
    aliases, names = store_view
    if expected not in names:
        pytest.skip(f"{expected} is not mentioned in the seeds as split today")
    assert resolve(query, aliases, names) == [expected]


def test_resolve_unknown_is_empty_and_suggest_offers_close_names(store_view):
    aliases, names = store_view
    assert resolve("Gazprum", aliases, names) == []
    assert "Gazprom" in suggest("Gazprum", names)
    assert "Power of Siberia" in suggest("power of siber", names)


def test_user_alias_file_overrides_everything(tmp_path, passages, raw):
    (tmp_path / "mine.toml").write_text(
        '[[entity]]\nname = "Eurasian Union"\nlabel = "ORG"\naliases = ["EEU", "Eurasian Economic Union"]\n'
        '[[entity]]\nname = "Luo Xiao"\nlabel = "ORG"\n',
        encoding="utf-8",
    )
    for path in CORPUS_ENTITIES.glob("*.toml"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    table = AliasTable.build(passages, tmp_path)
    named = {m.name: m.label for m in canonicalize(raw, table)}
    assert "Eurasian Union" in named and "Eurasian Economic Union" not in named
    assert named.get("Luo Xiao") == "ORG"
    assert ("eeu", "Eurasian Union", "ORG", "user") in table.rows()


def test_tagger_reports_progress(tagger, passages):
    seen: list[int] = []
    tagger.tag(passages[:70], progress=seen.append)
    assert seen and seen[-1] == 70 and seen == sorted(seen)


def test_importing_the_module_does_not_import_spacy():
    import subprocess

    code = "import sys, corpus_search.entities; print('spacy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_renamed_place_keeps_its_rollup(tmp_path, passages):
    # A curator renames "Lyon" after the build: filtering by France with the roll-up still finds it,
    # read from the store as a search reads it, with the curation applied at read time.
    from corpus_search.curation import Curation
    from corpus_search.entities import within
    from corpus_search.store import Store

    entities = tmp_path / "_entities"
    entities.mkdir()
    (entities / "places.toml").write_text('[rollup]\n"Lyon" = ["France"]\n', encoding="utf-8")
    table = AliasTable.build(passages, entities)
    table.note(alias_key("Lyon"), "Lyon", "GPE")  # as canonicalize does for a place the texts mention
    store = Store.create(tmp_path / "store.sqlite")
    store.set_aliases(table.rows())
    store.conn.commit()
    store.set_curation(entities)
    assert within(["France"], ["Lyon", "Paris"], store.aliases()) == ["Lyon"]
    curation = Curation.load(entities)
    curation.add("rename", "Lyon", "Lugdunum")
    curation.save()
    assert within(["France"], ["Lugdunum", "Paris"], store.aliases()) == ["Lugdunum"]
    curation.undo()
    curation.save()
    assert within(["France"], ["Lyon", "Paris"], store.aliases()) == ["Lyon"]
