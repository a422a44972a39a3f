"""EntityRuler patterns: the package's general ones (run before the model's `ner`) and the corpus's own
(`corpus/_entities/patterns.jsonl`), laid over the model's spans at build time so editing them needs
no new tagging."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from corpus_search.entity_keys import RawMention
from corpus_search.errors import CorpusSearchError
from corpus_search.models import Passage

PATTERNS = Path(__file__).parent / "data" / "entity_patterns.jsonl"
CORPUS_PATTERNS = "patterns.jsonl"  # a corpus's own EntityRuler patterns, in corpus/_entities/
# Same-length substitutions, so model offsets stay passage offsets: a line break inside
# "Power \nof Siberia" would stop a phrase pattern, and U+2011 hides a hyphen from spaCy.
FOR_MODEL = str.maketrans({"\n": " ", "\r": " ", "\t": " ", "\u00a0": " ", "\u2011": "-", "\u2010": "-"})


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
            for m in phrase_re.finditer(p.text.translate(FOR_MODEL)):  # same length: offsets hold
                found.append(RawMention(p.passage_id, m.start(), m.end(), p.text[m.start():m.end()],
                                        phrases[" ".join(m.group().split())]))
        if nlp is not None and (token_re is None or token_re.search(p.text)):
            # Only the sentences holding a token pattern's first word are tokenised (no name runs over a full stop).
            for m in re.finditer(r"\S.*?(?:[.!?](?=\s)|$)", p.text, re.S):
                if token_re is None or token_re.search(m.group()):
                    pieces.append((m.group().translate(FOR_MODEL), (p, m.start())))
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
