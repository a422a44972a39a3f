"""General rules over what NER found: noise out, head nouns, job titles, cited titles. Nothing here names a corpus.

The model tags title-cased phrases ("Outbound Ships", "Annual Threat Assessment"), units
("Fahrenheit"), citation apparatus ("P.L", "Focus IF10964") and shouted words ("COMPLETE")
as people and organisations. Each rule below is general English or general typography,
decided from the corpus's own evidence (a word it also writes in lower case is an ordinary
word), and each has a name so the bench can count what it removes and what it costs.
Corpus knowledge (aliases, junk keys) lives in corpus/_entities/, never here. Abbreviations are
learned in entity_abbreviations.py, head nouns decide labels in entity_heads.py.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from corpus_search import config, entity_heads
from corpus_search.models import Passage

# Rule names, in the order they are tried (the bench reports them in this order).
RULES = ("markup", "fragment", "number", "unit", "shouted", "generic word", "generic phrase", "places only", "lone name",
         "cited title")
# Bump when a rule here (or in entities.canonicalize) changes what a build makes of the same raw
# mentions: the build compares it with the index's manifest and canonicalises again.
RULES_VERSION = "10"  # 7: glossary rows define abbreviations; a field label on the next line ends a name;
# 8: no PERSON/ORG/GPE holds "<", ">" or "|"; 9: "Department of Education (ED)" defines ED (the head's letter last);
# 10: no PERSON opens with a figure ("115th Cong.")

# Labels a user filters people, organisations and places by: the ones the noise rules guard.
GUARDED = frozenset({"PERSON", "ORG", "GPE"})
# Words that make a phrase of ordinary words an organisation's name ("Supreme Court",
# "Labor Party"): general English, the heads of institutional names.
ORG_HEADS = frozenset(
    "academy agency administration army association authority bank board bureau cabinet center centre coalition command commission "
    "committee company congress corporation corps council court department directorate federation force forces "
    "foundation fund government group guard house institute institution league ministry navy office "
    "organisation organization parliament party secretariat senate service staff taskforce union university "
    "conference dialogue forum alliance reserve circuit".split()
)
# Legal-form suffixes: a phrase ending in one is a company, however ordinary its other words
# ("Trade Data Monitor LLC").
ORG_SUFFIXES = frozenset("inc inc. llc ltd ltd. plc corp corp. co. gmbh ag sa s.a. nv llp lp l.p. pty".split())
# Alone, these heads point back at a body named before ("the Department", "the Committee"); the ones
# left out name one body by themselves in the texts that use them ("Congress", "the Senate").
BACK_REFERENCES = ORG_HEADS - frozenset("congress senate house parliament cabinet navy army".split())
# Titles before a lone name that make it a person ("President Putin", "Admiral Correll").
TITLES = frozenset(
    "president minister premier chancellor king queen prince princess mr mrs ms dr sir lord general admiral "
    "colonel commander secretary senator representative ambassador chairman chair governor mayor judge justice "
    "director ayatollah leader sheikh emir pope emperor empress sultan honorable hon".split()
)
FUNCTION = frozenset({"of", "and", "the", "for", "on", "in", "de", "&", "to", "at", "a", "an"})
# A title the model took into a person's span, before a capitalised name: "King Charles III", "Queen Juliana".
TITLE_BEFORE = re.compile(r"(?:" + "|".join(sorted((t.capitalize() for t in TITLES), key=len, reverse=True))
                          + r")\.?\s+(?=[A-Z])")
# A regnal number after a name the model cut before it: "Charles" + " III", "Juan Carlos" + " I" (before
# "of" or punctuation only: "Charles I said" is rare, "I" the pronoun is not).
REGNAL_AFTER = re.compile(r"\s+((?:X{0,2}(?:IX|IV|V?I{1,3}|V)|X{1,2})(?=[’'],?|[,;.)]|\s+of\b)|X{0,2}(?:IX|IV|V?I{2,3}|V)\b)(?![\w-])")
# Titles that, before one to three capitalised words, make a person of a span the model calls a body
# ("King Kalakaua", "Senator Thune"); not "General", "Director", "Chair" ... which open bodies' names too.
_PERSON_TITLES = ("King", "Queen", "Prince", "Princess", "President", "Senator", "Ambassador", "Governor", "Mayor",
                  "Ayatollah", "Sheikh", "Emir", "Mr", "Mrs", "Ms", "Dr", "Sir", "Lord", "Admiral", "Colonel",
                  "Premier", "Chancellor", "Pope", "Emperor", "Empress", "Sultan", "Honorable", "Hon")
_TITLED_PERSON = re.compile(r"(?:" + "|".join(_PERSON_TITLES) + r")\.?\s+[A-Z][\w’'-]+(?:\s+[A-Z][\w’'.-]*){0,2}$")


def titled_person(text: str) -> bool:
    """A title and a name ("King Kalakaua"), no institution's head among the words."""
    return bool(_TITLED_PERSON.fullmatch(text)) and not _org_heads(text.split()[1:])


