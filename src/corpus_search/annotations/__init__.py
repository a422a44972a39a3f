"""Annotations that last: highlights on exact words, notes, tags and collections, kept apart from the index.

    from corpus_search.annotations import annotate, open_store
    store = open_store("indexes")
    a = annotate(corpus, "makocki2016:0042", store, quote="Altai pipeline", note="check", tags=["energy"])

The store (store.py) is user data: no build replaces it. After each build the annotations are
found again in the new text (anchor.py); W3C JSON-LD and Hypothesis files go out and in (w3c.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from corpus_search.annotations.anchor import DocumentText, place, reanchor, reanchor_store
from corpus_search.annotations.model import ANCHORED, ORPHAN, Annotation
from corpus_search.annotations.note import note_html
from corpus_search import capped, config
from corpus_search.annotations.store import (FILENAME, AnnotationConflict, AnnotationStore, check_note, new_annotation,
                                             store_dir)
from corpus_search.annotations.w3c import loads, to_jsonld
from corpus_search.errors import CorpusSearchError, NotFoundError, UsageError
from corpus_search.export import ExportItem, export as export_items
from corpus_search.store import Store
from corpus_search.textnorm import fold, fold_with_map

__all__ = ["FILENAME", "store_dir"]
__all__ += ["ANCHORED", "ORPHAN", "Annotation", "AnnotationConflict", "AnnotationStore", "DocumentText",
           "EXPORT_FORMATS",
           "after_build", "annotate", "annotate_span", "export", "import_text", "note_html", "open_store",
           "place", "read_import", "reanchor_store", "claim", "span_in_passage", "summary_line"]

EXPORT_FORMATS = ("w3c", "csv", "bibtex", "ris", "csl-json", "markdown")
# An import file comes from outside: JSON this large is a mistake or an attack, not a reading list.
IMPORT_MAX_CHARS = 64 * 1024 * 1024


def open_store(index: Path | str, create: bool = True) -> AnnotationStore:
    """The annotation store that belongs with this index folder (see the `annotations` setting).

    `create=False` is for readers: where no store exists yet they get an empty one in memory,
    and no folder is made beside the index just to list nothing.
    """
    folder = store_dir(index)
    if not create and not (folder / FILENAME).exists():
        return AnnotationStore(Path(":memory:"))
    store = AnnotationStore.open(folder)
    claim(store, index)
    return store


def claim(store: AnnotationStore, index: Path | str, notes_found_here: bool = False) -> None:
    """Bind a store of the default location to `index` (store_dir): a new one, or one whose index folder
    was renamed. A store from before binding that holds notes is bound by the first build that finds
    them in its documents (after_build)."""
    if config.get("annotations") != "auto" or store.bound_to() == Path(index).resolve().name:
        return
    if store.bound_to() is None and store.count() and not notes_found_here:
        return
    store.bind(index)


def span_in_passage(text: str, quote: str, offset: int | None = None) -> tuple[int, int]:
    """Where `quote` sits in a passage's text: at `offset` if it is there, else its first occurrence.

    Tolerant of what copying from a page changes (curly quotes, dashes, spacing, case); the span
    returned is always of the passage's own words.
    """
    if offset is not None and 0 <= offset and text[offset : offset + len(quote)] == quote:
        return offset, offset + len(quote)
    i = text.find(quote)
    if i >= 0 and quote:
        if offset is not None:  # the occurrence nearest the selection
            hits = [j for j in range(len(text)) if text.startswith(quote, j)]
            i = min(hits, key=lambda j: abs(j - offset))
        return i, i + len(quote)
    folded, src = fold_with_map(text)
    needle = fold(quote)
    j = folded.find(needle) if needle else -1
    if j < 0:
        # Said in the app too: no command-line flags in it.
        raise UsageError(f"the quote {_short(quote)!r} is not in this passage; check its words (Quote check, or "
                         "`corpus-search quote`), or give no words to annotate the whole passage")
    return src[j], src[j + len(needle) - 1] + 1


def annotate(corpus, passage_id: str, store: AnnotationStore, quote: str | None = None, note: str = "",
             tags: Sequence[str] = (), collections: Sequence[str] = (), offset: int | None = None) -> Annotation:
    """Highlight `quote` (the whole passage when None) in a passage, with a note, tags and collections."""
    passage = corpus.passage(passage_id)
    if quote is None or not quote.strip():
        start, end = 0, len(passage.text)
    else:
        start, end = span_in_passage(passage.text, quote, offset)
    return annotate_span(corpus, passage, start, end, store, note, tags, collections)


def annotate_span(corpus, passage, start: int, end: int, store: AnnotationStore, note: str = "",
                  tags: Sequence[str] = (), collections: Sequence[str] = ()) -> Annotation:
    """Annotate the words [start, end) of a passage (offsets in its text)."""
    check_note(note)
    if not 0 <= start < end <= len(passage.text):
        raise UsageError(f"span {start}-{end} is outside passage {passage.passage_id} (0-{len(passage.text)})")
    doc = DocumentText.load(corpus.store, passage.doc_id)
    fields = doc.fields(passage.start + start, passage.start + end)
    # The passage the user chose, even where the span starts on a boundary shared with the previous one.
    fields.update(passage_id=passage.passage_id, passage_start=start, passage_end=end,
                  page=passage.page_at(start), paragraph=passage.paragraph)
    annotation = new_annotation(**fields, note=note, tags=tuple(tags), collections=tuple(collections))
    return store.add(annotation)


def read_import(path: Path) -> str:
    """An import file's text, read under the cap: at most IMPORT_MAX_CHARS bytes plus one (`/dev/zero` stops)."""
    return capped.read_text(
        path, IMPORT_MAX_CHARS,
        f"{path} is larger than {IMPORT_MAX_CHARS // (1024 * 1024)} MiB, the most an import reads: split it into "
        "several files",
        f"{path} is not UTF-8 text; import takes W3C JSON-LD or a Hypothesis export")


