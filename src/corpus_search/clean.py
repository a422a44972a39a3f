"""Clean extracted page text: unicode, hyphenated line ends, footnote markers, furniture.

Everything here works line by line on one document and never raises on odd input.
Footnote markers lifted out of the body are not deleted outright: they are replaced
by a sentinel (private-use characters, which `normalize` has already stripped from
the source, so they cannot collide) that `passages` turns into `note_marks` once
the final offsets are known. Page breaks inside a paragraph travel the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

# Sentinels: "\ue000" + note number + "\ue001" marks a lifted footnote marker,
# "\ue002" + page label + "\ue003" marks where a new page begins inside a paragraph.
NOTE_OPEN, NOTE_CLOSE = "\ue000", "\ue001"
PAGE_OPEN, PAGE_CLOSE = "\ue002", "\ue003"
SENTINEL = re.compile("\ue000([^\ue001]*)\ue001|\ue002([^\ue003]*)\ue003")

# NFKC would change these printed characters in ways a reader would notice or a
# quotation would not survive: U+2011 becomes U+2010, "…" becomes "...", and the
# spacing accent "´" becomes a space plus a combining accent.
_KEEP = frozenset("\u2011\u2026\u00b4\u00a8\u00af\u02d8\u02d9\u02da\u02db\u02dc\u02dd")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def _keep_char(ch: str) -> bool:
    cat = unicodedata.category(ch)
    if ch == "\n":
        return True
    if cat == "Cc" or cat == "Co" or cat == "Cs":  # controls, private use, lone surrogates
        return False
    # BOM, zero-width space, soft hyphen: invisible in print. Bidi embeddings, overrides and
    # isolates (U+202A-202E, U+2066-2069) would make a passage display in another order
    # than its text reads, so a quotation could look unlike what it matches.
    return ch not in "\ufeff\u200b\u00ad\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def normalize(text: str) -> str:
    """NFKC (ligatures, full-width forms) except for characters printed as they are; no controls."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\t", " ")
    out: list[str] = []
    for ch in text:
        if not _keep_char(ch):
            continue
        if ch in _KEEP or ch.isascii():
            out.append(ch)
            continue
        mapped = unicodedata.normalize("NFKC", ch)
        # A mapping that starts with a space or a combining mark would glue an accent to
        # the wrong letter; keep the printed character instead.
        if mapped and (mapped[0] == " " and ch not in " \u00a0" or unicodedata.combining(mapped[0])):
            mapped = ch
        out.append(mapped)
    return "".join(out)


def squeeze_spaces(line: str) -> str:
    """One line with runs of spaces collapsed and ends trimmed."""
    return _SPACES.sub(" ", line).strip()


# --- hyphenated line ends -------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+(?:[-\u2010\u2011][^\W\d_]+)*")
_HYPHENS = "-\u2010\u2011"
# Word endings that are never words on their own: "-tion", "-ing" after a break mean
# the word was split by the typesetter, not written with a hyphen.
_SUFFIXES = (
    "tion", "tions", "sion", "sions", "ment", "ments", "ness", "ity", "ities", "ing", "ings",
    "ly", "ed", "er", "ers", "est", "ance", "ances", "ence", "ences", "ial", "ially", "ical",
    "ically", "ous", "ive", "ives", "ism", "isms", "ist", "ists", "ise", "ised", "ize", "ized",
    "ate", "ated", "ates", "able", "ible", "al", "ary", "ory", "ure", "ures", "ant", "ants",
    "ent", "ents", "ship", "ships", "cy", "ic", "ics", "ia", "na", "sia", "tic", "tial",
)
# Prefixes English keeps with a hyphen in compounds ("non-interference", "post-Soviet").
_KEEP_PREFIXES = frozenset(
    "non self post pre anti ex co cross well multi inter intra pro semi quasi sub neo geo "
    "mid counter half all full long short high low".split()
)


