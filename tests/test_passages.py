"""split_document on the real seeds and CRS PDFs: pages, sections, kinds and spans a user relies on."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus_search.models import Page, Record
from corpus_search.passage_text import MAX_PASSAGE
from corpus_search.passages import Split, split_document
from corpus_search.records import load_record

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CHAILLOT = "makocki-popescu-2016-chaillot.txt"
ARTICLE = "alexeeva-lasserre-2018-china-perspectives.txt"
CRS = sorted(p.name for p in (CORPUS / "crs").glob("*.pdf"))


def _leading_space_pages(text: str, offset: int) -> list[Page]:
    # The ingester's convention: every line that begins with a space starts a new page.
    starts = [m.start() for m in re.finditer(r"(?m)^ ", text)]
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    chunks = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)])]
    return [Page(index=i, text=c, label=str(i + 1 + offset)) for i, c in enumerate(chunks)]


@cache
def split(name: str) -> Split:
    path = CORPUS / name
    record = load_record(path, CORPUS)
    try:
        from corpus_search.ingest import extract

        pages = extract(path, record).pages
    except ImportError:  # before the ingester exists, read the text conventions here
        text = path.read_text(encoding="utf-8")
        if record.page_starts == "leading-space":
            pages = _leading_space_pages(text, record.page_offset)
        else:
            pages = [Page(index=0, text=text, label=None)]
    return split_document(record, pages, pdf=path.suffix == ".pdf")


def containing(name: str, phrase: str) -> list:
    return [p for p in split(name).passages if phrase in p.text]


@pytest.mark.parametrize("name", [CHAILLOT, ARTICLE, *(f"crs/{n}" for n in CRS)])
def test_passages_are_slices_of_the_cleaned_text(name: str) -> None:
    result = split(name)
    assert result.passages
    for seq, p in enumerate(result.passages):
        assert result.text[p.start : p.end] == p.text
        assert p.seq == seq and p.passage_id == f"{p.doc_id}:{seq:04d}"
        assert p.text == p.text.strip() and "\ue000" not in p.text and "\ue002" not in p.text


@pytest.mark.parametrize(
    ("phrase", "page"),
    [
        ("the relationship is not anything like the Soviet-Chinese brotherhood", 17),
        ("Putin is a tactician rather than a strategist", 34),
        ("Since US President Barack Obama", 5),
        ("Following the annexation of Crimea, the outbreak", 7),
        ("EEU Eurasian Economic Union", 52),
    ],
)
def test_chaillot_quotes_are_on_their_printed_page(phrase: str, page: int) -> None:
    found = containing(CHAILLOT, phrase)
    assert len(found) == 1
    p = found[0]
    assert p.page_at(p.text.index(phrase)) == str(page)


def test_foreword_heading_is_on_page_5() -> None:
    heading = next(p for p in split(CHAILLOT).passages if p.text == "Foreword")
    assert heading.kind == "heading" and heading.page == 5


def test_altai_pipeline_passages_are_on_pages_32_33_37() -> None:
    assert [p.page for p in containing(CHAILLOT, "Altai pipeline")] == [32, 33, 37]


def test_box_4_spans_pages_17_and_18() -> None:
    box = [p for p in split(CHAILLOT).passages if p.section.startswith("Box 4")]
    assert {p.page for p in box} == {17, 18}
    assert all(p.kind == "box" for p in box)
    assert any("Soviet-Chinese brotherhood" in p.text for p in box)


def test_box_3_ends_where_body_text_resumes() -> None:
    resumed = containing(CHAILLOT, "The Russian version of ‘respect diplomacy’")[0]
    assert resumed.kind == "body" and resumed.section == "Chapter 1 / Equality therapy"
    assert resumed.page == 16 and resumed.page_end == 17


def test_paragraph_across_a_page_break_is_one_passage_with_the_break_recorded() -> None:
    # p. 9 ends "... In this" under footnote 1; p. 10 goes on "worldview, both China ...".
    p = containing(CHAILLOT, "In this worldview, both China and Russia")[0]
    assert (p.page, p.page_end) == (9, 10)
    offset = p.text.index("worldview, both China")
    assert (offset, "10") in p.page_breaks
    assert p.page_at(offset - 5) == "9" and p.page_at(offset) == "10"


def test_section_paths_follow_chapters_and_subheadings() -> None:
    assert containing(CHAILLOT, "More than anything, China is motivated by mercantilist")[0].section == (
        "Chapter 3 / Business versus politics"
    )
    assert containing(CHAILLOT, "ASEAN Association of Southeast Asian Nations")[0].kind == "body"


@pytest.mark.parametrize(
    ("phrase", "kind"),
    [
        ("FIGURE 1: RUSSIA’S TOP 3 ARMS EXPORTS DESTINATIONS", "caption"),
        ("Source for data: SIPRI.", "caption"),
        ("Box 2: The South China Sea disputes and Russia", "box"),
        ("Feng Zhongping & Huan Jing", "footnote"),
        ("Converging geopolitics?", "heading"),
    ],
)
def test_chaillot_kinds(phrase: str, kind: str) -> None:
    assert [p.kind for p in containing(CHAILLOT, phrase)] == [kind]


def test_footnotes_are_lifted_and_linked_to_their_markers() -> None:
    result = split(CHAILLOT)
    notes = [p for p in result.passages if p.kind == "footnote"]
    assert [p.notes for p in notes] == [(str(n),) for n in range(1, 26)]
    first = notes[0]
    assert first.page == 9 and first.text.startswith("Feng Zhongping & Huan Jing")
    citing = containing(CHAILLOT, "with Pakistan. Russia is certainly far")[0]
    assert citing.notes == ("1",)
    offset, number = citing.note_marks[0]
    assert number == "1" and citing.text[:offset].endswith("with Pakistan.")
    for p in result.passages:
        if p.kind != "footnote":
            assert "Feng Zhongping" not in p.text and "ESPO Working Paper" not in p.text


@pytest.mark.parametrize("kept", ["$1.3 billion", "in 2014", "G8 membership", "Su-35"])
def test_numbers_that_are_not_markers_stay(kept: str) -> None:
    assert containing(CHAILLOT, kept)


def test_article_paragraph_numbers() -> None:
    result = split(ARTICLE)
    p = containing(ARTICLE, "These developments have been accentuated")[0]
    assert p.paragraph == 14 and p.text.startswith("These developments")
    numbered = [p.paragraph for p in result.passages if p.paragraph is not None]
    assert numbered == sorted(numbered) and 1 in numbered and 36 in numbered
    assert not any(re.match(r"\d+[A-Z]", p.text) for p in result.passages if p.kind == "body")


def test_article_footnotes_and_markers() -> None:
    result = split(ARTICLE)
    notes = [p for p in result.passages if p.kind == "footnote"]
    assert [p.notes[0] for p in notes] == ["5", "6", "10", "11", "12"]
    assert notes[0].text.startswith("“More than 100 Billion")
    p = containing(ARTICLE, "the ensuing sanctions. European and American")[0]
    assert {"2", "3", "4"} <= set(p.notes)
    assert containing(ARTICLE, "fall of the Soviet Union In other words")


def test_article_captions_printed_once_and_header_kinds() -> None:
    result = split(ARTICLE)
    assert len(containing(ARTICLE, "Figure 1 – Development of trade")) == 1
    assert result.stats["duplicate_captions"] == 4
    assert result.passages[0].kind == "heading" and result.passages[0].text.startswith("The Evolution of Sino")
    assert containing(ARTICLE, "Manuscript received on 28 November 2017")[0].kind == "body"
    assert containing(ARTICLE, "Closer economic relations")[0].section.endswith("/ Closer economic relations")


def test_article_keeps_non_breaking_hyphens() -> None:
    assert "Sino\u2011Russian" in split(ARTICLE).text


@pytest.mark.parametrize("name", [f"crs/{n}" for n in CRS])
def test_crs_furniture_is_dropped(name: str) -> None:
    result = split(name)
    assert result.stats["dropped_furniture"] >= 1
    for p in result.passages:
        assert "https://crsreports.congress.gov" not in p.text
        assert not re.fullmatch(r"Congressional Research Service \d+", p.text)


def test_crs_footnotes_and_pages() -> None:
    result = split("crs/R48903.pdf")
    assert result.stats["footnotes"] >= 30
    intro = containing("crs/R48903.pdf", "Before U.S. and Israeli military operations began")[0]
    # The report has no /PageLabels: its footer prints "1" on the third PDF page (cover, contents first).
    assert (intro.page, intro.pdf_page) == (1, 3) and "1" in intro.notes
    assert "about 130 each day. As of April 7" in intro.text


def test_long_paragraphs_are_split_at_sentence_ends() -> None:
    text = " ".join(f"Sentence number {i} says something about Russia and China." for i in range(200))
    result = split_document(Record(doc_id="long", title="Long"), [Page(index=0, text=text, label="1")])
    assert len(result.passages) > 1
    assert all(len(p.text) <= 2500 and p.text.endswith(".") for p in result.passages)


@pytest.mark.parametrize(
    "pages",
    [
        [],
        [""],
        [" ", "\x00\x01", "7"],
        ["ا لسلام عليكم ورحمة الله\nمرحبا بالعالم"],
        ["1. \n2. \n3."],
        ["-\n-\n-"],
        ["word-\n"],
        ["Box 1: x"],
        ["\ue000\ue002 private use"],
    ],
)
def test_odd_pages_never_crash(pages: list[str]) -> None:
    result = split_document(Record(doc_id="odd", title="Odd"), [Page(i, t, str(i + 1)) for i, t in enumerate(pages)])
    for p in result.passages:
        assert result.text[p.start : p.end] == p.text


_PIECES = [*"ab Ab.-\n123 9’“”•\u2011\u00adﬁ\x00\ue001", "Box 1:", "FIGURE 2:", "Chi-\nna", "1. ", "\n\n", " 14These", "word.2 "]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(st.sampled_from(_PIECES), max_size=120).map("".join), max_size=6),
    st.booleans(),
)
def test_fuzz_split_document_never_raises(texts: list[str], numbered: bool) -> None:
    record = Record(doc_id="fuzz", title="Fuzz", numbered_paragraphs=numbered)
    result = split_document(record, [Page(i, t, str(i + 1) if i % 2 else None) for i, t in enumerate(texts)])
    for p in result.passages:
        assert result.text[p.start : p.end] == p.text
        assert p.text and not any(ord(c) < 32 and c != "\n" for c in p.text)


# -- one huge paragraph: splitting is linear in its length (issue 17; bench/bench_split.py has the figures)
_PROSE = "The pipeline from Siberia carried gas to China in 2014, and the contract was signed in May. "
_HUGE = {
    "one paragraph of prose": (_PROSE * 11_000)[:1_000_000],
    "no spaces or newlines": "x" * 1_000_000,
    "short lines, no blank line": "\n".join((_PROSE * 11_000)[i : i + 80] for i in range(0, 1_000_000, 80)),
    "hyphen at every line end": "\n".join("Gazprom and CNPC signed a con-" if i % 2 else "tract about the pipe-"
                                          for i in range(40_000)),
}


@pytest.mark.timeout(180)  # a hang guard, not a speed target: before the fix the first case took minutes
@pytest.mark.parametrize("name", sorted(_HUGE))
def test_a_megabyte_paragraph_becomes_passages_of_readable_size(name: str) -> None:
    from corpus_search.passages import MAX_PASSAGE

    text = _HUGE[name]
    result = split_document(Record(doc_id="huge", title="Huge"), [Page(index=0, text=text)])
    letters = "".join(c for c in text if c.isalnum())
    assert len(result.passages) >= len(letters) // MAX_PASSAGE
    assert all(len(p.text) <= MAX_PASSAGE for p in result.passages)
    assert all(result.text[p.start : p.end] == p.text for p in result.passages)
    # Nothing is lost: every letter of the source is in some passage, in order.
    assert "".join(c for p in result.passages for c in p.text if c.isalnum()) == letters


@pytest.mark.timeout(60)
def test_splitting_eight_megabytes_of_one_paragraph_does_not_hang() -> None:
    from corpus_search.passages import MAX_PASSAGE, _split_long

    chunks = _split_long((_PROSE * 90_000)[:8_000_000])
    assert "".join(chunks) == (_PROSE * 90_000)[:8_000_000]
    assert max(len(c) for c in chunks) <= MAX_PASSAGE and len(chunks) >= 8_000_000 // MAX_PASSAGE


@pytest.mark.parametrize("short", [
    "Negotiations over price stalled for nearly a decade.",
    "Talks resumed in 2014, after the annexation of Crimea.",
])
def test_a_heading_followed_by_a_short_paragraph_names_its_section(short: str) -> None:
    """A one-sentence paragraph after a heading is text: the heading starts a section, so a citation names it."""
    text = ("Pipeline diplomacy\n\nBackground\n\nThe Altai pipeline was first proposed in 2006 as a route for West "
            "Siberian gas to reach western China, and has been discussed at every summit since then without result."
            f"\n\nTalks stall\n\n{short}\n\nA further paragraph follows here.\n")
    passages = split_document(Record(doc_id="d", title="Pipeline diplomacy"), [Page(index=0, text=text)]).passages
    found = next(p for p in passages if p.text == short)
    assert found.kind == "body"
    assert found.section.split(" / ")[-1] == "Talks stall"
    assert [p.text for p in passages if p.kind == "heading"] == ["Pipeline diplomacy", "Background", "Talks stall"]


@pytest.mark.parametrize("after", ["Total", "12.5%", "Specialist in Nonproliferation", "See above."])
def test_a_label_before_a_fragment_is_not_a_heading(after: str) -> None:
    """Table cells and author lines are short too: only a sentence of a few words counts as text after a heading."""
    text = f"Russia\n\n{after}\n\nGazprom\n"
    passages = split_document(Record(doc_id="d", title="A report"), [Page(index=0, text=text)]).passages
    assert [p for p in passages if p.kind == "heading"] == []


# -- kinds in plain-text sources (issue 16): titles, notes after the text, reference lists --------------

def _split_text(text: str, title: str = "A report") -> list:
    return split_document(Record(doc_id="t", title=title), [Page(index=0, text=text)]).passages


def _kinds(passages: list) -> list[tuple[str, str]]:
    return [(p.kind, p.text[:24]) for p in passages]


_PARAGRAPH = ("The committee reviewed the procurement plan in March and asked the agency to report on costs, "
              "schedules and the testing of the first prototypes before the next budget request.")


@pytest.mark.parametrize("title", [
    "The Navy's XR-9 Amphibious Reconnaissance Vessel (Formerly the Littoral Scout Craft [LSC]): Background and Issues",
    "Water Rights in the Lower Basin",
    "Can Small Reactors Power Remote Bases?",
])
def test_a_texts_first_line_title_is_a_heading_even_when_long(title: str) -> None:
    passages = _split_text(f"{title}\n\nUpdated May 2, 2025\n\n{_PARAGRAPH}\n")
    assert passages[0].text == title and passages[0].kind == "heading"
    assert passages[-1].kind == "body"


@pytest.mark.parametrize("first", [
    "Please send me the budget figures by Friday.",
    "The board met on Monday and approved the plan.",
    "Thanks, all of you!",
    "Dear colleagues,",
])
def test_a_memos_short_first_sentence_is_no_heading(first: str) -> None:
    passages = _split_text(f"{first}\n\n{_PARAGRAPH}\n")
    assert _kinds(passages)[0] == ("body", first[:24])


def test_a_first_line_too_long_for_a_title_is_body() -> None:
    first = " ".join(["Several agencies share the work of watching the river basin and none of them"] * 3)
    passages = _split_text(f"{first}\n\n{_PARAGRAPH}\n")
    assert passages[0].kind == "body"


_NOTES_TEXT = """Reservoir Storage in Dry Years