def import_text(text: str, store: AnnotationStore, index_store=None) -> dict[str, int]:
    """Import a W3C JSON-LD or Hypothesis file; anchor what is new in the current index. Returns counts.

    `long_quotes` counts those longer than the max_quote_chars setting: they are placed only where their
    words are verbatim (anchor.place), else kept as orphans, so one pasted chapter cannot hang the import."""
    if len(text) > IMPORT_MAX_CHARS:
        raise UsageError(f"the file holds {len(text):,} characters; imports are capped at {IMPORT_MAX_CHARS:,}: "
                         "split it into several files")
    kind, annotations = import_annotations(text)
    for ann in annotations:  # all or nothing: a note over the cap refuses the file before any is stored
        check_note(ann.note)
    counts = {"format": kind, "imported": 0, "skipped": 0, "anchored": 0, "orphaned": 0, "long_quotes": 0}
    docs = _documents(index_store)
    longest = config.get_int("max_quote_chars")
    for ann in annotations:
        if _exists(store, ann.id):
            counts["skipped"] += 1
            continue
        counts["long_quotes"] += len(ann.exact) > longest
        if index_store is not None:
            ann = _place_imported(ann, index_store, docs)
        store.add(ann)
        counts["imported"] += 1
        counts["orphaned" if ann.orphan else "anchored"] += 1
    return counts


def import_annotations(text: str) -> tuple[str, list[Annotation]]:
    return loads(text)


def _documents(index_store) -> dict:
    return {d.doc_id: d for d in index_store.documents()} if index_store is not None else {}


def _exists(store: AnnotationStore, annotation_id: str) -> bool:
    try:
        store.get(annotation_id)
    except NotFoundError:
        return False
    return True


def _place_imported(ann: Annotation, index_store, docs: dict) -> Annotation:
    """Anchor an imported annotation: in its own document when known, else where its quote is found."""
    candidates = [ann.doc_id] if ann.doc_id in docs else _guess_documents(ann.source, docs)
    for doc_id in candidates:
        here = dataclasses.replace(ann, doc_id=doc_id)
        outcome, changes = reanchor(here, DocumentText.load(index_store, doc_id))
        if outcome != "orphaned":
            return dataclasses.replace(here, **changes)
    return dataclasses.replace(ann, status=ORPHAN, passage_start=None, passage_end=None)