class HyphenJudge:
    """Decides whether "left-" at a line end and "right" on the next line are one word."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.words: Counter[str] = Counter()  # whole words and the parts of compounds
        self.compounds: Counter[str] = Counter()  # "sino-russian"
        self.prefixes: Counter[str] = Counter()  # "sino" from "Sino-Russian"
        broken = False
        for line in lines:
            body = line.strip()
            if broken:  # the second half of a broken word is no evidence either
                body = body.split(" ", 1)[1] if " " in body else ""
            broken = body.endswith(tuple(_HYPHENS))
            if broken:
                body = body[:-1].rsplit(" ", 1)[0] if " " in body else ""  # the broken word is no evidence
            for match in _WORD.finditer(body):
                token = match.group(0).lower()
                parts = re.split(f"[{_HYPHENS}]", token)
                if len(parts) > 1:
                    self.compounds[token.replace("\u2011", "-").replace("\u2010", "-")] += 1
                    for part in parts[:-1]:
                        self.prefixes[part] += 1
                for part in parts:
                    self.words[part] += 1

    def join(self, left: str, right: str) -> bool:
        """True: drop the hyphen ("Chi-na" -> "China"); False: keep it ("Sino-friendly")."""
        if not left or not right or not left[-1].isalpha():
            return False
        if not right[0].isalpha():
            return False
        if right[0].isupper():  # "Soviet-Chinese", "US-China": a second capital is a compound
            return False
        if len(left) >= 2 and left.isupper():  # "JCPOA-prohibited": an abbreviation keeps its hyphen
            return False
        joined = (left + right).lower()
        compound = f"{left}-{right}".lower()
        seen_joined, seen_compound = self.words[joined], self.compounds[compound]
        if seen_joined or seen_compound:
            return seen_joined >= seen_compound
        lo_left, lo_right = left.lower(), right.lower()
        if (lo_left in _KEEP_PREFIXES or self.prefixes[lo_left]) and self.words[lo_right]:
            return False  # "Sino-" is a prefix this document uses, "friendly" a word it uses
        if lo_right in _SUFFIXES or len(lo_right) <= 2:
            return True
        if self.words[lo_left] and self.words[lo_right] and len(lo_left) >= 3 and len(lo_right) >= 4:
            return False  # two words the document uses on their own: "high-level"
        return True  # a typesetter's break is by far the commoner case


def split_fragment(prev: str, nxt: str) -> tuple[str, str] | None:
    """The word pieces around a line-end hyphen, or None when the line does not end in one."""
    if len(prev) < 2 or prev[-1] not in _HYPHENS or not prev[-2].isalpha():
        return None
    m_left = re.search(r"[^\W\d_]+$", prev[:-1])
    m_right = re.match(r"[^\W\d_]+", nxt)
    if not m_left or not m_right:
        return None
    return m_left.group(0), m_right.group(0)


# --- footnote markers ------------------------------------------------------------------

# A marker is 1-3 digits, bare or in square brackets, glued to a word ("Union4", "debt[4]")
# or to punctuation that follows a word ("Pakistan.1", "are’.13", "debt.[4]"), followed by
# a space, punctuation or the line end. A digit before it ("$1.3", "22.8") means it is part
# of a number.
_MARKER = re.compile(
    r"(?:(?<=[^\W\d_])|(?<=[^\d\s][.,;:!?\u2019\u201d\"')\]]))(?:\[(\d{1,3})\]|(\d{1,3}))(?=[\s,.;:)]|$)"
)

# After a number that ends a sentence ("had not departed as of April 1.38 A prolonged closure"): two or
# three digits glued to the full stop, a capital after them, and (as every marker) the next note's
# number. "22.8 percent", "$1.3 billion" go on in small letters and stay numbers.
_MARKER_AFTER_NUMBER = re.compile(r"(?<=\d\.)([1-9]\d{1,2})(?=\s+[A-Z\u201c\u2018\"(])")

# A single letter before the digits, alone as a word: "Q1 of 2025" (then "Q2", "Q3"... follow the note
# order), "G7", "H2 2026". A note is glued to a word, not to one letter.
_CODE = re.compile(r"(?<![\w.'’-])[^\W\d_]$")


class MarkerTracker:
    """Finds glued footnote markers that continue the document's note numbering."""

    def __init__(self, max_gap: int = 2) -> None:
        self.last = 0
        self.max_gap = max_gap
        self.seen: list[str] = []

    def lift(self, line: str) -> tuple[str, int]:
        """The line with markers replaced by sentinels, and how many were lifted."""
        out: list[str] = []
        pos = 0
        count = 0
        found = sorted([*_MARKER.finditer(line), *_MARKER_AFTER_NUMBER.finditer(line)], key=lambda m: m.start())
        for match in found:
            if match.start() < pos:
                continue
            number = int(next(g for g in match.groups() if g))
            if not self.last < number <= self.last + self.max_gap:
                continue  # "G20", "2014": not the next note, so part of the text
            if _CODE.search(line, 0, match.start()):
                continue  # "Q1", "G7", "H2": a letter and a number are one code, even in note order
            out.append(line[pos : match.start()])
            out.append(f"{NOTE_OPEN}{number}{NOTE_CLOSE}")
            pos = match.end()
            self.last = number
            self.seen.append(str(number))
            count += 1
        out.append(line[pos:])
        return "".join(out), count


