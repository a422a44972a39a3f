"""The keyword index: Whoosh (BM25F, stemming, phrases) behind a small interface of our own.

Whoosh is unmaintained and never fsyncs; the build (generations.py) makes crash safety ours.
Besides this module, only bm25.py imports Whoosh (it reads the postings Whoosh writes, to
score plain-word queries in NumPy); replacing Whoosh means replacing both. The index's
analysis (`analyze`, `term_of`, `STOP_WORDS`) lives here too, so highlighting reads text as
the index does.
"""

from __future__ import annotations

import io
import marshal  # only to take marshal's loaders away from Whoosh; nothing of ours is marshalled
import pickle  # only to refuse foreign objects in Whoosh's own files; nothing of ours is pickled
import re
import sys
import time
import types
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from corpus_search import bm25, config
from corpus_search.backends import KeywordDoc, KeywordHits
from corpus_search.bm25 import FIELDS, CorpusStats, key
from corpus_search.errors import IndexMissingError

INDEX_NAME = "passages"
# Whoosh keeps its schema, segment list and term infos as pickles. Loading a pickle can run
# any code, so every load Whoosh does goes through an unpickler that only builds plain containers
# and the Whoosh classes our own schema and codec write, each named exactly (the manifest's
# checksums are checked before, too). "Any whoosh.* name" is not safe: `whoosh.compat.exec_` is
# exec, and a protocol-4 pickle can reach `os.system` as "whoosh.index" / "os.system".
_SAFE_GLOBALS = {
    ("builtins", n) for n in ("set", "frozenset", "dict", "list", "tuple", "object", "bytearray", "slice", "range",
                              "int", "float", "str", "bytes", "bool", "complex")
} | {("copyreg", "_reconstructor"), ("_codecs", "encode"), ("collections", "defaultdict"), ("collections", "OrderedDict"),
     ("array", "array"), ("array", "_array_reconstructor"), ("re", "_compile"), ("datetime", "datetime")}
_WHOOSH_GLOBALS = {
    ("whoosh.analysis.analyzers", "CompositeAnalyzer"),
    ("whoosh.analysis.filters", "CharsetFilter"),
    ("whoosh.analysis.filters", "LowercaseFilter"),
    ("whoosh.analysis.morph", "StemFilter"),
    ("whoosh.analysis.tokenizers", "IDTokenizer"),
    ("whoosh.analysis.tokenizers", "RegexTokenizer"),
    ("whoosh.codec.whoosh3", "W3Codec"),
    ("whoosh.codec.whoosh3", "W3Segment"),
    ("whoosh.fields", "ID"),
    ("whoosh.fields", "Schema"),
    ("whoosh.fields", "TEXT"),
    ("whoosh.formats", "Existence"),
    ("whoosh.formats", "Frequency"),
    ("whoosh.formats", "Positions"),
    ("whoosh.lang.porter", "stem"),
}
# The only table-of-contents format Whoosh 2.7 writes. Whoosh sends any other version it knows
# (-110) to whoosh.legacy, whose RenamingUnpickler imports whatever a pickle names, so the version
# is read and refused here before Whoosh opens the file.
TOC_VERSION = -111
# Whoosh modules that bind a deserialiser at import time; each is imported, then patched, up front.
_WHOOSH_LOADING_MODULES = (
    "whoosh.compat", "whoosh.index", "whoosh.legacy", "whoosh.util.loading", "whoosh.filedb.structfile",
    "whoosh.filedb.fileindex", "whoosh.filedb.compound", "whoosh.filedb.filetables", "whoosh.codec.whoosh3",
    "whoosh.codec.plaintext", "whoosh.columns", "whoosh.formats", "whoosh.externalsort", "whoosh.multiproc",
)
_patched = False
_FIELD_SYNTAX = re.compile(r"\b(\w+):")


class _WhooshOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        # Whoosh writes protocol 2, which names Python 2's modules; the unpickler maps them.
        plain = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        if (plain, name) in _SAFE_GLOBALS or (module, name) in _WHOOSH_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the keyword index holds a foreign object ({module}.{name}); refusing it")


def _safe_load(file):
    return _WhooshOnlyUnpickler(file).load()


def _safe_loads(data, *args, **kwargs):
    return _WhooshOnlyUnpickler(io.BytesIO(data)).load()


def _refuse_marshal(*args, **kwargs):
    raise pickle.UnpicklingError("the keyword index holds marshalled data, which this version never writes; "
                                 "refusing it")


