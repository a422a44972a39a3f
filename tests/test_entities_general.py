"""General entity rules for documents nobody tuned on: each test is real report text (the CRS
tuning reports IF12106, IF13204 and R48903, never the gold ones) and fails without its rule.
Real spaCy throughout; the corpus's own files are covered at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus_search import build_plan, entity_rules
from corpus_search.entities import Tagger, alias_key, entity_mentions
from corpus_search.entity_abbreviations import find_abbreviations
from corpus_search.models import Passage
from tests.conftest import EXTRA_CRS


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger()


def _mentions(tagger: Tagger, texts: list[str], user_dir: Path | None = None):
    passages = [Passage(f"doc:{i:04d}", "doc", i, t) for i, t in enumerate(texts)]
    mentions, _ = entity_mentions(passages, tagger.tag(passages), user_dir)
    return mentions


def _labels(mentions) -> dict[str, str]:
    return {m.name: m.label for m in mentions}


def test_an_organisation_inside_a_cited_report_title_is_part_of_the_title(tagger):
    cited = "Industrial policy is covered elsewhere; see CRS In Focus IF10964, Made in China 2025 and " \
            "Industrial Policies: Issues for Congress."
    prose = "Congress may consider the extent to which to address PRC subsidies."
    mentions = _mentions(tagger, [cited, prose])
    congress = [m for m in mentions if m.name == "Congress"]
    assert [m.passage_id for m in congress] == ["doc:0001"]  # the one in running text stays


def test_a_quoted_article_title_in_a_citation_names_no_organisation(tagger):
    mentions = _mentions(tagger, [
        "Robert Beckman et al., “Possible Actions by Coastal States to Protect Their Marine Environment from "
        "Oil Tankers in the Dark Fleet,” International Journal of Marine and Coastal Law, vol. 40 (2025).",
    ])
    assert not [m for m in mentions if m.label == "ORG" and "Protect" in m.text]
    assert _labels(mentions).get("Robert Beckman") == "PERSON"


def test_a_quoted_programme_name_in_prose_is_no_citation():
    text = "Moscow and Beijing adopted a “Program of Collaboration between the regions of the Russian Far East " \
           "and Eastern Siberia and the North-East of the PRC,” which guided investment."
    assert entity_rules.cited_titles(text) == []


def test_a_job_title_glued_to_a_name_leaves_the_person(tagger):
    mentions = _mentions(tagger, [
        "Director of National Intelligence Tulsi Gabbard testified on March 18, 2026, that Iran had not "
        "rebuilt its enrichment capability after the strikes.",
    ])
    assert _labels(mentions).get("Tulsi Gabbard") == "PERSON"
    assert not [m for m in mentions if m.label == "ORG" and "Gabbard" in m.text]


def test_head_nouns_make_laws_and_programmes_not_organisations(tagger):
    mentions = _mentions(tagger, [
        "Under the similar Tanker Security Program (TSP) established by the FY2021 National Defense "
        "Authorization Act, tankers receive annual stipends from MARAD.",
        "On March 17, 2026, the Administration waived the Jones Act for 60 days.",
        "Nine vessels were enrolled in the TSP.",
    ])
    labels = _labels(mentions)
    assert labels.get("Tanker Security Program") == "PROJECT"
    assert labels.get("Jones Act") == "LAW"
    # the bare abbreviation still finds the programme
    assert "doc:0002" in {m.passage_id for m in mentions if m.name == "Tanker Security Program"}


def test_a_phrase_of_ordinary_hyphenated_words_is_no_organisation(tagger):
    mentions = _mentions(tagger, [
        "U.S. Census Bureau, USA Trade Online, HS Port-Level Data, commodity 2523, https://usatrade.census.gov/.",
    ])
    names = {m.name for m in mentions}
    assert "HS Port-Level Data" not in names
    assert "U.S. Census Bureau" in names


def test_a_legal_form_suffix_keeps_a_company_of_ordinary_words(tagger):
    mentions = _mentions(tagger, ["Trade Data Monitor LLC; commodity 1201, https://tradedatamonitor.com/."])
    # Named without its legal form since the fourth round, so "Trade Data Monitor" elsewhere is the same company.
    assert _labels(mentions).get("Trade Data Monitor") == "ORG"


def test_an_acronym_written_lower_case_in_a_link_is_still_an_acronym(tagger):
    mentions = _mentions(tagger, [
        "United Nations Conference on Trade and Development (UNCTAD), “Strait of Hormuz Disruptions,” March 2026.",
        "UNCTAD, p. 7, https://unctad.org/system/files/official-document/osginf2026d1_en.pdf.",
    ])
    # "unctad.org" is no evidence that "unctad" is an ordinary word shouted in capitals
    assert "UNCTAD" in {m.text for m in mentions if m.passage_id == "doc:0001"}


def test_a_middle_initial_is_a_variant_of_the_same_person(tagger):
    mentions = _mentions(tagger, [
        "President Donald J. Trump signed the order in January.",
        "Then-President Donald Trump announced in May 2018 that the United States would withdraw.",
    ])
    assert {m.name for m in mentions if m.label == "PERSON"} == {"Donald Trump"}


def test_an_undefined_abbreviation_takes_the_phrase_the_document_spells_out(tagger):
    texts = [
        "The 15th FYP is a high-level national document that sets priorities.",
        "It sustains the targets of China’s 14th Five-Year Plan in science.",
        "The FYP focuses on boosting capabilities.",
    ]
    mentions = _mentions(tagger, texts)
    passages = [Passage(f"doc:{i:04d}", "doc", i, t) for i, t in enumerate(texts)]
    assert find_abbreviations(passages).by_doc["doc"]["FYP"] == "Five-Year Plan"
    # a plan of ordinary words is a document, so the model's ORG "FYP" goes with it
    assert not [m for m in mentions if m.text == "FYP" and m.label == "ORG"]


def test_word_order_variants_of_a_department_are_one_entity(tagger):
    assert alias_key("State Department") == alias_key("Department of State")
    assert alias_key("the Treasury Department") == alias_key("Department of the Treasury")
    assert alias_key("Defence Ministry") == alias_key("Ministry of Defense")
    mentions = _mentions(tagger, [
        "A State Department official told CRS in an April 2022 email that Iran would need months.",
        "The Department of State declined to comment on the estimate.",
    ])
    assert len({m.name for m in mentions if "State" in m.text}) == 1


def test_a_vessel_named_after_its_kind_is_no_person_or_organisation(tagger):
    mentions = _mentions(tagger, [
        "Five of these vessels—vehicle carrier Alliance Fairfax, container ships APL Eagle and Maersk Yorktown "
        "in the MSP fleet, and tankers CS Anthem and Stena Imperative in the TSP fleet—were in the Persian Gulf.",
    ])
    wrong = {m.name for m in mentions if m.label in ("PERSON", "ORG")}
    assert not wrong & {"Alliance Fairfax", "Maersk Yorktown", "Stena Imperative"}


# -- corpus knowledge lives in the corpus ------------------------------------------------------
def test_the_package_ships_no_corpus_patterns():
    from corpus_search.entities import PATTERNS, load_patterns

    assert load_patterns(PATTERNS) == []


def test_corpus_patterns_apply_at_build_time_without_new_tagging(tagger, tmp_path):
    text = "The Altai pipeline would carry gas from Western Siberia to Xinjiang."
    passages = [Passage("doc:0000", "doc", 0, text)]
    raw = tagger.tag(passages)  # tagged once; the patterns file changes after
    before, _ = entity_mentions(passages, raw, tmp_path)
    (tmp_path / "_entities").mkdir()
    (tmp_path / "_entities" / "patterns.jsonl").write_text(
        json.dumps({"label": "PROJECT", "pattern": "Altai pipeline"}) + "\n", encoding="utf-8")
    after, _ = entity_mentions(passages, raw, tmp_path)
    assert ("Altai pipeline", "PROJECT") not in {(m.name, m.label) for m in before}
    assert ("Altai pipeline", "PROJECT") in {(m.name, m.label) for m in after}


def test_a_new_rules_version_or_patterns_file_changes_the_corpus_hash(tmp_path, monkeypatch):
    folder = tmp_path / "_entities"
    folder.mkdir()
    first = build_plan.corpus_hash([], [], folder)
    (folder / "patterns.jsonl").write_text('{"label": "ORG", "pattern": "Gazprom"}\n', encoding="utf-8")
    second = build_plan.corpus_hash([], [], folder)
    monkeypatch.setattr(entity_rules, "RULES_VERSION", entity_rules.RULES_VERSION + "-next")
    third = build_plan.corpus_hash([], [], folder)
    assert len({first, second, third}) == 3


GLOSSARY = ("Abbreviation | Full Name AOJ | Agency of Original Jurisdiction BCMR | Board for Correction of Military "
            "Records DOD | Department of Defense DRB | Discharge Review Board Federal Circuit | U.S. Court of Appeals for "
            "the Federal Circuit VA | Department of Veterans Affairs")


def test_a_glossary_tables_rows_define_their_abbreviations():
    """A report's "Abbreviation | Full Name" table, its rows joined into one line as a passage holds them."""
    passages = [Passage("doc:0000", "doc", 0, GLOSSARY)]
    found = find_abbreviations(passages).by_doc["doc"]
    assert found["DOD"] == "Department of Defense"
    assert found["VA"] == "Department of Veterans Affairs"  # "Department of" spells no letter, as in "(VA)"
    assert found["DRB"] == "Discharge Review Board"  # the next row's first cell ("Federal Circuit") left out
    assert found["BCMR"] == "Board for Correction of Military Records"
    assert "Federal" not in found and "Circuit" not in found


