"""Fourth-round entity rules (issue 14, dev set 2): each test is text written for it, not report text,
and fails without its rule. Real spaCy throughout, no corpus files (a new user's first build)."""

from __future__ import annotations

import pytest

from corpus_search import entity_heads
from corpus_search.entities import Tagger, entity_mentions
from corpus_search.models import Passage


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger()


def _mentions(tagger: Tagger, texts: list[str]):
    passages = [Passage(f"doc:{i:04d}", "doc", i, t) for i, t in enumerate(texts)]
    mentions, _ = entity_mentions(passages, tagger.tag(passages), None)
    return mentions


def _named(mentions, name: str) -> list[tuple[str, str]]:
    return [(m.passage_id, m.label) for m in mentions if m.name == name]


def test_a_company_the_model_calls_a_person_is_a_company_throughout_its_page(tagger):
    # A one-file web page with no alias file: the model tags "Gazprom" PERSON; the appositive says
    # what it is, and the page's other mentions follow, tagged or not.
    mentions = _mentions(tagger, [
        "Gazprom dragged its feet on the Altai pipeline.",
        "Gazprom, the Russian gas company, blamed prices. Miller said Gazprom would wait.",
    ])
    assert _named(mentions, "Gazprom") == [("doc:0000", "ORG"), ("doc:0001", "ORG"), ("doc:0001", "ORG")]
    assert ("doc:0001", "PERSON") in _named(mentions, "Miller")


def test_a_name_an_appositive_calls_a_model_is_a_product_not_a_person(tagger):
    mentions = _mentions(tagger, [
        "Meridian Labs released Vega, the startup's flagship translation model, in May.",
        "Officials said Vega was used to translate intercepted messages. Critics say Vega makes errors.",
    ])
    assert {label for _, label in _named(mentions, "Vega")} == {"PRODUCT"}
    assert len(_named(mentions, "Vega")) == 3


def test_a_company_with_and_without_its_legal_form_is_one_company(tagger):
    mentions = _mentions(tagger, [
        "The contract went to Harrow Dynamics Corporation (Tulsa, OK) and Pell & Ostrander, LLC (Reno, NV).",
        "Harrow Dynamics delivered the first prototypes in March, and Pell & Ostrander followed in May.",
    ])
    assert [p for p, _ in _named(mentions, "Harrow Dynamics")] == ["doc:0000", "doc:0001"]
    assert not _named(mentions, "Harrow Dynamics Corporation")
    assert not _named(mentions, "LLC")  # the legal form cut off by the model names nothing by itself


def test_a_bare_organisation_is_the_one_its_document_names_with_a_country(tagger):
    mentions = _mentions(tagger, ["The U.S. Navy awarded the contract in 2024.",
                                  "The Navy plans to buy twelve more ships, and the Navy budget grew."])
    assert len(_named(mentions, "U.S. Navy")) == 3 and not _named(mentions, "Navy")


def test_a_bare_organisation_with_two_countries_stays_as_it_is(tagger):
    mentions = _mentions(tagger, ["The U.S. Navy and the Royal Navy exercised together.",
                                  "The U.K. Navy and the U.S. Navy both praised the Navy drills."])
    assert not [m for m in mentions if m.text == "Navy" and m.name in ("U.S. Navy", "U.K. Navy")]


def test_a_name_headed_by_zone_is_a_place_with_its_abbreviation(tagger):
    mentions = _mentions(tagger, ["The survey mapped the Hatteras Fracture Zone (HFZ) in 2019.",
                                  "Mining claims in the HFZ overlap."])
    assert {label for _, label in _named(mentions, "Hatteras Fracture Zone")} == {"LOC"}
    assert len(_named(mentions, "Hatteras Fracture Zone")) == 3


def test_a_licence_designation_is_no_organisation(tagger):
    mentions = _mentions(tagger, ["Two licences, USA-7 and USA-9, were issued to Brightwater Holdings in 1990.",
                                  "USA-7 expired in 2010."])
    assert not [m for m in mentions if m.text.startswith("USA-")]
    assert _named(mentions, "Brightwater Holdings")