def _guess_documents(uri: str, docs: dict) -> list[str]:
    """Documents an outside URI may name (by URL, DOI, file name or id) first, then all the others."""
    uri_l = uri.lower()

    def named(d) -> bool:
        r = d.record
        return bool(uri_l) and any(v and v.lower() in uri_l for v in (r.url, r.doi, Path(d.path).name, d.doc_id))

    first = [i for i, d in docs.items() if named(d)]
    return first + [i for i in docs if i not in first]


def export(annotations: Sequence[Annotation], fmt: str, corpus=None) -> tuple[str, list[str]]:
    """The annotations in one of EXPORT_FORMATS, and warnings (orphans the citation formats cannot place)."""
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if fmt == "w3c":
        return json.dumps(to_jsonld(list(annotations)), ensure_ascii=False, indent=2) + "\n", []

    items, warnings = [], []
    for a in annotations:
        try:
            if a.orphan:
                raise NotFoundError("orphan")
            passage = corpus.passage(a.passage_id)
        except NotFoundError:
            warnings.append(f"annotation {a.id} ({_short(a.exact)!r}) is an orphan: not in the {fmt} export")
            continue
        note = a.note + (f" (tags: {', '.join(a.tags)})" if a.tags else "")
        if a.original:  # the quotation is the source's words now; the reader is told what the note was on
            note += f' (the source changed under this note, made on: "{a.original}")'
        words = passage.text[a.passage_start : a.passage_end]
        items.append(ExportItem(passage, corpus.record(passage.doc_id), quote=words,
                                offset=a.passage_start, end_offset=a.passage_end, note=note.strip()))
    return export_items(items, fmt), warnings


def after_build(index: Path, generation_store: Path, orphans_only: bool = False) -> dict:
    """Re-anchor the annotations kept beside `index` in a just-built generation; counts for the report.
    `orphans_only` (a build that found nothing to do): only when some are orphans, which their documents,
    back since, may hold again.

    Never fails the build: the index is sound whatever happens to the annotations, and a store
    that cannot be opened is reported, not replaced.
    """
    folder = store_dir(index)
    if not (folder / FILENAME).exists():
        return {}
    try:
        annotations = AnnotationStore.open(folder)
        if orphans_only and not annotations.list(orphans=True):
            annotations.close()
            return {}
        index_store = Store.open(generation_store)
        try:
            if annotations.bound_to() is None or config.get("annotations") != "auto":
                notes = annotations.list()
                here = index_store.documents()
                if notes and not ({a.doc_id for a in notes} & {d.doc_id for d in here}
                                  or {a.file_sha256 for a in notes} & {d.sha256 for d in here}):
                    # Not one note on a document here: another index's store, not a corpus emptied of them.
                    return {"error": f"none of the {len(notes)} notes of {folder} is on a document "
                                     "of this index, so they were left as they are (another index's notes? "
                                     "the annotations setting gives this index a store of its own)"}
                claim(annotations, index, notes_found_here=True)
            return reanchor_store(annotations, index_store)
        finally:
            index_store.close()
            annotations.close()
    except (CorpusSearchError, OSError) as exc:
        return {"error": str(exc)}
    except Exception as exc:  # sqlite3 errors among them: the build still stands
        return {"error": f"{type(exc).__name__}: {exc}"}


def summary_line(counts: dict) -> str:
    if not counts:
        return ""
    if "error" in counts:
        return f"annotations: not re-anchored ({counts['error']})"
    return (f"annotations: {counts['unchanged']} in place, {counts['exact']} re-anchored exactly, "
            f"{counts['fuzzy']} re-anchored fuzzily (on changed words; the words each was made on are kept), "
            f"{counts['orphaned']} orphaned (kept with their quotes)")


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"

