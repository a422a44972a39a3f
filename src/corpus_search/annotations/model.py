"""An annotation: a highlight on exact words of a source, with a note, tags and collections."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from corpus_search import shapes

ANCHORED = "anchored"
ORPHAN = "orphan"


@dataclass(frozen=True)
class Annotation:
    """Words of one source, found again by their quote and context when the source changes.

    `exact`, `prefix` and `suffix` make the W3C TextQuoteSelector; `doc_start`/`doc_end` the
    TextPositionSelector on the source's cleaned document text; `passage_start`/`passage_end`
    the same span inside the passage `passage_id`. An orphan keeps its quote but no position.
    """

    id: str
    created: str
    updated: str
    author: str
    doc_id: str
    file_sha256: str
    exact: str
    prefix: str = ""
    suffix: str = ""
    passage_id: str = ""
    passage_start: int | None = None
    passage_end: int | None = None
    doc_start: int | None = None
    doc_end: int | None = None
    page: str | None = None  # printed page label where the words start
    paragraph: int | None = None
    note: str = ""
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    status: str = ANCHORED  # anchored | orphan
    anchored_by: str = "created"  # created | position | exact | fuzzy | imported
    source: str = ""  # the URI it was annotated on, when imported from elsewhere
    version: int = 1
    # The words the note was made on, when the source changed under it and a fuzzy re-anchoring moved
    # it onto the words the source has now (`exact`); "" while they are the same.
    original: str = ""

    @property
    def orphan(self) -> bool:
        return self.status == ORPHAN

    def to_json(self) -> dict[str, Any]:
        """What `--json` prints (shapes.annotation); the store keeps its own columns."""
        return shapes.annotation(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Annotation:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        for key in ("tags", "collections"):
            kwargs[key] = tuple(kwargs.get(key) or ())
        return cls(**kwargs)
