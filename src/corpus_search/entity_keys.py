"""What a mention is before it has a canonical name, and the key names are compared by.

`RawMention` is what the tagger (and the corpus's patterns) saw; `alias_key` folds a surface
form so "the U.S.", "US" and "United States'" meet; `trim` cuts a model span to the words that
name the thing; `is_junk` drops what names nothing in any corpus (pronouns, figure numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from corpus_search.textnorm import fold

DROPPED_LABELS = frozenset({"CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY", "DATE", "TIME"})
# Tie-break for the majority label, so the same mentions always give the same label.
LABEL_ORDER = ("PERSON", "ORG", "GPE", "LOC", "PROJECT", "NORP", "FAC", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART", "LANGUAGE")

_PRONOUNS = frozenset(
    "i me my mine we us our ours you your he him his she her hers it its they them their theirs "
    "this that these those who whom whose which what one ones".split()
)
# Page furniture and reference apparatus the model likes to call an ORG or a LAW.
_FURNITURE = re.compile(
    r"^(box|figure|fig|table|chart|map|graph|annex|appendix|chapter|section|part|note|notes|page|pages|p|pp|"
    r"para|paragraph|source|sources|vol|no)( [0-9ivxlc]+[a-z]?)?$"
)


@dataclass(frozen=True)
class RawMention:
    """What the tagger saw: a span of a passage and the model's label, before canonical names."""

    passage_id: str
    start: int
    end: int
    text: str
    label: str


# -- keys ---------------------------------------------------------------------------
# British and American spellings of the words institutions are named with, so "Centre for
# ..." and "Center for ..." (or "Organisation"/"Organization") are one name.
_SPELLINGS = (
    (re.compile(r"\b(cent|theat|met|fib)re(s?)\b"), r"\1er\2"),
    (re.compile(r"\b(\w{3,})isation(s?)\b"), r"\1ization\2"),
    (re.compile(r"\b(defen|licen|offen)ce\b"), r"\1se"),
    (re.compile(r"\bprogramme(s?)\b"), r"program\1"),
    (re.compile(r"\b(lab|harb|hon|fav|col|behavi|neighb)our(s?)\b"), r"\1or\2"),
)


@lru_cache(maxsize=1 << 16)  # called for every mention and alias, on a few thousand distinct strings
def alias_key(text: str) -> str:
    """The form names are compared in: "the U.S.", "US", "United States'" fold alike."""
    key = fold(text)  # case, quotes (´ ’ -> '), dash variants, whitespace
    key = re.sub(r"(?<=\w)'s?$", "", key)  # possessive: russia's, states'
    key = key.replace("&", " and ").replace("-", " ")
    key = re.sub(r"[^\w\s]", "", key)  # "u.s." -> "us"; brackets and quotes go
    key = re.sub(r"\s+", " ", key).strip()
    for pattern, american in _SPELLINGS:
        key = pattern.sub(american, key)
    key = re.sub(r"^the ", "", key)
    # Word-order variants of government bodies: "State Department" = "Department of State",
    # "Defence Ministry" = "Ministry of Defence"; "United States Navy" = "U.S. Navy".
    key = re.sub(r"^(\w+) (department|ministry)$", r"\2 of \1", key)
    key = re.sub(r"^(department|ministry) of the (\w+)$", r"\1 of \2", key)
    return re.sub(r"^united states (?=\w)", "us ", key)


def clean_name(text: str) -> str:
    """A display name from a surface form: spaces collapsed, a leading 'the' dropped."""
    name = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"^[Tt]he ", "", name)


_PUBLICATION_AFTER = re.compile(
    r"(?<=[A-Z]{2})\s+(?:Reports?|In Focus|Insights?|Legal Sidebars?|Infographics?|Videos?|Products?|"
    r"Briefs?|Testimony|Working Papers?)(?:\s+[A-Z]{0,4}-?\d[\w-]*)?(?:,.*)?$", re.S)


@lru_cache(maxsize=1 << 16)  # every raw mention is trimmed more than once, on a few thousand distinct strings
def trim(text: str) -> tuple[int, int]:
    """The part of a model span that names the thing: no 'the', possessive, quotes or glued note marks."""
    lo, hi = 0, len(text)
    while True:
        before = (lo, hi)
        # An editor's insertion is no part of the name: "[American AI company] Anthropic", "Russia [sic]".
        m = re.match(r".*\]\s*", text[lo:hi], re.S)
        if m and m.end() < hi - lo:
            lo += m.end()
        if "[" in text[lo + 1:hi]:
            hi = text.index("[", lo + 1, hi)
        # "Shanghai Cooperation Organisation (SCO": the short form is a mention of its own.
        m = re.search(r"\s*\([^)]*\)?$", text[lo:hi])
        if m and m.start() > 0:
            hi = lo + m.start()
        # "CRS Report(s)", "CRS In Focus IF12345", "GAO Testimony GAO-24-1": the abbreviation names the
        # publisher, the rest is a document
        m = _PUBLICATION_AFTER.search(text[lo:hi])
        if m:
            hi = lo + m.start()
        # possessive, a cited year ("Larin 2015"), a glued note mark ("coast7"), trailing punctuation
        m = re.search(r"(?:['’´]s?|\s+(?:19|20)\d\d[a-z]?|(?<=[a-z.,;:’'])\d{1,3}|[\s\W_]+)$", text[lo:hi])
        if m and m.start() > 0:
            hi = lo + m.start()
        m = re.match(r"(?:[\s\W_]+|[Tt]he\s+)", text[lo:hi])
        if m and m.end() < hi - lo:
            lo += m.end()
        if (lo, hi) == before:
            return lo, hi


def is_junk(key: str, text: str) -> bool:
    if not re.search(r"[^\W\d_]", key) or len(key.replace(" ", "")) < 2:
        return True  # lone numbers, single characters, punctuation
    if key in _PRONOUNS or _FURNITURE.match(key):
        return True
    # Proper names are capitalised; lower-case spans are fragments ("sia" from "A-\nsia").
    return not any(c.isupper() for c in text)
