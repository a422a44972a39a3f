"""Search: keyword (BM25F), semantic (cosine) and hybrid (reciprocal rank fusion), with filters,
facets and highlights. The store is asked for text and entities; the indexes only for ids.
"""

from __future__ import annotations

import dataclasses
import operator
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from corpus_search import config, embedding_text, keyword_index, ranking
from corpus_search import sentences as sent
from corpus_search.backends import KeywordBackend, VectorBackend
from corpus_search.entities import LABEL_ORDER, resolve, suggest
from corpus_search.entities import within as places_within
from corpus_search.errors import QueryError, UsageError
from corpus_search.keyword_query import negated, syntax_problems
from corpus_search.models import PASSAGE_KINDS, Hit, Mention, SearchResult
from corpus_search.passage_blocks import REPLY_START
from corpus_search.store_passages import known_doc_id
from corpus_search.query_aliases import AliasForms, Expansion, fiscal_year_forms, verb_forms
from corpus_search.vector_index import blas_threads, first_pass_pool, reduced_scores, rescored

MODES = ("hybrid", "keyword", "semantic")
MAX_QUERY_CHARS = 2000
ALSO_WEIGHT = 0.3  # the keyword weight of a name's other form (keyword_query)
_WORD = re.compile(r"\w+(?:['’]\w+)?", re.UNICODE)
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}
_ANY_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Filters:
    entities: tuple[str, ...] = ()  # as the user typed them: canonical names or aliases
    labels: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    rollup: bool = False  # an entity filter also takes places within it ("Moscow" within "Russia")
    languages: tuple[str, ...] = ()  # ISO 639-1 codes: passages detected in any of them


class Allowed(frozenset):
    """The passage ids a filter allows, with each index's row mask for them worked out once.

    The searcher keeps one per filter (a generation never changes), so the commonest entity's
    40,000 passages are read from the store and turned into row masks once, not on every query.
    """

    def memo(self, key, make):
        cache = self.__dict__.setdefault("_memo", {})
        if key not in cache:
            cache[key] = make()
        return cache[key]