# A job after a name is no part of it: an author line "Jim Zanotti Specialist in Middle Eastern Affairs",
# "Amber Wilhelm, Visual Information Specialist".
_JOB_AFTER = re.compile(
    r"(?:,\s+(?:[A-Z][a-z]+\s+){0,2}|\s+)(?:Specialist|Analyst|Coordinator|Researcher|Fellow|Professor|Director|"
    r"Spokesperson|Spokesman|Spokeswoman|Correspondent|Editor|Reporter|Librarian|Economist|Attorney|Counsel)$")


def before_job(text: str) -> int | None:
    """Where a person's name ends when a job follows it in the span ("Jim Zanotti Specialist"), or None."""
    m = _JOB_AFTER.search(text)
    return m.start() if m is not None and m.start() > 0 else None
# A report, bill or public-law number: "IF10964", "R48875", "H.R. 2012", "P.L. 93-148"; a licence, model
# or hull designation: "USA-4", "XM-30", "MQ-9" (one letter before the hyphen may be a body: "G-20").
_NUMBER_TOKEN = re.compile(r"^[A-Z]{1,4}\d{3,}[A-Z]?$|^[A-Z]{2,4}-\d{1,3}[A-Z]?(?:[’']s)?$")
_CITATION_BEFORE_NUMBER = re.compile(r"^[A-Z](?:\.[A-Z][a-z]{0,3})+\.?$|^[A-Z]{1,3}\.$")  # "P.L", "H.Res.", "S.Con.Res."
# A dotted short form a text writes before a number cites a document by it ("E.O. 14254", "H.Res. 5"): where
# the same text writes "the E.O." alone, it is that document, not a body.
_CITED_FORM = re.compile(r"\b([A-Z](?:\.[A-Z][a-z]{0,3})+\.)\s*\d")
_PLACE_FORMS = frozenset({"U.S.", "U.K.", "U.N.", "E.U.", "D.C.", "N.Y.", "L.A."})
_UNIT_BEFORE = re.compile(r"(?:\d\s*°|\bdegrees?)\s*$")
# A unit the model may call a name when a number comes before it: "100 Mbps", "5 GHz", "2 MMBtu".
_UNIT = re.compile(r"[kKMGTP]?(?:bps|B/s|Hz|Wh|W|Btu)|MMBtu|mph|km|kg|kWh|ppm|ppb|psi|bbl|b/d|bcf|tcf|Tcf|Bcf")


@lru_cache(maxsize=1)
def _wordlist(path: str) -> frozenset[str]:
    """The lower-case entries of a system word list (proper nouns there are capitalised, so left out)."""
    if not path:
        return frozenset()
    try:
        lines = Path(path).expanduser().read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return frozenset()  # no list installed: the corpus's own words still decide
    proper = {w.lower() for w in lines if w[:1].isupper()}
    # "japan" (lacquer) and "turkey" are words, but a list that also has "Japan" knows the name
    return frozenset(w for w in lines if w[:1].islower() and "'" not in w and w not in proper)


