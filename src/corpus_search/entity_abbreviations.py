"""Abbreviations: what the texts define ("Long Form (ABBR)", "ABBR (Long Form)", annex lines), what a
document uses without defining but spells out elsewhere, and the bare uses NER missed.

Two learners feed the alias table: `learn_abbreviations` (corpus-wide, annex lines too) and
`find_abbreviations` (per document, with "of"/"and" in the initials and lower-case terms set apart).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from corpus_search.entity_keys import DROPPED_LABELS, RawMention, trim
from corpus_search import entity_heads
from corpus_search.entity_rules import COUNTRY_SHORT_FORMS, FUNCTION, ORG_HEADS
from corpus_search.models import Passage

if TYPE_CHECKING:
    from corpus_search.entity_aliases import AliasTable

_FUNCTION_WORDS = frozenset({"of", "and", "the", "for", "on", "in", "de", "&", "to", "at"})


def learn_abbreviations(texts: Iterable[str]) -> dict[str, str]:
    """Short forms the texts define: "Eurasian Economic Union (EEU)" and annex lines "EEU Eurasian Economic Union"."""
    found: dict[str, Counter] = defaultdict(Counter)
    for text in texts:
        flat = re.sub(r"\s+", " ", text)
        for m in re.finditer(r"\(([A-Z][A-Za-z]?[A-Z&]{1,7})\)", flat):
            words = re.findall(r"[\w’'&]+(?:\.\w)*\.?", flat[max(0, m.start() - 160) : m.start()])
            long_form = _expansion(m.group(1), words)
            if long_form:
                found[m.group(1)][long_form] += 1
        for m in re.finditer(r"^[ \t]*([A-Z][A-Z0-9&]{1,7})[ \t]+([A-Z][^\n]{3,80}?)[ \t]*$", text, re.M):
            long_form = m.group(2).strip()
            if _initials_cover(m.group(1), long_form):
                found[m.group(1)][long_form] += 1
    # Most frequent expansion wins; Counter keeps first-seen order on ties, so this is stable.
    return {abbr: c.most_common(1)[0][0] for abbr, c in found.items()}


def _expansion(abbr: str, words: list[str]) -> str | None:
    """The shortest run of capitalised words before '(ABBR)' whose initials spell it."""
    letters = abbr.replace("&", "").upper()
    for k in range(1, min(len(words), 12) + 1):
        run = words[-k:]
        if not run[0][:1].isupper():
            continue
        initials = "".join(w[0].upper() for w in run if w.lower() not in _FUNCTION_WORDS)
        if initials == letters:
            return " ".join(run).rstrip(".")
        if len(initials) > len(letters):
            return None
    return None


def _initials_cover(abbr: str, long_form: str) -> bool:
    """The abbreviation's letters appear, in order, among the words' initials (annex lines are loose)."""
    initials = [w[0].upper() for w in re.findall(r"[A-Za-z][\w’']*", long_form)]
    if not initials or initials[0] != abbr[0]:
        return False
    it = iter(initials)
    return all(any(ch == i for i in it) for ch in abbr.replace("&", ""))


def missed_abbreviations(passages: Sequence[Passage], raw: Sequence[RawMention], table: AliasTable) -> list[RawMention]:
    """Bare abbreviations ("JCPOA") the model did not tag, where the texts or the corpus files define them.

    Each takes its long form's label as the model gave it elsewhere (never PERSON: people are not
    abbreviated so), else ORG when the long form is headed like an institution, else it is left out.
    """
    seen: dict[str, Counter] = defaultdict(Counter)
    for m in raw:
        lo, hi = trim(m.text)
        if m.label != "PERSON" and m.label not in DROPPED_LABELS:
            seen[m.text[lo:hi].casefold()][m.label] += 1
    labels = {k: c.most_common(1)[0][0] for k, c in seen.items()}
    known: dict[str, dict[str, str]] = {}
    for doc_id in {p.doc_id for p in passages}:
        abbrs = {a: n for a, n in table.acronyms.items()}
        abbrs.update(table.abbreviations.for_doc(doc_id))
        # "Department of Defense (DoD)" defines "DOD" too: capitals are how the same letters are shouted.
        for a, n in list(abbrs.items()):
            if not a.isupper() and not (a.endswith("s") and a[:-1].isupper()):
                abbrs.setdefault(a.upper(), n)
        known[doc_id] = abbrs
        for long_form in abbrs.values():
            key = long_form.casefold()
            if key not in labels:
                fixed = table.fixed_label(long_form)
                heads = {w.lower() for w in long_form.split()} & ORG_HEADS
                if fixed or heads:
                    labels[key] = fixed or "ORG"
    return [RawMention(*row) for row in bare_mentions(passages, raw, known, labels)] + \
        missed_long_forms(passages, raw, table)


def missed_long_forms(passages: Sequence[Passage], raw: Sequence[RawMention], table: AliasTable) -> list[RawMention]:
    """A long form the model missed where its document defines an abbreviation by it ("Army Test and Evaluation
    Command (ATEC)"), when an institution's head noun heads it: the definition says it is a name."""
    covered: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for m in raw:
        covered[m.passage_id].append((m.start, m.end))
    out = []
    for p in passages:
        longs = table.abbreviations.by_doc.get(p.doc_id, {})
        if "(" not in p.text or not longs:
            continue
        for found in _PAREN_AFTER.finditer(p.text):
            long_form = longs.get(found.group(1))
            if not long_form or entity_heads.np_head(long_form) not in ORG_HEADS:
                continue
            start = p.text.rfind(long_form, max(0, found.start() - len(long_form) - 3), found.start())
            if start < 0 or p.text[start + len(long_form):found.start()].strip():
                continue  # the long form is not written right before the brackets (line breaks, a possessive)
            end = start + len(long_form)
            if not any(a < end and start < b for a, b in covered[p.passage_id]):
                out.append(RawMention(p.passage_id, start, end, long_form, "ORG"))
    return out


def grow_to_long_forms(passages: Sequence[Passage], raw: Sequence[RawMention], table: AliasTable) -> list[RawMention]:
    """An ORG span the model cut short of a long form its document defines right there ("Center for Tech" of
    "Center for Tech and Civic Life (CTCL)") is the whole long form."""
    texts = {p.passage_id: p.text for p in passages}
    out = []
    for m in raw:
        lo, hi = trim(m.text)
        text = m.text[lo:hi]
        if m.label == "ORG" and " " in text:
            longs = table.abbreviations.by_doc.get(m.passage_id.rsplit(":", 1)[0], {}).values()
            here = texts.get(m.passage_id, "")[m.start + lo:m.start + lo + 130]
            grown = [f for f in longs if len(f) > len(text) and f.startswith(text + " ") and here.startswith(f)]
            if grown:
                f = max(grown, key=len)
                m = RawMention(m.passage_id, m.start + lo, m.start + lo + len(f), f, m.label)
        out.append(m)
    return out


_PAIR = re.compile(r"([A-Z][A-Za-z.&]*[A-Z])/([A-Z][A-Za-z.&]*[A-Z])")


def split_pairs(raw: Sequence[RawMention], table: AliasTable) -> list[RawMention]:
    """The model's one span for two abbreviations joined by a slash ("NAFTA/USMCA"), as the two mentions it is."""
    out = []
    for m in raw:
        pair = _PAIR.fullmatch(m.text)
        known = table.abbreviations.for_doc(m.passage_id.rsplit(":", 1)[0]) if pair else {}
        if pair and all(part in known or part in table.acronyms for part in pair.groups()):
            for i in (1, 2):
                out.append(RawMention(m.passage_id, m.start + pair.start(i), m.start + pair.end(i), pair.group(i), m.label))
        else:
            out.append(m)
    return out


# -- per document: "Long Form (ABBR)", "ABBR (Long Form)", spelled out elsewhere ----------
# "(DOD)", and "(DOD, now using ...)" or "(NDAA; P.L. 118-31)": a definition may share its brackets;
# a possessive long form defines its abbreviation in the possessive too ("The Metal Company's (TMC's)");
# an abbreviation may mix cases ("DoD", "BiOp": two capitals, each with up to three small letters after it).
_ABBR = r"[A-Z][A-Za-z]?[A-Z&]{1,7}s?"  # "DOD", "DoD", "SSBNs"
_MIXED = r"[A-Z][a-z]{1,3}[A-Z][a-z]{1,3}"  # "BiOp"
_PAREN_AFTER = re.compile(rf"\(({_ABBR}|{_MIXED})(?:[’']s)?(?:\)|[,;]\s)")
# A word that is itself an abbreviation spells all its letters into a longer one: "U.S.-Mexico-Canada
# Agreement (USMCA)", "DOD Directive (DODD)".
_SPELLED = re.compile(r"(?:[A-Z]\.){2,}|[A-Z]{2,5}")
_PAREN_LONG = re.compile(r"\b([A-Z][A-Za-z]?[A-Z&]{1,7})\s+\(([^()]{5,120})\)")
_WORDS = re.compile(r"[\w’'&-]+(?:\.\w)*\.?")


def _letters(abbr: str) -> list[str]:
    """The letter sequences a long form's initials may spell: "DoD" -> "DD" and "DOD"."""
    plain = abbr.replace("&", "")
    caps = "".join(c for c in plain if c.isupper())
    out = [plain.upper(), caps]
    if plain.endswith("s") and len(plain) > 2 and plain[:-1].isupper():
        out.append(plain[:-1])  # "SSBNs"
    return list(dict.fromkeys(x for x in out if len(x) >= 2))


def _initials(run: list[str], skip_function: bool, spell: bool = False) -> str:
    parts: list[str] = []
    for w in run:
        for piece in re.split(r"-", w):  # "Five-Year Plan" gives F, Y, P
            if piece and not (skip_function and piece.lower() in FUNCTION):
                parts.append(piece.replace(".", "") if spell and _SPELLED.fullmatch(piece) else piece[0].upper())
    return "".join(parts)


def expansion(abbr: str, words: list[str], capitalised: bool = True) -> str | None:
    """The shortest run of words ending `words` whose initials spell `abbr` (with or without "of", "and");
    failing that, the shortest whose words each give their first letters, or their first letter and
    later ones, in order: "Northern Command (NORTHCOM)", "nonstrategic nuclear weapons (NSNW)"."""
    targets = _letters(abbr)
    runs = []
    for k in range(1, min(len(words), 12) + 1):
        run = words[-k:]
        if run[0].lower() in FUNCTION and not run[0] == "The":  # "The Metal Company (TMC)" spells its article
            continue
        if capitalised and not run[0][:1].isupper():
            continue
        if any(_initials(run, skip, spell) in targets for skip in (True, False) for spell in (False, True)):
            return _as_written(_with_head(words, run) if capitalised else run)
        if capitalised:
            full = _with_head(words, run)
            head = next((w for w in full[:len(full) - len(run)] if w in _SKIPPED_HEADS), None)
            if head and any((ini := _initials(run, skip)) + head[0] in targets and ini[:1] != head[0]
                            for skip in (True, False)):
                return _as_written(full)  # "Department of Education (ED)": the head's letter last (not DD, read in order)
        if len(_initials(run, True)) > max(len(t) for t in targets):
            break
        runs.append(run)
    letters = abbr.replace("&", "")
    if len(letters) >= 3 and letters.isupper() and letters.isalpha():
        for run in runs:
            content = [w for w in run if w.lower() not in FUNCTION]
            if 2 <= len(content) < len(letters) and _clipped(letters, [w.upper() for w in content]):
                # a country in front gives no letter but is part of the name: "U.S. Northern Command (NORTHCOM)"
                before = words[-len(run) - 1] if len(words) > len(run) else ""
                return _as_written([before, *run] if capitalised and before in _COUNTRIES else run)
    return None


_COUNTRIES = frozenset(COUNTRY_SHORT_FORMS)
# Heads an abbreviation may leave out: "Department of Veterans Affairs (VA)", "Ministry of Economy (MOE)" spells them.
_SKIPPED_HEADS = frozenset({"Department", "Ministry", "Office", "Bureau"})


def _with_head(words: list[str], run: list[str]) -> list[str]:
    """`run` with the "Department of (the)" its initials left out, and a country before that:
    "U.S. Department of Veterans Affairs (VA)" is the department, not "Veterans Affairs"."""
    before = words[:len(words) - len(run)]
    for n in (2, 3):
        head = before[-n:] if len(before) >= n else []
        if head and head[0] in _SKIPPED_HEADS and head[1] == "of" and (n == 2 or head[2] == "the"):
            country = before[-n - 1:-n] if len(before) > n and before[-n - 1] in _COUNTRIES else []
            return [*country, *head, *run]
    return run


def _as_written(run: list[str]) -> str:
    # "U.S." "-Mexico-Canada" were one word; "Company's (TMC's)" names the company
    return re.sub(r"[’']s$", "", re.sub(r" (?=-\w)", "", " ".join(run)).rstrip("."))


def _clipped(letters: str, words: list[str]) -> bool:
    """Whether `letters` is each of `words` in turn giving its first letter and, after it, none or
    more of its later letters in order ("NORTHCOM": NORTHern COMmand; "NSNW": NonStrategic Nuclear
    Weapons). Every word gives at least its first letter, so no word is skipped."""
    if not words:
        return not letters
    word = words[0]
    if not letters or letters[0] != word[0]:
        return False
    rest = letters[1:]
    # how many of `rest` this word gives, most first: try each split, later words need one letter each
    for n in range(len(rest) - (len(words) - 1), -1, -1):
        if _subsequence(rest[:n], word[1:]) and _clipped(rest[n:], words[1:]):
            return True
    return False


def _subsequence(part: str, word: str) -> bool:
    it = iter(word)
    return all(c in it for c in part)


def _named(long_form: str) -> bool:
    """A name capitalises its words; "Foreign direct investment (FDI)" opens a sentence but is a term."""
    content = [w for w in re.findall(r"[^\W\d_][\w’'.-]*", long_form) if w.lower() not in FUNCTION]
    return all(w[0].isupper() for w in content[1:])


@dataclass
class Abbreviations:
    """Abbreviations the texts define, per document and corpus-wide, and the ones that are terms."""

    by_doc: dict[str, dict[str, str]]  # doc id -> abbr -> long form
    corpus: dict[str, str]  # abbr -> long form, where every document agrees
    terms: set[str]  # "highly enriched uranium (HEU)": a lower-case long form, so not a name

    def for_doc(self, doc_id: str) -> dict[str, str]:
        return {**self.corpus, **self.by_doc.get(doc_id, {})}


class Definition(NamedTuple):
    """One "long form (ABBR)" or "ABBR (Long Form)" in a passage."""

    doc_id: str
    abbr: str  # as written: "SSBNs", "TMC"
    long_form: str  # "Department of Defense", or a term: "highly enriched uranium"
    named: bool  # capitalised as a name is; False for a term


def definitions_in(passages: Iterable[Passage]) -> Iterator[Definition]:
    """Every definition the passages make, in order. A long form before the brackets may be a term
    ("foreign direct investment (FDI)", "biological opinion (BiOp)"), and is then not `named`; one inside
    them ("DOD (Department of Defense)") must be the whole bracket and capitalised, or it is no definition.
    A glossary table's "ABBR | Long Form" rows define too (`glossary_rows`). The entities and the text the
    model embeds (embedding_text) read the same definitions (since PIPELINE_VERSION 15)."""
    for p in passages:
        flat = re.sub(r"\s+", " ", p.text)
        for m in _PAREN_AFTER.finditer(flat):
            words = _WORDS.findall(flat[max(0, m.start() - 160):m.start()])
            name = expansion(m.group(1), words)
            long_form = name or expansion(m.group(1), words, capitalised=False)
            if long_form:
                yield Definition(p.doc_id, m.group(1), long_form, bool(name) and _named(name))
        for m in _PAREN_LONG.finditer(flat):
            words = _WORDS.findall(m.group(2))
            long_form = expansion(m.group(1), words)
            if long_form and long_form == " ".join(words).rstrip("."):
                yield Definition(p.doc_id, m.group(1), long_form, True)
        if " | " in flat:
            for abbr, long_form in glossary_rows(flat):
                yield Definition(p.doc_id, abbr, long_form, _named(long_form))


_CELL_ABBR = re.compile(_ABBR)  # a glossary's first cell


def glossary_rows(text: str) -> Iterator[tuple[str, str]]:
    """(abbreviation, long form) of each "ABBR | Long Form" row of a table in `text` (a glossary).

    A table's rows may reach the passage joined into one line ("... | Department of Defense DRB | Discharge
    Review Board ..."), so a cell may end with the next row's first cell: the abbreviation is the last word
    of the cell before the bar, and the long form the cell after it, less up to three last words that may be
    the next row's first cell. The long form must start the cell, and its initials spell the abbreviation as
    those of a long form before "(ABBR)" do."""
    cells = text.split(" | ")
    for left, right in zip(cells, cells[1:]):
        left_words = left.split()
        if not left_words or not _CELL_ABBR.fullmatch(left_words[-1]):
            continue
        abbr, words = left_words[-1], _WORDS.findall(right)
        for k in range(len(words), max(1, len(words) - 3) - 1, -1):  # the next row's first cell: up to 3 words
            run = words[:k]
            long_form = expansion(abbr, run)
            if long_form and long_form == " ".join(run).rstrip("."):
                yield abbr, long_form
                break


def find_abbreviations(passages: Sequence[Passage]) -> Abbreviations:
    """"Long Form (ABBR)", "ABBR (Long Form)" and a glossary's "ABBR | Long Form", per document; the most
    frequent expansion wins."""
    found: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    lower: Counter[str] = Counter()
    for d in definitions_in(passages):
        if d.named:
            found[d.doc_id][d.abbr][d.long_form] += 1
        else:
            lower[d.abbr] += 1
    for doc_id, short, long_form in short_names_in(passages):
        found[doc_id][short][long_form] += 1
    _spelled_out(passages, found, lower)
    by_doc = {d: {a: c.most_common(1)[0][0] for a, c in abbrs.items()} for d, abbrs in found.items()}
    meanings: dict[str, set[str]] = defaultdict(set)
    for abbrs in by_doc.values():
        for a, long_form in abbrs.items():
            meanings[a].add(long_form.casefold())
    corpus = {}
    for abbrs in by_doc.values():
        for a, long_form in abbrs.items():
            if len(meanings[a]) == 1:
                corpus.setdefault(a, long_form)
    terms = {a for a in lower if a not in meanings}
    # "armored fighting vehicles (AFVs)" makes a term of the singular too ("AFV survivability").
    terms |= {a[:-1] for a in terms if a.endswith("s") and a[:-1].isupper() and a[:-1] not in meanings}
    return Abbreviations(by_doc, corpus, terms)


# "Federal Reserve (Fed)", "Live Nation Entertainment, Inc. (Live Nation)": a short name in brackets that
# is the start of the name before them. One to three words, not all capitals (those are abbreviations).
_PAREN_SHORT = re.compile(r"\((?:the\s+)?([A-Z][a-z][\w’'-]*(?:\s+[A-Z][\w’'-]*){0,2})\)")
_LEGAL_TAIL = re.compile(r",?\s+(?:Inc|LLC|Ltd|Corp|Co|PLC|plc|AG|SA|NV|GmbH)\.?\s*$")


def short_names_in(passages: Iterable[Passage]) -> Iterator[tuple[str, str, str]]:
    """(doc id, short name, full name) for each "Full Name (Short)": the short name is the full name's
    first words ("Live Nation") or the start of its first word ("Fed" of "Federal Reserve")."""
    for p in passages:
        flat = re.sub(r"\s+", " ", p.text)
        for m in _PAREN_SHORT.finditer(flat):
            before = _LEGAL_TAIL.sub("", flat[max(0, m.start() - 160):m.start()].rstrip())
            words = _WORDS.findall(before)
            short = m.group(1).split()
            for k in range(2, min(len(words), 8) + 1):
                run = words[-k:]
                if run[0].lower() in FUNCTION or not all(w[0].isupper() for w in run if w.lower() not in FUNCTION):
                    break
                starts = (run[:len(short)] == short and k > len(short)) or (
                    len(short) == 1 and len(short[0]) >= 3 and run[0].startswith(short[0]) and run[0] != short[0])
                if starts:
                    yield p.doc_id, m.group(1), " ".join(run).rstrip(".,")
                    break


_CAPITAL_RUN = re.compile(r"[A-Z][\w’'-]*(?:\s+(?:(?:of|and|for|on|the)\s+)*[A-Z][\w’'-]*)+")


def _spelled_out(passages: Sequence[Passage], found: dict[str, dict[str, Counter]], lower: Counter) -> None:
    """Abbreviations a document uses without defining, whose long form it spells out elsewhere:
    "the 15th FYP" and "China's 15th Five-Year Plan". Only where one capitalised phrase of the
    document has exactly those initials, and for three letters or more (two are too easily met)."""
    by_doc: dict[str, list[str]] = defaultdict(list)
    for p in passages:
        by_doc[p.doc_id].append(re.sub(r"\s+", " ", p.text))
    for doc_id, texts in by_doc.items():
        defined = found.get(doc_id, {})
        used = {a for t in texts for a in re.findall(r"\b[A-Z]{3,6}\b", t)} - set(defined) - set(lower)
        if not used:
            continue
        spelled: dict[str, set[str]] = defaultdict(set)
        for t in texts:
            for run in _CAPITAL_RUN.finditer(t):
                words = run.group().split()
                for i in range(len(words)):
                    for j in range(i + 2, min(len(words), i + 8) + 1):
                        part = words[i:j]
                        if part[0].lower() in FUNCTION or part[-1].lower() in FUNCTION or part[0].isupper():
                            continue
                        initials = _initials(part, True)
                        if initials in used:
                            spelled[initials].add(" ".join(part).rstrip(".,;:"))
        for abbr, forms in spelled.items():
            if len(forms) == 1:
                found[doc_id][abbr][forms.pop()] += 1


def bare_mentions(passages: Sequence[Passage], raw: Sequence, known: dict[str, dict[str, str]],
                  labels: dict[str, str]) -> list[tuple[str, int, int, str, str]]:
    """(passage id, start, end, text, label) for abbreviations NER missed: "JCPOA" after "... (JCPOA)".

    `known` maps a doc id to its abbreviations; `labels` a long form's casefolded text to its label.
    Spans already covered by a model mention are left to the model.
    """
    covered: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for m in raw:
        covered[m.passage_id].append((m.start, m.end))
    out = []
    patterns: dict[str, re.Pattern[str]] = {}
    for p in passages:
        abbrs = known.get(p.doc_id) or {}
        if not abbrs:
            continue
        pattern = patterns.get(p.doc_id)
        if pattern is None:
            alternatives = "|".join(re.escape(a) for a in sorted(abbrs, key=len, reverse=True))
            pattern = patterns[p.doc_id] = re.compile(r"(?<![\w&-])(" + alternatives + r")(?![\w&])")
        for m in pattern.finditer(p.text):
            s, e = m.span(1)
            if any(a < e and s < b for a, b in covered[p.passage_id]):
                continue
            label = labels.get(abbrs[m.group(1)].casefold())
            if label:
                out.append((p.passage_id, s, e, m.group(1), label))
    return out