class Searcher:
    """Answers queries over one index generation."""

    def __init__(self, store, keyword: KeywordBackend, vectors: VectorBackend, encode_query: Callable[[str], object],
                 sentences=None):
        self.store = store
        self.keyword = keyword
        self.vectors = vectors
        self.encode_query = encode_query
        self.sentences = sentences  # SentenceIndex, or None for an index built before sentence vectors
        self._lengths = None
        self._allowed: dict[Filters, Allowed | None] = {}
        self._effective_kinds: dict[str, str] = {}  # passage id -> kind for ranking (a generation never changes)
        self._aliases = None
        self._alias_forms: AliasForms | None = None
        self._names = None
        self._labels: list[str] | None = None
        self._languages: list[tuple[str, int]] | None = None
        self._version = -1  # the store's curation version the caches were read at

    # -- filters ---------------------------------------------------------------
    def _load_names(self) -> None:
        """Aliases and canonical names, read from the store once per opened generation."""
        self.store.curation()  # re-reads the curation file if it changed
        if self._aliases is None or self._version != self.store.curation_version:
            self._version = self.store.curation_version
            self._aliases = self.store.aliases()
            self._alias_forms = None
            self._names = self.store.entity_names()
            self._labels = None
            self._allowed.clear()  # a merge, rename or reject changes which passages an entity filter allows

    def resolve_entity(self, text: str) -> list[str]:
        self._load_names()
        names = resolve(text, self._aliases, self._names)
        if not names:
            close = suggest(text, self._names)
            hint = f" (did you mean: {', '.join(close)}?)" if close else "; `corpus-search entities` lists them"
            raise QueryError(f"no entity called {text!r} in the corpus{hint}")
        return names

    def keyword_query(self, query: str, mode: str) -> tuple[str, list[Expansion]]:
        """The query the keyword side runs: `query` and, quoted, the other form (abbreviation or long
        form) of each name in it (query_aliases), unless the setting `also_search` is 0."""
        if mode == "semantic" or not config.get_int("also_search") or syntax_problems(query):
            return query, []  # a malformed query is searched as its plain words (keyword_query.parse), as typed
        self._load_names()
        if self._alias_forms is None:
            self._alias_forms = AliasForms(self._aliases)
        also = self._alias_forms.expand(query)
        also += [e for e in fiscal_year_forms(query) + verb_forms(query) if e not in also]
        # The other form weighs a third of what was typed: a passage that spells out "Department of Homeland
        # Security (DHS)" should not outrank, on both forms at once, the one that answers (measured: bench/eval,
        # keyword MRR@10 as typed 0.690/0.725/0.854 on the fresh/dev/held-out sets, other form at full
        # weight 0.683/0.722/0.824, at a third 0.696/0.727/0.854; hybrid the same either way).
        return query + "".join(' "{}"^{}'.format(e.also.replace('"', " "), ALSO_WEIGHT) for e in also), also

    def model_query(self, query: str) -> str:
        """What the embedding model reads for `query`: each abbreviation in it that the corpus defines followed by
        its long form ("When did DHS (Department of Homeland Security) declare ..."), as passages are embedded
        (embedding_text); as typed when the setting `also_embed` is 0 or the query has operators."""
        if not config.get_int("also_embed") or syntax_problems(query):
            return query
        self._load_names()
        if self._alias_forms is None:
            self._alias_forms = AliasForms(self._aliases)
        spelled = {e.said: e.also for e in self._alias_forms.expand(query) if " " not in e.said and " " in e.also}
        return embedding_text.expand(query, spelled)

    def labels(self) -> list[str]:
        """The entity labels that occur in this corpus (PERSON, ORG, GPE, ...), sorted."""
        self._load_names()
        if self._labels is None:
            rows = self.store.conn.execute(f"SELECT DISTINCT label FROM {self.store._m()}")
            self._labels = sorted(label for (label,) in rows)
        return self._labels

    def check_label(self, label: str) -> str:
        """The label in upper case, or an error naming the known ones (like an unknown entity)."""
        known = self.labels()
        if not isinstance(label, str) or label.upper() not in known:
            listed = ", ".join(known) if known else "none: the corpus has no entities"
            raise QueryError(f"no entities labelled {label!r} in the corpus; its labels are {listed}")
        return label.upper()

    def languages(self) -> list[tuple[str, int]]:
        """(ISO 639-1 code, passages) for each language detected in this corpus, most passages first."""
        if self._languages is None:
            self._languages = self.store.language_counts()
        return self._languages

    def check_language(self, code: str) -> str:
        """The code in lower case, or an error naming the languages the corpus holds."""
        known = [c for c, _ in self.languages()]
        if not isinstance(code, str) or code.strip().lower() not in known:
            listed = ", ".join(known) if known else "none were detected (rebuild to detect them)"
            raise QueryError(f"no passages in language {code!r}; the corpus has {listed}")
        return code.strip().lower()

    def within(self, names: Sequence[str]) -> list[str]:
        """Entities of the corpus that sit within any of `names` (the opt-in place roll-up)."""
        self._load_names()
        return places_within(names, self._names, self._aliases)

    def allowed_passages(self, filters: Filters) -> Allowed | None:
        """The passages the filters allow, or None when nothing is filtered (kept per filter: see Allowed)."""
        self._load_names()  # a changed curation file drops the kept sets
        if filters in self._allowed:
            return self._allowed[filters]
        found = self._allowed_passages(filters)
        allowed = None if found is None else Allowed(found)
        if len(self._allowed) >= 64:
            self._allowed.pop(next(iter(self._allowed)))
        self._allowed[filters] = allowed
        return allowed

    def _allowed_passages(self, filters: Filters) -> set[str] | None:
        sets: list[set[str]] = []
        for text in filters.entities:
            names = self.resolve_entity(text)
            if filters.rollup:
                names = names + self.within(names)
            sets.append(self.store.passages_mentioning(names))
        if filters.labels:
            sets.append(self.store.passages_labelled([self.check_label(label) for label in filters.labels]))
        if filters.doc_ids or filters.kinds:
            known = {d.doc_id for d in self.store.documents()}
            filters = dataclasses.replace(filters, doc_ids=tuple(known_doc_id(d, known) for d in filters.doc_ids))
            for k in filters.kinds:
                if k not in PASSAGE_KINDS:
                    raise UsageError(f"unknown passage kind {k!r}; choose from {', '.join(PASSAGE_KINDS)}")
            sets.append(self.store.passage_ids(filters.doc_ids or None, filters.kinds or None))
        if filters.languages:
            sets.append(self.store.passages_in_languages([self.check_language(code) for code in filters.languages]))
        if not sets:
            return None
        allowed = sets[0]
        for s in sets[1:]:
            allowed = allowed & s
        return allowed

    # -- search ------------------------------------------------------------------
    def search(self, query: str, mode: str = "hybrid", filters: Filters = Filters(), limit: int = 10) -> SearchResult:
        started = time.perf_counter()
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        limit = check_limit(limit)
        warnings: list[str] = []
        query = _clean_query(query)
        if not query:
            if filters == Filters():
                raise QueryError("the query is empty; type some words to search for (or filter by entity or document)")
            return self._browse(filters, mode, limit, started)
        if len(query) > MAX_QUERY_CHARS:
            query = query[:MAX_QUERY_CHARS]
            warnings.append(f"query cut to its first {MAX_QUERY_CHARS} characters")
        allowed = self.allowed_passages(filters)
        depth = max(limit, config.get_int("candidates"))

        kw: list[tuple[str, float]] = []
        sem: list[tuple[str, float]] = []
        kw_total = 0
        qvec = None
        kw_query, also = self.keyword_query(query, mode)
        if allowed is not None and not allowed:
            pass  # the filters leave nothing to search
        else:
            if mode in ("keyword", "hybrid"):
                hits = self.keyword.search(kw_query, limit=depth, allowed=allowed)
                kw, kw_total = hits.ids, hits.total
                warnings += hits.warnings
            if mode in ("semantic", "hybrid"):
                # "pipeline NOT Gazprom": the model reads "pipeline", and none of its passages may hold "Gazprom".
                excluded, meant = negated(query)
                if not _ANY_WORD.search(meant):  # "!!!", "*": the model would rank noise by meaning
                    warnings.append("the query only excludes words: nothing to search by meaning" if excluded else
                                    "the query has no letters or digits: nothing to search by meaning")
                else:
                    qvec = self.encode_query(self.model_query(meant))
                    sem = self._semantic(qvec, depth, allowed)
                if sem and excluded:
                    held = self.keyword.search(excluded, limit=len(sem), allowed=frozenset(pid for pid, _ in sem))
                    drop = {pid for pid, _ in held.ids}
                    sem = [item for item in sem if item[0] not in drop]

        terms = query_terms(query)
        wants = ranking.answer_form(query)
        # A passage that says "OMFV" holds the words "optionally manned fighting vehicle" for the evidence
        # and the rerank, and the reader sees the abbreviation marked.
        same = [(frozenset(query_terms(e.said)), frozenset(query_terms(e.also))) for e in also]
        # Marked too: an abbreviation ("OMFV"), not each word of a long form ("union" anywhere).
        marked = sorted(set(terms).union(*(b for _, b in same if len(b) == 1))) if same else terms
        reranked: dict[str, tuple] = {}
        fused: dict[str, float] = {}
        if mode == "keyword":
            ranked = kw
            total = kw_total
        elif mode == "semantic":
            ranked = sem
            total = len(sem)
        else:
            fused = ranking.fuse(kw, sem, config.get_int("rrf_k"))
            ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
            total = len(ranked)
        kw_rank = {pid: (i + 1, sc) for i, (pid, sc) in enumerate(kw)}
        sem_rank = {pid: (i + 1, sc) for i, (pid, sc) in enumerate(sem)}
        if mode == "hybrid":
            retrieved = {pid: (kw_rank.get(pid, (None,))[0], sem_rank.get(pid, (None,))[0]) for pid, _ in ranked}
            ranked, reranked = self._rerank(ranked, query, qvec, terms, limit, same, wants, retrieved)

        top, passages, copies = self._distinct(ranked, limit)
        ids = [pid for pid, _ in top]
        # Facets count the passages that hold the query's words (the keyword side's, up to `depth`), so clicking one
        # leaves as many as it says; a hybrid search's other candidates are ranked by meaning over the whole corpus
        # and counted 3 "Donald Trump" passages for "Altai pipeline" that no filter then found by its words.
        if kw:
            facet_ids, facets_over = [pid for pid, _ in kw], ("words", len(kw))
        else:
            facet_ids = [pid for pid, _ in ranked[: max(limit, 100)]] if mode != "semantic" else ids
            facets_over = ("meaning", len(facet_ids))
        mentions = self.store.mentions(ids)
        self._fetch_sentences([pid for pid in ids if pid not in reranked])
        if qvec is None and self.sentences is not None and mode == "keyword" and config.get_int("evidence_vectors"):
            qvec = self.encode_query(self.model_query(query))  # keyword results get evidence by meaning too (one encoding)
        hits_out = []
        for rank, (pid, score) in enumerate(top, 1):
            passage = passages[pid]
            k, s = kw_rank.get(pid, (None, None)), sem_rank.get(pid, (None, None))
            factor, evidence, ev_score = reranked.get(pid) or (1.0, *self._best_sentence(passage, qvec, terms, same, wants))
            hits_out.append(
                Hit(
                    passage=passage,
                    score=round(float(score), 6),
                    rank=rank,
                    entities=tuple(_dedupe(mentions.get(pid, []))),
                    keyword_rank=k[0],
                    semantic_rank=s[0],
                    highlights=tuple(highlight_spans(passage.text, marked)),
                    evidence=evidence,
                    evidence_score=round(float(ev_score), 6),
                    keyword_score=None if k[1] is None else round(float(k[1]), 6),
                    semantic_score=None if s[1] is None else round(float(s[1]), 6),
                    fused_score=round(fused[pid], 6) if pid in fused else None,
                    kind_factor=factor,
                    copies=tuple(copies.get(pid, ())),
                )
            )
        return SearchResult(
            query=query,
            mode=mode,
            hits=tuple(hits_out),
            total=total,
            facets=self.facets(facet_ids),
            facets_over=facets_over,
            warnings=tuple(warnings),
            seconds=time.perf_counter() - started,
            keyword_total=None if mode == "semantic" else kw_total,
            searched=len(self.vectors) if allowed is None else len(allowed),
            also_searched=tuple((e.said, e.also) for e in also),
            by_meaning=mode != "keyword" and qvec is not None,
        )

    def _distinct(self, ranked: list[tuple[str, float]], limit: int):
        """(the first `limit` of `ranked` whose texts differ, their passages, passage id -> the copies of its text
        ranked below it).

        The same words in two places (an attachment sent in two e-mails, a file saved as PDF and as Word, the
        disclaimer every report of a series prints) would fill the results with one text: a copy shows once, as
        the first of its places, which names the others (but a reply's quotation of a message gives way to the
        message). Copies score alike, so they rank together; only those ranked among the passages read here are
        named. Texts shorter than `collapse_copies_chars` (a heading "Conclusion" in each report) are never
        copies."""
        least = config.get_int("collapse_copies_chars")
        passages: dict = {}
        if least <= 0:
            top = ranked[:limit]
            return top, self.store.get_passages([pid for pid, _ in top]), {}
        kept: list[tuple[str, float]] = []
        first: dict[str, str] = {}  # text, spaces aside -> the passage id that shows it
        copies: dict[str, list] = defaultdict(list)
        at = 0
        while len(kept) < limit and at < len(ranked):
            window = ranked[at:at + max(limit - len(kept), 10 if at else limit)]
            at += len(window)
            found = self.store.get_passages([pid for pid, _ in window])
            for pid, score in window:
                p = found[pid]
                key = _copy_key(p, least)
                if key is not None and key in first:
                    shown = first[key]
                    if passages[shown].kind == "quote" and p.kind != "quote":
                        # A reply quoting a message the corpus also holds: the message shows, naming the reply.
                        at_rank = next(i for i, (q, _) in enumerate(kept) if q == shown)
                        kept[at_rank] = (pid, kept[at_rank][1])
                        passages[pid] = p
                        copies[pid] = [passages.pop(shown), *copies.pop(shown, [])]
                        first[key] = pid
                    else:
                        copies[shown].append(p)
                    continue
                if len(kept) == limit:
                    break
                if key is not None:
                    first[key] = pid
                kept.append((pid, score))
                passages[pid] = p
        return kept, passages, copies

    # -- the issue-16 ranking ---------------------------------------------------------
    def _passage_lengths(self):
        """Characters of each vector row's passage, from the sentence spans (no store reads)."""
        if self._lengths is None:
            import numpy as np

            rows = self.sentences.rows
            self._lengths = np.zeros(len(self.vectors), dtype=np.int64)
            if len(rows):
                np.maximum.at(self._lengths, rows[:, 0], rows[:, 2])
        return self._lengths

    def by_meaning(self, qvec, k: int) -> list[tuple[str, float]]:
        """(passage id, cosine) of the k passages closest in meaning, best first (`_semantic`, unfiltered)."""
        return self._semantic(qvec, k, None)[:k]

    def _semantic(self, qvec, depth: int, allowed: Allowed | None) -> list[tuple[str, float]]:
        """Passages by cosine; a long passage also by its best sentence (max), so its tail is read."""
        with blas_threads(config.get_int("scan_threads")):  # see the setting: threads fight on a busy machine
            return self._semantic_scan(qvec, depth, allowed)

    def _semantic_scan(self, qvec, depth: int, allowed: Allowed | None) -> list[tuple[str, float]]:
        sem = self.vectors.search(qvec, k=depth, allowed=allowed)
        min_chars = config.get_int("long_passage_chars")
        if self.sentences is None or min_chars < 0:
            return sem
        import numpy as np

        rows = self.sentences.long_rows(self._passage_lengths(), min_chars)
        if len(rows) == 0:
            return sem
        owners, starts = self.sentences.long_owners(rows)
        scores = self._long_scores(rows, owners, starts, np.asarray(qvec, dtype=np.float32), depth, allowed)
        best = np.maximum.reduceat(scores, starts)  # sentences of one passage are contiguous
        if allowed is not None:
            best = np.where(self.vectors.allowed_mask(allowed)[owners], best, -np.inf)
        # Only a passage whose best sentence reaches the last of a full `sem` can enter the top `depth`.
        floor = sem[-1][1] if len(sem) >= depth else -np.inf
        top = np.flatnonzero(best >= floor) if floor > -np.inf else np.flatnonzero(best > -np.inf)
        if len(top) > depth:
            top = top[np.argpartition(-best[top], depth - 1)[:depth]]
        merged = dict(sem)
        ids = self.vectors.ids
        for i, score in zip(owners[top].tolist(), best[top].tolist()):
            pid = ids[i]
            if score > merged.get(pid, -np.inf):
                merged[pid] = score
        return sorted(merged.items(), key=lambda item: (-item[1], item[0]))[:depth]

    def _long_scores(self, rows, owners, starts, q, depth: int, allowed: Allowed | None):
        """Cosine of each long passage's sentences (`rows`) with the query; -inf where not computed.

        Like the passage vectors (VectorIndex._first_pass), a large set of sentences is first scanned on the
        passage vectors' reduced directions, and only its best `first_pass_rescore` are scored exactly: a
        passage whose best sentence the reduced scan ranks below that many others may be scored by a lesser
        one, or not at all (measured in BENCHMARKS.md)."""
        import numpy as np

        full = self.sentences.long_matrix(rows)
        basis = getattr(self.vectors, "basis", None)
        pool = None if basis is None else first_pass_pool(len(rows), depth)
        if pool is None:
            return full @ q
        bf16 = bool(getattr(self.vectors, "scans_bf16", lambda: False)())  # as the passage scan
        approx = reduced_scores(self.sentences.long_reduced(rows, basis, bf16), q @ basis)
        if allowed is not None:
            counts = np.diff(np.r_[starts, len(rows)])
            approx[~np.repeat(self.vectors.allowed_mask(allowed)[owners], counts)] = -np.inf
        cand, exact = rescored(approx, full, q, pool)
        scores = np.full(len(rows), -np.inf, dtype=np.float32)
        scores[cand] = exact
        return scores

    def _rerank(self, ranked: list[tuple[str, float]], query: str, qvec, terms: list[str], limit: int, same=(),
                wants=None, retrieved: dict | None = None):
        """The head of the fused ranking reordered by its best sentences and how high retrieval put it
        (`retrieved`: passage id -> (keyword rank, semantic rank)), kinds weighed (see ranking.py).

        Returns (ranking, passage id -> (kind factor, evidence span, evidence score)). The head is
        `rerank_depth` passages whatever page is asked for, so a longer page never reorders the top of a
        shorter one (it did: the head was the page when the page was longer); below it the fused order stands.
        The head also takes each side's top `rerank_side_depth`: a side's first that the other side missed fuses
        at half the score of a passage both found, often below the head (measured: a semantic first fused 40th).
        """
        rerank = config.get_int("rerank_depth")
        depth = rerank or 30
        head, rest = ranked[:depth], ranked[depth:]
        side = config.get_int("rerank_side_depth")
        if side > 0 and rerank and retrieved:
            def near(pid: str) -> bool:
                return any(r is not None and r <= side for r in retrieved.get(pid, ()))
            head = head + [item for item in rest if near(item[0])]
            rest = [item for item in rest if not near(item[0])]
        if not head:
            return ranked, {}
        passages = self.store.get_passages([pid for pid, _ in head])
        self._fetch_sentences([pid for pid, _ in head])
        words = {w.casefold() for w in _WORD.findall(query)}
        question = ranking.asks(query)
        info = {}
        for pid, _ in head:
            p = passages[pid]
            kind = self._effective_kinds.get(pid)
            if kind is None:
                if len(self._effective_kinds) > 100_000:
                    self._effective_kinds.clear()
                kind = self._effective_kinds[pid] = ranking.effective_kind(p.kind, p.text)
            span, ev_score = self._best_sentence(p, qvec, terms, same, wants)
            factor = ranking.kind_factor(kind, p.text, words, set(terms), keyword_index.term_of, span, question)
            info[pid] = (factor, span, ev_score)
        if not rerank or self.sentences is None or qvec is None:
            # Reranking off, or no sentence vectors (an index built before them): the fused order, kinds weighed.
            order = sorted(head, key=lambda item: (-item[1] * info[item[0]][0], item[0]))
            return [(pid, sc * info[pid][0]) for pid, sc in order] + rest, info
        weight = config.get_float("rerank_retrieval_weight")
        scored = [(pid, (info[pid][2] + weight * ranking.retrieval_share((retrieved or {}).get(pid, ()))) * info[pid][0])
                  for pid, _ in head]
        scored.sort(key=lambda item: -item[1])  # stable: equal scores keep the fused order
        return scored + rest, info

    def _best_sentence(self, passage, qvec, terms: list[str], same=(), wants=None) -> tuple[tuple[int, int] | None, float]:
        """(span, score) of the passage's sentence that best answers the query (ranking.best_sentence);
        `same`: (terms, terms) pairs that stand for each other (a name and its abbreviation); `wants`:
        what an answer holds (ranking.answer_form)."""
        spans, vectors = self._sentences_of(passage.passage_id)
        if spans is None or len(spans) == 0 or spans[-1][1] > len(passage.text):
            spans, vectors = sent.spans(passage.text), None
        best = ranking.best_sentence(passage.text, spans, vectors, qvec, set(terms), keyword_index.term_of, same, wants,
                                     embedding_text.float_title(passage.section))
        return (None, 0.0) if best is None else ((best[0], best[1]), best[2])

    def _sentences_of(self, passage_id: str):
        """(spans, vectors) of a passage's sentences as the index holds them, or (None, None)."""
        if self.sentences is not None:
            row = self.vectors.row(passage_id)
            if row is not None:
                return self.sentences.of_passage(row)
        return None, None

    def _fetch_sentences(self, passage_ids: Sequence[str]) -> None:
        """Called before the sentences of these passages are read: a sharded searcher fetches them in one go."""

    def _browse(self, filters: Filters, mode: str, limit: int, started: float) -> SearchResult:
        """No words, only filters: the passages they allow, in document order."""
        allowed = self.allowed_passages(filters) or set()
        order = {d.doc_id: i for i, d in enumerate(self.store.documents())}
        found = sorted(self.store.get_passages(sorted(allowed)).values(), key=lambda p: (order.get(p.doc_id, 0), p.seq))
        top = found[:limit]
        mentions = self.store.mentions([p.passage_id for p in top])
        hits = tuple(
            Hit(passage=p, score=0.0, rank=i, entities=tuple(_dedupe(mentions.get(p.passage_id, []))))
            for i, p in enumerate(top, 1)
        )
        return SearchResult(query="", mode=mode, hits=hits, total=len(found),
                            facets=self.facets([p.passage_id for p in found[:500]]),
                            facets_over=("filters", min(len(found), 500)),
                            seconds=time.perf_counter() - started, searched=len(found))

    def facets(self, passage_ids: Sequence[str], per_label: int = 8) -> dict[str, tuple[tuple[str, int], ...]]:
        """Top entities per label among these passages, counted once per passage (under its first mention's
        label, as a hit's entities are listed)."""
        counts: dict[str, Counter] = defaultdict(Counter)
        for found in self.store.mention_names(list(passage_ids)).values():  # in the store's order: ties break by it
            seen: set[str] = set()
            for name, label in found:
                if name not in seen:
                    seen.add(name)
                    counts[label][name] += 1
        # Who and what first (people, organisations, places, projects), then the rest.
        rank = {label: i for i, label in enumerate(LABEL_ORDER)}
        ordered = sorted(counts.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))
        return {label: tuple(c.most_common(per_label)) for label, c in ordered}


