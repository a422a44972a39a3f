"""Entity rules found on the dev set (bench/eval/entity_dev.toml): each test is text of the dev reports
(CRS IN12669, IF11783, IF11175 in bench/eval/entity_dev/, never the frozen gold ones) and fails
without its rule. Real spaCy throughout, no corpus files: what a new corpus gets."""

from __future__ import annotations

import pytest

from corpus_search.entities import Tagger, entity_mentions
from corpus_search.models import Passage

DISPUTE = [
    "Pentagon-Anthropic Dispute over Autonomous Weapon Systems: Potential Issues for Congress",
    'On February 27, 2026, President Donald J. Trump directed federal agencies to "IMMEDIATELY CEASE all use of '
    "[American AI company] Anthropic's technology.\" Secretary of Defense Pete Hegseth subsequently directed the "
    'Department of Defense (DOD, now using "Department of War" as a secondary designation under E.O. 14347) to '
    "designate Anthropic a supply-chain risk to national security; bar defense contractors, suppliers, and partners "
    "from working with Anthropic; and describe an up-to-six-month period of transition away from Anthropic products. "
    "This designation follows a reportedly months-long dispute between DOD and Anthropic over DOD use of Anthropic "
    "products, including Claude, the company's generative AI model.",
    "According to reporting, Anthropic inquired about DOD's use of Claude, generating concerns within the department "
    "that Anthropic might not approve of certain use cases. In explaining his decision, Anthropic CEO Dario Amodei "
    "stated that frontier AI systems are simply not reliable enough.",
    'Although DOD has not publicly outlined the full range of use cases, Anthropic has stated that Claude "is '
    "reportedly the Department's most widely deployed and used frontier AI model.\"",
    "Section 1066 of the FY2025 NDAA (P.L. 118-159) additionally requires the Secretary to report; some Members have "
    "introduced related legislation (e.g., S. 1394 and H.R. 2894, 118 Congress; S. 4113, 119 Congress).",
]
TRADE = [
    "The 119 Congress is engaged in a range of activities related to trade policy toward Mexico. Mexico's proximity "
    "to the United States and the extensive bilateral trade and investment relationship under the "
    "U.S.-Mexico-Canada Agreement (USMCA), also make it a focus of congressional attention.",
    "Foreign direct investment (FDI) is an integral part of the economic relationship between the United States and "
    "Mexico. Between 1999 and 2024, U.S. FDI in Mexico increased from $37.2 billion to $159.2 billion.",
    "Trade in goods between the United States and Mexico has increased exponentially since the North American Free "
    "Trade Agreement (NAFTA, the precursor to USMCA) entered into force in 1994.",
    "Some economists credit NAFTA/USMCA with strengthening the competitiveness of U.S. manufacturing industries. "
    "On July 1, 2020, USMCA replaced NAFTA.",
    "Congress may monitor U.S.-Mexico trade policy and the overall bilateral economic relationship, especially as it "
    "relates to USMCA and U.S. economic interests. The USMCA Implementation Act includes consultation requirements.",
]


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger()


def _mentions(tagger: Tagger, texts: list[str], doc: str = "doc"):
    passages = [Passage(f"{doc}:{i:04d}", doc, i, t) for i, t in enumerate(texts)]
    mentions, _ = entity_mentions(passages, tagger.tag(passages))
    return mentions


@pytest.fixture(scope="module")
def dispute(tagger):
    return _mentions(tagger, DISPUTE)


@pytest.fixture(scope="module")
def trade(tagger):
    return _mentions(tagger, TRADE)


def test_an_abbreviation_defined_before_a_comma_in_its_brackets_is_learned(dispute):
    # "Department of Defense (DOD, now using ...)": every later "DOD" is the department.
    dod = [m for m in dispute if m.text == "DOD"]
    assert len(dod) >= 5 and {(m.name, m.label) for m in dod} == {("Department of Defense", "ORG")}


def test_a_company_the_text_calls_one_is_an_organisation_wherever_the_document_names_it(dispute):
    anthropic = [m for m in dispute if m.text == "Anthropic"]
    # Nine times in these passages; the model tags it (as a person or nationality) a few times only.
    assert len(anthropic) >= 9 and {m.label for m in anthropic} == {"ORG"}
    assert not [m for m in dispute if "[" in m.text or "]" in m.text]  # "[American AI company] Anthropic"


def test_bill_and_public_law_numbers_name_nothing(dispute):
    assert not [m for m in dispute if m.text in ("P.L. 118-159", "S. 4113", "S. 1394")]


def test_a_lone_back_reference_is_no_organisation(dispute):
    assert "Department" not in {m.name for m in dispute if m.label == "ORG"}


def test_a_dispute_is_an_event_not_an_organisation(dispute):
    assert not [m for m in dispute if "Dispute" in m.name and m.label == "ORG"]


def test_a_long_form_with_a_dotted_abbreviation_teaches_its_short_form(trade):
    # "U.S.-Mexico-Canada Agreement (USMCA)": USMCA is the agreement (a law), never an organisation.
    usmca = [m for m in trade if m.text == "USMCA"]
    assert len(usmca) >= 4 and {(m.name, m.label) for m in usmca} == {("U.S.-Mexico-Canada Agreement", "LAW")}


def test_two_abbreviations_joined_by_a_slash_are_two_mentions(trade):
    assert "NAFTA/USMCA" not in {m.name for m in trade}
    assert {m.text for m in trade if m.passage_id == "doc:0003"} >= {"NAFTA", "USMCA"}


def test_two_places_joined_by_a_hyphen_are_no_organisation(trade):
    assert not [m for m in trade if m.label == "ORG" and m.text.startswith("U.S.-Mexico")]


def test_a_term_that_opens_a_sentence_is_no_name(trade):
    # "Foreign direct investment (FDI)": a term, so neither FDI nor "U.S. FDI" is an organisation.
    assert not [m for m in trade if "FDI" in m.text and m.label == "ORG"]


def test_a_name_after_the_word_program_is_a_programme(tagger):
    mentions = _mentions(tagger, [
        "For example, the Intelligence Advanced Research Projects Agency program Odin seeks to provide an automated "
        "means of both detecting known presentation attacks and identifying unknown vectors of attack.",
    ])
    assert ("Odin", "PROJECT") in {(m.name, m.label) for m in mentions}
    assert ("Intelligence Advanced Research Projects Agency", "ORG") in {(m.name, m.label) for m in mentions}
