"""Canonical names: raw mentions -> `Mention`s with one name and one label each; and the lookup from what
a user types (`--entity`) back to those names.

`canonicalize` runs the general rules (entity_rules) over each trimmed span, asks the alias table
what it means, then merges spellings, middle initials and lone surnames within the corpus.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from corpus_search import entity_cases, entity_heads, entity_rules
from corpus_search.entity_aliases import AliasTable
from corpus_search.entity_keys import LABEL_ORDER, RawMention, alias_key, trim
from corpus_search.models import Mention


_TERM_BEFORE = re.compile(r"\d{1,3}(?:st|nd|rd|th)?\s+(?=(?:Congress|Parliament|Duma|Knesset|Legislature|Bundestag|Diet)\b)")
_YEAR_BEFORE = re.compile(r"(?:1[89]|20)\d\d\s+(?=[A-Z])")
# Title words the model ran into a department's name: "Eligibility for Department of Veterans Affairs" (a report
# title's "... and Eligibility for Department of Veterans Affairs (VA) Benefits").
_WORDS_BEFORE_DEPARTMENT = re.compile(r"((?:[A-Z][a-z]+\s+)+)(?:for|of|to|and|from|with)\s+(?=(?:the\s+)?(?:U\.S\.\s+)?"
                                      r"(?:Department|Ministry)\s+of\s+[A-Z])")
_FIELD_LABEL = re.compile(r"[ \t]*(?:\([a-z]+\))?:")  # what follows a field's label: "Topics:", "Author(s):"
_STATE_CODE = re.compile(r"[A-Z][a-z]+,\s$")  # what stands before a state's postal code: "Oshkosh, "


def canonicalize(raw: Sequence[RawMention], table: AliasTable,
                 ctx: entity_rules.Context | None = None) -> list[Mention]:
    """Mentions with one canonical name each and one label per name (declared, else the majority).

    With a `ctx` (the passages' text and words), the general noise rules drop what names
    nothing; `ctx.removed` counts what each rule removed.
    """
    kept: list[tuple[RawMention, int, int, str, str, str]] = []  # raw, start, end, text, name, label
    for m in sorted(set(raw), key=lambda r: (r.passage_id, r.start, r.end, r.label)):
        lo, hi = trim(m.text)
        text, label = m.text[lo:hi], m.label
        doc_id = m.passage_id.rsplit(":", 1)[0]
        if ctx is not None:
            # "Author: Fink, Anya L.\nTopics: Defense": the model reads a line break as a space, so a name
            # ran on into the label of the field below it; a label ends its line's name.
            cut = text.rfind("\n")
            if cut > 0 and _FIELD_LABEL.match(ctx.texts.get(m.passage_id, ""), m.start + hi):
                hi = lo + len(text[:cut].rstrip())
                text = m.text[lo:hi]
            # "Trump Administration": the administration is named after a person the texts name.
            who = re.fullmatch(r"([A-Z][\w’'-]+) Administration", text)
            if who and who.group(1).lower() in ctx.person_parts:
                hi = lo + who.end(1)
                text, label = m.text[lo:hi], "PERSON"
            # "the 2024 Department of Defense (DOD) FY 2025 ...": a year before a name is no part of it.
            # "the 117th Congress", "the 119 Congress's": a legislature's term number is no part of its name.
            term = _TERM_BEFORE.match(text)
            if term and label == "ORG":
                lo += term.end()
                text = m.text[lo:hi]
            lead = _WORDS_BEFORE_DEPARTMENT.match(text) if label == "ORG" else None
            if lead and all(ctx.lexicon.generic(w) for w in lead.group(1).split()):
                lo += lead.end()
                text = m.text[lo:hi]
            year = _YEAR_BEFORE.match(text)
            if year and label in ("ORG", "PERSON"):
                lo += year.end()
                text = m.text[lo:hi]
            # "Oshkosh, WI": two capitals after a place and its comma are a state's postal code, not a body.
            if label == "ORG" and re.fullmatch(r"[A-Z]{2}", text) and _STATE_CODE.search(
                    ctx.texts.get(m.passage_id, "")[max(0, m.start + lo - 30):m.start + lo]):
                label = "GPE"
            # "Director of National Intelligence Tulsi Gabbard": the title goes, the person stays.
            tail = entity_rules.person_tail(text, label, ctx)
            if tail is not None:
                lo += tail
                text, label = m.text[lo:hi], "PERSON"
            # An organisation inside a cited work's title ("... Issues for Congress") is part of the title.
            # People and places there stay: readers look for them in references too.
            if label == "ORG" and ctx.in_title(m.passage_id, m.start + lo, m.start + hi):
                ctx.removed["cited title"] += 1
                continue
            # Before the noise rules: a law or a programme of ordinary words is no junk ORG. A document
            # of ordinary words ("Annual Threat Assessment") is left to them: no one filters by it.
            label = _kept_head_label(text, label)
            if label in ("ORG", "PERSON") and entity_heads.product_context(
                    ctx.texts.get(m.passage_id, ""), m.start + lo, m.start + hi, text):
                label = "PRODUCT"  # "tankers CS Anthem", "the Sarmat ICBM"
            elif label in ("ORG", "PERSON") and entity_heads.project_context(ctx.texts.get(m.passage_id, ""), m.start + lo):
                label = "PROJECT"  # "the agency's program Odin"
            elif label in ("ORG", "PERSON") and entity_heads.place_context(ctx.texts.get(m.passage_id, ""), m.start + lo):
                label = "GPE"  # "the northern port city of Darwin"
            if label == "ORG" and entity_rules.titled_person(text):
                label = "PERSON"  # "King Kalakaua", "Senator Thune" the model calls a body
            if label == "PERSON":  # an author line: "Jim Zanotti Specialist in Middle Eastern Affairs"
                cut = entity_rules.before_job(text)
                if cut:
                    hi = lo + cut
                    text = m.text[lo:hi]
                title = entity_rules.TITLE_BEFORE.match(text)
                if title and title.end() < len(text):  # "King Charles III", "Queen Juliana": the title is no part of the name
                    lo += title.end()
                    text = m.text[lo:hi]
                passage = ctx.texts.get(m.passage_id, "")
                numeral = entity_rules.REGNAL_AFTER.match(passage, m.start + hi) if hi == len(m.text) else None
                if numeral:  # "Charles" of "King Charles III": the numeral is part of the name
                    text = passage[m.start + lo:numeral.end(1)]
                    hi = numeral.end(1) - m.start
            key = alias_key(text)
            if label in ("PERSON", "GPE") and not table.curated(key):
                long_form = table.abbreviations.for_doc(doc_id).get(text)
                if long_form and entity_rules.np_org_head(long_form):
                    # "SOUTHCOM" the model calls a person abbreviates "U.S. Southern Command"; "VA" it calls a
                    # place (Virginia's postal code) abbreviates "Department of Veterans Affairs" here
                    label = "ORG"
            if not table.curated(key):
                entry = table.canonical(text, label, doc_id)
                defined = entry is not None and table.declared(key) or text in table.abbreviations.for_doc(doc_id)
                reason = entity_rules.noise(text, label, m.passage_id, m.start + lo, m.start + hi, ctx, defined)
                if reason is None and entry is not None and entry[0] != text:  # the long form must be a name too
                    reason = entity_rules.noise(entry[0], _kept_head_label(entry[0], label), m.passage_id,
                                                m.start + lo, m.start + hi, ctx, True)
                if reason is not None:
                    ctx.removed[reason] += 1
                    continue
        found = table.canonical(text, label, doc_id)
        if found is not None:
            # "Jones Act", "Tanker Security Program": the head noun says what the name is.
            name, label = found[0], entity_heads.head_label(*found)
            if label == "ORG" and not table.curated(alias_key(name)):
                name = entity_rules.without_legal_form(name, ctx)
            kept.append((m, m.start + lo, m.start + hi, text, name, label))

    kept = _country_forms(kept, table)
    # A short form its document also writes in full is that body (each rule only where the document
    # writes one such fuller name): "the House", "Live Nation" (the model may call it a person), "the
    # Sixth Circuit".
    kept = _to_longer_names(kept, table, _head_of)
    kept = _to_longer_names(kept, table, _company_short, labels=("ORG", "PERSON"))
    kept = _to_longer_names(kept, table, _court_tail)
    kept = _to_longer_names(kept, table, entity_cases.short_key, labels=("LAW",), kind="LAW")  # "Dobbs" -> its case

    # Undeclared surface forms that fold alike ("Yan \nXuetong", "Yan Xuetong") share the commonest spelling.
    spellings: dict[str, Counter] = defaultdict(Counter)
    for _, _, _, text, name, _ in kept:
        if not table.declared(alias_key(text)):
            spellings[alias_key(name)][name] += 1
    best = {k: min(c, key=lambda n: (-c[n], n)) for k, c in spellings.items()}
    kept = [(m, s, e, t, best.get(alias_key(n), n) if not table.declared(alias_key(t)) else n, lab)
            for m, s, e, t, n, lab in kept]

    # "Donald J. Trump" and "Donald Trump" are one person: a middle initial is a variant, not a new name.
    kept = _merge_middle_initials(kept, table)

    # A lone surname ("Putin", "Xi") stands for the one full name in the corpus it belongs to.
    people: dict[str, set[str]] = defaultdict(set)
    for _, _, _, _, name, label in kept:
        parts = name.split()
        if label == "PERSON" and len(parts) > 1:
            for part in (parts[0], parts[-1]):
                people[alias_key(part)].add(name)
    # Decided per name, not per mention, so all of a surname's mentions move together.
    personal = {name for _, _, _, _, name, label in kept if label == "PERSON" and " " not in name}
    surnames = {
        alias_key(name): next(iter(people[alias_key(name)]))
        for name in personal
        if not table.declared(alias_key(name)) and len(people.get(alias_key(name), ())) == 1
    }
    for key, full in surnames.items():
        table.learn(key, full)
    for i, (m, s, e, text, name, label) in enumerate(kept):
        if name in personal and alias_key(name) in surnames:
            kept[i] = (m, s, e, text, surnames[alias_key(name)], label)

    counts: dict[str, Counter] = defaultdict(Counter)
    for _, _, _, _, name, label in kept:
        counts[name][label] += 1
    rank = {lab: i for i, lab in enumerate(LABEL_ORDER)}

    def majority(name: str) -> str:
        fixed = table.fixed_label(name)
        if fixed:
            return fixed
        c = counts[name]
        return min(c, key=lambda lab: (-c[lab], rank.get(lab, len(rank)), lab))

    labels = {name: majority(name) for name in counts}
    out = []
    for m, s, e, text, name, _ in kept:
        table.note(alias_key(text), name, labels[name])
        out.append(Mention(m.passage_id, s, e, text, name, labels[name]))
    return out


def _country_forms(kept: list, table: AliasTable) -> list:
    """A bare organisation a document also names with its country ("the Army", "the U.S. Army") is one.

    The country form names it, unless the bare form is the long form of an abbreviation the document
    defines ("U.S. Department of Defense" and "Department of Defense (DoD)"): that one is the document's own.
    Only where the document has one such country form: with "U.S. Army" and "Russian Army", "the Army" stays.
    """
    prefixed: dict[tuple[str, str], set[str]] = defaultdict(set)  # (doc, bare key) -> names with a country
    for m, *_, name, label in kept:
        if label != "ORG":
            continue
        found = _COUNTRY_PREFIX.match(name)
        if found:
            prefixed[(m.passage_id.rsplit(":", 1)[0], alias_key(found.group(2)))].add(name)
    if not prefixed:
        return kept
    defined: dict[str, set[str]] = {}
    out = []
    for m, s, e, text, name, label in kept:
        doc_id = m.passage_id.rsplit(":", 1)[0]
        if label == "ORG" and not table.curated(alias_key(text)):
            if doc_id not in defined:
                defined[doc_id] = {alias_key(f) for f in table.abbreviations.for_doc(doc_id).values()}
            found = _COUNTRY_PREFIX.match(name)
            bare_key = alias_key(found.group(2)) if found else alias_key(name)
            names = prefixed.get((doc_id, bare_key), set())
            if len(names) == 1:
                if bare_key in defined[doc_id]:
                    name = found.group(2) if found else name  # the document's own long form
                else:
                    name = next(iter(names))
        out.append((m, s, e, text, name, label))
    return out


def _to_longer_names(kept: list, table: AliasTable, short_form, labels: tuple[str, ...] = ("ORG",),
                     kind: str = "ORG") -> list:
    """Each mention (of a label in `labels`) whose name is the short form of exactly one longer
    name of label `kind` its document writes takes that longer name and label. `short_form(name)`
    is the key of a longer name's short form, or None. A curated name stays as it is."""
    longer: dict[tuple[str, str], set[str]] = defaultdict(set)  # (doc, short key) -> longer names
    for m, *_, name, label in kept:
        key = short_form(name) if label == kind else None
        if key:
            longer[(m.passage_id.rsplit(":", 1)[0], key)].add(name)
    if not longer:
        return kept
    out = []
    for m, s, e, text, name, label in kept:
        if label in labels and not table.curated(alias_key(text)):
            names = longer.get((m.passage_id.rsplit(":", 1)[0], alias_key(name)), set())
            if len(names) == 1:
                name, label = next(iter(names)), kind
        out.append((m, s, e, text, name, label))
    return out


def _head_of(name: str) -> str | None:
    """"the House" of "(U.S.) House of Representatives", "the Treasury" of "Department of the Treasury": the
    longer name opens with the word and goes on with "of" ("House of Commons"; not "White House"), or is a
    department or ministry of it. A document with two such names keeps the bare word as it is."""
    country = _COUNTRY_PREFIX.match(name)
    found = _HEAD_OF.match(country.group(2) if country else name)
    if not found:
        return None
    return alias_key(found.group(2) if found.group(1) else found.group(3))


def _court_tail(name: str) -> str | None:
    """"the Sixth Circuit" of "U.S. Court of Appeals for the Sixth Circuit", "Eastern District of Texas" of
    "U.S. District Court for the Eastern District of Texas": the words after "for (the)"."""
    found = _FOR_THE_TAIL.search(name)
    return alias_key(found.group(1)) if found else None


def _company_short(name: str) -> str | None:
    """"Live Nation" of "Live Nation Entertainment": the name without a corporate word at its end."""
    words = name.split()
    return alias_key(" ".join(words[:-1])) if len(words) >= 2 and words[-1].lower() in _COMPANY_TAILS else None


_FOR_THE_TAIL = re.compile(r"\s+for\s+(?:the\s+)?([A-Z][\w.’'-]*(?:\s+(?:of\s+)?[A-Z][\w.’'-]*)+)$")

# The word a company's full name may add to the name it goes by: "Live Nation Entertainment", "Alibaba Group".
_COMPANY_TAILS = frozenset("entertainment group holdings holding international technologies industries enterprises "
                           "communications media airlines motors pharmaceuticals brands networks".split())

# "Department of the Treasury", "Ministry of Defence" (the word after "of" is the bare form) or "House of
# Representatives", "Court of Appeals" (the word before it is); a country in front is read off first.
_HEAD_OF = re.compile(r"^(?:(Department|Ministry)\s+of\s+(?:the\s+)?([A-Z][\w’'-]+)|([A-Z][\w’'-]+)\s+of\s+\S.*)$")

# A country's short forms before an organisation's name: "U.S. Army", "US Navy", "United States Senate", "UK Treasury".
_COUNTRY_PREFIX = re.compile("^(" + "|".join(re.escape(c) for c in (*entity_rules.COUNTRY_SHORT_FORMS, "United States",
                                                                     "United Kingdom")) + r")\s+([A-Z].*)$")


def _kept_head_label(name: str, label: str) -> str:
    """The head noun's label where it saves a name from the noise rules: a law or a programme of ordinary
    words is no junk ORG; a document of ordinary words ("Annual Threat Assessment", "ATA") is left to them."""
    headed = entity_heads.head_label(name, label)
    return headed if headed in ("LAW", "PROJECT") else label


_MIDDLE_INITIAL = re.compile(r"^(\S+)(?: [A-Z]\.)+ (\S+(?: \S+)?)$")


def _merge_middle_initials(kept: list, table: AliasTable) -> list:
    """PERSON names that differ only by middle initials share the plain one ("Richard A. Bitzinger" -> "Richard Bitzinger")."""
    count: Counter = Counter(name for *_, name, label in kept if label == "PERSON")
    plain = {}
    for name in count:
        m = _MIDDLE_INITIAL.match(name)
        if m and not table.declared(alias_key(name)):
            plain[name] = f"{m.group(1)} {m.group(2)}"
    groups: dict[str, list[str]] = defaultdict(list)
    for name, short in plain.items():
        if short in count:
            groups[short].append(name)
    target = {}
    for short, longs in groups.items():
        target.update({n: short for n in longs})
    for name, short in target.items():
        table.learn(alias_key(name), short)
    return [(m, s, e, t, target.get(n, n) if lab == "PERSON" else n, lab) for m, s, e, t, n, lab in kept]


# -- lookup for users ---------------------------------------------------------------
def resolve(query: str, aliases: dict[str, list[tuple[str, str]]], names: dict[str, str]) -> list[str]:
    """Canonical names a user's --entity string means: a canonical name or any alias; [] if unknown."""
    wanted = query.strip().casefold()
    key = alias_key(query)
    found = [n for n in names if n.casefold() == wanted]
    found += [n for n, _ in aliases.get(key, []) if n in names]
    found += [n for n in names if alias_key(n) == key]
    return list(dict.fromkeys(found))


def suggest(query: str, names: dict[str, str], limit: int = 5) -> list[str]:
    """Names close to an unknown query, for a "did you mean" message."""
    key = alias_key(query)
    if not key:
        return []
    by_key: dict[str, str] = {}
    for n in sorted(names):
        by_key.setdefault(alias_key(n), n)
    close = difflib.get_close_matches(key, list(by_key), n=limit, cutoff=0.6)
    contains = [k for k in by_key if len(key) >= 3 and re.search(rf"\b{re.escape(key)}", k)]
    return list(dict.fromkeys(by_key[k] for k in [*close, *sorted(contains, key=len)]))[:limit]