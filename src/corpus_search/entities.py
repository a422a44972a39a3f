"""Entities: spaCy NER + domain patterns + an alias table -> one canonical name and label per mention.

Stage order: `Tagger.tag` finds raw mentions (model + the package's general EntityRuler
patterns, `data/entity_patterns.jsonl`); `apply_patterns` lays the corpus's own patterns
(`corpus/_entities/patterns.jsonl`) over them at build time; `AliasTable.build` collects what
names mean (`data/aliases.toml`, abbreviations learned from the texts, then the corpus's
`corpus/_entities/*.toml`); `canonicalize` turns raw mentions into `Mention`s.
spaCy is imported only when a Tagger first tags, so importing this module is cheap.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from corpus_search import config, entity_rules
from corpus_search.errors import CorpusSearchError
from corpus_search.models import Mention, Passage
from corpus_search.textnorm import fold

DATA = Path(__file__).parent / "data"
PATTERNS = DATA / "entity_patterns.jsonl"
ALIASES = DATA / "aliases.toml"

# Users filter by who and what; dates and amounts are noise in an entity list.
DROPPED_LABELS = frozenset({"CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY", "DATE", "TIME"})
# Tie-break for the majority label, so the same mentions always give the same label.
LABEL_ORDER = ("PERSON", "ORG", "GPE", "LOC", "PROJECT", "NORP", "FAC", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART", "LANGUAGE")
# NER needs only its own embedding layer: in the en_core_web_* pipelines `ner` carries
# its own tok2vec, so the shared one (which feeds tagger and parser) is dead weight.
_UNUSED = ["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "morphologizer", "trainable_lemmatizer"]

_PRONOUNS = frozenset(
    "i me my mine we us our ours you your he him his she her hers it its they them their theirs "
    "this that these those who whom whose which what one ones".split()
)
# Page furniture and reference apparatus the model likes to call an ORG or a LAW.
_FURNITURE = re.compile(
    r"^(box|figure|fig|table|chart|map|graph|annex|appendix|chapter|section|part|note|notes|page|pages|p|pp|"
    r"para|paragraph|source|sources|vol|no)( [0-9ivxlc]+[a-z]?)?$"
)
_FUNCTION_WORDS = frozenset({"of", "and", "the", "for", "on", "in", "de", "&", "to", "at"})


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


def _clean_name(text: str) -> str:
    """A display name from a surface form: spaces collapsed, a leading 'the' dropped."""
    name = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"^[Tt]he ", "", name)


def _trim(text: str) -> tuple[int, int]:
    """The part of a model span that names the thing: no 'the', possessive, quotes or glued note marks."""
    lo, hi = 0, len(text)
    while True:
        before = (lo, hi)
        # "Shanghai Cooperation Organisation (SCO": the short form is a mention of its own.
        m = re.search(r"\s*\([^)]*\)?$", text[lo:hi])
        if m and m.start() > 0:
            hi = lo + m.start()
        # "CRS Report(s)": the abbreviation names the publisher, the report is a document
        m = re.search(r"(?<=[A-Z]{2})\s+Reports?$", text[lo:hi])
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


def _is_junk(key: str, text: str) -> bool:
    if not re.search(r"[^\W\d_]", key) or len(key.replace(" ", "")) < 2:
        return True  # lone numbers, single characters, punctuation
    if key in _PRONOUNS or _FURNITURE.match(key):
        return True
    # Proper names are capitalised; lower-case spans are fragments ("sia" from "A-\nsia").
    return not any(c.isupper() for c in text)


# -- the alias table ----------------------------------------------------------------
@dataclass
class _Entry:
    name: str
    label: str | None  # a declared label is final; None: the mentions' majority decides
    source: str


class AliasTable:
    """What each name means: declared (data file), learned (from the texts), user (overrides all)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._junk: set[str] = set()
        self._rollup: dict[str, list[str]] = {}
        self._fixed: dict[str, str] = {}  # canonical name -> declared label
        self._seen: dict[str, tuple[str, str]] = {}  # surface keys met by canonicalize
        self._labels: dict[str, str] = {}  # canonical name -> label chosen by canonicalize
        self.abbreviations = entity_rules.Abbreviations({}, {}, set())
        self.acronyms: dict[str, str] = {}  # declared all-capitals or curated alias as written -> canonical name

    @classmethod
    def build(cls, passages: Sequence[Passage], user_dir: Path | None = None) -> AliasTable:
        table = cls()
        for abbr, long_form in learn_abbreviations(p.text for p in passages).items():
            table._entries[alias_key(long_form)] = _Entry(long_form, None, "learned")
            table._entries[alias_key(abbr)] = _Entry(long_form, None, "learned")
        table.abbreviations = abbrs = entity_rules.find_abbreviations(passages)
        for abbr, long_form in abbrs.corpus.items():
            table._entries[alias_key(long_form)] = _Entry(long_form, None, "learned")
            table._entries[alias_key(abbr)] = _Entry(long_form, None, "learned")
        # A term's abbreviation ("highly enriched uranium (HEU)") names nothing.
        table._junk.update(alias_key(a) for a in abbrs.terms)
        table._load(ALIASES, "table")
        if user_dir is not None:
            folder = user_dir / "_entities" if (user_dir / "_entities").is_dir() else user_dir
            for path in sorted(folder.glob("*.toml")):
                if path.name != "curation.toml":
                    table._load(path, "user")
            table._load_curated_aliases(folder)
        return table

    def _load(self, path: Path, source: str) -> None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CorpusSearchError(f"{path}: alias file is not valid TOML ({exc}); fix or remove it") from None
        for item in data.get("entity", []):
            name, label = str(item["name"]).strip(), item.get("label")
            label = str(label).upper() if label else None
            # A learned alias that pointed at an old spelling now points at the declared name.
            for surface in [name, *item.get("aliases", [])]:
                if re.fullmatch(r"[A-Z][A-Za-z]?[A-Z&]{1,7}", str(surface)):
                    self.acronyms[str(surface)] = name
                old = self._entries.get(alias_key(surface))
                if old is not None and old.source == "learned":
                    for entry in self._entries.values():
                        if entry.name == old.name:
                            entry.name = name
                self._entries[alias_key(surface)] = _Entry(name, label, source)
                self._junk.discard(alias_key(surface))  # declaring a name un-junks it
            if label:
                self._fixed[name] = label
        self._junk.update(alias_key(k) for k in data.get("junk", {}).get("keys", []))
        for name, parents in data.get("rollup", {}).items():
            self._rollup[name] = [str(p) for p in parents]

    def _load_curated_aliases(self, folder: Path) -> None:
        """Aliases added by curation teach the build too, so it finds them where the model did not."""
        from corpus_search.curation import Curation

        state = Curation.load(folder).state()
        for name, extra in state.aliases.items():
            for alias in extra:
                self._entries[alias_key(alias)] = _Entry(name, None, "user")
                self.acronyms[alias] = name  # matched as written in every passage, like a declared abbreviation

    def canonical(self, text: str, label: str, doc_id: str | None = None) -> tuple[str, str] | None:
        """(canonical name, label) for a surface form, or None when it is junk to drop."""
        if label in DROPPED_LABELS:
            return None
        key = alias_key(text)
        entry = self._entries.get(key)
        # An abbreviation this document defines means what it says here, whatever other documents say.
        local = self.abbreviations.by_doc.get(doc_id or "", {})
        if text in local and (entry is None or entry.source == "learned"):
            long_form = local[text]
            entry = self._entries.get(alias_key(long_form)) or _Entry(long_form, None, "learned")
        # Declared names (yours, then the data file) beat the junk rules; learned ones do not
        # ("LNG Liquefied Natural Gas" in an annex does not make LNG an entity).
        if entry is not None and entry.source in ("user", "table"):
            return entry.name, entry.label or label
        if key in self._junk or _is_junk(key, text):
            return None
        if entry is not None:
            return entry.name, entry.label or label
        return _clean_name(text), label

    def fixed_label(self, name: str) -> str | None:
        return self._fixed.get(name)

    def declared(self, key: str) -> bool:
        return key in self._entries

    def curated(self, key: str) -> bool:
        """Declared by a person (the corpus's own files), so above the noise rules."""
        entry = self._entries.get(key)
        return entry is not None and entry.source in ("user", "table")

    def learn(self, key: str, name: str) -> None:
        """Record an alias found while canonicalising (a surname standing for a full name)."""
        self._entries.setdefault(key, _Entry(name, None, "learned"))

    def note(self, key: str, name: str, label: str) -> None:
        self._seen[key] = (name, label)
        self._labels[name] = label

    def rollups(self) -> dict[str, list[str]]:
        return self._rollup

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(alias key, canonical name, label, source) for Store.set_aliases."""
        out: dict[tuple[str, str], tuple[str, str, str, str]] = {}
        for key, (name, label) in self._seen.items():
            out[(key, name)] = (key, name, label, "surface")
        for key, entry in self._entries.items():
            # Learned abbreviations carry no label of their own; most name organisations.
            label = entry.label or self._labels.get(entry.name) or "ORG"
            out[(key, entry.name)] = (key, entry.name, label, entry.source)
        return sorted(out.values())


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


@lru_cache(maxsize=1)
def _packaged_rollups() -> dict[str, list[str]]:
    return {k: list(v) for k, v in tomllib.loads(ALIASES.read_text(encoding="utf-8")).get("rollup", {}).items()}


def rollup(name: str, table: AliasTable | None = None) -> list[str]:
    """The places a name sits within ("Moscow" -> ["Russia"]), nearest first; an opt-in widening, never a merge."""
    parents = table.rollups() if table is not None else _packaged_rollups()
    out: list[str] = []
    todo = list(parents.get(name, []))
    while todo:
        parent = todo.pop(0)
        if parent != name and parent not in out:
            out.append(parent)
            todo.extend(parents.get(parent, []))
    return out


# -- tagging ------------------------------------------------------------------------
# Same-length substitutions, so model offsets stay passage offsets: a line break inside
# "Power \nof Siberia" would stop a phrase pattern, and U+2011 hides a hyphen from spaCy.
_FOR_MODEL = str.maketrans({"\n": " ", "\r": " ", "\t": " ", "\u00a0": " ", "\u2011": "-", "\u2010": "-"})


class Tagger:
    """spaCy NER with an EntityRuler (domain patterns) placed before the model's `ner`."""

    def __init__(self, model: str | None = None, patterns: Path | None = None):
        self.model = model or config.get("spacy_model")
        self.patterns = patterns or PATTERNS
        self._nlp: Any = None

    @property
    def nlp(self) -> Any:
        if self._nlp is None:
            import spacy  # lazy: spaCy takes seconds to import

            try:
                nlp = spacy.load(self.model, exclude=_UNUSED)
            except OSError as exc:
                raise CorpusSearchError(
                    f"spaCy model {self.model!r} is not installed ({exc}); install it or set CORPUS_SEARCH_SPACY_MODEL"
                ) from None
            patterns = load_patterns(self.patterns)
            if patterns:  # an empty file means the bare model (spaCy warns on every doc otherwise)
                nlp.add_pipe("entity_ruler", before="ner").add_patterns(patterns)
            self._nlp = nlp
        return self._nlp

    def tag(self, passages: Sequence[Passage], progress: Callable[[int], None] | None = None) -> list[RawMention]:
        nlp = self.nlp
        batch = config.get_int("ner_batch_size")
        texts = ((p.text.translate(_FOR_MODEL), p.passage_id) for p in passages)
        out: list[RawMention] = []
        done = 0
        for passage, (doc, pid) in zip(passages, nlp.pipe(texts, as_tuples=True, batch_size=batch)):
            for ent in doc.ents:
                if ent.label_ not in DROPPED_LABELS:
                    text = passage.text[ent.start_char : ent.end_char]
                    out.append(RawMention(pid, ent.start_char, ent.end_char, text, ent.label_))
            done += 1
            if progress is not None and (done % batch == 0 or done == len(passages)):
                progress(done)
        return out


