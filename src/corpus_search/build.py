"""The build: sources -> passages -> entities -> store + keyword index + vector index.

Incremental by content: a source whose file and record are unchanged since the
current generation is carried over (passages, mentions, vectors) instead of
being extracted, tagged and embedded again. Every build writes a new generation
and switches to it only once it has been verified (see generations.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from corpus_search import backends, config, generations, languages, ocr
from corpus_search.errors import CorpusSearchError, IndexMissingError, SourceError
from corpus_search.models import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_SKIPPED,
    Document,
    Mention,
    Passage,
    Record,
)
from corpus_search.records import find_sources, find_unsupported, load_record, with_found
from corpus_search.sentences import VECTORS as SENTENCE_VECTORS

# Bump when cleaning, splitting or tagging changes what a source turns into,
# so unchanged files are processed again.
PIPELINE_VERSION = "4"  # 4: scanned PDFs are OCR'd, printed page numbers read from the pages, languages (an index built before reads every source again)
STORE = "store.sqlite"
KEYWORD = "keyword"


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
        state = self.status + (f": {self.message}" if self.message else "")
        if self.status == STATUS_SKIPPED and not self.doc_id:
            return f"{self.path}: {state}"
        note = " (unchanged)" if self.reused else ""
        if self.reused and self.status == STATUS_FAILED:
            note = (f" (unchanged since it failed; `corpus-search build --retry {self.doc_id}` tries it again, "
                    "`--force` every source)")
        where = f"{self.path} > {self.attachment} [{self.doc_id}]" if self.attachment else self.path
        return f"{where}: {state}; {self.passages} passages{note}"


@dataclass
class BuildReport:
    generation: str
    sources: list[SourceReport] = field(default_factory=list)
    passages: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    changed: bool = True
    annotations: dict = field(default_factory=dict)  # re-anchoring counts (annotations/__init__.py)
    retries: list[str] = field(default_factory=list)  # cluster build: work sent again after its worker died

    def to_json(self) -> dict:
        return {
            "generation": self.generation,
            "passages": self.passages,
            "seconds": round(self.seconds, 2),
            "stage_seconds": {k: round(v, 2) for k, v in self.stage_seconds.items()},
            "changed": self.changed,
            "sources": [{**s.__dict__, "doc_id": s.doc_id or None} for s in self.sources],
            "annotations": self.annotations,
            **({"retries": self.retries} if self.retries else {}),
        }


@dataclass
class _Source:
    path: Path
    rel: str
    record: Record
    sha256: str
    key: str
    doc: Document | None = None
    text: str = ""
    passages: list[Passage] = field(default_factory=list)
    raw_mentions: list = field(default_factory=list)
    reused: bool = False
    parent: str | None = None  # set for a document read from inside another source's file
    children: list[_Source] = field(default_factory=list)  # its attachments (or messages), once known


def source_key(sha256: str, record: Record) -> str:
    payload = json.dumps([PIPELINE_VERSION, sha256, record.to_json()], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def models_manifest() -> dict:
    from importlib import metadata

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


def build(corpus: Path, index: Path, progress: Progress | None = None, force: bool = False,
          retry: Collection[str] = (), scrub: bool = False,
          prepare: Callable[[], None] | None = None, cluster: str | None = None) -> BuildReport:
    """Build (or update) the index of `corpus` in `index`; returns one report line per source.

    `retry`: doc ids processed again even when their file and record are unchanged (a source
    that failed, say, once the caps are raised).
    `scrub` (a purge): write the new generation into fresh files, so no deleted row or posting of a
    removed source lingers in SQLite free pages or unmerged Whoosh segments, and delete every older
    generation. `prepare` runs under the build lock before the corpus is read (a purge deletes there).
    `cluster`: run extraction, NER and embedding on the Ray cluster at this address ("local", host:port;
    "" for the cluster_address setting) instead of local processes; see cluster_build.py.
    """
    backends.keyword_backend(), backends.vector_backend()  # a misspelt backend fails before any source is read
    progress = progress or Progress()
    engine = None
    if cluster is not None:
        from corpus_search.cluster_build import Engine

        engine = Engine(cluster, progress)  # a bad address fails here, before the index folder is touched
    try:
        gens = generations.Generations(index)
        with gens.lock():
            if prepare is not None:
                prepare()
            report = _build_locked(corpus, gens, progress, force, frozenset(retry), scrub, engine)
    finally:
        if engine is not None:
            engine.close()
    if engine is not None:
        report.retries = list(engine.retried)
    return report


def _build_locked(corpus: Path, gens: generations.Generations, progress: Progress, force: bool,
                  retry: frozenset[str] = frozenset(), scrub: bool = False, engine=None) -> BuildReport:
    from corpus_search.ingest import sha256_file

    started = time.perf_counter()
    timings: dict[str, float] = {}
    paths = find_sources(corpus)
    models = models_manifest()
    # Nothing silent: every other file is reported too, and listed by `documents` from the generation.
    skipped = [SourceReport(p.relative_to(corpus).as_posix(), "", STATUS_SKIPPED, why, 0, False)
               for p, why in find_unsupported(corpus)]

    # 1. What is there, and what changed.
    sources: list[_Source] = []
    failed: list[SourceReport] = []
    seen_ids: dict[str, str] = {}
    for path in paths:
        rel = path.relative_to(corpus).as_posix()
        try:
            record = load_record(path, corpus)
        except SourceError as exc:
            failed.append(SourceReport(rel, "", STATUS_FAILED, str(exc), 0, False))
            continue
        if record.doc_id in seen_ids:
            failed.append(
                SourceReport(rel, record.doc_id, STATUS_FAILED,
                             f"id {record.doc_id!r} is already used by {seen_ids[record.doc_id]}; give it its own id", 0, False)
            )
            continue
        seen_ids[record.doc_id] = rel
        try:
            digest = sha256_file(path)
        except OSError as exc:
            failed.append(SourceReport(rel, record.doc_id, STATUS_FAILED, f"cannot read: {exc.strerror}", 0, False))
            continue
        sources.append(_Source(path, rel, record, digest, source_key(digest, record)))

    previous = _open_previous(gens, models) if not force else None
    previous_gen = None
    if previous is not None:
        old_store, old_vectors, old_manifest, previous_gen = previous
        # A source that failed is carried over like any other while its file, record and the
        # pipeline are unchanged (a PDF that hangs would cost its time cap on every build);
        # `build --force` tries everything again, and a changed record (a password) does too.
        old_keys = old_store.source_keys()
        old_children = _children_by_parent(old_store)
        inside = {d.doc_id for docs in old_children.values() for d in docs}
        if (
            not scrub
            and not failed
            and not retry & set(old_keys)
            and old_manifest.get("corpus_hash") == _corpus_hash(sources, skipped, corpus / "_entities")
            and len(old_keys) - len(inside) == len(sources)
            and backends.keyword_backend().is_current(previous_gen / KEYWORD)
            and (previous_gen / SENTENCE_VECTORS).exists()  # an index from before sentence vectors gets them
        ):
            if gens.current() != previous_gen:
                # The current generation was damaged and reads fell back to this sound one,
                # which matches the corpus: point at it again instead of rebuilding.
                gens.publish(previous_gen)
                gens.prune()
            report = _unchanged_report(gens, sources, old_store, started, skipped)
            old_store.close()
            return report
        for src in sources:
            # Retrying an attachment reads its message again (it has no file of its own).
            family = {src.record.doc_id} | _descendants(src.record.doc_id, old_children)
            if old_keys.get(src.record.doc_id) == src.key and not family & retry:
                _carry_over(src, old_store, old_children)
    else:
        old_store = old_vectors = None

    # 2. Extract and split what changed.
    t = time.perf_counter()
    todo = [s for s in sources if not s.reused]
    progress.stage("extract and clean", len(todo))
    (engine.process_all if engine is not None else _process_all)(todo, progress, ocr.cache_dir(gens.root))
    _adopt_children(sources, seen_ids)
    sources = [x for s in sources for x in _with_children(s)]
    todo = [s for s in sources if not s.reused]
    timings["extract_clean"] = time.perf_counter() - t

    # 3 and 4. Entities and embeddings. Both need models whose imports are slow and
    # single-threaded, so NER runs in a worker process while this one loads the
    # embedding model and embeds; the two stages share one progress bar.
    from corpus_search.entities import entity_mentions

    new_passages = [p for s in todo for p in s.passages]
    all_passages = [p for s in sources for p in s.passages]
    vectors: dict[str, np.ndarray] = {}
    if old_vectors is not None:
        reused_ids = [p.passage_id for s in sources if s.reused for p in s.passages]
        vectors.update(old_vectors.vectors_for(reused_ids))
    need = [p for p in all_passages if p.passage_id not in vectors]
    t = time.perf_counter()
    tagger = engine.tagger(new_passages) if engine is not None else _NerJob(new_passages)
    progress.stage("entities + embeddings", len(new_passages) + len(need))
    encoder = engine.encoder() if engine is not None else None
    if need:
        from corpus_search.vector_index import Encoder

        def advance(done: int) -> None:
            progress.advance(tagger.done() + done)

        encoder = encoder or Encoder()
        encoded = encoder.encode([p.text for p in need], progress=advance)
        vectors.update({p.passage_id: encoded[i] for i, p in enumerate(need)})
    sentence_vectors = _sentence_vectors(all_passages, need, previous_gen, encoder, vectors)
    timings["embeddings"] = time.perf_counter() - t
    t = time.perf_counter()
    raw = tagger.result(lambda n: progress.advance(n + len(need)))
    # With NER in its own process this is only the wait after embedding finished.
    timings["entities"] = time.perf_counter() - t
    by_pid: dict[str, list] = {}
    for m in raw:
        by_pid.setdefault(m.passage_id, []).append(m)
    for src in todo:
        src.raw_mentions = [m for p in src.passages for m in by_pid.get(p.passage_id, ())]
    mentions, table = entity_mentions(all_passages, [m for s in sources for m in s.raw_mentions], corpus / "_entities")
    if old_store is not None:
        old_store.close()

    # 5. Write, verify and publish a new generation.
    t = time.perf_counter()
    progress.stage("write indexes", 3)
    gen = gens.new()
    _write_generation(gen, sources, None if scrub else previous_gen, mentions, table, vectors, models, progress,
                      failed + skipped, corpus.resolve(), sentence_vectors)
    if config.get("backend").strip().lower() == "cluster":  # cluster search reads shards: written with the index
        from corpus_search import shards

        shards.add(gen, config.get_int("shards"))
    timings["write_indexes"] = time.perf_counter() - t
    t = time.perf_counter()
    _verify_generation(gen)
    gens.publish(gen)
    gens.remember_sound(gen)  # just hashed in full: the first open need not do it again
    gens.prune()
    if scrub:
        gens.remove_others(gen)
    timings["verify_publish"] = time.perf_counter() - t

    reports = failed + skipped + [_report(s.doc, s.reused) for s in sources]
    reports.sort(key=lambda r: (r.path, r.attachment is not None))
    return BuildReport(
        generation=gen.name,
        sources=reports,
        passages=len(all_passages),
        seconds=time.perf_counter() - started,
        stage_seconds=timings,
        annotations=_reanchor_annotations(gens.root, gen),
    )


def _reanchor_annotations(index: Path, gen: Path) -> dict:
    # User annotations live outside the generations; they are found again in the new text.
    from corpus_search.annotations import after_build

    return after_build(index, gen / STORE)


class _NerJob:
    """spaCy NER over the new passages: in a worker process when there is enough to do, else here."""

    MIN_PARALLEL = 50  # below this, starting a process costs more than it saves

    def __init__(self, passages: list[Passage]):
        import multiprocessing as mp

        self.passages = passages
        self.count = 0
        self.final: tuple[str, object] | None = None
        self.proc = None
        if len(passages) >= self.MIN_PARALLEL and config.get_int("parallel_ner"):
            ctx = mp.get_context("spawn")  # no fork: the parent may hold torch threads
            self.queue = ctx.Queue()
            self.proc = ctx.Process(target=_ner_worker, args=(passages, self.queue), daemon=True)
            self.proc.start()
            self.stall = config.get_float("ner_stall")
            self.last_news = time.monotonic()

    def _take(self) -> None:
        """One message from the worker; an error if it died or went silent past the stall cap.

        Every passage is at most about MAX_PASSAGE characters, so a batch is bounded work: a
        worker that reports nothing for `ner_stall` seconds is stuck, and waiting longer would
        hang the build (and the app's build with it).
        """
        import queue

        assert self.proc is not None
        while True:
            try:
                kind, value = self.queue.get(timeout=1.0)
                break
            except queue.Empty:
                pass
            if not self.proc.is_alive() and self.queue.empty():
                self.final = ("error", f"the tagger process ended without an answer (exit code {self.proc.exitcode})")
                return
            if time.monotonic() - self.last_news > self.stall:
                self.proc.kill()
                self.final = ("error", f"no progress for {self.stall:g} s, stopped "
                                       "(raise CORPUS_SEARCH_NER_STALL to allow more)")
                return
        self.last_news = time.monotonic()
        if kind == "progress":
            self.count = value
        else:
            self.final = (kind, value)

    def done(self) -> int:
        """Passages tagged so far (never blocks)."""
        while self.proc is not None and self.final is None and not self.queue.empty():
            self._take()
        return self.count

    def result(self, progress: Callable[[int], None]) -> list:
        from corpus_search.entities import Tagger

        if self.proc is None:
            return Tagger().tag(self.passages, progress=progress) if self.passages else []
        while self.final is None:
            self._take()
            progress(self.count)
        self.proc.join(timeout=30)
        kind, value = self.final
        if kind == "error":
            raise CorpusSearchError(f"entity tagging failed: {value}")
        return value


def _ner_worker(passages: list[Passage], queue) -> None:
    """Runs in the NER process: tag, report progress, send the raw mentions back."""
    try:
        from corpus_search.entities import Tagger

        raw = Tagger().tag(passages, progress=lambda n: queue.put(("progress", n)))
        queue.put(("done", raw))
    except BaseException as exc:  # reported to the parent, which fails the build cleanly
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def _corpus_hash(sources: list[_Source], skipped: list[SourceReport] = (), entities_dir: Path | None = None) -> str:
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
    from corpus_search.entity_rules import RULES_VERSION

    h.update(f"entity rules\0{RULES_VERSION}\n".encode())
    return h.hexdigest()


def _report(doc: Document, reused: bool) -> SourceReport:
    return SourceReport(doc.path, doc.doc_id, doc.status, doc.message, doc.passages, reused, doc.parent,
                        doc.attachment)


def _children_by_parent(store) -> dict[str, list[Document]]:
    """The documents read from inside another one (attachments, an mbox's messages), by parent doc id."""
    children: dict[str, list[Document]] = {}
    for doc in store.documents():
        if doc.parent is not None:
            children.setdefault(doc.parent, []).append(doc)
    return children


def _descendants(doc_id: str, children: dict[str, list[Document]]) -> set[str]:
    found: set[str] = set()
    for doc in children.get(doc_id, ()):
        found |= {doc.doc_id} | _descendants(doc.doc_id, children)
    return found


def _with_children(src: _Source) -> list[_Source]:
    """The source followed by the documents inside it, depth first (an mbox, a message, its attachments)."""
    return [src] + [x for child in src.children for x in _with_children(child)]


def _adopt_children(sources: list[_Source], seen_ids: dict[str, str]) -> None:
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
            _adopt_children([child], seen_ids)
        src.children = kept


def _open_previous(gens: generations.Generations, models: dict):
    from corpus_search.backends import vector_backend
    from corpus_search.store import Store

    try:
        gen, manifest, _ = gens.good()
    except IndexMissingError:
        return None
    if manifest.get("models") != models or backends.written_by(manifest) != backends.chosen():
        return None  # other models or backends: nothing can be carried over
    try:
        return Store.open(gen / STORE), vector_backend().open(gen), manifest, gen
    except CorpusSearchError:
        return None


def _unchanged_report(gens, sources: list[_Source], store, started: float,
                      skipped: list[SourceReport]) -> BuildReport:
    reports = skipped + [_report(replace(d, path=_rel_of(d, sources)), True) for d in store.documents()]
    return BuildReport(
        generation=gens.current().name,
        sources=sorted(reports, key=lambda r: (r.path, r.attachment is not None)),
        passages=store.passage_count(),
        seconds=time.perf_counter() - started,
        changed=False,
    )


def _rel_of(doc: Document, sources: list[_Source]) -> str:
    """A stored document's path as the corpus has it now (a source may have moved without changing)."""
    by_id = {s.record.doc_id: s.rel for s in sources}
    return by_id.get(doc.doc_id) or by_id.get(doc.parent or "", doc.path)


def _carry_over(src: _Source, store, children: dict[str, list[Document]]) -> None:
    from corpus_search.entities import RawMention

    src.doc = replace(store.document(src.record.doc_id), path=src.rel)
    src.text = store.document_text(src.record.doc_id)
    src.passages = store.passages(src.record.doc_id)
    ids = [p.passage_id for p in src.passages]
    src.raw_mentions = [RawMention(*row) for row in store.raw_mentions(ids)]
    src.reused = True
    for doc in children.get(src.record.doc_id, ()):
        child = _Source(src.path, src.rel, doc.record, src.sha256, src.key, parent=doc.parent)
        _carry_over(child, store, children)
        src.children.append(child)


def _process_all(todo: list[_Source], progress: Progress, ocr_cache: Path | None = None) -> None:
    """Each source in its own capped worker process, a few at once (the workers are separate
    processes, so threads that only wait on them are enough)."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    workers = config.get_int("source_workers") or min(os.cpu_count() or 1, 4)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(_process, src, ocr_cache, progress) for src in todo]
        try:
            for done, future in enumerate(as_completed(futures), 1):
                future.result()
                progress.advance(done)
        except BaseException:
            for future in futures:  # stopped (Ctrl-C, Cancel): start no further workers
                future.cancel()
            raise


def _process(src: _Source, ocr_cache: Path | None = None, progress: Progress | None = None) -> None:
    """Extract and split one source under the caps; any failure becomes the source's status, never the build's."""
    from corpus_search.source_worker import process

    result = process(src.path, src.record, ocr_cache, _ocr_progress(src.rel, progress) if progress else None)
    _take(src, result, with_found(src.record, result.found))


def _take(src: _Source, result, record: Record, name: str | None = None) -> None:
    """What the worker made of a source (or of an attachment inside it) becomes its document."""
    src.text = result.text
    # Here, not in the worker: one detector (0.4 s to load) serves every source of the build.
    src.passages = languages.tag(result.passages)
    message = result.message
    if record.guessed and src.parent is None:
        found = "title" in result.found
        note = "no .toml record beside it: " + ("title from the file itself" if found else "title guessed from the file name")
        message = f"{message}; {note}" if message else note
    status = result.status
    if status == STATUS_OK and result.pages and not src.passages:
        status, message = "empty", "no text found"
    src.doc = Document(
        doc_id=record.doc_id,
        path=src.rel,
        sha256=src.sha256,
        record=record,
        status=status,
        message=message,
        pages=result.pages,
        skipped_pages=result.skipped_pages,
        passages=len(src.passages),
        parent=src.parent,
        attachment=name,
    )
    for child in result.children:
        if child.parent != record.doc_id:
            continue  # a grandchild: taken by its own parent below
        inner = _Source(src.path, src.rel, child.record, src.sha256, src.key, parent=child.parent)
        # The worker flattened the tree; give each child its own children back.
        nested = replace(child.processed, children=tuple(c for c in result.children if c.parent != record.doc_id))
        _take(inner, nested, child.record, child.name)
        src.children.append(inner)


def _ocr_progress(rel: str, progress: Progress, every: float = 5.0) -> Callable[[int, int], None]:
    """Log a long scan's OCR as it goes: pages read of all, and the time left at the pace so far."""
    started = time.monotonic()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] < every or done == 0:
            return
        last[0] = now
        left = (now - started) / done * (total - done)
        progress.log(f"{rel}: OCR {done}/{total} pages, about {_clock(left)} left")

    return report


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}:{secs:02d}"