class _NoRenamingUnpickler(_WhooshOnlyUnpickler):
    """Whoosh's legacy RenamingUnpickler imports any name it is given; ours admits the same names as any load."""

    def __init__(self, f, objmap=None, shortcuts=None):
        super().__init__(f)


def _whoosh_safely():
    """Route every pickle Whoosh loads through the restricted unpickler; close its legacy loaders (once per process).

    Every Whoosh module that binds a loader at import time is imported here and each binding replaced:
    pickle.load(s) by the restricted unpickler, marshal.load(s) by a refusal, the pickle and marshal
    modules by namespaces holding those, RenamingUnpickler by the restricted unpickler. Modules imported
    later get the patched whoosh.compat names. tests/test_index_trust.py imports every Whoosh module
    afterwards and checks that no raw loader is left anywhere.
    """
    global _patched
    if _patched:
        return
    import importlib

    for name in _WHOOSH_LOADING_MODULES:
        importlib.import_module(name)
    import whoosh.index
    import whoosh.legacy
    import whoosh.util.loading

    safe_pickle = types.SimpleNamespace(
        load=_safe_load, loads=_safe_loads, dump=pickle.dump, dumps=pickle.dumps, Unpickler=_WhooshOnlyUnpickler,
        Pickler=pickle.Pickler, PicklingError=pickle.PicklingError, UnpicklingError=pickle.UnpicklingError,
        HIGHEST_PROTOCOL=pickle.HIGHEST_PROTOCOL)
    safe_marshal = types.SimpleNamespace(load=_refuse_marshal, loads=_refuse_marshal, dump=marshal.dump,
                                         dumps=marshal.dumps)
    swap = {id(pickle.load): _safe_load, id(pickle.loads): _safe_loads, id(pickle.Unpickler): _WhooshOnlyUnpickler,
            id(pickle._Unpickler): _WhooshOnlyUnpickler, id(marshal.load): _refuse_marshal,
            id(marshal.loads): _refuse_marshal, id(pickle): safe_pickle, id(marshal): safe_marshal,
            id(whoosh.util.loading.RenamingUnpickler): _NoRenamingUnpickler}
    for modname, module in list(sys.modules.items()):
        if modname == "whoosh" or modname.startswith("whoosh."):
            for attr, value in list(vars(module).items()):
                if id(value) in swap:
                    setattr(module, attr, swap[id(value)])
    # No legacy table-of-contents loader at all: check_toc refuses other versions first, and this
    # makes sure a TOC swapped in after that check is not read by whoosh.legacy either.
    whoosh.legacy.toc_loaders.clear()
    whoosh.index.toc_loaders.clear()
    _patched = True


def check_toc(folder: Path) -> None:
    """Refuse a keyword index whose newest table of contents is not in the format we write, before Whoosh reads it."""
    from whoosh.filedb.filestore import FileStorage
    from whoosh.filedb.structfile import StructFile
    from whoosh.index import TOC
    from whoosh.system import _FLOAT_SIZE, _INT_SIZE, _LONG_SIZE

    try:
        storage = FileStorage(str(folder), readonly=True)
        gen = TOC._latest_generation(storage, INDEX_NAME)  # the same file Whoosh will read
        if gen < 0:
            raise IndexMissingError(f"keyword index {folder} has no table of contents; run `corpus-search build`")
        with open(folder / TOC._filename(INDEX_NAME, gen), "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise IndexMissingError(f"keyword index {folder} is unreadable ({exc.strerror}); "
                                "run `corpus-search build`") from None
    expected = io.BytesIO()
    writer = StructFile(expected)
    for size in (_INT_SIZE, _LONG_SIZE, _FLOAT_SIZE):
        writer.write_varint(size)
    writer.write_int(-12345)
    prefix = expected.getvalue()
    writer.write_int(TOC_VERSION)
    if not head.startswith(expected.getvalue()):
        found = "unknown"
        if head.startswith(prefix) and len(head) >= len(prefix) + 4:
            found = str(StructFile(io.BytesIO(head[len(prefix):])).read_int())
        raise IndexMissingError(
            f"keyword index {folder} has a table of contents in format {found}; this version reads only "
            f"{TOC_VERSION} (older formats load through code that can run what the file holds), so it is "
            "refused; run `corpus-search build`")


def analyze(text: str) -> list[tuple[str, int, int]]:
    """(term, start, end) of each word of `text` as the index reads it: lower case, accents folded, stemmed.

    Highlighting marks the words whose term a query's terms include, so "Frederic" marks "Frédéric"
    exactly when the index matched it.
    """
    words = _shared_analyzer()[0].expression  # the analyzer's own tokenizer pattern
    return [(term, m.start(), m.end()) for m in words.finditer(text) if (term := term_of(m.group()))]