CORPUS_PATTERNS = "patterns.jsonl"  # a corpus's own EntityRuler patterns, in corpus/_entities/


def corpus_patterns(user_dir: Path | None) -> list[dict[str, Any]]:
    """The corpus's own patterns (corpus/_entities/patterns.jsonl); none when it has no such file."""
    if user_dir is None:
        return []
    folder = user_dir / "_entities" if (user_dir / "_entities").is_dir() else user_dir
    path = folder / CORPUS_PATTERNS
    return load_patterns(path) if path.is_file() else []


def _token_candidates(patterns: Sequence[dict[str, Any]]) -> re.Pattern[str] | None:
    """A cheap test for text a token pattern may match (its first word), or None when one starts too loosely."""
    parts = set()
    for item in patterns:
        first = item["pattern"][0] if item["pattern"] else {}
        word = first.get("ORTH") or first.get("TEXT") or first.get("LOWER")
        if not isinstance(word, str) or first.get("OP"):
            return None
        parts.add(rf"(?i:\b{re.escape(word)}\b)")
    return re.compile("|".join(sorted(parts, key=len, reverse=True)))


@lru_cache(maxsize=4)
def _matchers(patterns_json: str) -> tuple[dict[str, str], re.Pattern[str] | None, Any, re.Pattern[str] | None]:
    """(phrase -> label, one regex over the phrases, a blank pipeline with the token patterns, their first-word test).

    Phrases are matched by a regex (whole words, case as written, any spacing), which is what the
    EntityRuler's phrase matcher does and much cheaper than tokenising; token patterns need spaCy's
    tokenizer, which runs only on the sentences that hold one's first word.
    """
    patterns = json.loads(patterns_json)
    phrases = {" ".join(item["pattern"].split()): item["label"] for item in patterns if isinstance(item["pattern"], str)}
    alternatives = "|".join(r"\s+".join(re.escape(w) for w in ph.split()) for ph in sorted(phrases, key=len, reverse=True))
    phrase_re = re.compile(rf"(?<![\w&])(?:{alternatives})(?![\w&])") if phrases else None
    tokens = [item for item in patterns if not isinstance(item["pattern"], str)]
    nlp = None
    if tokens:
        import spacy  # lazy: only a corpus with token patterns needs it here

        nlp = spacy.blank("en")
        nlp.add_pipe("entity_ruler").add_patterns(tokens)
    return phrases, phrase_re, nlp, _token_candidates(tokens) if tokens else None


