"""The keyword index: Whoosh (BM25F, stemming, phrases) behind a small interface of our own.

Whoosh is unmaintained and never fsyncs; nothing outside this module imports it,
so it can be replaced, and the build (generations.py) makes crash safety ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus_search.errors import IndexMissingError

INDEX_NAME = "passages"
_FIELD_SYNTAX = re.compile(r"\b(\w+):")


@dataclass(frozen=True)
class KeywordDoc:
    passage_id: str
    doc_id: str
    kind: str
    text: str
    section: str


@dataclass(frozen=True)
class KeywordHits:
    ids: list[tuple[str, float]]  # (passage_id, bm25 score), best first
    total: int
    warnings: list[str]


def _analyzer():
    from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter
    from whoosh.support.charset import accent_map

    # No stop list: researchers quote whole phrases ("not anything like the ..."),
    # and phrase queries need every word's position. Accents fold before stemming,
    # so "Frédéric" and "Frederic" reach the same stem.
    return RegexTokenizer() | LowercaseFilter() | CharsetFilter(accent_map) | StemFilter(cachesize=50000)


def _schema():
    from whoosh.fields import ID, TEXT, Schema

    analyzer = _analyzer()
    return Schema(
        passage_id=ID(stored=True, unique=True),
        doc_id=ID,
        kind=ID,
        text=TEXT(analyzer=analyzer, phrase=True),
        section=TEXT(analyzer=analyzer, field_boost=0.5),
    )


class KeywordIndex:
    """Whoosh index of passages; searched by passage id, scored by BM25F."""

    def __init__(self, ix) -> None:
        self._ix = ix
        self._searcher = None

    @classmethod
    def create(cls, folder: Path, docs: Iterable[KeywordDoc]) -> KeywordIndex:
        from whoosh import index

        folder.mkdir(parents=True, exist_ok=True)
        ix = index.create_in(str(folder), _schema(), indexname=INDEX_NAME)
        writer = ix.writer(limitmb=256)
        for d in docs:
            _add(writer, d)
        writer.commit(optimize=True)
        return cls(ix)

    @classmethod
    def update(cls, folder: Path, remove_doc_ids: Iterable[str], docs: Iterable[KeywordDoc]) -> KeywordIndex:
        """Change a copy of an index in place: drop documents' passages, add new ones (no full rebuild)."""
        from whoosh import index

        ix = index.open_dir(str(folder), indexname=INDEX_NAME)
        writer = ix.writer(limitmb=256)
        for doc_id in remove_doc_ids:
            writer.delete_by_term("doc_id", doc_id)
        for d in docs:
            _add(writer, d)
        writer.commit()  # whoosh's merge policy folds small segments in
        return cls(ix)

    @classmethod
    def open(cls, folder: Path) -> KeywordIndex:
        from whoosh import index

        try:
            ix = index.open_dir(str(folder), indexname=INDEX_NAME, readonly=True)
        except Exception as exc:  # whoosh raises many kinds on a damaged folder
            raise IndexMissingError(f"keyword index {folder} is unreadable ({exc}); run `corpus-search build`") from None
        return cls(ix)

    def count(self) -> int:
        return self._ix.doc_count()

    def _get_searcher(self):
        if self._searcher is None:
            self._searcher = self._ix.searcher()
        return self._searcher

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._ix.close()

    def parse(self, query: str):
        """Parse a user query; never raises: malformed syntax falls back to plain words, with a warning."""
        from whoosh import qparser

        warnings: list[str] = []
        parser = qparser.MultifieldParser(
            ["text", "section"], schema=self._ix.schema, group=qparser.OrGroup.factory(0.9)
        )
        # Field syntax would let a query reach fields users do not know about; plain words only.
        parser.remove_plugin_class(qparser.FieldsPlugin)
        problems = _syntax_problems(query)
        if problems:
            warnings.append(f"query syntax: {problems}; searched for the words instead")
            query = _plain_words(query)
        try:
            q = parser.parse(query)
        except Exception:  # whoosh's parser can raise on odd input; words always parse
            warnings.append("query syntax could not be read; searched for the words instead")
            q = parser.parse(_plain_words(query))
        return q, warnings

    def search(
        self,
        query: str,
        limit: int = 100,
        doc_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        allowed: set[str] | None = None,
    ) -> KeywordHits:
        from whoosh import query as wq

        q, warnings = self.parse(query)
        filters = []
        if doc_ids:
            filters.append(wq.Or([wq.Term("doc_id", d) for d in doc_ids]))
        if kinds:
            filters.append(wq.Or([wq.Term("kind", k) for k in kinds]))
        flt = wq.And(filters) if filters else None
        searcher = self._get_searcher()
        if allowed is not None:
            # An arbitrary passage set (from the store) becomes a docnum set.
            nums = set()
            for pid in allowed:
                num = searcher.document_number(passage_id=pid)
                if num is not None:
                    nums.add(num)
            if flt is not None:
                nums &= set(searcher.docs_for_query(flt))
            results = searcher.search(q, limit=limit, filter=nums)
        else:
            results = searcher.search(q, limit=limit, filter=flt)
        ids = [(r["passage_id"], float(r.score)) for r in results]
        return KeywordHits(ids=ids, total=len(results), warnings=warnings)

    def terms(self, query: str) -> list[str]:
        """The words and phrases of a query, for highlighting."""
        q, _ = self.parse(query)
        words: list[str] = []
        for field, text in q.iter_all_terms(phrases=True):
            if field == "text" and isinstance(text, str):
                words.append(text)
            elif field == "text" and isinstance(text, bytes):
                words.append(text.decode("utf-8", "replace"))
        return words


def _add(writer, d: KeywordDoc) -> None:
    writer.add_document(passage_id=d.passage_id, doc_id=d.doc_id, kind=d.kind, text=d.text, section=d.section)


def _syntax_problems(query: str) -> str:
    problems = []
    if query.count('"') % 2:
        problems.append("unbalanced quote")
    depth = 0
    for ch in query:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            break
    if depth != 0:
        problems.append("unbalanced parentheses")
    stripped = query.strip()
    if re.fullmatch(r"(AND|OR|NOT|ANDNOT|ANDMAYBE|[+\-*?~^])*", stripped.replace(" ", "")):
        problems.append("only operators")
    if re.search(r"(^|\s)(AND|OR|ANDNOT|ANDMAYBE)\s*$", stripped) or re.match(r"^\s*(AND|OR|ANDNOT|ANDMAYBE)\b", stripped):
        problems.append("a dangling operator")
    if _FIELD_SYNTAX.search(query):
        problems.append("field syntax is not supported")
    return ", ".join(problems)


def _plain_words(query: str) -> str:
    words = re.findall(r"\w+", query)
    words = [w for w in words if w not in ("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO")]
    return " ".join(words[:200])