class Lexicon:
    """Ordinary words: those the corpus writes in lower case somewhere, or a word list has in lower case."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.lower: Counter[str] = Counter()
        for text in texts:
            # Links and addresses are no evidence: "unctad.org" does not make UNCTAD an ordinary word.
            text = re.sub(r"\S*(?:https?:|www\.|@|\.(?:org|com|gov|net|int|edu)\b)\S*", " ", text)
            self.lower.update(re.findall(r"(?<![\w.’'-])[a-z][a-z’'-]*[a-z]", text))
        self.words = _wordlist(config.get("wordlist"))

    def generic(self, word: str) -> bool:
        w = word.strip("’'.,;:").lower()
        w = re.sub(r"[’']s$", "", w)
        if not w:
            return False
        if "-" in w.strip("-"):  # "Port-Level", "Five-Year": ordinary when every part is
            return all(self.generic(part) for part in w.split("-") if part)
        return any(self.lower[x] > 0 or x in self.words for x in (w, w[:-1] if w.endswith("s") else w))


@dataclass
class Context:
    """What the rules may look at beyond a span: its passage, the corpus's words, its people."""

    texts: dict[str, str]  # passage id -> text
    lexicon: Lexicon
    person_parts: set[str] = field(default_factory=set)  # words of multi-word PERSON names
    elsewhere: dict[str, set[str]] = field(default_factory=dict)  # one-word span -> labels the model gave it
    removed: Counter = field(default_factory=Counter)  # rule -> mentions removed
    places: set[str] = field(default_factory=set)  # lower-case spans the model tags as GPE somewhere
    citation_forms: set[str] = field(default_factory=set)  # "E.O.", "H.Res.": written before a number somewhere
    terms: set[str] = field(default_factory=set)  # abbreviations of terms, not names ("FDI", "HEU")
    place_passages: Counter = field(default_factory=Counter)  # lower-case GPE span -> passages tagging it so
    companies: set[str] = field(default_factory=set)  # lower-case names the texts also write with a legal form
    groupings: set[str] = field(default_factory=set)  # lower-case names the texts call a partnership, alliance ...
    _titles: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # passage id -> cited-title spans

    def in_title(self, passage_id: str, start: int, end: int) -> bool:
        """The span sits inside the title of a work the passage cites (so it is part of that title, not a name)."""
        spans = self._titles.get(passage_id)
        if spans is None:
            spans = self._titles[passage_id] = cited_titles(self.texts.get(passage_id, ""))
        return any(s <= start and end <= e for s, e in spans)

    @classmethod
    def of(cls, passages: Sequence[Passage], raw: Iterable) -> Context:
        raw_list = list(raw)
        parts: set[str] = set()
        places: set[str] = set()
        tagged: set[tuple[str, str]] = set()
        elsewhere: dict[str, set[str]] = defaultdict(set)
        for m in raw_list:
            words = m.text.split()
            if m.label == "PERSON" and len(words) > 1:
                parts.update(w.strip("’'.,").lower() for w in words)
            if len(words) == 1:
                elsewhere[re.sub(r"[’']s$", "", words[0].strip("’'.,")).lower()].add(m.label)
            place = re.sub(r"^the\s+|[’']s$", "", m.text.lower()).strip()
            if m.label == "GPE" and len(place) >= 4:
                places.add(place)
                tagged.add((place, m.passage_id))
        ctx = cls({p.passage_id: p.text for p in passages}, Lexicon(p.text for p in passages), parts, elsewhere)
        ctx.places = places
        ctx.place_passages = Counter(place for place, _ in tagged)
        named = (re.sub(r"^the\s+", "", m.text, flags=re.I) for m in raw_list if m.label == "ORG")
        ctx.companies = {base.lower() for text in named for base in [without_legal_form(text)] if base != text}
        # not a place's dotted form: "567 U.S. 519" cites a reporter, and "U.S." stays the country
        ctx.citation_forms = {f for p in passages for f in _CITED_FORM.findall(p.text)} - _PLACE_FORMS
        return ctx


