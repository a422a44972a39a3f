"""The keyword index: Whoosh (BM25F, stemming, phrases) behind a small interface of our own.

Whoosh is unmaintained and never fsyncs; the build (generations.py) makes crash safety ours: it
writes a new generation's index in a folder of its own and publishes it only after a check.
Whoosh is imported by this module and its parts only: the analysis (keyword_analysis.py), the
query reading (keyword_query.py) and the guard on what Whoosh loads (keyword_safety.py); and by
bm25.py, which reads the postings Whoosh writes to score plain-word queries in NumPy. Replacing
Whoosh means replacing those modules.
"""

from __future__ import annotations

import pickle  # only to name the error the restricted unpickler raises; nothing of ours is pickled
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from corpus_search import bm25, config
from corpus_search.backends import KeywordDoc, KeywordHits
from corpus_search.bm25 import CorpusStats
from corpus_search.errors import IndexMissingError
from corpus_search.keyword_analysis import INDEX_NAME, STOP_WORDS, analyze, query_terms, schema, term_of
from corpus_search.keyword_query import bounded_collector, fix_whoosh_and_not, global_bm25f, parse
from corpus_search.keyword_safety import TOC_VERSION, check_toc, whoosh_safely

# The names other modules import from here (search.py, shard_search.py, the tests and the benchmarks).
__all__ = ["INDEX_NAME", "STOP_WORDS", "TOC_VERSION", "KeywordDoc", "KeywordHits", "KeywordIndex", "analyze",
           "check_toc", "query_terms", "term_of"]


def _whoosh_ready() -> None:
    """Before Whoosh is imported for an index: its loaders guarded, its NOT matcher corrected (once per process)."""
    whoosh_safely()
    fix_whoosh_and_not()


