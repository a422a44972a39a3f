"""One sense per document: a one-word organisation the model tagged somewhere in a document is the same
organisation wherever else that document writes it, tagged or not.

The model tags a company it has not met by the words around each mention, so "Anthropic" comes out as
a person here, a nationality there and nothing in most sentences. The words that make a company a
company ("[American AI company] Anthropic", "Anthropic CEO Dario Amodei") decide its label for the
whole document, and its untagged mentions there are added. General English, no list of names.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from corpus_search.entity_keys import RawMention, trim
from corpus_search.entity_rules import FUNCTION, TITLES, Context
from corpus_search.models import Passage

# A name is a company's when a company-word stands right before it or a corporate title or legal form
# right after it.
_COMPANY_BEFORE = re.compile(r"\b(?:company|companies|firm|firms|startup|corporation|manufacturer|contractor)\W{0,3}$", re.I)
_COMPANY_AFTER = re.compile(r"^(?:[’']s)?\s+(?:CEO|chief executive|Inc\b|Corp\b|LLC\b|Ltd\b|plc\b|PBC\b|executives?\b)")
# One word with a lower-case letter ("Anthropic", "OpenAI"): all-capitals abbreviations are
# entity_abbreviations' to find.
_ONE_WORD = re.compile(r"[A-Z][\w’'-]*[a-z][\w’'-]*")


def one_sense(passages: Sequence[Passage], raw: Sequence[RawMention], ctx: Context) -> list[RawMention]:
    """`raw` with each document's cued organisations labelled ORG throughout and their untagged mentions added."""
    by_doc: dict[str, list[Passage]] = defaultdict(list)
    for p in passages:
        by_doc[p.doc_id].append(p)
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    labels: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for m in raw:
        spans[m.passage_id].append((m.start, m.end))
        lo, hi = trim(m.text)
        word = m.text[lo:hi]
        if _ONE_WORD.fullmatch(word):
            labels[(m.passage_id.rsplit(":", 1)[0], word)][m.label] += 1
    candidates: dict[str, set[str]] = defaultdict(set)
    for (doc_id, word), seen in labels.items():
        if seen.keys() & {"ORG", "PERSON", "NORP", "GPE"} and not _ordinary(word, ctx):
            candidates[doc_id].add(word)
    companies: dict[str, set[str]] = defaultdict(set)  # doc id -> one-word names cued as organisations
    for doc_id, words in candidates.items():
        pattern = _alternation(words)  # one scan of the document for all its candidates
        for p in by_doc[doc_id]:
            for m in pattern.finditer(p.text):
                if m.group(1) not in companies[doc_id] and _cued(p.text, m.start(1), m.end(1)):
                    companies[doc_id].add(m.group(1))
    if not any(companies.values()):
        return list(raw)
    out = []
    for m in raw:
        lo, hi = trim(m.text)
        if m.text[lo:hi] in companies.get(m.passage_id.rsplit(":", 1)[0], ()) and m.label != "ORG":
            m = RawMention(m.passage_id, m.start, m.end, m.text, "ORG")
        out.append(m)
    for doc_id, words in companies.items():
        if not words:
            continue
        pattern = _alternation(words)
        for p in by_doc[doc_id]:
            for m in pattern.finditer(p.text):
                s, e = m.span(1)
                if not any(a < e and s < b for a, b in spans[p.passage_id]):
                    out.append(RawMention(p.passage_id, s, e, m.group(1), "ORG"))
    return out


def _alternation(words: set[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?![\w-])")


def _cued(text: str, start: int, end: int) -> bool:
    return bool(_COMPANY_BEFORE.search(text[max(0, start - 30):start]) or _COMPANY_AFTER.match(text[end:end + 30]))


def _ordinary(word: str, ctx: Context) -> bool:
    """A word of the language or a title, never a company's name by itself ("Apple" aside: the texts decide)."""
    w = word.lower()
    return w in FUNCTION or w in TITLES or ctx.lexicon.generic(word)
