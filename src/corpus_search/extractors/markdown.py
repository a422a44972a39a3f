"""Markdown (.md, .markdown): read as the text a reader of the rendered page sees.

Decoding and pages are the plain-text reader's (text.py). Then the markup goes, line by line and
without a Markdown library: "#" heading markers and setext underlines (a heading becomes a block of its
own), emphasis, code fences and spans, links and images (their text stays, their address goes),
reference definitions, block-quote and bullet markers, thematic breaks, HTML tags and comments, and
backslash escapes. A table's rows become "cell | cell" lines, as an HTML or Word table's do, with its
delimiter row ("|---|:--:|") dropped. Front matter ("---" ... "---" at the top) is not text: its title,
author and date fill what the record leaves empty, as does the first "#" heading for the title.

What is quoted from a Markdown source is what its reader sees: "**Russia** said" is quoted as "Russia
said", and a link's address never reaches a passage, the keyword index or the model.

A change to what this module makes of a file raises its version in extractors/__init__.py
(_READER_VERSIONS), so the next build reads Markdown sources again, and only them.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from corpus_search.extraction import Extraction
from corpus_search.extractors import text as plain
from corpus_search.extractors.common import with_printed_date
from corpus_search.models import STATUS_EMPTY, Page, Record

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}>[ \t]?")
_ORDERED = re.compile(r"^[ \t]*\d{1,9}[.)][ \t]+")
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(?:\[[ xX]\][ \t]+)?")
_DELIMITER = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*$|^ {0,3}\|[ \t]*:?-+:?[ \t]*\|[ \t]*$")
_REFERENCE = re.compile(r"^ {0,3}\[(?!\^)[^\]]+\]:[ \t]*\S+")
_FOOTNOTE = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:[ \t]*")
_FRONT_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_CODE = re.compile(r"(`+)(.+?)\1", re.S)
_IMAGE = re.compile(r"!\[([^\[\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:[ \t]+(?:\"[^\"]*\"|'[^']*'))?[ \t]*\)")
_LINK = re.compile(r"\[([^\[\]]+)\]\((?:[^()\s]|\([^()]*\))*(?:[ \t]+(?:\"[^\"]*\"|'[^']*'))?[ \t]*\)")
_REF_LINK = re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]")
_FOOTNOTE_REF = re.compile(r"\[\^([^\[\]\s]+)\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+|[^@<>\s]+@[^@<>\s]+\.[^<>\s]+)>")
_BR = re.compile(r"<br\s*/?>", re.I)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
# Lenient: generated Markdown often closes with a space inside ("**Oversight. **Any"), or not at all.
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)\1", re.S)
_STRAY = re.compile(r"\*{2,}|(?<![\w])_{2,}|_{2,}(?![\w])")
_STRIKE = re.compile(r"~~(?=[^\s~])([^~]+?)(?<=\S)~~")
_EM_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])")
_EM_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])([^_]+?)(?<=[^\s_])_(?![\w_])")
_LINKED = "\ue005\\1\ue006"  # a link's text, its ends marked until the links beside it are seen
_HELD = re.compile("\ue000(\\d+)\ue001")
_MARKERS = re.compile("[\ue000-\ue006]")


def extract(path: Path, record: Record, isolated: bool = False) -> Extraction:
    read = plain.extract(path, record, isolated)
    if not read.pages:
        return read
    front, first = _front_matter(read.pages[0].text)
    title = _first_heading(first)
    found = {"title": _inline(title).strip()} if title and _inline(title).strip() else {}
    found.update(front)
    pages = [Page(index=p.index, text=render(first if n == 0 else p.text), label=p.label)
             for n, p in enumerate(read.pages)]
    if not any(p.text.strip() for p in pages):
        return Extraction(pages=[], status=STATUS_EMPTY, message="the file holds only Markdown markup",
                          encoding=read.encoding, found=found)
    return Extraction(pages=pages, status=read.status, message=read.message, encoding=read.encoding,
                      found=with_printed_date(found, pages[0].text))


def render(markdown: str) -> str:
    """The text a reader of the rendered Markdown sees, in blank-line-separated blocks."""
    out: list[str] = []
    rows: set[int] = set()  # indices in `out` of table rows
    para: list[str] = []  # the lines of the paragraph being read: emphasis and links may span them
    fence = ""

    def flush(block_ends: bool = True) -> None:
        if para:
            out.extend(_inline("\n".join(para)).split("\n"))
            if block_ends:
                out.append("")
            para.clear()

    # The private-use characters this module marks text with are never the source's own.
    markdown = _MARKERS.sub("", markdown)
    lines = [line.rstrip() for line in _without_comments(markdown).split("\n")]
    for i, line in enumerate(lines):
        after = lines[i + 1] if i + 1 < len(lines) else ""
        if fence:
            if line.lstrip(" ").startswith(fence):
                fence = ""
                out.append("")
            else:
                out.append(line)
            continue
        opened = _FENCE.match(line)
        if opened:
            flush()
            fence = opened.group(1)
            out.append("")
            continue
        while _QUOTE.match(line):
            line = _QUOTE.sub("", line, count=1)
        in_table = not para and bool(out) and len(out) - 1 in rows
        if _DELIMITER.match(line) and in_table:
            continue
        if "|" in line and (in_table or _DELIMITER.match(after)
                            or (line.lstrip().startswith("|") and after.lstrip().startswith("|"))):
            flush()
            if not in_table and out and out[-1].strip():
                out.append("")
            rows.add(len(out))
            out.append(_row(line))
            continue
        if in_table and line.strip():
            out.append("")  # a table ends at the first line without a bar
        heading = _atx(line)
        if heading is not None:
            flush()
            out += ["", _inline(heading[1]), ""]
            continue
        if _SETEXT.match(line) and para and not _BULLET.match(line + " "):
            # The paragraph above is a heading: one block of its own.
            title = _inline(" ".join(s.strip() for s in para))
            para.clear()
            out += ["", title, ""]
            continue
        if _BREAK.match(line) or not line.strip():
            flush()
            out.append("")
            continue
        if _REFERENCE.match(line):
            continue
        footnote = _FOOTNOTE.match(line)
        if footnote:
            flush()
            line = f"[{footnote.group(1)}] " + line[footnote.end():]
        if _BULLET.match(line) or _ORDERED.match(line):
            # A list item's emphasis and links end with it; the items stay lines of one block (as separate
            # blocks, a list of short items would read as a run of headings).
            flush(block_ends=False)
        para.append(_BULLET.sub(r"\1", line))
    flush()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n") + "\n"


def _without_comments(text: str) -> str:
    """The text without its HTML comments (an unclosed one runs to the end), in one pass."""
    parts, at = [], 0
    while (start := text.find("<!--", at)) >= 0:
        parts.append(text[at:start])
        end = text.find("-->", start + 4)
        at = len(text) if end < 0 else end + 3
    parts.append(text[at:])
    return "".join(parts)


def _row(line: str) -> str:
    """"| a | **b** |" -> "a | b" (an escaped "\\|" is a bar inside its cell)."""
    body = line.strip().replace("\\|", "\ue003")
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") else body
    return " | ".join(_inline(cell.replace("\ue003", "|")).strip() for cell in body.split("|"))


def _inline(text: str) -> str:
    held: list[str] = []

    def hold(value: str) -> str:
        held.append(value)
        return f"\ue000{len(held) - 1}\ue001"

    text = _CODE.sub(lambda m: hold(m.group(2).strip() or m.group(2)), text)
    text = _ESCAPE.sub(lambda m: hold(m.group(1)), text)
    text = _AUTOLINK.sub(lambda m: hold(m.group(1).removeprefix("mailto:")), text)
    text = _IMAGE.sub(_LINKED, text)
    for _ in range(2):  # a link inside an image's or another link's text
        text = _LINK.sub(_LINKED, text)
        text = _REF_LINK.sub(_LINKED, text)
    # Links side by side are a row of buttons ("[Citation](..)[Subscribe](..)"), and a link glued to a
    # capital ("[Listen](..)Iran") is a button before a title: a space between, not one made-up word.
    text = re.sub("\ue006\ue005", " ", text)
    text = re.sub("(?<=[a-z])\ue006(?=[A-Z])", " ", text)
    text = text.replace("\ue005", "").replace("\ue006", "")
    text = _FOOTNOTE_REF.sub(r"[\1]", text)
    text = _BR.sub(" ", text)
    text = _TAG.sub("", text)
    text = _close_and_reopen(text)
    for pattern in (_STRONG, _STRIKE):
        text = pattern.sub(lambda m: m.group(m.lastindex), text)
    text = _unpaired(_STRAY, text)
    text = _EM_STAR.sub(r"\1", text)
    text = _EM_UNDERSCORE.sub(r"\1", text)
    while _HELD.search(text):  # held text refers only to what was held before it (an autolink around code)
        text = _HELD.sub(lambda m: held[int(m.group(1))], text)
    return html.unescape(text)


def _atx(line: str) -> tuple[int, str] | None:
    """(level, text) of a "#" heading line ("## Force Structure ##" -> (2, "Force Structure")), else None."""
    body = line[len(line) - len(line.lstrip(" ")):] if len(line) - len(line.lstrip(" ")) <= 3 else ""
    level = len(body) - len(body.lstrip("#"))
    if not 1 <= level <= 6 or (len(body) > level and body[level] not in " \t"):
        return None
    text = body[level:].strip(" \t")
    closing = text.rstrip("#")
    if closing != text and (not closing or closing[-1] in " \t"):
        text = closing.rstrip(" \t")  # the optional closing "#"s
    return level, text


def _first_heading(text: str) -> str | None:
    """The first level-1 "#" heading outside code."""
    fence = ""
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence:
            fence = "" if line.lstrip(" ").startswith(fence) else fence
        elif opened:
            fence = opened.group(1)
        elif (heading := _atx(line)) is not None and heading[0] == 1 and heading[1]:
            return heading[1]
    return None


def _close_and_reopen(text: str) -> str:
    """"**t****e****xt box**" -> "**text box**": inside bold, "****" closes it and opens it again, and is
    nothing; outside, it pairs with nothing (left to _unpaired)."""
    parts = re.split(r"(\*{2,})", text)
    bold = False
    for i in range(1, len(parts), 2):
        if len(parts[i]) == 4 and bold:
            parts[i] = ""
        elif len(parts[i]) in (2, 3):
            bold = not bold
    return "".join(parts)


def _unpaired(pattern: re.Pattern, text: str) -> str:
    """Runs of "*" or "_" that pair with nothing ("of****strategic", "Fairfax,__container") gone, or a space
    where they stood between a word and what came before it."""
    return pattern.sub(lambda m: " " if 0 < m.start() and m.end() < len(text) and not text[m.start() - 1].isspace()
                       and text[m.end()].isalnum() else "", text)


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(record fields, the text after it) for a "---" block at the very top; ({}, text) otherwise."""
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text
    end = next((n for n in range(1, min(len(lines), 500)) if lines[n].strip() in ("---", "...")), None)
    if end is None:
        return {}, text
    fields: dict[str, list[str]] = {}
    key = None
    for line in lines[1:end]:
        pair = _FRONT_KEY.match(line)
        if pair:
            key, value = pair.group(1).lower(), pair.group(2).strip()
            fields[key] = [_unquote(v) for v in value.strip("[]").split(",")] if value.startswith("[") \
                else [_unquote(value)] if value else []
        elif key and line.strip().startswith("- "):  # a YAML list under the key
            fields[key].append(_unquote(line.strip()[2:]))
    found: dict[str, Any] = {}
    if fields.get("title"):
        found["title"] = fields["title"][0]
    authors = [n for n in fields.get("author") or fields.get("authors") or [] if n]
    if authors:
        found["authors"] = authors
    if fields.get("date"):
        from corpus_search.extractors.html import normalise_date

        found["date"] = normalise_date(fields["date"][0])
    return found, "\n".join(lines[end + 1:])


def _unquote(value: str) -> str:
    value = value.strip()
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value
