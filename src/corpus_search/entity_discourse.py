"""One sense per document: an organisation (or a product) the model tagged somewhere in a document is the
same one wherever else that document writes it, tagged or not.

The model tags a company it has not met by the words around each mention, so "Anthropic" comes out as
a person here, a nationality there and nothing in most sentences. The words that make a company a
company ("[American AI company] Anthropic", "Anthropic CEO Dario Amodei") decide its label for the
whole document, and its untagged mentions there are added. An appositive decides it too ("Gazprom, the
gas company", "Claude, the company's AI model": a product, not a person). General English, no list of names.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from corpus_search.entity_keys import RawMention, trim
from corpus_search import entity_rules
from corpus_search.entity_rules import FUNCTION, TITLES, Context
from corpus_search.models import Passage

# A name is a company's when a company-word stands right before it or a corporate title or legal form
# right after it.
_COMPANY_BEFORE = re.compile(r"\b(?:company|companies|firm|firms|startup|corporation|manufacturer|contractor|subsidiary|"
                             r"subsidiaries)[\s“\"‘'’:,]{1,3}$", re.I)
_COMPANY_AFTER = re.compile(r"^(?:[’']s)?,?\s+(?:CEO|chief executive|Inc\b|Corp\b|Corporation\b|LLC\b|Ltd\b|Limited\b|"
                            r"plc\b|PBC\b|L\.P\.|executives?\b|shareholders\b|subsidiar(?:y|ies)\b)")
# An appositive says what a name is: "TMC, a Canadian company, ...", "Gazprom, Russia's state-owned gas
# giant", "Claude, the company's generative AI model". The appositive runs to a comma, bracket or full
# stop, or to a word that starts a clause or a modifier; its last word is its head noun.
_APPOSITIVE = re.compile(r"^,\s+((?:a|an|the|its|their|[A-Z][\w-]*[’']s)\s+[^,.;:()\[\]]{0,60}?)"
                         r"(?=\s*[,.;:()\[\]]|\s+(?:that|which|who|whose|and|including|of|in|with|based|for)\b)")
_COMPANY_HEADS = frozenset("company firm corporation conglomerate consortium monopoly giant producer operator manufacturer "
                           "contractor startup subsidiary supplier carrier insurer lender bank".split())
_PRODUCT_HEADS = frozenset("model product software chatbot assistant platform app application tool system vehicle "
                           "aircraft drone missile vessel ship satellite".split())
# A quoted name the text calls a grouping of states or bodies: 'the “AUKUS” security partnership', 'the
# “Five Eyes” intelligence-sharing arrangement'. Such a name is an organisation throughout its document,
# written in capitals or not, tagged by the model or not.
_GROUPING = re.compile(r"[“\"]([A-Z][\w’'-]*(?: [A-Z][\w’'-]*){0,3}),?[”\"]\s+(?:[a-z][\w-]*\s+){0,2}"
                       r"(?:partnership|alliance|arrangement|grouping|pact|bloc|coalition|dialogue|forum|consortium)s?\b")
# One to three capitalised words with a lower-case letter ("Anthropic", "OpenAI", "Lockheed Martin"):
# all-capitals abbreviations are entity_abbreviations' to find.
_NAME = re.compile(r"[A-Z][\w’'-]*[a-z][\w’'-]*(?: [A-Z][\w’'-]*[a-z][\w’'-]*){0,2}")


def one_sense(passages: Sequence[Passage], raw: Sequence[RawMention], ctx: Context) -> list[RawMention]:
    """`raw` with each document's cued organisations labelled ORG throughout (cued products PRODUCT) and
    their untagged mentions added."""
    by_doc: dict[str, list[Passage]] = defaultdict(list)
    for p in passages:
        by_doc[p.doc_id].append(p)
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    labels: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for m in raw:
        spans[m.passage_id].append((m.start, m.end))
        lo, hi = trim(m.text)
        word = m.text[lo:hi]
        if _NAME.fullmatch(word):
            labels[(m.passage_id.rsplit(":", 1)[0], word)][m.label] += 1
    candidates: dict[str, set[str]] = defaultdict(set)
    for (doc_id, word), seen in labels.items():
        if seen.keys() & {"ORG", "PERSON", "NORP", "GPE"} and not _ordinary(word, ctx):
            candidates[doc_id].add(word)
    cues: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))  # doc -> name -> kind
    for doc_id, words in candidates.items():
        pattern = _alternation(words)  # one scan of the document for all its candidates
        for p in by_doc[doc_id]:
            for m in pattern.finditer(p.text):
                kind = _cued(p.text, m.start(1), m.end(1))
                if kind:
                    cues[doc_id][m.group(1)][kind] += 1
    # A legal form makes a company of the name before it too: "Lockheed Martin Corporation" -> "Lockheed Martin".
    for doc_id, words in candidates.items():
        for w in words:
            base = entity_rules.without_legal_form(w, ctx)
            if base != w:
                cues[doc_id][w]["ORG"] += 1
                cues[doc_id][base]["ORG"] += 1
    for doc_id, ps in by_doc.items():
        for p in ps:
            for m in _GROUPING.finditer(p.text):
                cues[doc_id][m.group(1)]["ORG"] += 1
                ctx.groupings.add(m.group(1).lower())
    # doc id -> name -> the label its cues agree on (a name cued both ways is left to the model)
    decided = {doc_id: {w: next(iter(c)) for w, c in names.items() if len(c) == 1} for doc_id, names in cues.items()}
    if not any(decided.values()):
        return list(raw)
    texts = {p.passage_id: p.text for p in passages}
    grown: dict[str, list[tuple[int, int]]] = defaultdict(list)  # passage id -> spans made whole below
    out = []
    for m in raw:
        lo, hi = trim(m.text)
        names = decided.get(m.passage_id.rsplit(":", 1)[0], {})
        label = names.get(m.text[lo:hi])
        if label is None and names:
            # The model cut the name ("Lockheed" of "Lockheed Martin holds"): the span becomes the whole name.
            rest = texts.get(m.passage_id, "")[m.start + lo:m.start + lo + 60]
            longer = [n for n in names if n.startswith(m.text[lo:hi] + " ") and rest.startswith(n)
                      and not re.match(r"[\w-]", rest[len(n):len(n) + 1])]
            if longer:
                name = max(longer, key=len)
                m = RawMention(m.passage_id, m.start + lo, m.start + lo + len(name), name, m.label)
                label = names[name]
                grown[m.passage_id].append((m.start, m.end))
        if label and m.label != label:
            m = RawMention(m.passage_id, m.start, m.end, m.text, label)
        out.append(m)
    # "Martin" of "Lockheed Martin", tagged apart, went into the whole name.
    out = [m for m in out if not any(s <= m.start and m.end <= e and (s, e) != (m.start, m.end)
                                     for s, e in grown.get(m.passage_id, ()))]
    for doc_id, names in decided.items():
        if not names:
            continue
        pattern = _alternation(set(names))
        for p in by_doc[doc_id]:
            for m in pattern.finditer(p.text):
                s, e = m.span(1)
                if not any(a < e and s < b for a, b in spans[p.passage_id]):
                    out.append(RawMention(p.passage_id, s, e, m.group(1), names[m.group(1)]))
    return out


def _alternation(words: set[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?![\w-])")


def _cued(text: str, start: int, end: int) -> str | None:
    """"ORG" where the words around a name make it a company, "PRODUCT" where an appositive makes it one."""
    if _COMPANY_BEFORE.search(text[max(0, start - 30):start]) or _COMPANY_AFTER.match(text[end:end + 30]):
        return "ORG"
    apposed = _APPOSITIVE.match(text[end:end + 80])
    if apposed:
        head = re.sub(r"[’']s$", "", apposed.group(1).split()[-1].lower())
        head = head[:-1] if head.endswith("s") and head[:-1] in _COMPANY_HEADS | _PRODUCT_HEADS else head
        if head in _COMPANY_HEADS:
            return "ORG"
        if head in _PRODUCT_HEADS:
            return "PRODUCT"
    return None


def _ordinary(name: str, ctx: Context) -> bool:
    """Words of the language or a title, never a company's name by themselves ("Apple" aside: the texts decide)."""
    return all(w.lower() in FUNCTION or w.lower() in TITLES or ctx.lexicon.generic(w) for w in name.split())
