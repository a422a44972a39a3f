"""Entities: spaCy NER + domain patterns + an alias table -> one canonical name and label per mention.

The stage, in the order a build runs it (one module each):

- `entity_tagger.Tagger` finds raw mentions (the model, with the package's general EntityRuler
  patterns, `data/entity_patterns.jsonl`); spaCy is imported only when it first tags.
- `entity_patterns.apply_patterns` lays the corpus's own patterns (`corpus/_entities/patterns.jsonl`)
  over them at build time.
- `entity_aliases.AliasTable` collects what names mean: abbreviations learned from the texts
  (`entity_abbreviations`), the package's general junk keys (`data/aliases.toml`), then the corpus's
  `corpus/_entities/*.toml` (names, aliases, labels, junk, the place roll-up) and its curation.
- `entity_canonical.canonicalize` turns raw mentions into `Mention`s, with the general noise rules
  of `entity_rules`; `resolve` and `suggest` map what a user types back to canonical names.
- `entity_keys`: the `RawMention` type and the key names are compared by (`alias_key`).

This module is the stage's entry point (`entity_mentions`) and keeps every name the rest of the
package imports from `corpus_search.entities`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from corpus_search import entity_rules
from corpus_search.entity_cases import with_cases
from corpus_search.entity_abbreviations import grow_to_long_forms, learn_abbreviations, missed_abbreviations, split_pairs
from corpus_search.entity_aliases import ALIASES, ROLLUP_PREFIX, AliasTable, rollup, within
from corpus_search.entity_canonical import canonicalize, resolve, suggest
from corpus_search.entity_discourse import one_sense
from corpus_search.entity_keys import DROPPED_LABELS, LABEL_ORDER, RawMention, alias_key, trim
from corpus_search.entity_patterns import CORPUS_PATTERNS, FOR_MODEL, PATTERNS, apply_patterns, corpus_patterns, load_patterns
from corpus_search.entity_tagger import UNUSED_PIPES, Tagger
from corpus_search.models import Mention, Passage

# The names these had before the stage was split (bench/ and older callers import them).
_trim, _FOR_MODEL, _UNUSED = trim, FOR_MODEL, UNUSED_PIPES

__all__ = [
    "ALIASES", "CORPUS_PATTERNS", "DROPPED_LABELS", "LABEL_ORDER", "PATTERNS", "ROLLUP_PREFIX", "AliasTable",
    "RawMention", "Tagger", "alias_key", "apply_patterns", "canonicalize", "corpus_patterns", "entity_mentions",
    "learn_abbreviations", "load_patterns", "missed_abbreviations", "resolve", "rollup", "suggest", "within",
]


def entity_mentions(passages: Sequence[Passage], raw: Sequence[RawMention],
                    user_dir: Path | None = None) -> tuple[list[Mention], AliasTable]:
    """The build's entity step after NER: alias table (with the corpus's own knowledge), the corpus's
    patterns, court cases, abbreviations NER missed, the noise rules, canonical names."""
    user_dir = user_dir if user_dir is not None and user_dir.is_dir() else None
    table = AliasTable.build(passages, user_dir)
    raw = with_cases(passages, apply_patterns(passages, raw, corpus_patterns(user_dir)))
    ctx = entity_rules.Context.of(passages, raw)
    ctx.terms = set(table.abbreviations.terms)
    raw = entity_rules.grow_headed(passages, grow_to_long_forms(passages, raw, table))
    raw = entity_rules.split_coordinated(passages, raw, table)
    raw = one_sense(passages, split_pairs(raw, table), ctx)
    return canonicalize([*raw, *missed_abbreviations(passages, raw, table)], table, ctx), table