@pytest.mark.parametrize("text", [
    "Country | Exports (USD million) USA | 1,200 UK | 300",  # figures beside names spell nothing
    "Agency | Role DOD | Defends the Department of Defense budget",  # the long form must open the cell
    "DOD | Department of Defense budget figures are rounded",  # a next row's first cell is at most 3 words
])
def test_a_table_that_is_no_glossary_defines_nothing(text):
    found = find_abbreviations([Passage("doc:0000", "doc", 0, text)]).by_doc.get("doc", {})
    assert "DOD" not in found and "USA" not in found and "UK" not in found


def test_a_bare_abbreviation_a_glossary_defines_is_that_entity(tagger):
    mentions = _mentions(tagger, [
        GLOSSARY,
        "The DOD said the boards would review each discharge within a year.",
    ])
    dod = [m for m in mentions if m.passage_id == "doc:0001" and m.text == "DOD"]
    assert dod and {m.name for m in dod} == {"Department of Defense"}


def test_a_name_never_runs_on_into_the_label_of_the_field_below(tagger):
    """A metadata block (Markdown front lines, an e-mail's headers): one field a line, read by the model as one."""
    mentions = _mentions(tagger, [
        "Russia’s Nuclear Weapons\nProduct Type: In Focus\nAuthor(s): Fink, Anya L.\n"
        "Topics: Defense & Intelligence; Foreign Affairs",
        "Kerr, Paul K.\nTopics: Nonproliferation",
    ])
    people = {m.text for m in mentions if m.label == "PERSON"}
    assert people and not any("Topics" in p or "\n" in p for p in people), people
    # a name that a line break splits in running text stays whole
    (one,) = [m for m in _mentions(tagger, ["Gazprom signed the Power of\nSiberia contract in 2014."])
              if "Siberia" in m.text]
    assert one.text == "Power of\nSiberia"


