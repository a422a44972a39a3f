"""The Python API: one `Corpus` object that the CLI and the app both call.

    from corpus_search import Corpus
    corpus = Corpus.open("indexes")
    result = corpus.search('"Altai pipeline"', mode="keyword")
    for hit in result.hits:
        print(hit.passage.page, corpus.cite(hit.passage.passage_id))
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from corpus_search import backends, build as building, config, shapes, shown
from corpus_search.build import KEYWORD, STORE, BuildReport, Progress
from corpus_search.check import check_draft
from corpus_search.cite import cite
from corpus_search.curation import OPS, Curation
from corpus_search.errors import CorpusSearchError, UsageError
from corpus_search.export import ExportItem, export
from corpus_search.generations import Generations
from corpus_search.models import Document, Entity, Hit, Passage, Record, SearchResult
from corpus_search.query_encoder import QueryEncoder, backend_for
from corpus_search.quote import verify
from corpus_search.search import Filters, Searcher
from corpus_search.sentences import SentenceIndex
from corpus_search.shard_search import open_searcher
from corpus_search.store import Store
from corpus_search.vector_index import model_path


def default_corpus() -> Path:
    return Path(config.get("corpus"))


def default_index() -> Path:
    return Path(config.get("index"))


def build(corpus: Path | str | None = None, index: Path | str | None = None, progress: Progress | None = None,
          force: bool = False, retry: Collection[str] = (), cluster: str | None = None) -> BuildReport:
    """Build or update the index; see build.build (`cluster`: on the Ray cluster at that address)."""
    return building.build(Path(corpus or default_corpus()), Path(index or default_index()), progress, force, retry,
                          cluster=cluster)


class Corpus:
    """One opened index generation: search, quote, cite, list."""

    def __init__(self, root: Path, generation: Path, manifest: dict, warnings: list[str], few_queries: bool = False):
        self.root = root
        self.generation = generation
        self.manifest = manifest
        self.warnings = warnings
        backends.check_written_by(manifest, generation)
        self.store = Store.open(generation / STORE)
        self._encoder = None
        self._encoder_backend = backend_for(few_queries)
        self._encoder_lock = threading.Lock()
        self._query_cache: dict[str, Any] = {}
        self.shards = None
        self.folder: Path | None = None  # the corpus folder (Corpus.open): what `since_build` compares with
        backend = config.get("backend").strip().lower()
        if backend == "cluster":
            self._open_sharded()
            return
        if backend != "local":
            raise UsageError(f"unknown backend {backend!r} (CORPUS_SEARCH_BACKEND); choose from local, cluster")
        self.keyword = backends.keyword_backend().open(generation / KEYWORD)
        self.vectors = backends.vector_backend().open(generation)
        self.sentences = SentenceIndex.open(generation)
        if self._encoder_backend != "numpy" and hasattr(self.vectors, "bf16"):
            self.vectors.bf16 = True  # a process of many queries (VectorIndex.scans_bf16 decides, measuring)
        self.searcher = Searcher(self.store, self.keyword, self.vectors, self.encode_query, self.sentences)

    def _open_sharded(self) -> None:
        """Search through the generation's shards on the Ray cluster (shard_search.py); the store stays here."""
        try:
            self.searcher = open_searcher(self.store, self.generation, self.manifest, self.encode_query)
        except CorpusSearchError as exc:
            self.store.close()
            if not self.warnings:
                raise
            # Opening fell back past a damaged generation: the reason must reach the user with the error.
            raise type(exc)(f"{exc} ({'; '.join(self.warnings)})") from None
        except BaseException:
            self.store.close()
            raise
        self.shards = self.searcher.shards
        self.keyword, self.vectors, self.sentences = self.searcher.keyword, self.searcher.vectors, None

    @classmethod
    def open(cls, index: Path | str | None = None, corpus: Path | str | None = None, *,
             few_queries: bool = False) -> Corpus:
        """Open the index; entity curation comes from `corpus`/_entities, else the folder the index was built from.

        `few_queries`: this process runs a search or two (a CLI command), so queries are embedded without
        importing torch, which costs more time than it saves (setting CORPUS_SEARCH_QUERY_ENCODER)."""
        root = Path(index or default_index())
        gen, manifest, warnings = Generations(root).good()
        opened = cls(root, gen, manifest, warnings, few_queries)
        folder = Path(corpus) if corpus is not None else opened.store.meta("corpus_dir")
        if folder:
            opened.store.set_curation(Path(folder) / "_entities")
        opened.folder = Path(folder) if folder else None
        return opened

    def curation(self):
        """The curation history this corpus applies (corpus/_entities/curation.toml)."""
        folder = self.store._curation_folder
        if folder is None:
            raise UsageError("this index does not know its corpus folder; pass --corpus DIR (or rebuild it)")
        return Curation.load(folder)

    def curate(self, op: str, name: str, value: str = ""):
        """Record one curation change (names may be given by any alias); it applies at once."""
        if op not in OPS:
            raise UsageError(f"unknown curation {op!r}; one of {', '.join(OPS)}")
        name = self._one_entity(name)
        if op == "merge":
            value = self._one_entity(value)
        elif op == "rename":
            taken = next((e for e in self.store.entities() if e.name.casefold() == value.strip().casefold()
                          and e.name != name), None)
            if taken is not None:
                # A rename onto another entity's name would quietly merge the two (and take its label).
                raise UsageError(f"an entity called {taken.name!r} ({taken.label}) already exists; to make {name!r} "
                                 f"part of it, merge them: corpus-search curate merge {name!r} {taken.name!r}")
        elif op == "relabel":
            value = value.strip().upper()
            if not value.replace("_", "").isalpha():
                raise UsageError(f"label {value!r} is not a label (PERSON, ORG, GPE, ...)")
        elif op == "remove-alias":
            known = {a.casefold() for e in self.store.entities() if e.name == name for a in e.aliases}
            extra = self.store.curation()
            known |= {a.casefold() for a in (extra.aliases.get(name, ()) if extra else ())}
            if value.strip().casefold() not in known:
                raise UsageError(f"{name!r} has no alias {value!r}; `corpus-search entities` lists its aliases")
        return self.curation().add(op, name, value)

    def _one_entity(self, text: str) -> str:
        names = self.searcher.resolve_entity(text)  # an unknown name is an error with suggestions
        if len(names) > 1:
            raise UsageError(f"{text!r} names {len(names)} entities ({', '.join(names)}); give the exact name")
        return names[0]

    def close(self) -> None:
        self.keyword.close()
        if self.shards is not None:
            self.shards.close()
        self.store.close()

    # -- semantic --------------------------------------------------------------
    def encode_query(self, text: str):
        cached = self._query_cache.get(text)
        if cached is not None:
            return cached
        with self._encoder_lock:
            if self._encoder is None:
                # A forward pass of the same model: no 9 s sentence-transformers import per query.
                self._encoder = QueryEncoder(model_path(), self._encoder_backend)
        vec = self._encoder.encode(text)
        if len(self._query_cache) > 512:
            self._query_cache.clear()
        self._query_cache[text] = vec
        return vec

    def warm_up(self) -> None:
        """Pay now what a process's first search would: the query encoder's load, the first scans' set-up (the
        bfloat16 copy of the reduced vectors, the long passages' sentences) and the keyword side's first read.
        For a process that will answer people (the app): 1.5 s of a first search at 100k passages moves here."""
        self.search("warm up", mode="hybrid", limit=1)

    def semantic(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """(passage_id, cosine) of the passages closest in meaning, best first: a long passage by its best
        sentence too, as search ranks it (a quotation's paraphrase is one sentence of a long paragraph)."""
        return self.searcher.by_meaning(self.encode_query(text), k)

    # -- search ------------------------------------------------------------------
    def search(
        self,
        query: str,
        mode: str = "hybrid",
        entities: Sequence[str] = (),
        labels: Sequence[str] = (),
        doc_ids: Sequence[str] = (),
        kinds: Sequence[str] = (),
        limit: int = 10,
        rollup: bool = False,
        lang: str | Sequence[str] | None = None,
    ) -> SearchResult:
        """`lang`: only passages detected in this language (ISO 639-1 code), or in any of these."""
        langs = (lang,) if isinstance(lang, str) else tuple(lang or ())
        filters = Filters(tuple(entities), tuple(labels), tuple(doc_ids), tuple(kinds), rollup, langs)
        return self.searcher.search(query, mode=mode, filters=filters, limit=limit)

    def search_json(self, query: str, **kwargs) -> dict[str, Any]:
        """The CONTRACT.md `search --json` object."""
        return self.result_json(self.search(query, **kwargs))

    def result_json(self, result: SearchResult, explain: bool = False) -> dict[str, Any]:
        """The CONTRACT.md `search --json` object for a result (shapes.search_result)."""
        return shapes.search_result(result, [self.hit_json(h, explain) for h in result.hits])

    def evidence_page(self, hit: Hit) -> int | str | None:
        """The printed page the hit's evidence sentence starts on (a passage may cross pages)."""
        return shapes.evidence_page(hit)

    def hit_json(self, hit: Hit, explain: bool = False) -> dict[str, Any]:
        """One result of `search --json` (shapes.hit)."""
        p = hit.passage
        return shapes.hit(hit, self.record(p.doc_id), self.cite(p.passage_id), explain,
                          title_of=lambda doc_id: self.record(doc_id).title)

    # -- quotations and citations ---------------------------------------------
    def quote(self, text: str, limit: int = 5):
        return verify(self.store, text, semantic=self.semantic, limit=limit)

    def check_draft(self, text: str):
        return check_draft(self.store, text, semantic=self.semantic)

    def cite(self, passage_id: str, style: str = "chicago", offset: int | None = None,
             end_offset: int | None = None) -> str:
        passage = self.store.passage(passage_id)
        return cite(self.record(passage.doc_id), passage, style=style, offset=offset, end_offset=end_offset)

    def cite_match(self, match, style: str = "chicago") -> str:
        """A citation of a verified quotation (a QuoteMatch) in any style: its own pages or paragraphs, also when it
        runs on into the next passage (its `citation` is the Chicago one)."""
        passage = self.store.passage(match.passage_id)
        last, end = None, match.end
        if len(match.passage_ids) > 1:
            last = self.store.passage(match.passage_ids[-1])
            position = (match.selector or {}).get("position") or {}
            end = position["end"] - last.start if "end" in position else len(last.text)
        return cite(self.record(passage.doc_id), passage, style=style, offset=match.start, end_offset=end, last=last)

    def export(self, passage_ids: Sequence[str], fmt: str, quotes: Sequence | None = None) -> str:
        """Passages (or verified quotations: QuoteMatch objects) as csv, bibtex, ris, csl-json or markdown."""
        items = [ExportItem(self.passage(pid), self.record(self.passage(pid).doc_id)) for pid in passage_ids]
        for m in quotes or ():
            passage = self.passage(m.passage_id)
            items.append(ExportItem(passage, self.record(passage.doc_id), quote=m.source_text, offset=m.start,
                                    end_offset=m.end))
        return export(items, fmt)

    def export_selection(self, passage_ids: Sequence[str], fmt: str, query: str | None = None,
                         quotes: Sequence[str] = (), limit: int = 10) -> str:
        """`corpus-search export`: passages by id, then a hybrid search's top `limit`, then quotations.

        A quotation is exported only where it is found verbatim (its first exact match); one that is
        not found is an error, never a silent gap in a reading list.
        """
        ids = list(passage_ids)
        if query:
            ids += [h.passage.passage_id for h in self.search(query, limit=limit).hits]
        matches = []
        for text in quotes:
            report = self.quote(text)
            if not report.found:
                raise UsageError(f"quotation not found verbatim, so not exported: {text[:60]!r} "
                                 "(see `corpus-search quote`)")
            matches += [m for m in report.matches if m.exact][:1]
        if not ids and not matches:
            raise UsageError("nothing to export: give passage ids, --query or --quote")
        return self.export(ids, fmt, quotes=matches)

    # -- listing -----------------------------------------------------------------
    def documents(self) -> list[Document]:
        return self.store.documents()

    def document(self, doc_id: str) -> Document:
        return self.store.document(doc_id)

    def unindexed(self) -> list[dict[str, Any]]:
        """Files under the corpus folder that are no document, each with its status ("skipped", "failed") and
        why: a format no extractor reads, a broken record. As the build that made this index saw them."""
        return json.loads(self.store.meta("unindexed") or "[]")

    def documents_json(self) -> list[dict[str, Any]]:
        """The CONTRACT.md `documents --json` list: every document, then every file that is none (doc_id null),
        the files added to the corpus folder since the build among them (`since_build`)."""
        added, gone = self.since_build()
        rows = shapes.documents(self.documents(), [*self.unindexed(), *added])
        for row in rows:
            if row["doc_id"] is not None and row["path"] in gone:
                row["message"] = "; ".join(filter(None, (row["message"], shapes.GONE)))
        return rows

    def since_build(self) -> tuple[list[dict[str, Any]], set[str]]:
        """What changed in the corpus folder since this index was built, by file name (no file is read): the files
        it never saw, as unindexed rows ("skipped", and why), and the paths of its documents no longer there.
        Nothing when the folder (given at open, else the one the index was built from) is not there."""
        folder = self.folder
        if folder is None or not folder.is_dir():
            return [], set()
        from corpus_search.records import find_sources, find_unsupported

        present = {p.relative_to(folder).as_posix() for p in find_sources(folder)}
        # As the build reports them (build_plan.survey): a name that is not UTF-8 escaped, so it can be stored.
        unsupported = {shown.path(p.relative_to(folder).as_posix()): why for p, why in find_unsupported(folder)}
        docs = {d.path for d in self.documents() if d.parent is None}
        known = docs | {u["path"] for u in self.unindexed()}
        added = [{"path": rel, "status": "skipped", "message": f"{unsupported[rel]} (added after the last build)"
                  if rel in unsupported else shapes.ADDED} for rel in sorted((present | set(unsupported)) - known)]
        return added, docs - present

    def record(self, doc_id: str) -> Record:
        return self._records().get(doc_id) or self.store.document(doc_id).record

    def _records(self) -> dict[str, Record]:
        if not hasattr(self, "_record_cache"):
            self._record_cache = {d.doc_id: d.record for d in self.store.documents()}
        return self._record_cache

    def passage(self, passage_id: str) -> Passage:
        return self.store.passage(passage_id)

    def passages(self, doc_id: str | None = None) -> list[Passage]:
        return self.store.passages(doc_id)

    def passage_json(self, passage: Passage, mentions=None) -> dict[str, Any]:
        """One row of `passages --json` (shapes.passage)."""
        return shapes.passage(passage, mentions or ())

    def passages_json(self, doc_id: str | None = None) -> list[dict[str, Any]]:
        passages = self.passages(doc_id)
        mentions = self.store.mentions([p.passage_id for p in passages])
        return [self.passage_json(p, mentions.get(p.passage_id, [])) for p in passages]

    def passages_mentioning(self, names: Sequence[str]) -> list[Passage]:
        """Passages that mention any of these entities (canonical names or aliases), in document order."""
        resolved = [n for name in names for n in self.searcher.resolve_entity(name)]
        ids = self.store.passages_mentioning(resolved)
        found = self.store.get_passages(sorted(ids))
        order = {d.doc_id: i for i, d in enumerate(self.documents())}
        return sorted(found.values(), key=lambda p: (order.get(p.doc_id, 0), p.seq))

    def mentions(self, passage_ids: Sequence[str]) -> dict:
        """passage id -> its entity mentions (canonical name, label, span)."""
        return self.store.mentions(passage_ids)

    def entities(self, label: str | None = None, limit: int | None = None) -> list[Entity]:
        """Entities by passage count; an unknown label is an error listing the known ones."""
        if label is not None:
            label = self.searcher.check_label(label)
        return self.store.entities(label=label, limit=limit)

    def languages(self) -> list[tuple[str, int]]:
        """The languages detected in the corpus, as (ISO 639-1 code, passages), most passages first."""
        return self.searcher.languages()

    def labels(self) -> list[str]:
        """The entity labels that occur in this corpus."""
        return self.searcher.labels()