def apply_patterns(passages: Sequence[Passage], raw: Sequence[RawMention],
                   patterns: Sequence[dict[str, Any]]) -> list[RawMention]:
    """The raw mentions with the corpus's patterns laid over them, as an EntityRuler before `ner` would:
    the longest pattern span wins, and replaces every model span it overlaps.

    Run at build time over all passages, so a changed patterns file needs no new tagging.
    """
    if not patterns:
        return list(raw)
    phrases, phrase_re, nlp, token_re = _matchers(json.dumps(list(patterns), sort_keys=True))
    found: list[RawMention] = []
    pieces = []
    for p in passages:
        if phrase_re is not None:
            for m in phrase_re.finditer(p.text.translate(_FOR_MODEL)):  # same length: offsets hold
                found.append(RawMention(p.passage_id, m.start(), m.end(), p.text[m.start():m.end()],
                                        phrases[" ".join(m.group().split())]))
        if nlp is not None and (token_re is None or token_re.search(p.text)):
            # Only the sentences holding a token pattern's first word are tokenised (no name runs over a full stop).
            for m in re.finditer(r"\S.*?(?:[.!?](?=\s)|$)", p.text, re.S):
                if token_re is None or token_re.search(m.group()):
                    pieces.append((m.group().translate(_FOR_MODEL), (p, m.start())))
    for doc, (passage, offset) in nlp.pipe(pieces, as_tuples=True) if pieces else ():
        for ent in doc.ents:
            start, end = offset + ent.start_char, offset + ent.end_char
            found.append(RawMention(passage.passage_id, start, end, passage.text[start:end], ent.label_))
    # Overlapping pattern spans: the longest, then the first, as the EntityRuler keeps them.
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    chosen = []
    for m in sorted(found, key=lambda m: (m.passage_id, -(m.end - m.start), m.start)):
        if not any(s < m.end and m.start < e for s, e in spans[m.passage_id]):
            spans[m.passage_id].append((m.start, m.end))
            chosen.append(m)
    kept = [m for m in raw if not any(s < m.end and m.start < e for s, e in spans.get(m.passage_id, ()))]
    return kept + chosen


