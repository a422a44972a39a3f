"""The incremental plan: what the corpus holds, what the previous generation already has, what changed.

A source is keyed by its file's content hash, its record and PIPELINE_VERSION (`source_key`). One
whose key matches the previous generation's is carried over (document, text, passages and raw
mentions read back from the old store; its vectors follow in build_vectors.py) instead of being
extracted, tagged and embedded again. When nothing at all changed (`corpus_hash`), nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

from corpus_search import backends, config, entity_rules, extractors, shown
from corpus_search.backends import VectorBackend
from corpus_search.build_report import BuildReport, SourceReport, in_order, report_of
from corpus_search.entities import RawMention
from corpus_search.errors import CorpusSearchError, IndexMissingError, SourceError
from corpus_search.generations import KEYWORD, STORE, Generations
from corpus_search.ingest import sha256_file
from corpus_search.models import STATUS_FAILED, STATUS_SKIPPED, Document, Passage, Record
from corpus_search.records import find_sources, find_unsupported, load_record, sidecar
from corpus_search.sentences import VECTORS as SENTENCE_VECTORS
from corpus_search.store import Store

# Bump when cleaning, splitting or tagging changes what a source turns into,
# so unchanged files are processed again.
# 20: a passage that opens with a mark (a quotation mark, a bullet, "-----Original Message-----") maps it to the
#     source too, not only from its first word on (offsets._leading);
# 19: OCR: a running head, a date line or a page's footer line Tesseract set between a two-column page's
#     columns is read at the page's top or foot (ocr._furniture_outside);
# 18: what an e-mail quotes of an earlier message is kind quote in HTML too (a <blockquote> of a reply, Gmail's
#     quote), and so is an Outlook reply's or a forwarded message's header and all after it; a header line
#     ("From: Jane Roe") is never a heading glued to the next line, and a line ending in dashes
#     ("-----Original Message-----") joins the next with a space, in every format;
# 17: a footnote is in the section of the paragraph that refers to it (not of the last heading before the
#     page's foot, or a Word file's end), and a Word file's endnotes are read as notes; a table given as one
#     paragraph of rows (Word, Markdown) is cut between rows, and its rows do not make a page read as a
#     PDF's lines; a sign-off and the short lines after it (a name, a title) are no heading, nor is a line
#     with a phone number or an address; an e-mail's signature is one paragraph; a line of dashes ("-- ")
#     is joined to the next with a space;
# 16: an e-mail's quoted lines lose their ">" marks (a paragraph of their own), so quotations of them are found;
#     a Word file's author is read from its properties (not an account name); a note number glued to a
#     number that ends a sentence ("as of April 1.38 A prolonged") is lifted; a web page's title loses its
#     site's name ("... | The Maritime Ledger"), which becomes its publisher;
# 15: the model reads the abbreviations the entities read: a glossary table's rows ("DOD | Department of
#     Defense") and mixed-case ones ("biological opinion (BiOp)") are spelled out for it too;
# 14: a table of figures has a sentence vector per row, read after the table's title and header rows;
# 12: clipped abbreviations ("Northern Command (NORTHCOM)", "nonstrategic nuclear weapons (NSNW)") are
#     spelled out for the model as the others are; a reference entry ("CRS Report R45408, ...") is no
#     heading, and the entries after a "Related ... Reports:" line are notes; an author line ("Jane Roe
#     Specialist in Water Policy") is no heading; a float title with " / ";
# 11: a footnote that opens "Note:" does not close a figure or table;
# 10: "For Further Reading", "Related ... Products" head lists of other works (notes, not body);
# 9: a table's rows and a figure's source and notes are under its title (section, what the model reads);
# 8: a letter and a number ("Q1", "G7") are not a word and its footnote marker;
# 7: table rows join, cut-off lead-ins; 6: a lead-in ending in a colon joins the quotation or list it introduces;
# 5: passage kinds in plain text (titles, footnote runs, reference lists); 4: OCR, printed page numbers, languages
PIPELINE_VERSION = "20"


@dataclass
class Source:
    """One document as the build carries it from its file to the store."""

    path: Path
    rel: str
    record: Record
    sha256: str
    key: str
    doc: Document | None = None
    text: str = ""
    passages: list[Passage] = field(default_factory=list)
    raw_mentions: list[RawMention] = field(default_factory=list)
    reused: bool = False
    parent: str | None = None  # set for a document read from inside another source's file
    children: list[Source] = field(default_factory=list)  # its attachments (or messages), once known


def source_key(sha256: str, record: Record, suffix: str = "") -> str:
    """What a source's stored passages and vectors are reused by: its bytes, its record, the pipeline and
    its format reader's own version, when that reader has one (extractors.reader_version), so a change
    to one format's reading reads again only the files of that format."""
    reader = extractors.reader_version(suffix)
    payload = json.dumps([PIPELINE_VERSION, sha256, record.to_json(), *([f"{suffix.lower()}:{reader}"] if reader else [])],
                         sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def models_manifest() -> dict:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "spacy_model": config.get("spacy_model"),
        "spacy_model_version": version(config.get("spacy_model").replace("_", "-")),
        "spacy_version": version("spacy"),
        "embedding_model": config.get("embedding_model"),
        "embedding_model_name": "sentence-transformers/all-MiniLM-L6-v2",
        "embedding_model_version": version(config.get("embedding_model").replace("_", "-")),
        "sentence_transformers_version": version("sentence-transformers"),
    }


