"""Court cases: "Mahmoud v. Taylor" names a case (LAW), not two people, and so does its short form.

Legal writing names a case by its parties joined by "v.", and after that by one party's name alone:
the first party's ("Dobbs"), or the other's when the first is a government ("Louisiana v. Callais"
is "Callais" afterwards, "United States v. Rahimi" is "Rahimi"). The model reads the parties as people
and bodies. This step runs before the noise rules:

- each "A v. B" span is one LAW mention, whatever the model tagged over it;
- a PERSON mention inside it goes (a person named in a case's name is there only as its label); a
  body stays tagged there, so a filter by "FEC" still finds the FEC's cases;
- a bare PERSON or ORG mention that is exactly the short form of a case its document cites becomes a
  LAW mention; entity_canonical then names it by that case. Never an abbreviation ("FEC" in "FEC v.
  Cruz" is the agency), nor a name its document also writes as part of a person's fuller name, after a
  title ("President Trump"), or with a company's legal form.

Only "v." with its dot counts: "vs." and a bare "v" are how ordinary prose compares things.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from corpus_search.entity_keys import RawMention, alias_key
from corpus_search.entity_rules import LEGAL_FORMS, TITLES
from corpus_search.models import Passage

_WORD = r"(?:[A-Z][\w.’'&-]*|\d+[A-Za-z][\w-]*)"  # "Taylor", "J.R.", "Women's", "3M"
# Words that join a party's capitalised words; "and" only where no new case follows ("Meyer v. Nebraska
# and Pierce v. Society of Sisters" is two cases; "President and Fellows of Harvard College" one party).
_JOIN = rf"(?:of|the|for|de|del|la|le|van|von|ex\s+rel\.|&|and(?!\s+(?:{_WORD}\s+){{1,4}}v\.\s))"
_LEGAL = rf"(?:,?\s+(?:{LEGAL_FORMS})(?![\w’'-]))"  # a whole word: not the "Co" of "Court"
_PARTY = rf"{_WORD}(?:\s+(?:{_JOIN}\s+)*{_WORD}){{0,7}}{_LEGAL}?"
_CASE = re.compile(rf"(?<![\w.’'-])({_PARTY})\s+v\.\s+({_PARTY})")
# Sentence openers the first party's capitals take in ("In Mahmoud v. Taylor, the Court ...").
_OPENERS = frozenset("in see cf cf. under after before but and also compare citing while since following like unlike as "
                     "by from with per at for to on".split())
# First parties that are governments: the case goes by the other party's name.
_GOVERNMENTS = frozenset({"united states", "us", "state", "people", "commonwealth", "r", "regina", "rex",
                          "the queen", "the king", "the state", "the people"})
_US_STATES = frozenset(
    "alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho illinois "
    "indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi missouri "
    "montana nebraska nevada ohio oklahoma oregon pennsylvania tennessee texas utah vermont virginia washington "
    "wisconsin wyoming".split()) | {"new hampshire", "new jersey", "new mexico", "new york", "north carolina",
                                    "north dakota", "rhode island", "south carolina", "south dakota", "west virginia",
                                    "district of columbia"}
# Titles before a name that make it a person's ("President Trump"): the noise rules' titles, and their short forms.
_TITLES = "(?:" + "|".join(sorted({t.capitalize() for t in TITLES} | {"Sen", "Rep", "Gov", "Commissioner", "Attorney General"},
                                  key=len, reverse=True)) + r")\.?"


# Abbreviations case names write with a full stop ("Bd. of Educ.", "Ford Motor Co."): no sentence's end.
_ABBREVIATED = frozenset("co st jr sr inc corp ltd bros mt ft dept bd educ assn comm natl intl univ sch dist cnty gov "
                         "govt admin auth mfg ins fed sec serv servs tel ry ctr hosp mun pub".split())


def _sentence_end(word: str) -> bool:
    """A word whose full stop ends a sentence: "King." and "Roe." but not "J.R.", "Co." or "Educ."."""
    body = word[:-1].replace("’", "").replace("'", "")
    return word.endswith(".") and "." not in body and len(body) >= 2 and body.casefold() not in _ABBREVIATED


def case_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, short key) of each "A v. B" case name in `text`; the key is its short form's alias_key."""
    out = []
    for m in _CASE.finditer(text):
        first = [(w.start() + m.start(1), w.group()) for w in re.finditer(r"\S+", m.group(1))]
        # The first party starts after a sentence's end and after the sentence's opening words.
        cut = max((i + 1 for i, (_, w) in enumerate(first[:-1]) if _sentence_end(w)), default=0)
        first = first[cut:]
        while len(first) > 1 and first[0][1].casefold() in _OPENERS:  # "In Mahmoud v. Taylor"
            first = first[1:]
        if first[0][1].casefold() in _OPENERS:
            continue
        second = [(w.start() + m.start(2), w.group()) for w in re.finditer(r"\S+", m.group(2))]
        # ... and the second ends at a sentence's end, its full stop left out.
        stop = next((i for i, (_, w) in enumerate(second) if _sentence_end(w)), None)
        if stop is not None:
            second = second[:stop + 1]
            end = second[-1][0] + len(second[-1][1]) - 1
        else:
            end = m.end(2)
        start = first[0][0]
        out.append((start, end, _short_key(text[start:m.end(1)], text[m.start(2):end])))
    return out


