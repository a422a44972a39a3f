"""What the embedding model reads: a document's abbreviations spelled out once (embedding_text)."""

from __future__ import annotations

import re

import numpy as np

from corpus_search.embedding_text import definitions, expand
from corpus_search.models import Passage


def _p(doc: str, seq: int, text: str) -> Passage:
    return Passage(passage_id=f"{doc}:{seq:04d}", doc_id=doc, seq=seq, text=text, end=len(text))


_TAX = [
    _p("tax", 0, "In 2024 the IRS released data on the residential clean energy credit (RCEC) and the energy "
                 "efficient home improvement credit (EEHIC)."),
    _p("tax", 1, "The RCEC reduced federal revenues by $6.3 billion; RCECs went mostly to the South. The RCEC grew."),
    _p("tax", 2, "The Internal Revenue Service (IRS) counts early filers only."),
    _p("army", 0, "The Army calls it the Mid-Range Capability (MRC). The RCEC is not defined here."),
]


def test_each_document_defines_its_own_abbreviations_lower_case_terms_too() -> None:
    found = definitions(_TAX)
    assert found["tax"] == {"RCEC": "residential clean energy credit", "EEHIC": "energy efficient home improvement credit",
                            "IRS": "Internal Revenue Service"}
    assert found["army"] == {"MRC": "Mid-Range Capability"}  # another document's RCEC is not this one's


def test_the_first_use_in_a_text_is_spelled_out_and_nothing_else_changes() -> None:
    defined = definitions(_TAX)["tax"]
    assert expand(_TAX[1].text, defined) == ("The RCEC (residential clean energy credit) reduced federal revenues by "
                                             "$6.3 billion; RCECs went mostly to the South. The RCEC grew.")
    assert expand(_TAX[0].text, defined) == _TAX[0].text.replace("the IRS", "the IRS (Internal Revenue Service)")
    assert expand("No abbreviation at all.", defined) == "No abbreviation at all."
    assert expand("The RCECs (residential clean energy credits) grew.", defined).count("(") == 1  # defined here


def test_a_build_embeds_the_spelled_out_text_and_stores_the_text_as_written(corpus) -> None:
    """On the bundled corpus, which defines "Eurasian Economic Union (EEU)" once and says "EEU" after."""
    passages = corpus.passages()
    defined = definitions(passages)
    doc, short = next((p.doc_id, p) for p in passages
                      if re.search(r"\bEEU\b", p.text) and "Eurasian Economic Union" not in p.text and len(p.text) < 500
                      and "EEU" in defined.get(p.doc_id, {}))
    read = expand(short.text, defined[doc])
    assert "EEU (Eurasian Economic Union)" in read and "Eurasian Economic Union" not in short.text
    stored = corpus.vectors.vectors_for([short.passage_id])[short.passage_id]

    def cos(text: str) -> float:
        vec = corpus.encode_query(text)
        return float(np.dot(stored, vec) / (np.linalg.norm(stored) * np.linalg.norm(vec)))

    assert cos(read) > 0.999 > cos(short.text)  # measured: 1.000 and 0.994 for the passage that says "With the EEU"


def test_a_float_title_is_the_last_part_of_the_section_path_even_with_a_slash_in_it() -> None:
    from corpus_search.embedding_text import float_title

    assert float_title("Trade / Table 2. Imports and Exports, 2024") == "Table 2. Imports and Exports, 2024"
    assert float_title("Trade / Table 2. Imports / Exports by Year") == "Table 2. Imports / Exports by Year"
    assert float_title("Trade / Imports / Exports") == ""  # no figure or table
    assert float_title("") == ""


def test_the_model_reads_a_glossarys_abbreviations_and_mixed_case_ones_as_the_entities_do() -> None:
    """PIPELINE_VERSION 15: the model's text spells out what the entity side reads as definitions too, so a
    passage saying only "DRB" is read as the Discharge Review Board, and "BiOp" as a biological opinion."""
    from corpus_search.embedding_text import texts_for

    passages = [
        _p("vets", 0, "Abbreviation | Full Name DOD | Department of Defense DRB | Discharge Review Board VA | "
                      "Department of Veterans Affairs"),
        _p("vets", 1, "A veteran may ask the DRB to review the discharge."),
        _p("fish", 0, "The consultation ends with the Services issuing a biological opinion (BiOp)."),
        _p("fish", 1, "The BiOp found no jeopardy."),
    ]
    found = definitions(passages)
    assert found["vets"]["DRB"] == "Discharge Review Board" and found["fish"]["BiOp"] == "biological opinion"
    model = texts_for(passages, found)
    assert "the DRB (Discharge Review Board) to review" in model[1]
    assert model[3].startswith("The BiOp (biological opinion) found")
    assert model[0].count("(") == 0  # the glossary spells its own forms out: nothing added