def load_patterns(path: Path) -> list[dict[str, Any]]:
    """EntityRuler patterns, one JSON object a line; a bad line is reported by number."""
    patterns = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CorpusSearchError(f"cannot read entity patterns {path} ({exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or "label" not in item or "pattern" not in item:
                raise ValueError("needs 'label' and 'pattern'")
        except ValueError as exc:
            raise CorpusSearchError(f"{path}:{n}: not a pattern ({exc}); see docs/entities.md") from None
        patterns.append(item)
    return patterns


# -- canonical names ----------------------------------------------------------------
def canonicalize(raw: Sequence[RawMention], table: AliasTable,
                 ctx: entity_rules.Context | None = None) -> list[Mention]:
    """Mentions with one canonical name each and one label per name (declared, else the majority).

    With a `ctx` (the passages' text and words), the general noise rules drop what names
    nothing; `ctx.removed` counts what each rule removed.
    """
    kept: list[tuple[RawMention, int, int, str, str, str]] = []  # raw, start, end, text, name, label
    for m in sorted(set(raw), key=lambda r: (r.passage_id, r.start, r.end, r.label)):
        lo, hi = _trim(m.text)
        text, label = m.text[lo:hi], m.label
        doc_id = m.passage_id.rsplit(":", 1)[0]
        if ctx is not None:
            # "Trump Administration": the administration is named after a person the texts name.
            who = re.fullmatch(r"([A-Z][\w’'-]+) Administration", text)
            if who and who.group(1).lower() in ctx.person_parts:
                hi = lo + who.end(1)
                text, label = m.text[lo:hi], "PERSON"
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
            if label in ("ORG", "PERSON") and entity_rules.product_context(
                    ctx.texts.get(m.passage_id, ""), m.start + lo, m.start + hi, text):
                label = "PRODUCT"  # "tankers CS Anthem", "the Sarmat ICBM"
            key = alias_key(text)
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
            kept.append((m, m.start + lo, m.start + hi, text, found[0], entity_rules.head_label(*found)))

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


def _kept_head_label(name: str, label: str) -> str:
    """The head noun's label where it saves a name from the noise rules: a law or a programme of ordinary
    words is no junk ORG; a document of ordinary words ("Annual Threat Assessment", "ATA") is left to them."""
    headed = entity_rules.head_label(name, label)
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


def entity_mentions(passages: Sequence[Passage], raw: Sequence[RawMention],
                    user_dir: Path | None = None) -> tuple[list[Mention], AliasTable]:
    """The build's entity step after NER: alias table (with the corpus's own knowledge), abbreviations
    NER missed, the noise rules, canonical names."""
    user_dir = user_dir if user_dir is not None and user_dir.is_dir() else None
    table = AliasTable.build(passages, user_dir)
    raw = apply_patterns(passages, raw, corpus_patterns(user_dir))
    return canonicalize([*raw, *missed_abbreviations(passages, raw, table)], table,
                        entity_rules.Context.of(passages, raw)), table


def missed_abbreviations(passages: Sequence[Passage], raw: Sequence[RawMention], table: AliasTable) -> list[RawMention]:
    """Bare abbreviations ("JCPOA") the model did not tag, where the texts or the corpus files define them.

    Each takes its long form's label as the model gave it elsewhere (never PERSON: people are not
    abbreviated so), else ORG when the long form is headed like an institution, else it is left out.
    """
    seen: dict[str, Counter] = defaultdict(Counter)
    for m in raw:
        lo, hi = _trim(m.text)
        if m.label != "PERSON" and m.label not in DROPPED_LABELS:
            seen[m.text[lo:hi].casefold()][m.label] += 1
    labels = {k: c.most_common(1)[0][0] for k, c in seen.items()}
    known: dict[str, dict[str, str]] = {}
    for doc_id in {p.doc_id for p in passages}:
        abbrs = {a: n for a, n in table.acronyms.items()}
        abbrs.update(table.abbreviations.for_doc(doc_id))
        known[doc_id] = abbrs
        for long_form in abbrs.values():
            key = long_form.casefold()
            if key not in labels:
                fixed = table.fixed_label(long_form)
                heads = {w.lower() for w in long_form.split()} & entity_rules.ORG_HEADS
                if fixed or heads:
                    labels[key] = fixed or "ORG"
    return [RawMention(*row) for row in entity_rules.bare_mentions(passages, raw, known, labels)]


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