def _short_key(first: str, second: str) -> str:
    key = alias_key(first)
    if key in _GOVERNMENTS or key in _US_STATES or key.startswith("state of ") or key.startswith("commonwealth of "):
        key = alias_key(re.sub(_LEGAL + "$", "", second))
    return key


def short_key(case_name: str) -> str | None:
    """The alias_key of a case name's short form ("Dobbs" of "Dobbs v. Jackson Women's Health Organization"), or None."""
    if " v. " not in case_name:
        return None
    m = re.fullmatch(rf"\s*({_PARTY})\s+v\.\s+({_PARTY})\.?\s*", case_name)
    return _short_key(m.group(1), m.group(2)) if m else None


def with_cases(passages: Sequence[Passage], raw: Sequence[RawMention]) -> list[RawMention]:
    """`raw` with each case name one LAW mention, the people inside it gone and its short forms LAW."""
    spans: dict[str, list[tuple[int, int, str]]] = {}
    shorts: dict[str, set[str]] = defaultdict(set)  # doc id -> short keys of the cases it cites
    texts: dict[str, list[str]] = defaultdict(list)
    for p in passages:
        texts[p.doc_id].append(p.text)
        found = case_spans(p.text) if " v. " in p.text else []
        if found:
            spans[p.passage_id] = found
            shorts[p.doc_id].update(key for *_, key in found)
    if not spans:
        return list(raw)
    text_of = {p.passage_id: p.text for p in passages if p.passage_id in spans}
    out: list[RawMention] = []
    for m in raw:
        inside = next(((s, e) for s, e, _ in spans.get(m.passage_id, ()) if m.start < e and s < m.end), None)
        if inside is None or _kept_inside(m, *inside):
            out.append(m)
    for pid, found in spans.items():
        out.extend(RawMention(pid, s, e, text_of[pid][s:e], "LAW") for s, e, _ in found)
    fuller = _written_otherwise(raw, shorts, texts)
    for i, m in enumerate(out):
        if m.label not in ("PERSON", "ORG"):
            continue
        doc = m.passage_id.rsplit(":", 1)[0]
        key = alias_key(m.text)
        if key in shorts.get(doc, ()) and key not in fuller[doc] and not m.text.strip().isupper():
            out[i] = RawMention(m.passage_id, m.start, m.end, m.text, "LAW")
    return out


def _kept_inside(m: RawMention, start: int, end: int) -> bool:
    """Whether a mention overlapping a case name stays: one wholly inside it, a place ("Louisiana") or a body
    named by an abbreviation ("FEC") or several words ("Society of Sisters"). A person, a one-word name the
    model guessed a body ("Callais"), the whole case or a span across its edge goes: the case's LAW mention
    stands for them."""
    if m.label == "PERSON" or not (start <= m.start and m.end <= end) or (m.start, m.end) == (start, end):
        return False
    name = m.text.strip()
    return m.label != "ORG" or len(name.split()) > 1 or (name.isupper() and len(name) > 1)


def _written_otherwise(raw: Sequence[RawMention], shorts: dict[str, set[str]],
                       texts: dict[str, list[str]]) -> dict[str, set[str]]:
    """doc id -> the short keys its text also writes as a person's or a company's name: part of a longer
    PERSON mention ("Donald Trump"), after a title ("President Trump") or with a legal form ("Uber, Inc.")."""
    out: dict[str, set[str]] = defaultdict(set)
    for m in raw:
        doc = m.passage_id.rsplit(":", 1)[0]
        if m.label == "PERSON" and doc in shorts and " v. " not in m.text:
            words = [alias_key(w) for w in m.text.split()]
            if len(words) > 1:
                out[doc].update(shorts[doc] & set(words))
    for doc, keys in shorts.items():
        text = "\n".join(texts[doc])
        for key in keys:
            name = rf"(?i:{_loose(key)})"  # the name in any case; titles and legal forms as written
            if re.search(rf"\b{_TITLES}\s+{name}\b|\b{name}{_LEGAL}", text):
                out[doc].add(key)
    return out


def _loose(key: str) -> str:
    """A regex for the words of an alias key as written (any punctuation or space between them)."""
    return r"[\W_]*".join(re.escape(w) for w in key.split())
