"""A user's query read for Whoosh: syntax checked, stop words dropped, NOT made to exclude; and the
Whoosh pieces a query runs with (a deadline-bound filtering collector, BM25F over corpus-wide statistics).
"""

from __future__ import annotations

import functools
import re
import time

from corpus_search.bm25 import key
from corpus_search.keyword_analysis import STOP_WORDS, term_of

_FIELD_SYNTAX = re.compile(r"\b(\w+):")
_PLAIN = re.compile(r"[\w\s'’-]+")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})


def parse(query: str, schema):
    """A user query parsed against `schema`, and its warnings; never raises: malformed syntax is searched as words."""
    # Whoosh on first use only: `--help` and commands that open no index start without it.
    from whoosh import qparser

    warnings: list[str] = []
    parser = qparser.MultifieldParser(
        # Plain OR, no "coordination bonus": Whoosh's SQR bonus multiplies every score by
        # (terms - 1) / terms, which is 0 when only one of the query's field terms exists, and
        # a one-word search then came back in index order instead of by relevance.
        ["text", "section"], schema=schema, group=qparser.OrGroup
    )
    # Field syntax would let a query reach fields users do not know about; plain words only.
    parser.remove_plugin_class(qparser.FieldsPlugin)
    parser.remove_plugin_class(qparser.WildcardPlugin)
    parser.add_plugin(_glob_plugin()())
    # A question mark ends a question far more often than it stands for one letter; inside a word ("hel?um") it
    # stands for one letter.
    query = _QUESTION_MARK.sub(" ", query)
    problems = syntax_problems(query)
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


_QUESTION_MARK = re.compile(r"(?<![\w?])\?+|\?+(?![\w?])")  # a run of them at a word's edge, not inside ("nucl??r")
_SPELLED_OUT = 2  # a glob with at most this many "?" (and no "*") is searched as every word it spells
_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _spelled(glob: str) -> list[str]:
    """Every word a glob of "?"s spells: "wom?n" -> woman, ..., women, ..., wom9n."""
    words = [""]
    for ch in glob:
        words = [w + c for w in words for c in (_LETTERS if ch == "?" else ch)]
    return words


def _stem_globs(text: str) -> list[tuple[str, str]]:
    """(glob, letters it leaves off) for a glob and for the glob without its last letters, one or more (those
    after its last wildcard; a stemmer takes them off): "p*l?ne" -> p*l?ne, p*l?n + "e", p*l? + "ne"."""
    text = re.sub(r"\*+", "*", text)  # "a**b" is "a*b"
    last = max(text.rfind("?"), text.rfind("*"))
    head, tail = text[: last + 1], text[last + 1 :]
    return [(head + tail[: len(tail) - cut], tail[len(tail) - cut :]) for cut in range(len(tail) + 1)]


def glob_match(glob: str, word: str) -> bool:
    """Whether `word` matches `glob` ("?" one character, "*" any run): the greedy match that goes back only to
    the last "*", so at most len(glob) x len(word) steps. A regular expression built from the glob backtracked
    exponentially: "*e*e*e*e*e*e*e*e*e*e?q" against a run of 60 "e"s ran for minutes."""
    g = w = 0
    star, mark = -1, 0
    while w < len(word):
        if g < len(glob) and (glob[g] == "?" or glob[g] == word[w]):
            g += 1
            w += 1
        elif g < len(glob) and glob[g] == "*":
            star, mark = g, w
            g += 1
        elif star >= 0:
            g, mark = star + 1, mark + 1
            w = mark
        else:
            return False
    while g < len(glob) and glob[g] == "*":
        g += 1
    return g == len(glob)


def stem_glob_matches(text: str, term: str, globs=None) -> bool:
    """Whether an indexed term (a stem) stands for a word the glob matches: it matches the glob, or the glob less
    its last letters, and those letters put back make a word whose stem it is ("pipelin" for "pipel?ne", as
    "pipeline" stems to "pipelin"; not "held" for "hel?um", as "heldum" is no word stemmed to "held")."""
    for glob, left_off in globs or _stem_globs(text):
        if glob_match(glob, term) and (not left_off or term_of(term + left_off) == term):
            return True
    return False