class KeywordIndex:
    """Whoosh index of passages; searched by passage id, scored by BM25F."""

    def __init__(self, ix, folder: Path) -> None:
        self._ix = ix
        self._searcher = None
        self._docnum_map: dict[str, int] | None = None
        self._scorer = bm25.Scorer.open(folder)  # NumPy scoring of plain-word queries; None in older indexes
        # Whoosh scores with the same statistics as the NumPy scorer: the live documents' (bm25.export), or the
        # whole corpus's (use_stats). Whoosh's own counts deleted documents until a merge. Whoosh's default
        # BM25F only in an index from before the export.
        self._weighting = global_bm25f(self._scorer.own) if self._scorer is not None else None

    @classmethod
    def create(cls, folder: Path, docs: Iterable[KeywordDoc]) -> KeywordIndex:
        _whoosh_ready()
        from whoosh import index  # only once whoosh_safely has patched Whoosh's loaders

        folder.mkdir(parents=True, exist_ok=True)
        ix = index.create_in(str(folder), schema(), indexname=INDEX_NAME)
        writer = ix.writer(limitmb=256)
        for d in docs:
            _add(writer, d)
        writer.commit(optimize=True)
        return cls._exported(ix, folder)

    @classmethod
    def update(cls, folder: Path, remove_doc_ids: Iterable[str], docs: Iterable[KeywordDoc]) -> KeywordIndex:
        """Change a copy of an index in place: drop documents' passages, add new ones (no full rebuild)."""
        _whoosh_ready()
        from whoosh import index  # only once whoosh_safely has patched Whoosh's loaders

        check_toc(folder)
        ix = index.open_dir(str(folder), indexname=INDEX_NAME)
        writer = ix.writer(limitmb=256)
        for doc_id in remove_doc_ids:
            writer.delete_by_term("doc_id", doc_id)
        for d in docs:
            _add(writer, d)
        writer.commit()  # whoosh's merge policy folds small segments in
        return cls._exported(ix, folder)

    @classmethod
    def is_current(cls, folder: Path) -> bool:
        """Whether the index carries the NumPy scorer's export in the current format.

        An index from before the export (or from an older format) is rebuilt from the same sources:
        every source is carried over and only the keyword index is rewritten, so plain-word queries
        stop falling back to Whoosh's slower scoring.
        """
        return bm25.Scorer.open(folder) is not None

    @classmethod
    def _exported(cls, ix, folder: Path) -> KeywordIndex:
        bm25.export(ix, folder)
        return cls(ix, folder)

    @classmethod
    def open(cls, folder: Path) -> KeywordIndex:
        _whoosh_ready()
        from whoosh import index  # only once whoosh_safely has patched Whoosh's loaders

        check_toc(folder)
        try:
            ix = index.open_dir(str(folder), indexname=INDEX_NAME, readonly=True)
            ix.doc_count()  # reads the table of contents now, so damage shows at open
        except Exception as exc:  # whoosh raises many kinds on a damaged folder
            raise IndexMissingError(f"keyword index {folder} is unreadable ({exc}); run `corpus-search build`") from None
        return cls(ix, folder)

    def count(self) -> int:
        return self._ix.doc_count()

    def exported_count(self) -> int:
        """Passages in the NumPy scorer's export (Whoosh's count when there is none)."""
        return self._scorer.count() if self._scorer is not None else self.count()

    def _get_searcher(self):
        if self._searcher is None:
            self._searcher = self._ix.searcher() if self._weighting is None else self._ix.searcher(weighting=self._weighting)
        return self._searcher

    def stats(self):
        """This index's BM25 statistics (bm25.CorpusStats), to be summed with the other shards'."""
        if self._scorer is None:
            raise IndexMissingError("this keyword index has no statistics export (built by an older version); "
                                    "run `corpus-search build --force`")
        own = self._scorer.own
        return CorpusStats(np.asarray(own.terms), np.array(own.df), own.documents, dict(own.field_length))

    def use_stats(self, stats) -> None:
        """Score with corpus-wide statistics, on both paths (NumPy and Whoosh): this index is one shard."""
        self._scorer.use_stats(stats)
        self._weighting = global_bm25f(stats)
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    @staticmethod
    def _collect(searcher, q, limit: int, flt, warnings: list[str]):
        """Run the query under the query_timeout setting; past it, the best found so far, with a warning."""
        collector = bounded_collector(searcher.collector(limit=limit), flt,
                                      time.monotonic() + config.get_float("query_timeout"))
        searcher.search_with_collector(q, collector)
        if collector.timed_out:
            warnings.append("the keyword query took too long; these are the best matches found in time")
        return collector.results(), collector.timed_out

    def _docnums(self, searcher) -> dict[str, int]:
        """passage id -> Whoosh document number, read once per opened index."""
        if self._docnum_map is None:
            self._docnum_map = {fields["passage_id"]: num for num, fields in searcher.reader().iter_docs()}
        return self._docnum_map

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._ix.close()

    def parse(self, query: str):
        """Parse a user query; never raises: malformed syntax falls back to plain words, with a warning."""
        return parse(query, self._ix.schema)


    def search(
        self,
        query: str,
        limit: int = 100,
        doc_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        allowed: set[str] | None = None,
    ) -> KeywordHits:
        from whoosh import query as wq  # Whoosh is loaded by open/create, after its loaders are patched

        q, warnings = self.parse(query)
        plain = bm25.plain_terms(q) if self._scorer is not None else None
        if plain is not None:
            terms, phrases = plain
            keep = self._scorer.mask(doc_ids, kinds, allowed)
            # A boosted phrase is a name's other form (query_aliases), searched at a third: it matches where
            # all its words are, from the postings, not from positions. Whoosh's scoring of such a query took
            # 25-40 s at 1M passages; matching its positions still took 76 ms a query at 100k (BENCHMARKS.md).
            forms = [(ph.fieldname, ph.words, float(ph.boost)) for ph in phrases]
            scored = self._scorer.search(terms, keep, limit, forms)
            return KeywordHits(ids=scored.ids, total=scored.total, warnings=warnings)
        filters = []
        if doc_ids:
            filters.append(wq.Or([wq.Term("doc_id", d) for d in doc_ids]))
        if kinds:
            filters.append(wq.Or([wq.Term("kind", k) for k in kinds]))
        flt = wq.And(filters) if filters else None
        searcher = self._get_searcher()
        try:
            return self._search(q, searcher, flt, allowed, limit, warnings)
        except pickle.UnpicklingError as exc:
            raise IndexMissingError(f"keyword index refused: {exc}; run `corpus-search build --force`") from None

    def _search(self, q, searcher, flt, allowed, limit, warnings) -> KeywordHits:
        if allowed is not None:
            # An arbitrary passage set (from the store) becomes a docnum set.
            docnums = self._docnums(searcher)
            nums = {docnums[pid] for pid in allowed if pid in docnums}
            if flt is not None:
                nums &= set(searcher.docs_for_query(flt))
            if not nums:  # Whoosh reads an empty allow-set as no filter at all
                return KeywordHits(ids=[], total=0, warnings=warnings)
            results, timed_out = self._collect(searcher, q, limit, nums, warnings)
        else:
            nums = set()
            results, timed_out = self._collect(searcher, q, limit, flt, warnings)
        ids = [(r["passage_id"], float(r.score)) for r in results]
        # Counting every match exactly means a second pass over the postings; Whoosh's
        # estimate is an upper bound, so it is capped by what the filters allow.
        if len(ids) < limit and not timed_out:
            # Every match was collected and scored: that is the count (Whoosh's own is not always the
            # number of hits it returns; before fix_whoosh_and_not it said 3 for 2 on "pipeline NOT china").
            total = len(ids)
        elif results.has_exact_length():
            total = len(results)
        else:
            total = min(results.estimated_length(), len(nums) if allowed is not None else self.count())
        return KeywordHits(ids=ids, total=max(total, len(ids)), warnings=warnings)


def _add(writer, d: KeywordDoc) -> None:
    writer.add_document(passage_id=d.passage_id, doc_id=d.doc_id, kind=d.kind, text=d.text, section=d.section)
