"""Whoosh's BM25F scores for plain-word queries, computed in NumPy from Whoosh's own postings.

Whoosh scores every posting in pure Python: at 100k passages a plain-word query takes
hundreds of milliseconds. After each commit the keyword index exports its postings (term,
passage, weight), field lengths and statistics as plain .npy arrays beside the Whoosh files;
a query that is a disjunction of terms (what the parser makes of words typed without
syntax) is then scored here with the same formula and the same quantised field lengths, so
the ranking is Whoosh's own. Phrases, AND, NOT and wildcards go to Whoosh.
tests/test_keyword_index.py checks both paths agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus_search.backends import row_order

FORMAT = 4  # 4: statistics of the live documents only; 3: no segment membership
META = "bm25.json"
ARRAYS = ("terms", "indptr", "df", "docs", "weights", "lengths", "pids", "doc_ids", "kinds")
FIELDS = ("text", "section")
B, K1 = 0.75, 1.2  # whoosh.scoring.BM25F's defaults, which the index uses
_SEP = "\x1f"  # field and term in one vocabulary key


def _path(folder: Path, name: str) -> Path:
    return folder / f"bm25_{name}.npy"


def export(ix, folder: Path) -> None:
    """Write the postings and statistics of a committed Whoosh index into `folder`."""
    postings: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    with ix.searcher() as searcher:
        reader = searcher.reader()
        total = reader.doc_count_all()
        lengths = np.zeros((len(FIELDS), total), dtype=np.float32)
        pids = [""] * total  # "" marks a deleted document
        doc_ids = [""] * total
        kinds = [""] * total
        df: dict[str, int] = {}
        for leaf, offset in _leaves(reader):
            for fieldname, raw in leaf.all_terms():
                if fieldname not in FIELDS:
                    continue
                key = fieldname + _SEP + raw.decode("utf-8")
                ids, weights = _read_postings(leaf.postings(fieldname, raw))
                postings.setdefault(key, []).append((ids + offset, weights))
        for num, stored in reader.iter_docs():  # live documents only
            pids[num] = stored["passage_id"]
        live = np.array([bool(p) for p in pids], dtype=bool)
        for key, parts in postings.items():
            df[key] = int(sum(np.count_nonzero(live[ids]) for ids, _ in parts))
        for f, fieldname in enumerate(FIELDS):
            for num in range(total):
                lengths[f, num] = reader.doc_field_length(num, fieldname, 0) or 0  # None: an empty field
        for fieldname, target in (("doc_id", doc_ids), ("kind", kinds)):
            for raw in reader.lexicon(fieldname):
                value = raw.decode("utf-8")
                for num in reader.postings(fieldname, raw).all_ids():
                    target[num] = value
    # Statistics of the live documents, from the lengths each document keeps, so an index updated in place (its
    # deleted documents still in Whoosh's own counts until a merge, a merge's totals summed from the quantised
    # lengths) scores exactly as one built at once from the same passages.
    field_length = {f: int(lengths[i][live].astype(np.float64).sum()) for i, f in enumerate(FIELDS)}

    keys = sorted(postings)
    docs = [np.concatenate([p[0] for p in postings[k]]) for k in keys]
    weights = [np.concatenate([p[1] for p in postings[k]]) for k in keys]
    indptr = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in docs], out=indptr[1:])
    arrays = {
        "terms": np.array(keys, dtype=str),
        "indptr": indptr,
        "df": np.array([df[k] for k in keys], dtype=np.int64),
        "docs": np.concatenate(docs).astype(np.int32) if docs else np.zeros(0, np.int32),
        "weights": np.concatenate(weights).astype(np.float32) if weights else np.zeros(0, np.float32),
        "lengths": lengths,
        "pids": np.array(pids, dtype=str),
        "doc_ids": np.array(doc_ids, dtype=str),
        "kinds": np.array(kinds, dtype=str),
    }
    for name, array in arrays.items():
        np.save(_path(folder, name), array, allow_pickle=False)
    meta = {"format": FORMAT, "documents": total, "live_documents": int(live.sum()), "field_length": field_length,
            # deleted rows ("") are in no vector backend: such an index shares no row mask
            "rows": row_order(pids) if all(pids) else ""}
    (folder / META).write_text(json.dumps(meta), encoding="utf-8")


def _leaves(reader):
    return reader.leaf_readers() if not reader.is_atomic() else [(reader, 0)]


def _read_postings(matcher) -> tuple[np.ndarray, np.ndarray]:
    """A term's document numbers and weights, deleted documents included (the scorer masks them)."""
    from whoosh.codec.whoosh3 import W3LeafMatcher
    from whoosh.matching.wrappers import FilterMatcher

    if isinstance(matcher, FilterMatcher):  # the reader's wrapper that hides deleted documents
        matcher = matcher.child
    ids, weights = [], []
    if isinstance(matcher, W3LeafMatcher):
        # A block at a time: Whoosh decodes each block into arrays; stepping posting by posting
        # through the public API costs ten times as much.
        while matcher.is_active():
            if matcher._ids is None:
                matcher._read_ids()
            if matcher._weights is None:
                matcher._read_weights()
            ids.append(np.asarray(matcher._ids, dtype=np.int64))
            weights.append(np.asarray(matcher._weights, dtype=np.float32))
            matcher._next_block()
        if ids:
            return np.concatenate(ids), np.concatenate(weights)
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    while matcher.is_active():  # short lists Whoosh keeps inline in the term's entry
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float32)