Summary

Storage fell by a third between 2020 and 2023. Releases were cut twice. {m1}

Operators now plan releases a season ahead, as the second study advised.{m2}

{heading}

{n1}The Bureau's monthly storage tables, 2020-2023.

{n2}A second study of release rules, with a short
second line that continues the same note.

Disclaimer

This document was prepared for the committee and may be reproduced in full.
"""


@pytest.mark.parametrize(("heading", "n1", "n2", "m1", "m2"), [
    ("Footnotes", "1. ", "2. ", "", ""),  # no markers in the body: the heading says what follows
    ("Endnotes:", "1 ", "2 ", "", ""),
    ("Sources", "[1] ", "[2] ", "Storage[1] fell", "[2]"),  # bracketed markers and notes
    ("Sources", "1. ", "2. ", "", "2"),  # a glued marker ("advised.2") references note 2, so note 1 starts the run
])
def test_numbered_notes_after_the_text_are_footnotes_and_the_section_after_them_is_not(
        heading: str, n1: str, n2: str, m1: str, m2: str) -> None:
    text = _NOTES_TEXT.format(heading=heading, n1=n1, n2=n2, m1="", m2=m2)
    if m1:
        text = text.replace("Storage fell", m1)
    passages = _split_text(text)
    notes = [p for p in passages if p.kind == "footnote"]
    assert [(p.notes, p.text[:20]) for p in notes] == [(("1",), "The Bureau's monthly"), (("2",), "A second study of re")]
    assert notes[1].text.endswith("continues the same note.")
    last = passages[-1]
    assert (last.kind, last.section) == ("body", "Disclaimer") and last.text.startswith("This document")
    assert [p.text for p in passages if p.kind == "heading"][-1] == "Disclaimer"
    if m2:
        citing = next(p for p in passages if p.text.startswith("Operators"))
        assert citing.notes == ("2",) and citing.text.endswith("advised.")


@pytest.mark.parametrize("after", ["", "\n\nThe plan was adopted without a vote.\n", "\n\nNext Steps\n\nWe meet again in June.\n"])
def test_a_numbered_list_in_the_body_stays_body(after: str) -> None:
    text = (f"Meeting Notes\n\nThe group agreed on three steps for the spring.\n\n1. Survey the canal.\n\n"
            f"2. Price the new gates.\n\n3. Report to the board in May.{after}")
    passages = _split_text(text)
    items = [p for p in passages if p.text[:2] in ("1.", "2.", "3.")]
    assert [p.kind for p in items] == ["body"] * 3
    assert not any(p.kind == "footnote" for p in passages)


@pytest.mark.parametrize("heading", ["References", "Additional Reference", "Further Reading", "For Further Reading",
                                     "Related CRS Products", "Related Reports"])
def test_entries_under_a_reference_heading_are_notes_not_body(heading: str) -> None:
    entry = "Agency Report AR-112, The River Basin Compact (Formerly the Tri-State Water Accord [TSWA]), by J. Rivera."
    text = f"Water Rights\n\n{_PARAGRAPH}\n\n{heading}\n\n{entry}\n\nDisclaimer\n\nThis document may be reproduced.\n"
    passages = _split_text(text)
    assert [p.kind for p in passages if p.text == entry] == ["footnote"]
    assert passages[-1].kind == "body" and passages[-1].section == "Disclaimer"
    assert next(p for p in passages if p.text == _PARAGRAPH).kind == "body"


def test_a_list_of_works_after_a_lead_in_line_is_notes_and_no_entry_is_a_heading() -> None:
    # "Related CRS Reports:" as a line of text, its entries with no full stop (each looked like a heading,
    # and the last one became the section of the table after it); the table after the list stays body.
    entries = ["WRA Report R4512, The River Basin Compact: Background and Funding",
               "WRA In Focus IF1207, Drought Aid in the Lower Basin"]
    row = "Compact | Signed | States"
    text = (f"Water Rights\n\n{_PARAGRAPH}\n\nRelated WRA Reports:\n\n" + "\n\n".join(entries)
            + f"\n\nTable 1. Compacts by Year\n\n{row}\n\nColorado | 1922 | 7\n\nSource: The agency.\n\n{_PARAGRAPH} Again.\n")
    passages = _split_text(text)
    assert [p.kind for p in passages if p.text in entries] == ["footnote", "footnote"]
    assert not [p for p in passages if p.kind == "heading" and p.text != "Water Rights"]
    assert {p.section for p in passages if p.text.startswith(("Compact |", "Colorado"))} == {
        "Water Rights / Table 1. Compacts by Year"}
    assert {p.kind for p in passages if p.text.startswith(("Compact |", "Colorado"))} == {"body"}


@pytest.mark.parametrize("author", ["Jane Roe Specialist in Water Policy", "John Q. Doe, Analyst in Energy Policy"])
def test_an_author_line_is_no_heading(author: str) -> None:
    text = f"Water Rights\n\n{_PARAGRAPH}\n\n{author}\n\nDisclaimer\n\nThis document may be reproduced.\n"
    passages = _split_text(text)
    assert [p.kind for p in passages if p.text == author] == ["body"]
    assert {p.section for p in passages if p.text == author} == {"Water Rights"}


@pytest.mark.parametrize("dateline", ["Updated May 2, 2025", "May 2, 2025", "2 May 2025", "Revised March 2024"])
def test_a_dateline_under_the_title_opens_no_section(dateline: str) -> None:
    title = "Water Rights in the Lower Basin"
    text = f"{title}\n\n{dateline}\n\n{_PARAGRAPH}\n\nBackground\n\n{_PARAGRAPH} Again.\n"
    passages = _split_text(text, title=title)
    assert [p.section for p in passages if p.text.startswith("The committee")] == ["", "Background"]


def test_table_rows_are_neither_headings_nor_sections() -> None:
    rows = ["Dec. 2023 | $26.2 | $7.9 | 30%", "Dec. 2022 | $23.8 | $7.2 | 30%", "Dec. 2021 | $22.6 | $7.7 | 34%"]
    text = (f"Debt Held Abroad\n\n{_PARAGRAPH}\n\nHoldings by Year\n\n{_PARAGRAPH} Again.\n\n"
            "Table 1. Foreign Holdings (2021-2023)\n\nEnd of Month | Total Debt | Foreign Holdings | Share\n\n"
            + "\n\n".join(rows) + f"\n\nSource: The Treasury's monthly holdings tables, March 2024 release, "
            f"with shares computed from the totals of each month's tables by the authors.\n\n{_PARAGRAPH} Last.\n")
    passages = _split_text(text)
    table = [p for p in passages if rows[0] in p.text]
    # one passage, as a Word table is: a row alone does not say what its figures are
    assert len(table) == 1 and table[0].kind == "body"
    assert table[0].text == "End of Month | Total Debt | Foreign Holdings | Share " + " ".join(rows)
    # the table and its source line are under the table's title; the text after it is not
    sections = {p.text[:12]: p.section for p in passages[3:]}
    assert sections == {"Table 1. For": "Holdings by Year", "End of Month": "Holdings by Year / Table 1. Foreign Holdings (2021-2023)",
                        "Source: The ": "Holdings by Year / Table 1. Foreign Holdings (2021-2023)",
                        _PARAGRAPH[:12]: "Holdings by Year"}


_SOURCE = "Sources: Federal Highway Administration (FHWA); Federal Transit Administration (FTA)."


def test_a_tables_unit_line_rows_source_and_notes_are_under_its_title() -> None:
    rows = ["Agency | Trust Fund | % | Total", "FHWA | 303,500.0 | 83% | 365,455.0", "FTA | 69,900.0 | 65% | 106,900.0"]
    text = (f"Surface Transportation Funding\n\n{_PARAGRAPH}\n\nTable 1. Funding by Funding Type\n\n"
            "(in millions of nominal dollars)\n\n" + "\n\n".join(rows) + f"\n\n{_SOURCE}\n\n"
            "Notes: FMCSA = Federal Motor Carrier Safety Administration.\n\n"
            "a. Under current law, the trust fund may not incur negative balances.\n\n"
            f"{_PARAGRAPH} Last.\n")
    passages = _split_text(text)
    title = "Surface Transportation Funding / Table 1. Funding by Funding Type"
    under = [p.text[:12] for p in passages if p.section == title]
    assert under == ["(in millions", "Agency | Tru", "Sources: Fed", "Notes: FMCSA", "a. Under cur"]
    assert passages[-1].section == "Surface Transportation Funding" and passages[-1].text.endswith("Last.")


def test_a_figures_source_is_under_its_title_and_the_prose_after_it_is_not() -> None:
    text = (f"Trade\n\n{_PARAGRAPH}\n\nFigure 2. Exports by Month\n\nSource: Census Bureau, monthly trade data.\n\n"
            f"{_PARAGRAPH} Last.\n")
    passages = _split_text(text)
    assert [(p.kind, p.section) for p in passages if p.text.startswith("Source")] == [
        ("caption", "Trade / Figure 2. Exports by Month")]
    assert passages[-1].section == "Trade"


def test_a_title_followed_by_prose_and_no_source_keeps_the_prose_in_its_section() -> None:
    # a figure whose image carries no text: the paragraph after its title is the section's text
    for prose in (_PARAGRAPH, " ".join([_PARAGRAPH] * 3)):
        passages = _split_text(f"Trade\n\n{_PARAGRAPH}\n\nFigure 2. Exports by Month\n\n{prose} Last.\n")
        assert passages[-1].section == "Trade" and passages[-1].text == f"{prose} Last."


def test_rows_of_two_cells_are_a_table_with_the_line_that_introduces_them() -> None:
    rows = ["Indiana | $3,682", "Louisiana | $3,551", "Mississippi | $2,248"]
    text = (f"Credits by State\n\n{_PARAGRAPH}\n\nStates with the lowest average credit per recipient:\n\n"
            + "\n\n".join(rows) + f"\n\n{_PARAGRAPH} Last.\n")
    passages = _split_text(text)
    table = [p for p in passages if "Indiana" in p.text]
    assert [p.text for p in table] == ["States with the lowest average credit per recipient: " + " ".join(rows)]
    assert {p.section for p in passages} == {"Credits by State"} and {p.kind for p in passages[1:]} == {"body"}


def test_a_title_with_a_bar_is_still_a_heading() -> None:
    # "Title | Site" is how web pages name themselves: one such line, no figure in it, is no table
    title = "Relations with the Basin States | River Authority News"
    passages = _split_text(f"Water Rights\n\n{_PARAGRAPH}\n\n{title}\n\n{_PARAGRAPH} Last.\n")
    assert passages[-1].section == title and any(p.kind == "heading" and p.text == title for p in passages)


@pytest.mark.parametrize("lead_in", [
    "In its May 2022 update, the Commandant directed the Marines to",
    "Addressing readiness improvements, the agency's leadership remarked that",
])
def test_a_sentence_cut_off_at_a_paragraph_end_is_no_heading_and_goes_on(lead_in: str) -> None:
    rest = "[r]eview and validate all assumptions regarding programmed or potential future capabilities."
    passages = _split_text(f"Program Status\n\n{_PARAGRAPH}\n\n{lead_in}\n\n{rest}\n\n{_PARAGRAPH} Last.\n")
    assert [p.text for p in passages if lead_in in p.text] == [f"{lead_in} {rest}"]
    assert {p.section for p in passages} == {"Program Status"} and "heading" not in {p.kind for p in passages[1:]}


_LEAD_IN = "Asked about the pause, an agency spokesman stated the following:"
_QUOTE = ("We are assessing several competing designs and will choose the one that gives soldiers the most "
          "protection for the money, after testing each of them in the field.")


def test_a_lead_in_and_the_quotation_it_introduces_are_one_passage() -> None:
    passages = _split_text(f"Program Status\n\n{_PARAGRAPH}\n\n{_LEAD_IN}\n\n{_QUOTE}\n\n{_PARAGRAPH} Last.\n")
    joined = [p for p in passages if _LEAD_IN in p.text]
    assert len(joined) == 1 and joined[0].text == f"{_LEAD_IN} {_QUOTE}"  # who said it travels with the quote
    assert joined[0].section == "Program Status" and joined[0].kind == "body"
    assert [p.text for p in passages if p.text.startswith("We are assessing")] == []


def test_a_lead_in_joins_the_next_page_with_its_page_break_kept() -> None:
    pages = [Page(index=0, text=f"Program Status\n\n{_PARAGRAPH}\n\n{_LEAD_IN}\n", label="4"),
             Page(index=1, text=f"{_QUOTE}\n\n{_PARAGRAPH} Last.\n", label="5")]
    result = split_document(Record(doc_id="t", title="A report"), pages)
    joined = next(p for p in result.passages if _LEAD_IN in p.text)
    assert joined.text == f"{_LEAD_IN} {_QUOTE}" and result.text[joined.start:joined.end] == joined.text
    assert joined.page == 4 and joined.page_end == 5
    assert joined.page_at(joined.text.index("We are")) == "5"  # the quotation is cited on its own page


@pytest.mark.parametrize("after", [
    "Next Steps\n\nThe agency will report again in June on the tests of the prototypes and their costs.",  # a heading
    " ".join([_QUOTE] * 20),  # the two would not fit in one passage
])
def test_a_lead_in_stays_apart_from_what_it_cannot_join(after: str) -> None:
    passages = _split_text(f"Program Status\n\n{_PARAGRAPH}\n\n{_LEAD_IN}\n\n{after}\n\n{_PARAGRAPH} Last.\n")
    assert any(p.text == _LEAD_IN for p in passages)


def test_a_lead_in_does_not_swallow_a_numbered_paragraph() -> None:
    # A web edition's numbered paragraphs are cited by number: "para. 3" must stay its own passage.
    text = f"Program Status\n\n1{_PARAGRAPH}\n\n2{_LEAD_IN}\n\n3{_QUOTE}\n\n4{_PARAGRAPH} Last.\n"
    record = Record(doc_id="t", title="A report", numbered_paragraphs=True)
    passages = split_document(record, [Page(index=0, text=text)]).passages
    assert [(p.paragraph, p.text[:12]) for p in passages if p.paragraph in (2, 3)] == [
        (2, _LEAD_IN[:12]), (3, _QUOTE[:12])]


@pytest.mark.parametrize("heading", ["Keep calm and carry on", "Partners to reckon with"])
def test_a_heading_that_ends_on_a_particle_stays_a_heading(heading: str) -> None:
    passages = _split_text(f"Program Status\n\n{_PARAGRAPH}\n\n{heading}\n\n{_PARAGRAPH} Last.\n")
    assert passages[-1].section == heading


def test_a_footnote_at_the_foot_of_the_page_is_in_the_section_that_refers_to_it() -> None:
    # The notes follow the page's last paragraph, under the heading that came after the marker.
    note = "The agency's annual report to the committee, 2024, p. 12."
    text = (f"Water Rights\n\n{_PARAGRAPH[:-1]} of the basin.1\n\nDrought Aid\n\n{_PARAGRAPH} Again.\n\n"
            f"1 {note}\n")
    passages = _split_text(text)
    assert [(p.kind, p.section) for p in passages if p.text == note] == [("footnote", "Water Rights")]
    assert [p.section for p in passages if p.notes == ("1",) and p.kind == "body"] == ["Water Rights"]
    assert passages[-2].section == "Drought Aid" and passages[-2].text.endswith("Again.")


def test_a_table_too_long_for_one_passage_is_cut_between_rows() -> None:
    # A Word or Markdown table arrives as one paragraph, a line per row, with no blank line between rows.
    rows = [f"Reach {n} of the lower basin | {1900 + n} | {n * 37 % 100}.{n % 10}% of the compact's allocation"
            for n in range(1, 61)]
    passages = _split_text(f"Water Rights\n\n{_PARAGRAPH}\n\nStorage by reach:\n\nReach | Year | Share\n"
                           + "\n".join(rows) + f"\n\n{_PARAGRAPH} Last.\n")
    table = [p for p in passages if " | " in p.text]
    assert len(table) > 1 and all(len(p.text) <= MAX_PASSAGE for p in table)
    assert table[0].text.startswith("Storage by reach: Reach | Year | Share Reach 1 of the lower basin | 1901")
    assert all(p.text.startswith("Reach ") and p.text.endswith("allocation") for p in table[1:])
    assert " ".join(p.text for p in table).endswith(" ".join(rows))
    assert {p.kind for p in passages[1:]} == {"body"} and {p.section for p in passages} == {"Water Rights"}


@pytest.mark.parametrize("signature", [
    ["Best regards,", "Jane Roe", "Senior Editor"],  # a line to a paragraph, as a letter's HTML or Word copy has it
    ["Thanks,", "Jane Roe\nSenior Editor"],
    ["Jane Roe", "Senior Editor", "Tel. +1 555 0100"],
])
def test_a_sign_off_and_the_lines_under_it_are_no_headings(signature: list[str]) -> None:
    text = f"Water Rights\n\n{_PARAGRAPH}\n\n" + "\n\n".join(signature) + f"\n\n{_PARAGRAPH} Again.\n"
    passages = _split_text(text)
    assert [p.text for p in passages if p.kind == "heading"] == ["Water Rights"]
    assert {p.section for p in passages} == {"Water Rights"}


def test_a_forwarded_messages_header_lines_are_no_headings():
    """"Sent: Monday, April 13, 2026 9:12 AM", "To: Legal Desk" and "Subject: ..." in a forwarded e-mail's body
    were headings, and the message under them was cited under "Sent: Monday ... / To: Legal Desk / Subject: ..."."""
    body = ("Forwarded for the file.\n\n"
            "From: Jane Roe\n\nSent: Monday, April 13, 2026 9:12 AM\n\nTo: Legal Desk\n\nSubject: Hormuz fertilizer angle\n\n"
            "Insurers in London told us that war-risk premiums for bulk carriers bound for the Gulf had tripled since "
            "March, and that several fertilizer shippers had paused bookings until the strait reopened to traffic.\n")
    passages = split_document(Record(doc_id="m", title="m"), [Page(index=0, text=body)]).passages
    assert [p.kind for p in passages] == ["body"] * 6, [(p.kind, p.text[:30]) for p in passages]
    assert all(not p.section for p in passages), [p.section for p in passages]


def test_a_markdown_table_caption_is_a_caption_not_a_heading():
    """pandoc's "Table: Port fees by year" line was a heading, and the text after it was cited under it."""
    body = ("Port fees\n\nThe fees rose in every port of the Gulf over the last two years, as the table below shows "
            "for the three largest ones.\n\nCountry | 2025 | 2026\nOman | 10 | 12\nQatar | 7 | 9\n\n"
            "Table: Port fees by year, in dollars per ton\n\nThe rise was steepest where the insurers had raised "
            "their war-risk premiums, in Oman above all the others.\n")
    passages = split_document(Record(doc_id="m", title="m"), [Page(index=0, text=body)]).passages
    caption = next(p for p in passages if p.text.startswith("Table:"))
    assert caption.kind == "caption"
    assert passages[-1].kind == "body" and passages[-1].section == "Port fees"
