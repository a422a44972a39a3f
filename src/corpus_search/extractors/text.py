"""Plain text and Markdown: the encoding found (BOMs, UTF-8, cp1252), binary files refused, and the pages
the file marks (form feeds, or the record's page convention)."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from corpus_search.extraction import Extraction, failed
from corpus_search.extractors.common import with_printed_date
from corpus_search.models import STATUS_EMPTY, STATUS_OK, Page, Record

# Longest BOM first: the UTF-32 LE BOM begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Files that are plainly not text, whatever their name says.
_MAGIC = (
    (b"%PDF-", "a PDF; rename it .pdf"),
    (b"PK\x03\x04", "a zip archive (docx/epub?)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"\x7fELF", "a program"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


def extract(path: Path, record: Record, isolated: bool = False) -> Extraction:
    raw = path.read_bytes()
    if not raw:
        return failed("the file is empty (0 bytes)", STATUS_EMPTY)
    decoded = _decode(raw)
    if isinstance(decoded, Extraction):
        return decoded
    text, encoding, note = decoded
    text = text.replace("\x00", "")
    if not text.strip():
        return Extraction(pages=[], status=STATUS_EMPTY, message="the file holds only whitespace", encoding=encoding)
    texts, paged = _split_pages(text, record.page_starts)
    pages = [
        Page(index=i, text=t, label=str(i + 1 + (record.page_offset or 0)) if paged else None) for i, t in enumerate(texts)
    ]
    return Extraction(pages=pages, status=STATUS_OK, message=note, encoding=encoding,
                      found=with_printed_date({}, pages[0].text))


def _decode(raw: bytes) -> tuple[str, str, str] | Extraction:
    """(text, encoding, note) or a failed Extraction for files that are not text."""
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(codec)
                note = ""
            except UnicodeDecodeError:
                text = raw.decode(codec, errors="replace")
                note = f"has a {codec} byte-order mark but broken bytes; replaced them with U+FFFD"
            name = codec if codec == "utf-8-sig" else codec + _bom_order(bom)
            return _check_text(text, name, note)
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            return failed(f"not a text file: it looks like {what}")
    head = raw[:65536]
    # UTF-16 without a BOM and most binaries are full of NULs; a stray NUL in a text export is not.
    if head.count(0) > len(head) // 10:
        return failed("not a text file: it holds many NUL bytes (if it is UTF-16, save it with a byte-order mark)")
    try:
        return _check_text(raw.decode("utf-8"), "utf-8", "")
    except UnicodeDecodeError:
        pass
    try:
        text, encoding = raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "latin-1"
    return _check_text(text, encoding, f"not valid UTF-8; decoded as {encoding}")


def _bom_order(bom: bytes) -> str:
    return "-le" if bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE) else "-be"


def _check_text(text: str, encoding: str, note: str) -> tuple[str, str, str] | Extraction:
    # Binary junk decodes "successfully" as cp1252/latin-1; control characters give it away.
    sample = text[:200_000]
    controls = sum(
        1 for c in sample if (c < " " and c not in _ALLOWED_CONTROLS) or "\x7f" <= c <= "\x9f" or c == "\ufffd"
    )
    if sample and controls > len(sample) * 0.05:
        return failed(f"not a text file: {controls / len(sample):.0%} of it is control characters or undecodable")
    return text, encoding, note


def _split_pages(text: str, convention: str | None) -> tuple[list[str], bool]:
    """The page texts, and whether the source marks pages at all (so labels mean something)."""
    if convention == "leading-space":
        return _split_leading_space(text), True
    if convention == "formfeed" or (convention is None and "\f" in text):
        parts = text.split("\f")
        # A form feed after the last page is a terminator, not the start of an empty page.
        if len(parts) > 1 and not parts[-1].strip():
            parts.pop()
        return parts, True
    return [text], False


def _split_leading_space(text: str) -> list[str]:
    """Every line that begins with exactly one space (even a line that is just " ") starts a page.

    The marker space stays in the text, so the pages joined give back the source.
    """
    pages: list[str] = []
    current: list[str] = []
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        if line.startswith(" ") and not line.startswith("  "):
            pages.append("".join(current))
            current = []
        current.append(line)
    pages.append("".join(current))
    if len(pages) > 1 and not pages[0].strip():
        pages.pop(0)  # nothing before the first marker
    if len(pages) > 1 and not pages[-1].strip():
        pages.pop()  # a lone marker at the very end opens no real page
    return pages

