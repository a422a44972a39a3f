"""What a build tells its caller: progress as it goes, then one report line per source."""

from __future__ import annotations

from dataclasses import dataclass, field

from corpus_search import shown
from corpus_search.models import STATUS_FAILED, STATUS_SKIPPED, Document


class Progress:
    """What a build reports as it goes; the CLI and the app render it."""

    def stage(self, name: str, total: int) -> None: ...

    def advance(self, done: int) -> None: ...

    def log(self, message: str) -> None: ...


@dataclass
class SourceReport:
    path: str
    doc_id: str
    status: str
    message: str
    passages: int
    reused: bool
    parent: str | None = None  # an attachment's (or mbox message's) parent doc id
    attachment: str | None = None  # its name inside the parent file

    def line(self) -> str:
        """One line for a terminal: a file name's control characters (ESC, a newline) are shown escaped."""
        return shown.path(self._line())

    def _line(self) -> str:
        state = self.status + (f": {self.message}" if self.message else "")
        if self.status == STATUS_SKIPPED and not self.doc_id:
            return f"{self.path}: {state}"
        note = " (unchanged)" if self.reused else ""
        if self.reused and self.status == STATUS_FAILED:
            note = (f" (unchanged since it failed; `corpus-search build --retry {self.doc_id}` tries it again, "
                    "`--force` every source)")
        where = f"{self.path} > {self.attachment} [{self.doc_id}]" if self.attachment else self.path
        return f"{where}: {state}; {self.passages} passage{'' if self.passages == 1 else 's'}{note}"


@dataclass
class BuildReport:
    """What a build did; its JSON is shapes.build_report."""

    generation: str
    sources: list[SourceReport] = field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    changed: bool = True
    annotations: dict = field(default_factory=dict)  # re-anchoring counts (annotations/__init__.py)
    retries: list[str] = field(default_factory=list)  # cluster build: work sent again after its worker died
    # Passages the models ran on, and those of sources read again whose tags or vector an earlier build made
    # from the very same text (build_entities.tags_by_text, build_vectors.found_by_text).
    work: dict[str, int] = field(default_factory=dict)
    # Documents the last build had whose file is gone from the corpus folder (or renamed): path, doc_id, passages.
    removed: list[dict] = field(default_factory=list)


def report_of(doc: Document, reused: bool) -> SourceReport:
    """A document's line in the report (`reused`: carried over from the previous generation)."""
    return SourceReport(doc.path, doc.doc_id, doc.status, doc.message, doc.passages, reused, doc.parent,
                        doc.attachment)


def in_order(reports: list[SourceReport]) -> list[SourceReport]:
    """By path, each file before the documents read from inside it."""
    return sorted(reports, key=lambda r: (r.path, r.attachment is not None))