@dataclass(frozen=True)
class CorpusStats:
    """What BM25 needs from the whole corpus: of a shard, or summed over every shard of an index.

    A shard scoring with its own statistics would rank a term common in it but rare elsewhere
    lower than the unsharded index does; with these, every shard scores as the whole index would.
    """

    terms: np.ndarray  # sorted "field\x1fterm" keys
    df: np.ndarray  # live documents holding each term
    documents: int  # live documents
    field_length: dict[str, int]  # summed (quantised) lengths of each field over the live documents

    def avg(self, fieldname: str) -> float:
        # Whoosh's own formula (Searcher.avg_field_length), over the summed counts.
        return self.field_length.get(fieldname, 0) / (self.documents or 1) or 1.0

    def idf(self, key: str) -> float:
        """Whoosh's BM25 idf of a "field\x1fterm" key (a term no shard holds: as if seen nowhere)."""
        i = int(np.searchsorted(self.terms, key))
        n = int(self.df[i]) if i < len(self.terms) and self.terms[i] == key else 0
        return math.log(self.documents / (n + 1)) + 1  # math.log, as Whoosh's own (np.log may differ in the last bit)

    @staticmethod
    def merge(parts: list[CorpusStats]) -> CorpusStats:
        """The statistics of the index the parts (shards) make together."""
        if not parts:
            return CorpusStats(np.zeros(0, dtype=str), np.zeros(0, np.int64), 0, {})
        terms, inverse = np.unique(np.concatenate([p.terms for p in parts]), return_inverse=True)
        df = np.zeros(len(terms), dtype=np.int64)
        np.add.at(df, inverse, np.concatenate([p.df for p in parts]))
        lengths = {f: sum(p.field_length.get(f, 0) for p in parts) for f in FIELDS}
        return CorpusStats(terms, df, sum(p.documents for p in parts), lengths)


def key(fieldname: str, text: str) -> str:
    return fieldname + _SEP + text


@dataclass(frozen=True)
class Scored:
    ids: list[tuple[str, float]]  # (passage_id, score), best first
    total: int


