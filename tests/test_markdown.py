"""Markdown sources are read as their readers see them: the words pandoc renders, no markup, no addresses.

The real sources are the public-domain CRS reports' Markdown in shared/testdata (crawled pages, with
their generator's quirks: bold closed after a space, "****" inside bold, italics across lines).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import formats_fixtures as F  # noqa: E402

from corpus_search.extractors import markdown  # noqa: E402
from corpus_search.models import Record  # noqa: E402

REPORTS = sorted(F.MD.glob("*/*.md"))
needs_pandoc = pytest.mark.skipif(shutil.which("pandoc") is None or not REPORTS, reason="needs pandoc and the CRS Markdown")


def _letters(text: str) -> str:
    return "".join(re.findall(r"[^\W_]", text.casefold()))


@needs_pandoc
@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name[:12])
def test_a_real_report_gives_the_words_pandoc_renders(path):
    ours = markdown.render(path.read_text(encoding="utf-8"))
    theirs = subprocess.run(["pandoc", "-f", "gfm", "-t", "plain", "--wrap=none", str(path)], capture_output=True,
                            text=True, check=True, timeout=120).stdout
    # The same letters and digits in the same order; only spaces and punctuation may differ (a row of links
    # is spaced here, "Citation Subscribe", where pandoc glues it, "CitationSubscribe").
    assert _letters(ours) == _letters(theirs) and len(_letters(theirs)) > 5000
    assert "](" not in ours and "**" not in ours and not re.search(r"^#", ours, re.M)
    # A link's address is gone unless the report prints it as text too (its notes list addresses).
    hidden = {url for url in re.findall(r"\]\((https?://[^)\s]+)\)", path.read_text(encoding="utf-8")) if url not in theirs}
    assert len(hidden) >= 5 and not [url for url in hidden if url in ours]


@pytest.mark.parametrize("source, shown", [
    ("# Force Structure #\n\nText.", "Force Structure\n\nText.\n"),
    ("Force Structure\n---------------\nText.", "Force Structure\n\nText.\n"),
    ("Two lines\nof a heading\n===\n", "Two lines of a heading\n"),
    ("a **bold** and *em* and __strong__ and _em_ and ~~gone~~ `x * y` \\*kept\\*", "a bold and em and strong and em and gone x * y *kept*\n"),
    ("see [the report](https://e.org/a_(b) \"t\") and ![a map](m.png) and [ref][1]\n\n[1]: https://e.org",
     "see the report and a map and ref\n"),
    ("[Citation](https://a.org/c)[Subscribe](/s) > [Listen](https://b.org)Iran and [Gazprom](g)'s [map](m)s",
     "Citation Subscribe > Listen Iran and Gazprom's maps\n"),
    ("<https://e.org/x> and <!-- hidden\ncomment --> <b>shown</b> &amp; done", "https://e.org/x and  shown & done\n"),
    ("| Year | Tonnes |\n|---:|:---|\n| 2019 | 1,200 |\n| 2020 | 1,350 |\nAfter.", "Year | Tonnes\n2019 | 1,200\n2020 | 1,350\n\nAfter.\n"),
    ("Intro:\n| a | b \\| c |\n| --- | --- |\n| 1 | 2 |", "Intro:\n\na | b | c\n1 | 2\n"),
    ("```python\n# not a heading\n**kept**\n```\nafter", "# not a heading\n**kept**\n\nafter\n"),
    ("> quoted **words**\n> more", "quoted words\nmore\n"),
    ("- one *item\n- two* and *three*\n* four\n1. five", "one *item\ntwo* and three\nfour\n1. five\n"),
    ("**Author(s):** Kerr, Paul K.\n**Topics:** Defense", "Author(s): Kerr, Paul K.\nTopics: Defense\n"),  # one paragraph
    ("A claim.[^1]\n\n[^1]: The source.", "A claim.[1]\n\n[1] The source.\n"),
    ("bold **across\nlines** and _italics\nacross_", "bold across\nlines and italics\nacross\n"),
    ("(**t****e****xt box**) a triad of****strategic", "(text box) a triad of strategic\n"),
    ("***\n\nafter a break", "after a break\n"),
    ("a \ue0005\ue001 b `\ue0000\ue001` c", "a 5 b 0 c\n"),  # the characters it marks text with: not the source's
])
def test_markup_goes_and_the_words_stay(source, shown):
    assert markdown.render(source) == shown


def test_front_matter_and_the_first_heading_fill_the_record(tmp_path):
    note = tmp_path / "note.md"
    note.write_text('---\ntitle: "Gas for China"\nauthor:\n  - Ann Author\n  - Bo Writer\ndate: 2026-04-22T10:00:00Z\n---\n'
                    "# A heading\n\nText of the note.\n", encoding="utf-8")
    got = markdown.extract(note, Record(doc_id="n", title="n", guessed=True))
    assert got.found == {"title": "Gas for China", "authors": ["Ann Author", "Bo Writer"], "date": "2026-04-22"}
    assert got.pages[0].text == "A heading\n\nText of the note.\n"  # the front matter is no text
    bare = tmp_path / "bare.md"
    bare.write_text("```\n# a comment in code\n```\n\n# The *Real* Title\n\nText.\n", encoding="utf-8")
    assert markdown.extract(bare, Record(doc_id="b", title="b", guessed=True)).found == {"title": "The Real Title"}


def test_a_file_of_markup_alone_is_empty_and_a_binary_one_is_refused(tmp_path):
    (tmp_path / "rule.md").write_text("***\n\n<!-- nothing -->\n", encoding="utf-8")
    empty = markdown.extract(tmp_path / "rule.md", Record(doc_id="r", title="r"))
    assert (empty.status, empty.pages, empty.message) == ("empty", [], "the file holds only Markdown markup")
    (tmp_path / "zip.md").write_bytes(b"PK\x03\x04" + bytes(200))
    refused = markdown.extract(tmp_path / "zip.md", Record(doc_id="z", title="z"))
    assert refused.status == "failed" and "zip" in refused.message


def test_a_new_markdown_reader_reads_only_the_markdown_sources_again(tmp_path, monkeypatch):
    from corpus_search import extractors
    from corpus_search.api import Corpus, build

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "plain.txt").write_text("The Altai pipeline would carry gas from western Siberia to China.\n", encoding="utf-8")
    (corpus / "note.md").write_text("# Power of Siberia\n\nGazprom signed the **Power of Siberia** contract with "
                                    "[CNPC](https://www.cnpc.com.cn/) in May 2014.\n", encoding="utf-8")
    first = build(corpus, index)
    assert not any(s.reused for s in first.sources)
    c = Corpus.open(index)
    try:
        hits = c.search("Power of Siberia contract", mode="keyword").hits
        assert hits and hits[0].passage.text == "Gazprom signed the Power of Siberia contract with CNPC in May 2014."
        assert not c.search("cnpc.com.cn", mode="keyword").hits  # a link's address is not text
        assert {p.kind for p in c.passages() if p.doc_id == hits[0].passage.doc_id} == {"heading", "body"}
    finally:
        c.close()
    assert all(s.reused for s in build(corpus, index).sources)
    monkeypatch.setitem(extractors._READER_VERSIONS, "markdown", "test-next")
    again = {Path(s.path).suffix: s.reused for s in build(corpus, index).sources}
    assert again == {".txt": True, ".md": False}
    # An e-mail may attach a .md, read by the same reader: its key moves with it too.
    assert "markdown=test-next" in extractors.reader_version(".eml") and extractors.reader_version(".txt") == ""


@pytest.mark.parametrize("flood", ["~~a ", "[^", "![", "<", "<!--", "[", "`a", "# " + " " * 50, "``a`", "<a@"])
def test_a_flood_of_one_markup_opener_reads_in_linear_time(flood):
    """Each of these once scanned to the end of the paragraph from every opener: 200,000 characters took
    70-100 s. Now each is well under a second here; the bound only tells linear from quadratic."""
    import time

    text = flood * (200_000 // len(flood))
    started = time.process_time()
    markdown.render(text)
    assert time.process_time() - started < 15