def query_terms(words: Iterable[str]) -> set[str]:
    """The index's terms of query words, less stop words and single letters (unless nothing else is left)."""
    found = [(word[s:e].casefold(), term) for word in words for term, s, e in analyze(word)]
    content = {term for surface, term in found if surface not in STOP_WORDS and len(surface) > 1}
    return content or {term for _, term in found}


@lru_cache(maxsize=1)
def _shared_analyzer():
    return _analyzer()


@lru_cache(maxsize=65536)
def term_of(word: str) -> str:
    """The term the index makes of one word ("" when it makes none)."""
    # The whole analyzer, once per distinct word: running it over every hit's text token by token
    # cost 18x more (24 ms against 1.3 ms for ten 1,500-character passages).
    return next((t.text for t in _shared_analyzer()(word)), "")


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

    def __init__(self, ix, folder: Path) -> None:
        self._ix = ix
        self._searcher = None
        self._docnum_map: dict[str, int] | None = None
        self._scorer = bm25.Scorer.open(folder)  # NumPy scoring of plain-word queries; None in older indexes
        self._weighting = None  # Whoosh's default BM25F, unless use_stats gives corpus-wide statistics

    @classmethod
    def create(cls, folder: Path, docs: Iterable[KeywordDoc]) -> KeywordIndex:
        _whoosh_safely()
        from whoosh import index

        folder.mkdir(parents=True, exist_ok=True)
        ix = index.create_in(str(folder), _schema(), indexname=INDEX_NAME)
        writer = ix.writer(limitmb=256)
        for d in docs:
            _add(writer, d)
        writer.commit(optimize=True)
        return cls._exported(ix, folder)

    @classmethod
    def update(cls, folder: Path, remove_doc_ids: Iterable[str], docs: Iterable[KeywordDoc]) -> KeywordIndex:
        """Change a copy of an index in place: drop documents' passages, add new ones (no full rebuild)."""
        _whoosh_safely()
        from whoosh import index

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
        _whoosh_safely()
        from whoosh import index

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
        import numpy as np

        if self._scorer is None:
            raise IndexMissingError("this keyword index has no statistics export (built by an older version); "
                                    "run `corpus-search build --force`")
        with self._ix.reader() as reader:
            lengths = {f: int(reader.field_length(f)) for f in FIELDS}
            documents = reader.doc_count_all()
        return CorpusStats(np.asarray(self._scorer._terms), np.array(self._scorer._df), documents, lengths)

    def use_stats(self, stats) -> None:
        """Score with corpus-wide statistics, on both paths (NumPy and Whoosh): this index is one shard."""
        self._scorer.use_stats(stats)
        self._weighting = _global_bm25f(stats)
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    @staticmethod
    def _collect(searcher, q, limit: int, flt, warnings: list[str]):
        """Run the query under the query_timeout setting; past it, the best found so far, with a warning."""
        collector = _bounded_collector(searcher.collector(limit=limit), flt,
                                       time.monotonic() + config.get_float("query_timeout"))
        searcher.search_with_collector(q, collector)
        if collector.timed_out:
            warnings.append("the keyword query took too long; these are the best matches found in time")
        return collector.results()

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
        from whoosh import qparser

        warnings: list[str] = []
        parser = qparser.MultifieldParser(
            # Plain OR, no "coordination bonus": Whoosh's SQR bonus multiplies every score by
            # (terms - 1) / terms, which is 0 when only one of the query's field terms exists, and
            # a one-word search then came back in index order instead of by relevance.
            ["text", "section"], schema=self._ix.schema, group=qparser.OrGroup
        )
        # Field syntax would let a query reach fields users do not know about; plain words only.
        parser.remove_plugin_class(qparser.FieldsPlugin)
        # A question mark ends a question far more often than it stands for one letter.
        query = query.replace("?", " ")
        problems = _syntax_problems(query)
        if problems:
            warnings.append(f"query syntax: {problems}; searched for the words instead")
            query = _plain_words(query)
        query = _drop_stop_words(query)
        try:
            q = parser.parse(query)
        except Exception:  # whoosh's parser can raise on odd input; words always parse
            warnings.append("query syntax could not be read; searched for the words instead")
            q = parser.parse(_plain_words(query))
        try:
            return _prohibit(q), warnings
        except Exception:  # a query shape the rewrite does not know: Whoosh's own reading of it
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
        plain = bm25.plain_terms(q) if self._scorer is not None else None
        if plain is not None:
            keep = self._scorer.mask(doc_ids, kinds, allowed)
            scored = self._scorer.search(plain, keep, limit)
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
            results = self._collect(searcher, q, limit, nums, warnings)
        else:
            nums = set()
            results = self._collect(searcher, q, limit, flt, warnings)
        ids = [(r["passage_id"], float(r.score)) for r in results]
        # Counting every match exactly means a second pass over the postings; Whoosh's
        # estimate is an upper bound, so it is capped by what the filters allow.
        if results.has_exact_length():
            total = len(results)
        else:
            total = min(results.estimated_length(), len(nums) if allowed is not None else self.count())
        return KeywordHits(ids=ids, total=max(total, len(ids)), warnings=warnings)