def test_a_possessive_long_form_defines_its_abbreviation(tagger):
    mentions = _mentions(tagger, ["Norvale Mining Company's (NMC's) application was filed in March.",
                                  "NMC said it expects approval."])
    assert len(_named(mentions, "Norvale Mining Company")) == 3


@pytest.mark.parametrize("text, name, product", [
    ("The M-2 Bradley entered service in 1981.", "Bradley", True),
    ("Soldiers rode the F-16 Falcon home.", "Falcon", True),
    ("General Omar Bradley entered service in 1915.", "Bradley", False),
])
def test_a_name_after_a_model_designation_is_a_product(text, name, product):
    start = text.index(name)
    assert entity_heads.product_context(text, start, start + len(name), name) is product


def test_two_departments_sharing_one_plural_head_are_two_organisations(tagger):
    mentions = _mentions(tagger, ["The order told the agency to consult the Departments of Energy and the Treasury "
                                  "before it issued new permits."])
    names = {m.name for m in mentions if m.label == "ORG"}
    assert {"Department of Energy", "Department of the Treasury"} <= names


def test_a_span_the_model_cut_short_grows_to_the_long_form_the_document_defines(tagger):
    # The model splits this one into "the Center for Tech" and "Rural Life".
    mentions = _mentions(tagger, [
        "Money went to the Center for Tech and Rural Life (CTRL, $30 million) and to schools.",
        "The CTRL later funded school programs.",
    ])
    assert len([m for m in mentions if m.name == "Center for Tech and Rural Life"]) == 3
    assert not [m for m in mentions if m.name in ("Center for Tech", "Rural Life")]


def test_a_year_before_an_agency_is_no_part_of_its_name(tagger):
    mentions = _mentions(tagger, ["According to the 2024 Department of Commerce export report, sales rose."])
    assert "Department of Commerce" in {m.name for m in mentions}
    assert not [m for m in mentions if m.name.startswith("2024")]


def test_a_state_code_after_a_city_is_no_organisation(tagger):
    mentions = _mentions(tagger, ["Contracts went to Halvorsen Marine, Inc. (Duluth, MN) and Crestline Optics, "
                                  "LLC (Boise, ID) in 2022."])
    assert not [m for m in mentions if m.label == "ORG" and m.text in ("MN", "ID")]


def test_the_singular_of_a_term_s_plural_abbreviation_is_a_term_too(tagger):
    mentions = _mentions(tagger, ["New sensors could protect unmanned surface vessels (USVs) from jamming.",
                                  "Navies want USV endurance to grow, and each USV costs less."])
    assert not [m for m in mentions if m.text in ("USV", "USVs") and m.label in ("ORG", "PERSON")]


def test_a_section_sign_marks_a_citation_not_an_organisation(tagger):
    mentions = _mentions(tagger, ["The agency will publish notice (15 C.F.R. §970.212) within 30 days."])
    assert not [m for m in mentions if "§" in m.text]


def test_a_long_form_the_model_missed_is_a_mention_where_it_defines_an_abbreviation(tagger):
    # The model tags neither the long form nor its abbreviation here.
    passages = ["As part of this operational testing, the Navy Test and Evaluation Command (NTEC) reportedly is "
                "to work with the fleet.", "The NTEC reports to the fleet."]
    mentions = _mentions(tagger, passages)
    assert len([m for m in mentions if m.name == "Navy Test and Evaluation Command"]) == 3


def test_a_legislature_s_term_number_is_no_part_of_its_name(tagger):
    mentions = _mentions(tagger, ["The bill died in the 117th Congress before a vote."])
    assert [m.name for m in mentions if m.label == "ORG"] == ["Congress"]


def test_a_court_named_with_its_district_is_one_court(tagger):
    mentions = _mentions(tagger, ["The firm sued in the U.S. District Court for the Western District of Texas and "
                                  "appealed to the U.S. Court of Appeals for the Fifth Circuit in 2025."])
    names = {m.name for m in mentions if m.label == "ORG"}
    assert "U.S. District Court for the Western District of Texas" in names
    assert "U.S. Court of Appeals for the Fifth Circuit" in names
