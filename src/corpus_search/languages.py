"""The language of each passage, detected offline with lingua (its models ship inside the wheel).

lingua-language-detector was picked because it is maintained, needs no download at run time (checked
with no network at all) and, in its low-accuracy mode, tags a few thousand passages a second on one
core. Short texts (a heading, a figure number) say too little to tell a language from another, so
they get None rather than a guess; so does a text lingua itself is unsure about.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

from corpus_search import config
from corpus_search.errors import UsageError
from corpus_search.models import Passage

MODES = ("low", "high", "off")
MIN_LETTERS = 60  # fewer letters than this and any language is a guess (headings, abbreviations)
MIN_DISTANCE = 0.1  # lingua's minimum relative distance between the best two languages
SAMPLE = 300  # characters of a passage read: enough to tell a language; the time grows with the length
_LETTER = re.compile(r"[^\W\d_]")
_URL = re.compile(r"\S*(?:https?://|www\.)\S*")


def mode() -> str:
    value = config.get("language_detection").strip().lower()
    if value not in MODES:
        raise UsageError(f"setting CORPUS_SEARCH_LANGUAGE_DETECTION={value!r} must be one of {', '.join(MODES)}")
    return value


@lru_cache(maxsize=2)
def _detector(accuracy: str):
    from lingua import LanguageDetectorBuilder  # lazy: the detector loads its models on first use

    builder = LanguageDetectorBuilder.from_all_languages().with_minimum_relative_distance(MIN_DISTANCE)
    if accuracy == "low":
        # Loaded up front: lazily, each language's model loads on the first text that needs it, and
        # a build's first few hundred passages paid for that (8.7 ms a passage instead of 0.5).
        builder = builder.with_low_accuracy_mode().with_preloaded_language_models()
    return builder.build()


def detect(texts: Sequence[str]) -> list[str | None]:
    """The ISO 639-1 code of each text's language ("en", "de"), or None when too short or unsure."""
    accuracy = mode()
    if accuracy == "off":
        return [None] * len(texts)
    detector = _detector(accuracy)
    codes: list[str | None] = []
    for text in texts:
        # The first SAMPLE characters tell the language as well as the whole passage, at a bounded cost;
        # web addresses are no language, and in a reference they outweigh the words.
        text = _URL.sub(" ", text[:SAMPLE])
        if len(_LETTER.findall(text)) < MIN_LETTERS:
            codes.append(None)
            continue
        found = detector.detect_language_of(text)
        codes.append(found.iso_code_639_1.name.lower() if found is not None else None)
    return codes


def tag(passages: Sequence[Passage]) -> list[Passage]:
    """The passages with their `language` set."""
    return [replace(p, language=code) for p, code in zip(passages, detect([p.text for p in passages]))]


def name(code: str | None) -> str:
    """A language's English name for display ("de" -> "German"); the code itself when unknown."""
    if not code:
        return "unknown"
    try:
        from lingua import IsoCode639_1, Language

        return Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())).name.title()
    except (ImportError, AttributeError, ValueError):
        return code
