"""Citation styles: what a reader checks in a note, a reference list and an imported record."""

from __future__ import annotations

import json
from pathlib import Path

import bibtexparser
import pytest
import rispy

from corpus_search.cite import STYLES, cite, locator, split_name
from corpus_search.errors import UsageError
from corpus_search.models import Passage
from corpus_search.records import load_record

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def chaillot():
    return load_record(CORPUS / "makocki-popescu-2016-chaillot.txt", CORPUS)


@pytest.fixture(scope="module")
def article():
    return load_record(CORPUS / "alexeeva-lasserre-2018-china-perspectives.txt", CORPUS)


@pytest.fixture(scope="module")
def crs():
    return load_record(CORPUS / "crs" / "IF10491.pdf", CORPUS)


# A passage that starts on printed page 16 and runs on to page 17 at offset 40.
SPANNING = Passage("makocki2016:0056", "makocki2016", 56, "x" * 39 + " " + "y" * 40, page=16, page_end=17,
                   page_breaks=((40, "17"),))
NUMBERED = Passage("alexeeva2018:0012", "alexeeva2018", 12, "Is this strategic redirection ...", page=None, paragraph=6)


@pytest.mark.parametrize(
    ("offset", "end", "expected"),
    [
        (0, 10, "p. 16"),  # quotation wholly on the first page
        (45, 60, "p. 17"),  # ...wholly on the second
        (30, 50, "pp. 16-17"),  # ...across the break
        (30, 40, "p. 16"),  # ends on the last character before the break
        (None, None, "pp. 16-17"),  # the passage as a whole
    ],
)
def test_page_locator_follows_the_quotation_not_the_passage(chaillot, offset, end, expected):
    assert locator(chaillot, SPANNING, offset, end) == expected


def test_paragraph_locator_for_sources_cited_by_paragraph(article):
    assert locator(article, NUMBERED) == "para. 6"
    assert locator(article, NUMBERED, 0, 10) == "para. 6"


def test_no_passage_means_the_whole_work(chaillot):
    assert locator(chaillot, None) == ""
    assert "17" not in cite(chaillot, None, "chicago")


def test_chicago_note(chaillot):
    note = cite(chaillot, SPANNING, "chicago", 45, 60)
    assert note.startswith("Michal Makocki and Nicu Popescu, China and Russia")
    assert "Chaillot Paper" in note and "Paris: European Union Institute for Security Studies (EUISS)" in note
    assert "2016" in note and note.endswith(", 17.")


def test_chicago_note_article_by_paragraph(article):
    note = cite(article, NUMBERED, "chicago")
    assert "Olga Alexeeva and Frédéric Lasserre, “The Evolution of Sino-Russian Relations" in note
    assert "trans. Elizabeth Guill" in note and "China Perspectives" in note
    assert note.endswith("(2018): para. 6.")


def test_chicago_bibliography(chaillot, article):
    assert cite(chaillot, SPANNING, "chicago-bib").startswith("Makocki, Michal, and Nicu Popescu. China and Russia")
    bib = cite(article, None, "chicago-bib")
    assert bib.startswith("Alexeeva, Olga, and Frédéric Lasserre. “The Evolution")
    assert "China Perspectives 2018, no. 3 (2018): 69-77." in bib


def test_apa(chaillot, article, crs):
    ref = cite(chaillot, SPANNING, "apa", 30, 50)
    assert ref.startswith("Makocki, M., & Popescu, N. (2016). China and Russia")
    assert ref.endswith("(pp. 16-17)")
    assert "China Perspectives, 2018(3), 69-77." in cite(article, NUMBERED, "apa")
    assert cite(crs, None, "apa").startswith("Tupuola, J. G. (2026).")


def test_mla(chaillot, article):
    assert cite(chaillot, SPANNING, "mla", 45, 60).endswith("(Makocki and Popescu 17)")
    entry = cite(article, NUMBERED, "mla")
    assert entry.startswith("Alexeeva, Olga, and Frédéric Lasserre. “The Evolution")
    assert "vol. 2018, no. 3" in entry and entry.endswith("(Alexeeva and Lasserre, par. 6)")


@pytest.mark.parametrize("which", ["chaillot", "article", "crs"])
def test_bibtex_parses_and_carries_the_reference(request, which):
    record = request.getfixturevalue(which)
    passage = SPANNING if which != "article" else NUMBERED
    library = bibtexparser.parse_string(cite(record, passage, "bibtex", 30, 50))
    assert not library.failed_blocks
    (entry,) = library.entries
    assert entry.key == record.doc_id
    fields = {f.key: f.value for f in entry.fields}
    assert entry.entry_type == ("article" if which == "article" else "techreport")
    assert fields["title"] == record.title and fields["year"] == str(record.year)
    assert fields["author"].startswith(", ".join(split_name(record.authors[0])))
    assert fields.get("journal") or fields.get("publisher")
    assert fields["pages"] == {"chaillot": "16--17", "article": "69--77", "crs": "16--17"}[which]


@pytest.mark.parametrize("which", ["chaillot", "article"])
def test_ris_parses_and_carries_the_reference(request, which):
    record = request.getfixturevalue(which)
    passage = SPANNING if which == "chaillot" else NUMBERED
    (entry,) = rispy.loads(cite(record, passage, "ris", 45, 60))
    assert entry["type_of_reference"] == ("RPRT" if which == "chaillot" else "JOUR")
    assert entry["authors"][0] == ", ".join(split_name(record.authors[0]))
    assert entry["title"] == record.title and entry["year"] == str(record.year)
    if which == "chaillot":
        assert entry["publisher"].startswith("European Union Institute") and entry["start_page"] == "17"
    else:
        assert entry["secondary_title"] == "China Perspectives"
        assert (entry["start_page"], entry["end_page"]) == ("69", "77")
        assert "para. 6" in entry["notes"][0]


def test_csl_json(chaillot):
    item = json.loads(cite(chaillot, SPANNING, "csl-json", 30, 50))
    assert item["type"] == "report" and item["title"] == chaillot.title
    assert item["author"][0] == {"family": "Makocki", "given": "Michal"}
    assert item["issued"] == {"date-parts": [[2016, 12]]}
    assert (item["locator"], item["label"], item["page"]) == ("16-17", "page", "16-17")


def test_unknown_style_lists_the_valid_ones(chaillot):
    with pytest.raises(UsageError) as err:
        cite(chaillot, None, "harvard")
    assert all(style in str(err.value) for style in STYLES)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Michal Makocki", ("Makocki", "Michal")),
        ("Jared G. Tupuola", ("Tupuola", "Jared G.")),
        ("Popescu, Nicu", ("Popescu", "Nicu")),
        ("Charles de Gaulle", ("de Gaulle", "Charles")),
        ("Plato", ("Plato", "")),
    ],
)
def test_split_name(name, expected):
    assert split_name(name) == expected
