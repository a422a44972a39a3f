"""Check a manuscript: find its quotations and verify each one against the corpus."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from corpus_search.errors import SourceError
from corpus_search.quote import QuoteReport, Semantic, verify
from corpus_search.store import Store

DRAFT_SUFFIXES = (".txt", ".md", ".markdown", ".docx")

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_BLOCK = re.compile(r"(?:^[ \t]{0,3}>[^\n]*(?:\n|$))+", re.MULTILINE)
# A quotation stays inside one paragraph: no blank line between its marks.
_DOUBLE = re.compile(r"\u201c((?:(?!\n\s*\n)[^\u201c\u201d])+)\u201d|\"((?:(?!\n\s*\n)[^\"])+)\"")
# A single curly quotation opens after a space or bracket and closes before a space or
# punctuation; an apostrophe (its twin, U+2019) sits between letters and is neither.
_SINGLE = re.compile(r"(?:(?<=^)|(?<=[\s(\[\u2014\u2013-]))\u2018((?:(?!\n\s*\n).)+?)\u2019(?![A-Za-z\u00c0-\u024f])",
                     re.DOTALL | re.MULTILINE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def extract_quotations(draft_text: str, min_words: int = 4) -> list[str]:
    """The quotations in a draft, in order of appearance, each once.

    Double quotation marks (straight or curly), single curly ones when they plainly open and
    close a quotation, and Markdown block quotes ("> ...").
    """
    text = _FENCE.sub(lambda m: " " * len(m.group()), draft_text)
    found: list[tuple[int, str]] = []
    for block in _BLOCK.finditer(text):
        lines = [re.sub(r"^[ \t]{0,3}>[ \t]?", "", line) for line in block.group().splitlines()]
        found.append((block.start(), " ".join(" ".join(lines).split())))
    # Inline quotations inside a block quote belong to it; blank the blocks out.
    text = _BLOCK.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    taken: list[tuple[int, int]] = []
    for m in _DOUBLE.finditer(text):
        found.append((m.start(), m.group(1) or m.group(2)))
        taken.append(m.span())
    for m in _SINGLE.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue  # a quotation within a quotation: the outer one is checked
        found.append((m.start(), m.group(1)))
    out: list[str] = []
    for _, quote in sorted(found):
        quote = " ".join(quote.split()).strip()
        if len(re.findall(r"\w+", quote)) >= min_words and quote not in out:
            out.append(quote)
    return out


def check_draft(store: Store, draft_text: str, semantic: Semantic | None = None) -> list[QuoteReport]:
    """A verification report for every quotation in the draft, in order."""
    return [verify(store, quote, semantic) for quote in extract_quotations(draft_text)]


def read_draft(path: Path) -> str:
    """The text of a .txt, .md or .docx draft."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DRAFT_SUFFIXES:
        raise SourceError(f"{path.name}: drafts must be {', '.join(DRAFT_SUFFIXES)}; save it as one of those")
    try:
        if suffix == ".docx":
            return _read_docx(path)
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    for encoding in ("utf-8-sig", "utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        return raw.decode("cp1252")  # Word's "plain text" export on Windows
    except UnicodeDecodeError:
        raise SourceError(f"{path.name} is not UTF-8 text; save it as UTF-8") from None


def _read_docx(path: Path) -> str:
    """Paragraph text of a Word file (the document body; no dependency beyond the standard library)."""
    try:
        with zipfile.ZipFile(path) as archive:
            xml = archive.read("word/document.xml")
        root = ElementTree.fromstring(xml)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise SourceError(f"{path.name} is not a readable .docx file ({exc}); re-save it from Word") from None
    paragraphs = []
    for para in root.iter(f"{_W}p"):
        parts = []
        for node in para.iter():
            if node.tag == f"{_W}t" and node.text:
                parts.append(node.text)
            elif node.tag == f"{_W}tab":
                parts.append("\t")
            elif node.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
        paragraphs.append("".join(parts))
    return "\n\n".join(paragraphs)


def render_check(reports: list[QuoteReport]) -> str:
    """A manuscript report: one block per quotation, then the counts."""
    from corpus_search.quote import render_report

    if not reports:
        return "No quotations of four or more words found in the draft."
    blocks = []
    for i, report in enumerate(reports, 1):
        blocks.append(f"{i}. \u201c{report.quote}\u201d\n" + render_report(report))
    counts = {v: sum(r.verdict == v for r in reports) for v in ("found", "altered", "paraphrase", "not found")}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    return "\n\n".join(blocks) + f"\n\n{len(reports)} quotations: {summary}"
