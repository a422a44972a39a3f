"""HTML pages: the main content as paragraphs, without navigation, scripts or styles; title, author, date.

Parsed with the standard library's tokenizer, which runs nothing, fetches nothing and expands only
HTML's own character references. A page is one page (a web page has none of its own); its
paragraphs are the block elements' text, separated by blank lines. Each block also knows the
outermost quoting element around it (`read_blocks`): a <blockquote>, or Gmail's <div class="gmail_quote">,
which the e-mail reader takes for the earlier message a reply quotes; a web page's text ignores it.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NamedTuple

from corpus_search.extraction import Extraction
from corpus_search.models import STATUS_EMPTY, STATUS_OK, Page, Record


# Never text: code, styling, embedded objects, and the page's furniture around the content.
_SKIP = frozenset("script style noscript template svg math iframe object embed canvas head nav header footer aside "
                  "form button select textarea dialog".split())
_SKIP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar"})
_MAIN = frozenset({"main", "article"})
_BLOCK = frozenset("p div section h1 h2 h3 h4 h5 h6 li ul ol dl dt dd tr table blockquote pre figure figcaption "
                   "address hr br caption summary details center".split()) | _MAIN
_CELL = frozenset({"td", "th"})
_VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
_AUTHOR_META = ("citation_author", "dc.creator", "author", "article:author", "byl")
_DATE_META = ("citation_publication_date", "citation_date", "dc.date", "dcterms.date", "article:published_time",
              "date", "pubdate")
_TITLE_META = ("citation_title", "dc.title", "og:title")
_QUOTING = frozenset({"blockquote", "div"})  # the elements a mail client wraps a quoted message in


class Quoting(NamedTuple):
    """The outermost quoting element around a block: its number in the page, and whether it says it holds
    a quoted message (<blockquote type="cite">, class gmail_quote) rather than only being a blockquote."""

    number: int
    cited: bool


class Block(NamedTuple):
    text: str
    quoting: Quoting | None


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip: list[str] = []  # open elements whose content is dropped
        self.main = 0  # depth inside <main>/<article>
        self.blocks: list[tuple[str, bool, Quoting | None]] = []  # (text, inside main, quoting element)
        self.open: dict[str, int] = {}  # how many <div>s and <blockquote>s are open
        self.quoting: tuple[str, int, Quoting] | None = None  # the outermost quoting element: tag, its depth
        self.quotings = 0
        self.parts: list[str] = []
        self.title: list[str] = []
        self.in_title = False
        self.h1: str | None = None
        self.in_h1 = False
        self.meta: dict[str, list[str]] = {}
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "meta":
            key = (a.get("name") or a.get("property") or "").lower()
            if key and a.get("content"):
                self.meta.setdefault(key, []).append(a["content"])
            return
        if tag == "link" and "canonical" in a.get("rel", "").lower().split():
            self.canonical = a.get("href") or None
        if tag == "title":
            self.in_title = True
        if tag == "body":
            self.skip.clear()  # a <head> left open (its end tag is optional) must not swallow the page
        if tag in _VOID:
            if tag in ("br", "hr"):
                self._flush()
            return
        if self.skip or tag in _SKIP or a.get("role", "").lower() in _SKIP_ROLES or "hidden" in a \
                or a.get("aria-hidden", "").lower() == "true":
            self.skip.append(tag)
            return
        if tag in _MAIN or a.get("role", "").lower() == "main":
            self._flush()
            self.main += 1
        elif tag in _BLOCK:
            self._flush()
        elif tag in _CELL and self.parts:
            self.parts.append(" | ")
        if tag == "h1" and self.h1 is None:
            self.in_h1 = True
        if tag in _QUOTING:
            self.open[tag] = self.open.get(tag, 0) + 1
            cited = a.get("type", "").lower() == "cite" or any(c.startswith("gmail_quote") for c in a.get("class", "").split())
            if self.quoting is None and (tag == "blockquote" or cited):
                self.quotings += 1
                self.quoting = (tag, self.open[tag], Quoting(self.quotings, cited))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if self.skip:
            # Close the innermost dropped element of this name (HTML leaves many end tags out).
            if tag in self.skip:
                while self.skip and self.skip.pop() != tag:
                    pass
            return
        if tag in _BLOCK or tag in _MAIN:
            if tag == "h1" and self.in_h1:
                self.in_h1 = False
                self.h1 = " ".join("".join(self.parts).split()) or None
            self._flush()
            if tag in _MAIN and self.main:
                self.main -= 1
        if tag in _QUOTING and self.open.get(tag):
            if self.quoting is not None and self.quoting[0] == tag and self.open[tag] == self.quoting[1]:
                self.quoting = None
            self.open[tag] -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
            return
        if not self.skip:
            self.parts.append(data)

    def _flush(self) -> None:
        text = " ".join("".join(self.parts).split())
        self.parts = []
        if text:
            self.blocks.append((text, self.main > 0, self.quoting[2] if self.quoting else None))

    def close(self) -> None:
        super().close()
        self._flush()


def read_html(markup: str) -> tuple[str, dict[str, Any]]:
    """(the main text as blank-line paragraphs, the record fields the page states)."""
    blocks, found = read_blocks(markup)
    return "\n\n".join(b.text for b in blocks), found


def read_blocks(markup: str) -> tuple[list[Block], dict[str, Any]]:
    """(the main text's paragraphs, each with the quoting element it is in, the record fields the page states)."""
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    inside = [Block(t, q) for t, in_main, q in reader.blocks if in_main]
    # A page that marks its main content is read from there only; otherwise all but the furniture.
    if sum(len(b.text) for b in inside) >= 200 or (inside and len(inside) == len(reader.blocks)):
        return inside, _found(reader)
    return [Block(t, q) for t, _, q in reader.blocks], _found(reader)


def _found(reader: _Reader) -> dict[str, Any]:
    meta = reader.meta
    found: dict[str, Any] = {}
    title = next((meta[k][0] for k in _TITLE_META if k in meta), None) or " ".join("".join(reader.title).split()) \
        or reader.h1
    title, site = _site_off(title or "", next((meta[k][0] for k in _SITE_META if k in meta), ""), reader.h1)
    if title:
        found["title"] = title
    if site:
        found["publisher"] = site
    for key in _AUTHOR_META:
        names = [n for n in meta.get(key, []) if n.strip() and not n.lower().startswith(("http:", "https:"))]
        if names:
            found["authors"] = names
            break
    date = next((meta[k][0] for k in _DATE_META if k in meta), None)
    if date:
        found["date"] = normalise_date(date)
    if reader.canonical and reader.canonical.lower().startswith(("http:", "https:")):
        found["url"] = reader.canonical
    found["type"] = "webpage"
    return found


_SITE_META = ("og:site_name", "application-name", "citation_publisher", "dc.publisher")
_SITE_SEPARATOR = re.compile(r"\s+[|\u2013\u2014\u00b7-]\s+")


def _site_off(title: str, site: str, h1: str | None) -> tuple[str, str]:
    """(the page's title, the site's name): a <title> often ends in the site's name ("Shipping insurers
    balk | The Maritime Ledger"), which is no part of the article's title. Taken off where the page names
    its site (og:site_name) or where the title is the page's heading followed by a short name."""
    title, site = " ".join(title.split()), " ".join(site.split())
    last = None
    for last in _SITE_SEPARATOR.finditer(title):
        pass
    if last is not None:
        head, tail = title[: last.start()], title[last.end():]
        if site and tail.casefold() == site.casefold():
            return head, site
        if h1 and " ".join(h1.split()).casefold() == head.casefold() and len(tail.split()) <= 6:
            return head, site or tail
    return title, site


def normalise_date(value: str) -> str:
    """An ISO date ("2026-04-10") from an ISO timestamp; any other form as given."""
    value = value.strip()
    match = re.match(r"(\d{4}-\d{2}-\d{2})(?:[T ]|$)", value)
    return match.group(1) if match else value


# Python codecs a page may name that are no web charset (WHATWG Encoding lists none): they fail on any page
# ("undefined", "idna", "punycode"), rewrite its backslashes (the escape codecs), or, for a <meta> that was
# read as ASCII, cannot be what the page is in (UTF-16 and UTF-32 without a byte-order mark).
_NOT_CHARSETS = frozenset({"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "utf-7",
                           "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})


def decode_html(raw: bytes) -> str:
    """Bytes to text: a byte-order mark, else UTF-8, else the charset the page declares, else cp1252."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(codec, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", raw[:4096], re.I)
    if declared:
        try:
            codec = codecs.lookup(declared.group(1).decode("ascii"))
            if codec.name not in _NOT_CHARSETS:
                return raw.decode(codec.name, errors="replace")
        except (LookupError, UnicodeError):  # "undefined" and "idna" are codecs that refuse to decode a page
            pass
    return raw.decode("cp1252", errors="replace")


def extract(path: Path, record: Record, isolated: bool = False) -> Extraction:
    raw = path.read_bytes()
    text, found = read_html(decode_html(raw))
    if not text.strip():
        return Extraction(pages=[], status=STATUS_EMPTY, message="the page holds no text outside navigation and scripts",
                          found=found)
    return Extraction(pages=[Page(index=0, text=text)], status=STATUS_OK, message="", found=found)
