"""Tagging: spaCy NER (with the package's general EntityRuler patterns before `ner`) over passages.

spaCy is imported only when a Tagger first tags, so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from corpus_search import config
from corpus_search.entity_keys import DROPPED_LABELS, RawMention
from corpus_search.entity_patterns import FOR_MODEL, PATTERNS, load_patterns
from corpus_search.errors import CorpusSearchError
from corpus_search.models import Passage

# Bump when the tagger makes something else of the same text (the model's name and version are in the
# index's manifest already, and the patterns file and these tables in `fingerprint`): a build then tags
# again the passages it would otherwise take from an earlier build by their text (build_entities).
TAGGER_VERSION = "1"

# NER needs only its own embedding layer: in the en_core_web_* pipelines `ner` carries
# its own tok2vec, so the shared one (which feeds tagger and parser) is dead weight.
UNUSED_PIPES = ["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer", "morphologizer",
                "trainable_lemmatizer"]


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
                nlp = spacy.load(self.model, exclude=UNUSED_PIPES)
            except OSError as exc:
                raise CorpusSearchError(
                    f"spaCy model {self.model!r} is not installed ({exc}); install it or set CORPUS_SEARCH_SPACY_MODEL"
                ) from None
            patterns = load_patterns(self.patterns)
            if patterns:  # an empty file means the bare model (spaCy warns on every doc otherwise)
                nlp.add_pipe("entity_ruler", before="ner").add_patterns(patterns)
            self._nlp = nlp
        return self._nlp

    def fingerprint(self) -> str:
        """What besides a passage's text decides the tags: equal fingerprints tag equal texts alike."""
        import hashlib

        h = hashlib.sha256(f"{TAGGER_VERSION}\0{self.model}\0{sorted(DROPPED_LABELS)}\0{FOR_MODEL}\0".encode())
        try:
            h.update(Path(self.patterns).read_bytes())
        except OSError:
            h.update(b"no patterns")
        return h.hexdigest()

    def tag(self, passages: Sequence[Passage], progress: Callable[[int], None] | None = None) -> list[RawMention]:
        nlp = self.nlp
        batch = config.get_int("ner_batch_size")
        texts = ((p.text.translate(FOR_MODEL), p.passage_id) for p in passages)
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