# Footnote lines: "1. Feng Zhongping ..." (Chaillot), "1 United Nations ..." (CRS PDF),
# "[1] Feng Zhongping ..." (a text export that brackets its note numbers), and
# "• 5 “More than ...” (...)" (web edition bullet). A bracket is taken only as a pair.
FOOTNOTE_START = re.compile(
    r"^(?:\[(?=\d{1,3}\]))?(\d{1,3})(?:\](?:(?<=\[\d\])|(?<=\[\d\d\])|(?<=\[\d\d\d\]))\s*|\.\s*(?!\d)|\s+)(?=\S)"
)
BULLET_NOTE = re.compile(r"^[•\u2022\u25cf\u25aa*]\s*(\d{1,3})\s+(?=\S)")

# --- page furniture --------------------------------------------------------------------

_URL_LINE = re.compile(r"^(https?://|www\.)\S+(\s*\|.*)?$", re.I)
_PAGE_NO = re.compile(r"^(page\s+)?\d{1,4}(\s*(of|/)\s*\d{1,4})?$|^[ivxlc]{1,6}$|^[-–]\s*\d{1,4}\s*[-–]$", re.I)


def furniture_key(line: str) -> str:
    """A line with its digits masked and spaces squeezed, so "Page 3" and "Page  4" count as the same
    furniture; a number at either end goes, so a footer with and without its page number match."""
    key = re.sub(r"\s+", " ", re.sub(r"\d+", "#", line.strip().lower()))
    return re.sub(r"^(?:# )+|(?: #)+$", "", key)


def is_running(line: str, edges: set[str]) -> bool:
    """A running head or footer found by `repeated_edges`, alone or with a code after it on the same line."""
    key = furniture_key(line)
    return key in edges or any(key.startswith(e + " ") and "#" in key[len(e):] for e in edges)


def is_furniture(line: str) -> bool:
    """Lines that are layout, never text: URL-only lines and page numbers (running heads and footers
    are found by repetition, `repeated_edges`, never by a publisher's wording)."""
    s = line.strip()
    return bool(_URL_LINE.match(s) or _PAGE_NO.match(s))


def repeated_edges(pages: list[list[str]], depth: int = 3) -> set[str]:
    """Keys of lines seen at the top or bottom of many pages: running heads and footers."""
    if len(pages) < 2:  # a two-page report's footer repeats too
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        body = [ln for ln in lines if ln.strip()]
        edge = {furniture_key(ln) for ln in body[:depth] + body[-depth:]}
        counts.update(k for k in edge if len(k) >= 4)
    need = max(2, len(pages) // 3)
    return {key for key, n in counts.items() if n >= need}