def noise(text: str, label: str, passage_id: str, start: int, end: int, ctx: Context,
          defined: bool = False) -> str | None:
    """The name of the rule that says this span names nothing a user filters by, or None."""
    if _UNIT.fullmatch(text) and re.search(r"\d\s*$", ctx.texts.get(passage_id, "")[max(0, start - 12):start]):
        return "unit"  # "100 Mbps", "5 GHz": a unit after its number, whatever the model called it
    if label not in GUARDED:
        return None
    words = text.split()
    if not words:
        return "fragment"
    if any(ch in text for ch in "<>|"):
        return "markup"  # "Site Feedback Home > CRS": a page's breadcrumb trail, a table's cell rule; no name holds them
    if text[0].islower() or words[-1].lower() in FUNCTION or (":" in text and label != "GPE"):
        return "fragment"  # "s Handbook", "Communist Party of", "Marine Economy: Deep-sea": cut from a title
    if label == "ORG" and all(w.lower().strip(",") in ORG_SUFFIXES for w in words):
        return "fragment"  # "LLC" cut from "Oshkosh Defense, LLC": the company is the name before it
    passage = ctx.texts.get(passage_id, "")
    before, after = passage[max(0, start - 20):start], passage[end:end + 12]
    if "§" in text or any(_NUMBER_TOKEN.match(w) for w in words) or (
        _CITATION_BEFORE_NUMBER.match(text) and re.match(r"\.?\s*\d", after)
    ) or (len(words) > 1 and _CITATION_BEFORE_NUMBER.match(words[0])
          and all(re.fullmatch(r"\d[\d.,-]*[A-Za-z]?", w) for w in words[1:])):
        return "number"  # "Focus IF10964", "P.L" before "93-148", "P.L. 118-159", "S. 4113", "C.F.R. §970"
    if label == "PERSON" and words[0][0].isdigit():
        return "number"  # "115th Cong.", "3 Smith": no one's name opens with a figure
    if text.strip("’'s") in ctx.citation_forms or text + "." in ctx.citation_forms:
        return "number"  # "The E.O. directs ...", where the text also cites "E.O. 14254"
    if len(words) == 1 and _UNIT_BEFORE.search(before):
        return "unit"  # "100 degrees Fahrenheit"
    if len(words) == 1 and text.isupper() and len(text) >= 4 and ctx.lexicon.generic(text):
        return "shouted"  # "COMPLETE": an ordinary word in capitals, not an acronym
    content = [w for w in words if w.lower() not in FUNCTION]
    if label == "ORG" and (words[-1].lower() in ORG_SUFFIXES or text.lower() in ctx.companies
                           or text.lower() in ctx.groupings):
        return None  # "Trade Data Monitor LLC": a company by its legal form, here or elsewhere in the texts;
        # "the “Five Eyes” intelligence-sharing arrangement": a grouping of states by the text's own words
    if len(words) > 1 and entity_heads.np_head(text) in entity_heads.DOC_HEADS and all(ctx.lexicon.generic(w) for w in content):
        return "generic phrase"  # "Annual Threat Assessment": a document, not an organisation
    if defined and label != "PERSON" and (label != "ORG" or not _ordinary_org(words, content, ctx)):
        return None  # a long form that defines an abbreviation is a name, however ordinary its words
    content = [w for w in words if w.lower() not in FUNCTION]
    if len(words) == 1 and not text.isupper() and ctx.lexicon.generic(text) and text.lower() not in ORG_HEADS:
        return "generic word"  # "Defense", "Financial", "Background"
    if len(words) == 1 and label == "ORG" and text.strip("’'.,").lower() in BACK_REFERENCES:
        return "generic word"  # "the Department's": the department the text named before
    if label != "GPE" and any(re.search(r"[\w.][-–]\w", w) for w in content) and (
            all(_place_word(w, ctx) for w in content) or _places_joined(text, ctx)):
        return "places only"  # "U.S.-Mexico" (trade), "Australia-New Zealand-United States": places, no body
    # Abbreviations and place or nationality words qualify a phrase without naming it: "HS Port-Level
    # Data", "Iran Conflict", "American Crews" are ordinary words about something named elsewhere.
    if label == "GPE" and len(words) > 1 and ctx.place_passages[re.sub(r"^the\s+|[’']s$", "", text.lower())] >= 2:
        return None  # "United States": ordinary words, but a place the model finds again and again
    plain = content if label == "GPE" else [w for w in content if not (w.isupper() or _place_word(w, ctx))]
    if len(words) > 1 and plain and all(ctx.lexicon.generic(w) for w in plain):
        heads = _org_heads(content)
        if label == "PERSON" or not heads:
            return "generic phrase"  # "Outbound Ships", "Annual Threat Assessment", "Demands Action"
    if len(words) > 1 and not plain and any(w.strip("’'.,") in ctx.terms for w in content):
        return "generic phrase"  # "U.S. FDI": a place and a term's abbreviation ("foreign direct investment")
    if label == "PERSON" and len(words) == 1 and not text.isupper():
        key = text.strip("’'.,").lower()
        prev = re.findall(r"[A-Za-z]+", before)
        places = ctx.elsewhere.get(key, set()) & {"NORP", "GPE", "LOC"}
        if places and key not in ctx.person_parts and not (prev and prev[-1].lower() in TITLES):
            return "lone name"  # "Kazakh": a word the model also calls a nationality or place, no full name backs
    return None