def _write_generation(gen: Path, sources, previous: Path | None, mentions: list[Mention], table, vectors, models,
                      progress, unindexed: list[SourceReport] = (), corpus_dir: Path | None = None,
                      sentence_vectors: dict | None = None) -> None:
    """Write the generation: from a copy of the previous one when there is one, changing only what changed."""
    import shutil

    from corpus_search.backends import KeywordDoc, keyword_backend, vector_backend
    from corpus_search.store import Store

    kept = {s.record.doc_id for s in sources if s.reused}
    # Without a previous generation to copy (a first build, or a purge's fresh files) every source is written.
    new_sources = sources if previous is None else [s for s in sources if not s.reused]
    if previous is not None:
        shutil.copy2(previous / STORE, gen / STORE)
        shutil.copytree(previous / KEYWORD, gen / KEYWORD)

    store = Store.create(gen / STORE)
    gone = [d for d in store.source_keys() if d not in kept]
    for doc_id in gone:
        store.delete_document(doc_id)
    for i, src in enumerate(new_sources):
        store.add_document(src.doc, i, src.text, src.passages, src.key)
        store.add_raw_mentions(src.raw_mentions)
    store.set_order([s.record.doc_id for s in sources])
    # Canonical names can change for every document when a new source teaches an alias.
    store.clear_mentions()
    store.add_mentions(mentions)
    store.set_aliases(table.rows())
    # Files that are no document (skipped formats, broken records): `documents` lists them with their reason.
    store.set_meta("unindexed", json.dumps([{"path": r.path, "status": r.status, "message": r.message}
                                            for r in unindexed], ensure_ascii=False))
    store.set_meta("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    store.set_meta("corpus_dir", str(corpus_dir))  # where curation.toml lives, for the query-time curation
    store.commit()
    ids = [r[0] for r in store.conn.execute(
        "SELECT p.passage_id FROM passages p JOIN documents d USING (doc_id) ORDER BY d.ord, p.seq")]
    n_mentions = store.conn.execute("SELECT count(*) FROM mentions").fetchone()[0]
    store.close()
    progress.advance(1)

    keyword_docs = (
        KeywordDoc(p.passage_id, p.doc_id, p.kind, p.text, p.section) for s in new_sources for p in s.passages
    )
    if previous is not None:
        keyword_backend().update(gen / KEYWORD, gone, keyword_docs).close()
    else:
        keyword_backend().create(gen / KEYWORD, keyword_docs).close()
    progress.advance(2)

    dim = next(iter(vectors.values())).shape[0] if vectors else 384
    matrix = np.zeros((len(ids), dim), dtype=np.float32)
    for i, pid in enumerate(ids):
        matrix[i] = vectors[pid]
    vector_backend().save(gen, ids, matrix)
    if sentence_vectors is not None:
        _save_sentences(gen, ids, sentence_vectors, dim)
    progress.advance(3)

    generations.write_manifest(
        gen,
        {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "corpus_hash": _corpus_hash(sources, [r for r in unindexed if r.status == STATUS_SKIPPED],
                                        corpus_dir / "_entities" if corpus_dir is not None else None),
            "models": models,
            **backends.chosen(),  # keyword_backend, vector_backend: only they may open this generation
            "vector_dim": dim,
            "counts": {"documents": len(sources), "passages": len(ids), "mentions": n_mentions},
            "documents": {s.record.doc_id: s.doc.status for s in sources},
        },
    )


def _sentence_vectors(passages, need, previous_gen: Path | None, encoder, vectors: dict) -> dict:
    """passage id -> (sentence spans, vectors): carried over from the previous generation, else embedded."""
    from corpus_search import sentences
    from corpus_search.backends import vector_backend
    from corpus_search.vector_index import Encoder

    out: dict = {}
    if previous_gen is not None:
        old = sentences.SentenceIndex.open(previous_gen)
        if old is not None:
            old_vectors = vector_backend().open(previous_gen)
            needed = {p.passage_id for p in need}
            for p in passages:
                row = old_vectors.row(p.passage_id)
                if p.passage_id not in needed and row is not None:
                    spans, vecs = old.of_passage(row)
                    if len(spans):
                        out[p.passage_id] = (spans, vecs)
    todo = []
    for p in passages:
        if p.passage_id in out:
            continue
        spans = sentences.spans(p.text)
        if len(spans) == 1 and p.passage_id in vectors:
            # One sentence (a heading, a caption, a short note): its vector is the passage's, already made.
            out[p.passage_id] = (np.asarray(spans, dtype=np.int32).reshape(-1, 2), vectors[p.passage_id][None, :])
        else:
            todo.append(p)
    if todo:
        per_text, matrix = sentences.embed(encoder or Encoder(), [p.text for p in todo])
        i = 0
        for p, spans in zip(todo, per_text):
            out[p.passage_id] = (np.asarray(spans, dtype=np.int32).reshape(-1, 2), matrix[i:i + len(spans)])
            i += len(spans)
    return out


def _save_sentences(gen: Path, ids: list[str], sentence_vectors: dict, dim: int) -> None:
    from corpus_search.sentences import SentenceIndex

    rows, mats = [], []
    for i, pid in enumerate(ids):
        spans, vecs = sentence_vectors[pid]
        rows.append(np.column_stack([np.full(len(spans), i, dtype=np.int32), spans]))
        mats.append(vecs)
    SentenceIndex.save(gen, np.concatenate(mats) if mats else np.zeros((0, dim), np.float32),
                       np.concatenate(rows) if rows else np.zeros((0, 3), np.int32))


def _verify_generation(gen: Path) -> None:
    """Open what was written, check the three parts agree and answer; raise before publishing if not."""
    from corpus_search.backends import keyword_backend, vector_backend
    from corpus_search.store import Store

    manifest = generations.read_manifest(gen)
    problems = generations.verify_files(gen, manifest)
    store = Store.open(gen / STORE)
    keyword = keyword_backend().open(gen / KEYWORD)
    vec = vector_backend().open(gen)
    try:
        n = store.passage_count()
        # Whoosh also keeps a NumPy export that must agree; another backend has only its count.
        exported = getattr(keyword, "exported_count", keyword.count)()
        counts = (n, keyword.count(), exported, len(vec), manifest["counts"]["passages"])
        if len(set(counts)) != 1:
            problems.append(f"counts disagree (store, keyword, keyword export, vectors, manifest): {counts}")
        if n:
            first = store.conn.execute("SELECT passage_id, text FROM passages ORDER BY row LIMIT 1").fetchone()
            words = [w for w in first[1].split() if w.isalpha()][:3]
            if words and not keyword.search(" ".join(words), limit=5).ids:
                problems.append("canary keyword query found nothing")
    except sqlite3.DatabaseError as exc:
        problems.append(f"store unreadable: {exc}")
    finally:
        keyword.close()
        store.close()
    if problems:
        raise CorpusSearchError(f"the new index failed verification and was not used: {problems[0]}")