def test_an_abbreviation_in_mixed_case_of_a_term_names_nothing(tagger):
    texts = [
        "The consultation process culminates in the Services issuing a biological opinion (BiOp).",
        "The BiOp concluded that the action would not jeopardize the species.",
        "The Department of Defense (DoD) asked for an exemption.",
    ]
    passages = [Passage(f"doc:{i:04d}", "doc", i, t) for i, t in enumerate(texts)]
    found = find_abbreviations(passages)
    assert "BiOp" in found.terms and "BiOp" not in found.by_doc.get("doc", {})
    assert found.by_doc["doc"]["DoD"] == "Department of Defense"
    mentions = _mentions(tagger, texts)
    assert not [m for m in mentions if "BiOp" in m.text], [(m.text, m.label) for m in mentions]


def test_a_pages_breadcrumb_trail_names_nothing(tagger):
    """A Markdown page saved from the web opens with its navigation links; the model reads the row as one ORG
    ("Citation Subscribe Share/Save Site Feedback Home > CRS Products"). No name holds '>', '<' or '|'."""
    from corpus_search.extractors.markdown import render

    path = EXTRA_CRS.parent / "markdown/in-focus/IF12106v21-iran-and-nuclear-weapons-production.md"
    head = render(path.read_text(encoding="utf-8"))[:1500]
    passages = [Passage("doc:0000", "doc", 0, head)]
    raw = tagger.tag(passages)
    assert any(">" in r.text for r in raw)  # the model does make one: the rule has something to remove
    mentions, _ = entity_mentions(passages, raw, None)
    assert mentions and not [m.text for m in mentions if any(ch in m.text for ch in "<>|")]


def test_an_abbreviation_that_puts_the_departments_letter_last_is_defined(tagger):
    """"Department of Education (ED)": Education, then Department. The long form's initials in order (DE) do not
    spell it, so ED was no alias, and each later "ED" an entity of its own."""
    texts = ["The U.S. Department of Education (ED) enforces the privacy law for student records.",
             "ED has issued guidance to schools, and ED may withhold funds from a school that does not comply."]
    passages = [Passage(f"doc:{i:04d}", "doc", i, t) for i, t in enumerate(texts)]
    assert find_abbreviations(passages).by_doc["doc"]["ED"] == "U.S. Department of Education"
    names = {(m.text, m.name) for m in _mentions(tagger, texts) if m.label == "ORG"}
    assert ("ED", "U.S. Department of Education") in names and not {n for t, n in names if n == "ED"}, names


def test_no_persons_name_opens_with_a_figure(tagger):
    """A congress number in a citation ("115th Cong. 1st sess.") is read as a person by the model; nobody's
    name opens with a figure. Real footnote text (CRS R44243, bench/eval/entity_unseen2), where the
    person named stays one."""
    note = Path(__file__).resolve().parents[1] / "bench/eval/entity_unseen2/R44243.txt"
    line = next(x for x in note.read_text(encoding="utf-8").splitlines() if "115th Cong." in x)
    passages = [Passage("doc:0000", "doc", 0, line)]
    raw = tagger.tag(passages)
    assert any(r.label == "PERSON" and r.text.startswith("115th") for r in raw)  # the rule has something to remove
    mentions, _ = entity_mentions(passages, raw, None)
    assert not [m.text for m in mentions if m.label == "PERSON" and m.text[0].isdigit()], mentions
    ctx = entity_rules.Context.of(passages, raw)
    assert entity_rules.noise("115th Cong", "PERSON", "doc:0000", 0, 10, ctx) == "number"
    assert entity_rules.noise("115th Congress", "ORG", "doc:0000", 0, 14, ctx) is None  # a body may open with one
