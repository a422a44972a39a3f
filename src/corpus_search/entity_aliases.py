"""The alias table: what each name means, and the places a name sits within.

Built per build from three sources, lowest first: abbreviations learned from the texts, the
package's general junk keys (`data/aliases.toml`), and the corpus's own files
(`corpus/_entities/*.toml`: names, aliases, labels, junk keys and the place roll-up), with the
curation's added aliases on top. The roll-up is corpus knowledge: it is stored with the index's
aliases, so a search widens a place only by the table its own corpus declared.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus_search.entity_abbreviations import Abbreviations, find_abbreviations, learn_abbreviations
from corpus_search.entity_keys import DROPPED_LABELS, alias_key, clean_name, is_junk
from corpus_search.errors import CorpusSearchError
from corpus_search.models import Passage

ALIASES = Path(__file__).parent / "data" / "aliases.toml"
# Roll-up rows ride in the store's alias table under keys no alias_key can produce (it drops ':'),
# so no user's --entity string ever resolves through them.
ROLLUP_PREFIX = "within:"


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
        self.abbreviations = Abbreviations({}, {}, set())
        self.acronyms: dict[str, str] = {}  # declared all-capitals or curated alias as written -> canonical name

    @classmethod
    def build(cls, passages: Sequence[Passage], user_dir: Path | None = None) -> AliasTable:
        table = cls()
        for abbr, long_form in learn_abbreviations(p.text for p in passages).items():
            table._entries[alias_key(long_form)] = _Entry(long_form, None, "learned")
            table._entries[alias_key(abbr)] = _Entry(long_form, None, "learned")
        table.abbreviations = abbrs = find_abbreviations(passages)
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
        if text.isupper() and text not in local:  # "DOD" where the document defined "DoD"
            text = next((a for a in local if a.upper() == text), text)
        if text in local and (entry is None or entry.source == "learned"):
            long_form = local[text]
            entry = self._entries.get(alias_key(long_form)) or _Entry(long_form, None, "learned")
        # Declared names (yours, then the data file) beat the junk rules; learned ones do not
        # ("LNG Liquefied Natural Gas" in an annex does not make LNG an entity).
        if entry is not None and entry.source in ("user", "table"):
            return entry.name, entry.label or label
        if key in self._junk or is_junk(key, text):
            return None
        if entry is not None:
            return entry.name, entry.label or label
        return clean_name(text), label

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
        """(alias key, canonical name, label, source) for Store.set_aliases; the roll-up as "rollup" rows."""
        out: dict[tuple[str, str], tuple[str, str, str, str]] = {}
        for key, (name, label) in self._seen.items():
            out[(key, name)] = (key, name, label, "surface")
        for key, entry in self._entries.items():
            # Learned abbreviations carry no label of their own; most name organisations.
            label = entry.label or self._labels.get(entry.name) or "ORG"
            out[(key, entry.name)] = (key, entry.name, label, entry.source)
        for name, parents in self._rollup.items():
            for parent in parents:
                key = ROLLUP_PREFIX + name
                out[(key, parent)] = (key, parent, self._labels.get(parent) or self._fixed.get(parent) or "", "rollup")
        return sorted(out.values())


def _parents(table: AliasTable | Mapping[str, list[tuple[str, str]]]) -> dict[str, list[str]]:
    """The roll-up of an AliasTable, or of a store's aliases (`Store.aliases()`: its "within:" rows).

    A store's rows are keyed by the child's name at build time; a curated rename or merge of the child
    shows in the store's aliases (the child's own key then names what it became), so the roll-up follows it.
    """
    if isinstance(table, AliasTable):
        return table.rollups()
    out: dict[str, list[str]] = {}
    for key, rows in table.items():
        if not key.startswith(ROLLUP_PREFIX):
            continue
        child, parents = key[len(ROLLUP_PREFIX):], [name for name, _ in rows]
        now = {name for name, _ in table.get(alias_key(child), [])}
        for name in (now if now and child not in now else {child}):
            out.setdefault(name, [])
            out[name].extend(p for p in parents if p not in out[name])
    return out


def _climb(name: str, parents: Mapping[str, list[str]]) -> list[str]:
    out: list[str] = []
    todo = list(parents.get(name, []))
    while todo:
        parent = todo.pop(0)
        if parent != name and parent not in out:
            out.append(parent)
            todo.extend(parents.get(parent, []))
    return out


def rollup(name: str, table: AliasTable | Mapping[str, list[tuple[str, str]]]) -> list[str]:
    """The places a name sits within ("Moscow" -> ["Russia"]), nearest first, by the corpus's own table
    (the AliasTable a build made, or the store's aliases it wrote); an opt-in widening, never a merge."""
    return _climb(name, _parents(table))


def within(places: Iterable[str], names: Iterable[str],
           table: AliasTable | Mapping[str, list[tuple[str, str]]]) -> list[str]:
    """Those of `names` that sit within any of `places` (the table read once for all of them)."""
    parents, wanted = _parents(table), set(places)
    return [n for n in names if wanted & set(_climb(n, parents))]