def _copy_key(passage, least: int) -> str | None:
    """What two copies of a text share: the text, spaces aside, without the "On ..., X wrote:" a reply's quotation
    opens with; None for a text shorter than `least` characters."""
    text = " ".join(passage.text.split())
    if passage.kind == "quote":
        intro = REPLY_START.match(text)
        if intro and intro.group().endswith("wrote:"):
            text = text[intro.end():].lstrip()
    return text if len(text) >= least else None


def check_limit(limit: object) -> int:
    """The number of results asked for, if it is a whole number from 1 to the max_limit setting.

    Over the cap is an error rather than a silent clamp: a caller who asked for ten million
    results should learn they get at most a thousand, and the CLI, batch lines and the API agree.
    """
    try:
        if isinstance(limit, bool):
            raise TypeError
        n = operator.index(limit)  # ints (NumPy's too); not floats, strings or bools
    except TypeError:
        raise UsageError(f"limit must be a whole number, not {limit!r}") from None
    if n < 1:
        raise UsageError(f"limit must be at least 1, not {limit!r}")
    cap = config.get_int("max_limit")
    if n > cap:
        raise UsageError(f"limit {n:,} is more than {cap:,}, the most results one search returns "
                         "(set CORPUS_SEARCH_MAX_LIMIT to allow more)")
    return n


def _dedupe(mentions: Sequence[Mention]) -> list[Mention]:
    seen, out = set(), []
    for m in mentions:
        if m.name not in seen:
            seen.add(m.name)
            out.append(m)
    return out


def _clean_query(query: str) -> str:
    # Control characters (pasted from PDFs, or hostile) carry no meaning in a query.
    query = "".join(ch if ch.isprintable() or ch in " \t" else " " for ch in query)
    return " ".join(query.split())


def stem(word: str) -> str:
    """The term the keyword index makes of one word: lower case, accents folded, Porter stem."""
    return keyword_index.term_of(word)


def query_terms(query: str) -> list[str]:
    """The keyword index's terms for a query's content words, for highlighting."""
    return sorted(keyword_index.query_terms(w for w in _WORD.findall(query) if w not in _OPERATORS))


def highlight_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of the words in `text` that the index reads as one of `terms` (accents folded, stemmed)."""
    if not terms:
        return []
    wanted = set(terms)
    return [(start, end) for term, start, end in keyword_index.analyze(text) if term in wanted]