@dataclass
class Survey:
    """What the corpus folder holds now."""

    sources: list[Source]
    failed: list[SourceReport]  # a record or file that cannot be read, an id used twice
    skipped: list[SourceReport]  # files that are no source, each with its reason
    seen_ids: dict[str, str]  # doc id -> the path that holds it


def survey(corpus: Path) -> Survey:
    """Every source under `corpus` with its record and key; nothing silent: every other file is reported too."""
    skipped = [SourceReport(shown.path(p.relative_to(corpus).as_posix()), "", STATUS_SKIPPED, why, 0, False)
               for p, why in find_unsupported(corpus)]
    sources: list[Source] = []
    failed: list[SourceReport] = []
    seen_ids: dict[str, str] = {}
    by_bytes: dict[str, int] = {}  # file digest -> its source's place in `sources`
    for path in find_sources(corpus):
        rel = path.relative_to(corpus).as_posix()
        try:
            record = load_record(path, corpus)
        except SourceError as exc:
            failed.append(SourceReport(rel, "", STATUS_FAILED, str(exc), 0, False))
            continue
        try:
            digest = sha256_file(path)
        except OSError as exc:
            failed.append(SourceReport(rel, record.doc_id, STATUS_FAILED, f"cannot read: {exc.strerror}", 0, False))
            continue
        source = Source(path, rel, record, digest, source_key(digest, record, path.suffix))
        if digest in by_bytes:
            # The same file twice (a copy in another folder, a download saved again) would double every
            # hit and every quotation's places: it is indexed once, and the copy is named as such. The
            # one with a record of its own is kept, else the first by path.
            kept = sources[by_bytes[digest]]
            if sidecar(path).is_file() and not sidecar(kept.path).is_file() and record.doc_id not in seen_ids:
                del seen_ids[kept.record.doc_id]
                seen_ids[record.doc_id] = rel
                sources[by_bytes[digest]], source, kept = source, kept, source
            skipped.append(SourceReport(source.rel, "", STATUS_SKIPPED,
                                        f"the same file as {kept.rel} (identical bytes), which is indexed", 0, False))
            continue
        if record.doc_id in seen_ids:
            failed.append(
                SourceReport(rel, record.doc_id, STATUS_FAILED,
                             f"id {record.doc_id!r} is already used by {seen_ids[record.doc_id]}; give it its own id", 0, False)
            )
            continue
        seen_ids[record.doc_id] = rel
        by_bytes[digest] = len(sources)
        sources.append(source)
    return Survey(sources, failed, skipped, seen_ids)


@dataclass
class Previous:
    """The sound generation a build starts from; the caller closes `store`."""

    gen: Path
    manifest: dict
    store: Store
    vectors: VectorBackend
    keys: dict[str, str]  # doc id -> the source key it was built from
    children: dict[str, list[Document]]  # parent doc id -> the documents read from inside it


def open_previous(gens: Generations, models: dict) -> Previous | None:
    """The generation to carry sources over from; None when there is none or nothing in it can be reused."""
    try:
        gen, manifest, _ = gens.good()
    except IndexMissingError:
        return None
    if manifest.get("models") != models or backends.written_by(manifest) != backends.chosen():
        return None  # other models or backends: nothing can be carried over
    try:
        store, vectors = Store.open(gen / STORE), backends.vector_backend().open(gen)
    except CorpusSearchError:
        return None
    return Previous(gen, manifest, store, vectors, store.source_keys(), children_by_parent(store))


def nothing_changed(found: Survey, previous: Previous, corpus: Path, retry: Collection[str], scrub: bool) -> bool:
    """Whether the previous generation already is this corpus, so the build can keep it as it is.

    A source that failed is carried over like any other while its file, record and the pipeline are
    unchanged (a PDF that hangs would cost its time cap on every build); `build --force` tries everything
    again, and a changed record (a password) does too.
    """
    inside = {d.doc_id for docs in previous.children.values() for d in docs}
    return (
        not scrub
        and not found.failed
        and not set(retry) & set(previous.keys)
        and previous.manifest.get("corpus_hash") == corpus_hash(found.sources, found.skipped, corpus / "_entities")
        and len(previous.keys) - len(inside) == len(found.sources)
        and backends.keyword_backend().is_current(previous.gen / KEYWORD)
        and (previous.gen / SENTENCE_VECTORS).exists()  # an index from before sentence vectors gets them
    )