class Scorer:
    """The exported arrays of one keyword index, memory-mapped; scores disjunctions of terms."""

    def __init__(self, folder: Path, meta: dict) -> None:
        a = {name: np.load(_path(folder, name), mmap_mode="r", allow_pickle=False) for name in ARRAYS}
        self._terms, self._indptr, self._df = a["terms"], a["indptr"], a["df"]
        self._docs, self._weights, self._lengths = a["docs"], a["weights"], a["lengths"]
        self._pids, self._doc_ids, self._kinds = a["pids"], a["doc_ids"], a["kinds"]
        self._n = int(meta["documents"])  # rows, deleted ones included
        self.own = CorpusStats(self._terms, self._df, int(meta["live_documents"]),
                               {f: int(meta["field_length"][f]) for f in FIELDS})
        self._avg = [self.own.avg(f) for f in FIELDS]
        self._live = None
        self._row_of: dict[str, int] | None = None
        self._pid_list: list[str] | None = None
        self.rows = meta.get("rows") or None  # backends.row_order of the live rows, None when some are deleted
        self._total = self.own.documents  # documents the idf counts: this index's, or every shard's (use_stats)

    def use_stats(self, stats: CorpusStats) -> None:
        """Score with corpus-wide statistics from now on: this index is one shard of a bigger one."""
        found = np.searchsorted(stats.terms, self._terms)
        found = np.minimum(found, max(len(stats.terms) - 1, 0))
        if len(self._terms) and not np.array_equal(stats.terms[found], self._terms):
            raise ValueError("the corpus statistics do not hold every term of this shard")
        self._df = stats.df[found] if len(self._terms) else self._df
        self._total = stats.documents
        self._avg = [stats.avg(f) for f in FIELDS]

    @classmethod
    def open(cls, folder: Path) -> Scorer | None:
        """The scorer of an index folder, or None when it has none (an index from before it existed)."""
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT:
                return None
            return cls(folder, meta)
        except (OSError, ValueError, KeyError):
            return None

    def count(self) -> int:
        return int(np.count_nonzero(self._pids != ""))

    def _row(self, fieldname: str, text: str) -> int | None:
        key = fieldname + _SEP + text
        i = int(np.searchsorted(self._terms, key))
        return i if i < len(self._terms) and self._terms[i] == key else None

    def mask(self, doc_ids=None, kinds=None, allowed: set[str] | None = None) -> np.ndarray:
        """Which Whoosh document numbers a query may return: live, and within every filter."""
        if self._live is None:
            self._live = self._pids != ""
        keep = self._live.copy()
        if doc_ids:
            keep &= np.isin(self._doc_ids, list(doc_ids))
        if kinds:
            keep &= np.isin(self._kinds, list(kinds))
        if allowed is not None:
            memo = getattr(allowed, "memo", None)  # search.Allowed: the mask is made once per filter
            key = ("rows", self.rows) if self.rows else ("bm25", id(self))  # shared with vectors in the same rows
            keep &= memo(key, lambda: self._only(allowed)) if memo else self._only(allowed)
        return keep

    def _only(self, allowed: set[str]) -> np.ndarray:
        if self._pid_list is None:
            self._pid_list = self._pids.tolist()  # plain str: hashing NumPy's str_ per row costs 3x more
        if len(allowed) > len(self._pid_list) // 8:
            # A common filter: asking the filter about each row beats building the row lookup and then
            # looking up each allowed id (51 -> 13 ms of CPU on a first query, 40k of 100k rows allowed).
            return np.fromiter(map(allowed.__contains__, self._pid_list), dtype=bool, count=len(self._pid_list))
        if self._row_of is None:
            self._row_of = {p: i for i, p in enumerate(self._pid_list) if p}
        only = np.zeros(len(self._pid_list), dtype=bool)
        only[[self._row_of[p] for p in allowed if p in self._row_of]] = True
        return only

    def _term_scores(self, fieldname: str, text: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(document numbers, BM25F score) of one term's postings, in document-number order."""
        row = self._row(fieldname, text)
        if row is None:
            return None
        lo, hi = int(self._indptr[row]), int(self._indptr[row + 1])
        docs = np.asarray(self._docs[lo:hi])
        tf = np.asarray(self._weights[lo:hi], dtype=np.float64)
        f = FIELDS.index(fieldname)
        idf = np.log(self._total / (int(self._df[row]) + 1)) + 1
        fl = np.asarray(self._lengths[f][docs], dtype=np.float64)
        return docs, idf * (tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / self._avg[f]))

    def search(self, terms: list[tuple[str, str, float]], keep: np.ndarray, limit: int,
               phrases: Sequence[tuple[str, Sequence[str], float]] = ()) -> Scored:
        """Score Or(terms, phrases) the way Whoosh does: BM25F per term, times its boost, summed.

        `phrases`: (field, its words, boost) of a name's other form (query_aliases). It matches where all its
        words are, and scores there the sum of its words' BM25F times its boost, as Whoosh scores an And of
        them (tests/test_keyword_index.py compares the two)."""
        scores = np.zeros(self._n, dtype=np.float64)
        matched = np.zeros(self._n, dtype=bool)
        for fieldname, text, boost in terms:
            found = self._term_scores(fieldname, text)
            if found is not None:
                docs, score = found
                scores[docs] += boost * score
                matched[docs] = True
        for fieldname, words, boost in phrases:
            found = [self._term_scores(fieldname, text) for text in words]
            if not found or any(f is None for f in found):
                continue  # a word the index never holds: the form occurs nowhere
            where = found[0][0]
            for docs, _ in found[1:]:
                where = np.intersect1d(where, docs, assume_unique=True)
            for docs, score in found:  # each word's postings hold every document in `where`, in order
                scores[where] += boost * score[np.searchsorted(docs, where)]
            matched[where] = True
        hit = matched & keep
        nums = np.flatnonzero(hit)
        total = len(nums)
        if total > limit:
            # Keep everything tied with the last place, so ties resolve by index order below.
            kth = np.partition(scores[nums], total - limit)[total - limit]
            nums = nums[scores[nums] >= kth]
        # Best first; equal scores in index order, as Whoosh's collector returns them.
        nums = nums[np.lexsort((nums, -scores[nums]))][:limit]
        return Scored(ids=[(str(self._pids[n]), float(scores[n])) for n in nums], total=total)


def plain_terms(q) -> tuple[list[tuple[str, str, float]], list] | None:
    """(terms, phrases) of a parsed query that is one plain Or of Terms (each may carry a boost) and
    boosted Phrases (a name's other form is searched at a third, query_aliases), else None. Terms are (field,
    text, boost); phrases the Phrase queries themselves (`Scorer.search` matches them where all their words are)."""
    from whoosh import query as wq

    if isinstance(q, wq.Term):
        return ([(q.fieldname, q.text, float(q.boost))], []) if isinstance(q.text, str) else None
    if not isinstance(q, wq.Or) or q.boost != 1.0 or q.minmatch or q.scale:
        return None
    terms, phrases = [], []
    for sub in q.subqueries:
        if isinstance(sub, wq.Term) and isinstance(sub.text, str):
            terms.append((sub.fieldname, sub.text, float(sub.boost)))
        elif isinstance(sub, wq.Phrase) and sub.boost != 1.0 and all(isinstance(w, str) for w in sub.words):
            # Only a boosted phrase: a name's other form. A phrase the user typed keeps Whoosh's search,
            # with its time cap (matching "of the" at a million passages has no cap here).
            phrases.append(sub)
        else:
            return None
    return terms, phrases