# A quoted title as citations print it: 'Robert Beckman et al., “Possible Actions by Coastal States ...,”
# International Journal ..., vol. 40 (2025)': after an author's comma (or at a line start), the
# citation comma at the closing quote, a year or a link soon after. A quoted programme name in
# running prose ('adopted a “Program of Collaboration ...,” which') is no citation.
_QUOTED_TITLE = re.compile(r"(?:^|[,.:;]\s+|\n)[“\"]([^“”\"]{8,300}?)(?:,[”\"]|[”\"],)(?=[^\n]{0,120}?(?:\b(?:19|20)\d\d\b|https?:))",
                           re.M)
# A cited report after its number: "CRS Report R45281, Iran Conflict and the Strait of Hormuz, by ..."
# runs to ", by", ";", a line end or a full stop (not the one in "U.S.").
_NUMBERED_TITLE = re.compile(r"\b[A-Z]{1,4}\d{3,}[A-Z]?,[ \t]+(.+?)(?=,[ \t]+(?:by|coordinated by|edited by)\b|;|\n|(?<!\b[A-Z])\.(?:\s|$)|$)")
_TITLE_WORD = re.compile(r"[^\W\d_][\w’'-]*")


def cited_titles(text: str) -> list[tuple[int, int]]:
    """Spans of `text` that are titles of cited works: quoted Title Case with a citation comma, and the
    title after a report number. Names inside them are part of the title (OntoNotes nests nothing in a work)."""
    spans = []
    for m in _QUOTED_TITLE.finditer(text):
        words = [w for w in _TITLE_WORD.findall(m.group(1)) if w.lower() not in FUNCTION]
        if len(words) >= 3 and sum(w[0].isupper() for w in words) >= 0.7 * len(words):
            spans.append(m.span(1))
    spans.extend(m.span(1) for m in _NUMBERED_TITLE.finditer(text))
    return spans