def carry_over_unchanged(sources: list[Source], previous: Previous, retry: Collection[str]) -> None:
    """Carry over each source whose key is unchanged and that is not to be retried."""
    for src in sources:
        # Retrying an attachment reads its message again (it has no file of its own).
        family = {src.record.doc_id} | descendants(src.record.doc_id, previous.children)
        if previous.keys.get(src.record.doc_id) == src.key and not family & set(retry):
            carry_over(src, previous.store, previous.children)


def carry_over(src: Source, store: Store, children: dict[str, list[Document]]) -> None:
    src.doc = replace(store.document(src.record.doc_id), path=src.rel)
    src.text = store.document_text(src.record.doc_id)
    src.passages = store.passages(src.record.doc_id)
    ids = [p.passage_id for p in src.passages]
    src.raw_mentions = [RawMention(*row) for row in store.raw_mentions(ids)]
    src.reused = True
    for doc in children.get(src.record.doc_id, ()):
        child = Source(src.path, src.rel, doc.record, src.sha256, src.key, parent=doc.parent)
        carry_over(child, store, children)
        src.children.append(child)


def unchanged_report(gens: Generations, found: Survey, store: Store, started: float) -> BuildReport:
    """The report of a build that found nothing to do: every stored document, unchanged."""
    reports = found.skipped + [report_of(replace(d, path=_rel_of(d, found.sources)), True) for d in store.documents()]
    return BuildReport(
        generation=gens.current().name,
        sources=in_order(reports),
        passages=store.passage_count(),
        seconds=time.perf_counter() - started,
        changed=False,
    )


def _rel_of(doc: Document, sources: list[Source]) -> str:
    """A stored document's path as the corpus has it now (a source may have moved without changing)."""
    by_id = {s.record.doc_id: s.rel for s in sources}
    return by_id.get(doc.doc_id) or by_id.get(doc.parent or "", doc.path)


def corpus_hash(sources: list[Source], skipped: list[SourceReport] = (), entities_dir: Path | None = None) -> str:
    """What the corpus folder holds: the sources (their attachments follow from them), the files skipped,
    and the corpus's entity knowledge (aliases, curation), which changes the mentions though not the sources."""
    h = hashlib.sha256()
    for s in sorted((s for s in sources if s.parent is None), key=lambda s: s.record.doc_id):
        h.update(f"{s.record.doc_id}\0{s.key}\n".encode())
    for r in skipped:
        h.update(f"skipped\0{r.path}\0{r.message}\n".encode())
    if entities_dir is not None and entities_dir.is_dir():
        for path in sorted([*entities_dir.glob("*.toml"), *entities_dir.glob("*.jsonl")]):
            h.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    # New entity rules in the library re-canonicalise the raw mentions kept in the index (no new tagging).
    h.update(f"entity rules\0{entity_rules.RULES_VERSION}\n".encode())
    return h.hexdigest()


def children_by_parent(store: Store) -> dict[str, list[Document]]:
    """The documents read from inside another one (attachments, an mbox's messages), by parent doc id."""
    children: dict[str, list[Document]] = {}
    for doc in store.documents():
        if doc.parent is not None:
            children.setdefault(doc.parent, []).append(doc)
    return children


def descendants(doc_id: str, children: dict[str, list[Document]]) -> set[str]:
    found: set[str] = set()
    for doc in children.get(doc_id, ()):
        found |= {doc.doc_id} | descendants(doc.doc_id, children)
    return found


def with_children(src: Source) -> list[Source]:
    """The source followed by the documents inside it, depth first (an mbox, a message, its attachments)."""
    return [src] + [x for child in src.children for x in with_children(child)]


def adopt_children(sources: list[Source], seen_ids: dict[str, str]) -> None:
    """Children whose derived id another source already uses are dropped with a note on their parent,
    never allowed to replace that source."""
    for src in sources:
        kept = []
        for child in src.children:
            if child.record.doc_id in seen_ids:
                note = f"attachment {child.doc.attachment!r} not indexed: its id {child.record.doc_id!r} is taken"
                src.doc = replace(src.doc, message="; ".join(filter(None, (src.doc.message, note))))
                continue
            seen_ids[child.record.doc_id] = src.rel
            kept.append(child)
            adopt_children([child], seen_ids)
        src.children = kept
