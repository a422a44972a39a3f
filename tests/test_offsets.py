"""Every passage maps back to where its words stand in the raw source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from corpus_search.ingest import extract
from corpus_search.offsets import raw_offset, raw_text
from corpus_search.passages import split_document
from corpus_search.records import find_sources, load_record
from corpus_search.textnorm import fold

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
WORD = re.compile(r"[^\W\d_]+|\d+")


@pytest.mark.parametrize("path", find_sources(CORPUS), ids=lambda p: p.name)
def test_words_map_to_the_same_words_in_the_source(path):
    record = load_record(path, CORPUS)
    pages = extract(path, record).pages
    passages = split_document(record, pages).passages
    raw = raw_text(pages)
    assert all(p.raw_map for p in passages), "every passage is aligned"
    checked = wrong = 0
    for p in passages:
        for m in WORD.finditer(p.text):
            r = raw_offset(p, m.start())
            assert r is not None
            checked += 1
            word = fold(m.group())
            # A word joined across a line-end hyphen (or a lifted footnote) reads on after the break.
            if not re.sub(r"[\s\-\u00ad]", "", fold(raw[r : r + len(word) + 4])).startswith(word):
                wrong += 1
    assert checked > 500
    assert wrong <= checked * 0.001, f"{wrong} of {checked} words mapped elsewhere"


def test_text_sources_map_into_the_file_itself():
    path = CORPUS / "makocki-popescu-2016-chaillot.txt"
    record = load_record(path, CORPUS)
    pages = extract(path, record).pages
    raw = raw_text(pages)
    assert path.read_text(encoding="utf-8").startswith(raw)
    broken = raw.index("Chi-\nna")  # "China" broken over a line in the export
    for p in split_document(record, pages).passages:
        for m in re.finditer("China", p.text):
            if raw_offset(p, m.start()) == broken:
                return
    pytest.fail("no passage maps its 'China' to the 'Chi-\\nna' of the file")


def test_quotation_carries_its_position_in_the_file(corpus):
    report = corpus.quote("the relationship is not anything like the Soviet-Chinese brotherhood")
    match = report.matches[0]
    pos = match.selector["source_position"]
    text = (CORPUS / "makocki-popescu-2016-chaillot.txt").read_text(encoding="utf-8")
    # The file breaks the line inside "Soviet-\nChinese"; the words are the same.
    assert re.sub(r"\s", "", fold(text[pos["start"] : pos["end"]])) == re.sub(r"\s", "", fold(match.source_text))


def test_a_passage_that_opens_with_a_mark_maps_the_mark_too():
    """The alignment goes by words: a passage opening with a quotation mark, a bullet or an ellipsis (or the
    line "-----Original Message-----") had no position for what comes before its first word."""
    opening = 0
    for path in find_sources(CORPUS):
        record = load_record(path, CORPUS)
        pages = extract(path, record).pages
        raw = raw_text(pages)
        for p in split_document(record, pages).passages:
            if p.text and not WORD.match(p.text):
                opening += 1
                r = raw_offset(p, 0)
                assert r is not None and raw[r] == p.text[0], (path.name, p.text[:40])
    assert opening >= 5