def person_tail(text: str, label: str, ctx: Context) -> int | None:
    """Where a person's name starts in a span that glued a job title to it, or None.

    "Director of National Intelligence Tulsi Gabbard" comes out of the model as the ORG "National
    Intelligence Tulsi Gabbard", and "Foreign Minister Seyed Abbas Araghchi" as one PERSON: a head of
    ordinary words (a title) followed by two to four capitalised words that are no ordinary words,
    no abbreviations and no places is a title and a name. A PERSON's head must hold a title word.
    """
    if label not in ("ORG", "PERSON"):
        return None
    words = list(re.finditer(r"\S+", text))
    for i in range(1, len(words) - 1):
        head = [w.group().lower() for w in words[:i]]
        if not (ctx.lexicon.generic(head[-1]) or head[-1] in FUNCTION) or head[0] in FUNCTION:
            return None
        tail = [w.group() for w in words[i:]]
        if not 2 <= len(tail) <= 4 or head[-1] in FUNCTION:
            continue
        if all(re.fullmatch(r"[A-Z][a-z][\w’'-]*", w) and not ctx.lexicon.generic(w) and not _place_word(w, ctx)
               for w in tail) and (label == "ORG" or set(head) & TITLES):
            return words[i].start()
    return None



def np_org_head(name: str) -> bool:
    """Whether a name's head noun is an institution's: "U.S. Southern Command", "Ministry of Finance"."""
    return entity_heads.np_head(name) in ORG_HEADS


def _org_heads(words: list[str]) -> set[str]:
    """The institutional heads among `words`, plurals too ("Departments of State and the Interior")."""
    keys = {w.strip("’'.,").lower() for w in words}
    keys |= {k[:-3] + "y" for k in keys if k.endswith("ies")} | {k[:-1] for k in keys if k.endswith("s")}
    return keys & ORG_HEADS


def _ordinary_org(words: list[str], content: list[str], ctx: Context) -> bool:
    """An ORG span of ordinary capitalised words with no institutional head ("Artificial Intelligence (AI)")."""
    heads = _org_heads(content)
    if heads or len(words) < 2 or not all(ctx.lexicon.generic(w) for w in content):
        return False
    # "United Kingdom Maritime Trade Operations": a country's name makes it somebody's institution.
    text = " ".join(words).lower()
    return not any(re.search(rf"(?<!\w){re.escape(place)}(?!\w)", text) for place in ctx.places)



def _places_joined(text: str, ctx: Context) -> bool:
    """Places of one or more words joined by hyphens: "Australia-New Zealand-United States", "U.S.-Indo-Pacific"."""
    parts = [p.strip() for p in re.split(r"(?<=[\w.])[-–](?=[A-Z])", text)]
    if len(parts) < 2:
        return False
    return all(p.lower() in ctx.places or _place_word(p, ctx) or entity_heads.region(p)
               or p.lower() in entity_heads.REGIONS for p in parts)


def _place_word(word: str, ctx: Context) -> bool:
    """A word the model tags on its own as a place or nationality somewhere in the corpus ("Iran", "American"),
    or places joined by a hyphen ("U.S.-Mexico")."""
    key = re.sub(r"[’']s$", "", word.strip("’'.,")).lower()
    if ctx.elsewhere.get(key, set()) & {"GPE", "NORP", "LOC"}:
        return True
    return bool(re.search(r"[\w.][-–]\w", key)) and all(_place_word(part, ctx) for part in re.split(r"[-–]", key) if part)


# A company's legal form after its name: "Lockheed Martin Corporation", "Oshkosh Defense, LLC", "Essex Minerals Co.".
LEGAL_FORMS = (r"Inc\.?|Incorporated|LLC|L\.L\.C\.|Ltd\.?|Limited|L\.P\.|LP|LLP|PLLC|PLC|plc|GmbH|AG|S\.A\.|N\.V\.|N\.A\.|"
               r"P\.C\.|Corp\.?|Corporation|Co\.?")  # an alternation, for the regexes of entity_rules and entity_cases
_LEGAL_FORM = re.compile(rf",?\s+(?:{LEGAL_FORMS})$")