@functools.cache
def _glob_plugin():
    """Whoosh's wildcard syntax, but a glob with "?" is matched to the stems the index holds (stem_glob_matches):
    Whoosh stems the glob itself, and "pipel?ne" became "pipel?n", "organi?ation" "organi?"."""
    from whoosh import qparser
    from whoosh import query as wq
    from whoosh.qparser.syntax import attach
    from whoosh.support.charset import accent_map

    class StemWildcard(wq.Wildcard):
        def _btexts(self, ixreader):
            if set(self.text) & set("*[") or self.text.count("?") > _SPELLED_OUT:
                yield from self._globbed(ixreader)
                return
            # Every word the glob spells, each stemmed as the index stems it: "organi?ation" finds both
            # "organis" (organisation) and "organ" (organization).
            stems = {term_of(w) for w in _spelled(self.text)} - {""}
            for stem in sorted(stems):
                if (self.fieldname, stem) in ixreader:
                    yield stem.encode("utf-8")

        def _globbed(self, ixreader):
            globs = _stem_globs(self.text)
            prefix = self._find_prefix(self.text)
            candidates = ixreader.expand_prefix(self.fieldname, prefix) if prefix else ixreader.lexicon(self.fieldname)
            from_bytes = ixreader.schema[self.fieldname].from_bytes
            for btext in candidates:
                if stem_glob_matches(self.text, from_bytes(btext), globs):
                    yield btext

    class GlobNode(qparser.WildcardPlugin.WildcardNode):
        def query(self, parser):
            if "?" not in self.text:
                return super().query(parser)  # "word*": Whoosh's own prefix query
            text = self.text.lower().translate(accent_map)  # as the analyzer folds words, without stemming
            return attach(StemWildcard(self.fieldname or parser.fieldname, text, boost=self.boost), self)

    class GlobPlugin(qparser.WildcardPlugin):
        nodetype = GlobNode
        # A run of wildcards is one node: Whoosh's one node per character left "al??i" as "al??" and "i".
        expr = "(?P<text>[*%s]+)" % qparser.WildcardPlugin.qmarks

    return GlobPlugin


def global_bm25f(stats):
    """Whoosh's BM25F with idf and average field lengths from corpus-wide statistics (bm25.CorpusStats)."""
    from whoosh.scoring import BM25F, BM25FScorer  # Whoosh on first use only, as in parse

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
    from whoosh import query as wq  # Whoosh on first use only, as in parse

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


_AND_NOT_FIXED = False


def fix_whoosh_and_not() -> None:
    """Make Whoosh's AndNotMatcher test its first candidate against the NOT side (once per process).

    Whoosh 2.7.5 checks the first positive passage only when the NOT side starts on that very
    passage; when the NOT side starts earlier, "pipeline NOT china" returned a passage about China
    whenever it was the first passage mentioning a pipeline and every match was collected (a small
    corpus, or a limit above its size). _find_next skips the NOT side forward and steps past it.
    """
    global _AND_NOT_FIXED
    if _AND_NOT_FIXED:
        return
    from whoosh.matching.binary import AndNotMatcher  # Whoosh on first use only, as in parse

    def _find_first(self) -> None:
        if self.a.is_active() and self.b.is_active():
            self._find_next()

    AndNotMatcher._find_first = _find_first
    _AND_NOT_FIXED = True


def bounded_collector(child, flt, deadline: float):
    """A filtering collector that stops at a deadline (Whoosh's TimeLimitCollector drops filters)."""
    from whoosh.collectors import FilterCollector  # Whoosh on first use only, as in parse

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


def _drop_stop_words(query: str) -> str:
    words = query.split()
    if not _PLAIN.fullmatch(query) or _OPERATORS & set(words):
        return query  # phrases, operators, wildcards: the user's syntax is kept as typed
    kept = [w for w in words if w.casefold() not in STOP_WORDS]
    return " ".join(kept) if kept else query


def syntax_problems(query: str) -> str:
    """What keeps `query` from being read as query syntax ("unbalanced quote", ...), or ""."""
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


def negated(query: str) -> tuple[str, str]:
    """(what the query excludes, the query without it): "pipeline NOT Gazprom" -> ("Gazprom", "pipeline"),
    'a ANDNOT (b OR "c d")' -> ('(b OR "c d")', "a"). Several exclusions are joined by OR. ("", query) when
    it excludes nothing or its syntax is malformed (it is then searched as its plain words, NOT one of them).

    The keyword side excludes by itself; the meaning side has no words to exclude by, so search asks the
    keyword index which of its candidates hold what this returns, and the model reads the rest."""
    if syntax_problems(query):
        return "", query
    parts, kept, i, n = [], [], 0, len(query)
    while i < n:
        if query[i] == '"':  # a phrase is read whole: "NOT" inside it is a word
            end = query.find('"', i + 1) + 1 or n
            kept.append(query[i:end])
            i = end
            continue
        word = re.match(r"[^\s\"()]+|[()]|\s+", query[i:])
        token = word.group(0)
        if token in ("NOT", "ANDNOT") and (i == 0 or query[i - 1].isspace() or query[i - 1] == "("):
            j = i + len(token)
            while j < n and query[j].isspace():
                j += 1
            end = _operand_end(query, j)
            if end > j:
                parts.append(query[j:end])
                i = end
                continue
        kept.append(token)
        i += len(token)
    if not parts:
        return "", query
    return " OR ".join(parts), " ".join("".join(kept).split())


def _operand_end(query: str, start: int) -> int:
    """Where the operand of NOT that starts at `start` ends: a phrase, a bracketed group, or a word."""
    if start >= len(query):
        return start
    if query[start] == '"':
        return query.find('"', start + 1) + 1 or len(query)
    if query[start] == "(":
        depth = 0
        for k in range(start, len(query)):
            depth += query[k] == "("
            depth -= query[k] == ")"
            if depth == 0:
                return k + 1
        return len(query)
    word = re.match(r"[^\s\"()]+", query[start:])
    return start + (len(word.group(0)) if word else 0)


def _plain_words(query: str) -> str:
    words = re.findall(r"\w+", query)
    words = [w for w in words if w not in ("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO")]
    return " ".join(words[:200])