def _global_bm25f(stats):
    """Whoosh's BM25F with idf and average field lengths from corpus-wide statistics (bm25.CorpusStats)."""
    from whoosh.scoring import BM25F, BM25FScorer

    class GlobalScorer(BM25FScorer):
        def __init__(self, searcher, fieldname, text, B, K1, qf=1):
            # BM25FScorer's own __init__ reads both from the searcher: this shard's figures.
            self.idf = stats.idf(key(fieldname, text.decode("utf-8") if isinstance(text, bytes) else text))
            self.avgfl = stats.avg(fieldname)
            self.B, self.K1, self.qf = B, K1, qf
            self.setup(searcher, fieldname, text)  # the block-skipping bound, from these figures

    class GlobalBM25F(BM25F):
        def scorer(self, searcher, fieldname, text, qf=1):
            if not searcher.schema[fieldname].scorable:
                return super().scorer(searcher, fieldname, text, qf)
            return GlobalScorer(searcher, fieldname, text, self._field_B.get(fieldname, self.B), self.K1, qf)

    return GlobalBM25F()


def _prohibit(q):
    """Make NOT exclude, as in Lucene: in Whoosh's OR grouping "pipeline NOT china" is
    pipeline OR (anything without china), which matches every passage."""
    from whoosh import query as wq

    if q.is_leaf():
        return q
    new = q.apply(_prohibit)  # a copy with transformed children, of whatever node type
    if isinstance(q, wq.Or):
        new.scale, new.minmatch = q.scale, q.minmatch  # apply() keeps only the boost
        nots = [s for s in new.subqueries if isinstance(s, wq.Not)]
        keep = [s for s in new.subqueries if not isinstance(s, wq.Not)]
        if nots and keep:
            positive = keep[0] if len(keep) == 1 else wq.Or(keep, boost=q.boost)
            negative = nots[0].query if len(nots) == 1 else wq.Or([n.query for n in nots])
            return wq.AndNot(positive, negative)
    return new


def _bounded_collector(child, flt, deadline: float):
    """A filtering collector that stops at a deadline (Whoosh's TimeLimitCollector drops filters)."""
    from whoosh.collectors import FilterCollector

    class Bounded(FilterCollector):
        timed_out = False

        def collect_matches(self) -> None:
            child, allow = self.child, self._allow
            for n, sub_docnum in enumerate(child.matches()):
                if n % 256 == 255 and time.monotonic() > deadline:
                    self.timed_out = True
                    return
                if allow is not None and self.offset + sub_docnum not in allow:
                    continue
                child.collect(sub_docnum)

    return Bounded(child, allow=flt)


def _add(writer, d: KeywordDoc) -> None:
    writer.add_document(passage_id=d.passage_id, doc_id=d.doc_id, kind=d.kind, text=d.text, section=d.section)


# Dropped from plain-word queries (never from phrases, which the index keeps whole): they
# match nearly every passage, add almost nothing to BM25 and cost most of the query time.
# The one stop list: highlighting leaves out the same words (query_terms).
STOP_WORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how if in into is it its "
    "may might not of on or should so than that the their them then there these they this those to was we "
    "were what when where which who whom why will with would also".split()
)
_PLAIN = re.compile(r"[\w\s'’-]+")


_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})


def _drop_stop_words(query: str) -> str:
    words = query.split()
    if not _PLAIN.fullmatch(query) or _OPERATORS & set(words):
        return query  # phrases, operators, wildcards: the user's syntax is kept as typed
    kept = [w for w in words if w.casefold() not in STOP_WORDS]
    return " ".join(kept) if kept else query


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