def without_legal_form(name: str, ctx: Context | None = None) -> str:
    """A company's name without its legal form, so "Lockheed Martin Corporation" and "Lockheed Martin" are one.

    Kept where what is left is one ordinary word ("Federal Corporation") or ends in "of": the form is the name there.
    """
    m = _LEGAL_FORM.search(name)
    if not m:
        return name
    rest = name[:m.start()].rstrip(" ,")
    words = rest.split()
    if not words or words[-1].lower() in FUNCTION:
        return name
    if len(words) == 1 and (ctx is None or ctx.lexicon.generic(words[0])):
        return name
    return rest


# Two bodies sharing one plural head: "the Departments of State and the Interior", "the Ministries of Defence and Finance".
_COORDINATED = re.compile(r"\b(Departments|Ministries|Committees|Offices|Secretaries|Bureaus) (of|on|for) "
                          r"((?:the )?[A-Z][\w’'-]*(?: [A-Z][\w’'-]*)*) and ((?:the )?[A-Z][\w’'-]*(?: [A-Z][\w’'-]*)*)")


def split_coordinated(passages: Sequence[Passage], raw: Sequence, table) -> list:
    """Two bodies named with one plural head ("Departments of State and the Interior") as the two
    organisations they are ("Department of State", "Department of the Interior"); `table` (an AliasTable)
    learns what each part means."""
    from corpus_search.entity_keys import RawMention, alias_key

    out = list(raw)
    for p in passages:
        if "s of " not in p.text and "s on " not in p.text and "s for " not in p.text:
            continue
        for found in _COORDINATED.finditer(p.text):
            head = found.group(1)
            singular = "Ministry" if head == "Ministries" else "Secretary" if head == "Secretaries" else head[:-1]
            s, e = found.span()
            out = [m for m in out if not (m.passage_id == p.passage_id and m.start < e and s < m.end)]
            for start, end, name in ((s, found.end(3), f"{singular} {found.group(2)} {found.group(3)}"),
                                     (found.start(4), e, f"{singular} {found.group(2)} {found.group(4)}")):
                text = p.text[start:end]
                table.learn(alias_key(text), name)
                out.append(RawMention(p.passage_id, start, end, text, "ORG"))
    return out


# What continues a body's name after its head: "for the Northern District of California", "for the D.C. Circuit".
_FOR_THE = re.compile(r"^ for the (?:[A-Z][\w.’'-]*|of)(?: (?:[A-Z][\w.’'-]*|of))*")
# A country's short forms, written before an institution's name: "U.S. Army", "UK Treasury".
COUNTRY_SHORT_FORMS = ("U.S.", "US", "U.K.", "UK")
_COUNTRY_BEFORE = re.compile("(?:" + "|".join(re.escape(c) for c in COUNTRY_SHORT_FORMS) + ") $")


def grow_headed(passages: Sequence[Passage], raw: Sequence) -> list:
    """An institution's name the model cut at its head ("U.S. District Court" + "for the Northern District of
    California") as the whole name, with the country before it; what the model tagged inside goes into it."""
    from corpus_search.entity_keys import RawMention

    texts = {p.passage_id: p.text for p in passages}
    grown: dict[str, list[tuple[int, int]]] = defaultdict(list)
    out = []
    for m in raw:
        if m.label == "ORG" and entity_heads.np_head(m.text) in ORG_HEADS:
            text = texts.get(m.passage_id, "")
            more = _FOR_THE.match(text[m.end:m.end + 120])
            if more and not more.group().rstrip(".").endswith(" of"):
                start, end = m.start, m.end + len(more.group().rstrip("."))
                before = _COUNTRY_BEFORE.search(text[max(0, start - 6):start])
                start -= len(before.group()) if before else 0
                m = RawMention(m.passage_id, start, end, text[start:end], "ORG")
                grown[m.passage_id].append((start, end))
        out.append(m)
    return [m for m in out if not any(s <= m.start and m.end <= e and (s, e) != (m.start, m.end)
                                      for s, e in grown.get(m.passage_id, ()))]
