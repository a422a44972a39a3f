"""A query's names in the corpus's other words: "Optionally Manned Fighting Vehicle" also searches
"OMFV", and "EEU" also searches "Eurasian Economic Union".

The build learns which abbreviation stands for which long form ("Long Form (ABBR)", curation, the
corpus's own alias file) and keeps it in the store's alias table. A report names a thing in full once
and by its abbreviation after that, so a query in one form misses every passage in the other. This
module finds the forms in a query and gives the other form to search as well:

  * an abbreviation counts only as the user typed it in capitals ("OMFV", "DoD"): "us" in "tell us"
    is no "US";
  * a long form counts in any case, as whole words;
  * an abbreviation that stands for several things in the corpus is left alone;
  * a query written with operators (AND, OR, NOT...) is searched exactly as written.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from corpus_search.entity_keys import alias_key

_TOKEN = re.compile(r"[\w&'’.-]+", re.UNICODE)
_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})
_LONGEST = 10  # words in a long form looked up in a query


@dataclass(frozen=True)
class Expansion:
    """One name of the query (`said`, as typed) and its other form to search (`also`)."""

    said: str
    also: str


def initialism(abbreviation: str, name: str) -> bool:
    """Whether `abbreviation` is made of the initials of `name`'s words ("omfv", "Optionally Manned
    Fighting Vehicle"), allowing skipped small words and more than one letter from a word ("DoD")."""
    letters = [ch for ch in abbreviation.casefold() if ch.isalnum()]
    words = [w.casefold() for w in _WORD.findall(name)]
    if len(words) < 2 or not 2 <= len(letters) <= 10 or not letters or letters[0] != words[0][0]:
        return False

    def match(i: int, j: int, used: int) -> bool:  # letters[i:] from words[j:]; `used` words gave letters
        if i == len(letters):
            return used >= 2
        for k in range(j, len(words)):
            w = words[k]
            n = 0  # this word gives letters[i], and maybe its next letters too ("DoD": "Do" + "D")
            while n < len(w) and i + n < len(letters) and w[n] == letters[i + n]:
                n += 1
                if match(i + n, k + 1, used + 1):
                    return True
            if len(w) > 3:  # only a small word ("of", "the", "and") is skipped
                return False
        return False

    return match(0, 0, 0)


class AliasForms:
    """The abbreviation <-> long form pairs of one corpus, from its alias table (store.aliases()).

    Worked out for the words of each query, not for the whole table up front: a corpus has tens of
    thousands of names and a query a handful, and every CLI search opens the index afresh.
    """

    def __init__(self, aliases: Mapping[str, Sequence[tuple[str, str]]]):
        self.aliases = aliases
        self._expanded: dict[str, tuple[Expansion, ...]] = {}
        self.keys_of: dict[str, list[str]] = defaultdict(list)  # canonical name -> its alias keys
        for key, names in aliases.items():
            for name, _ in names:
                self.keys_of[name].append(key)

    def long_form(self, key: str) -> str | None:
        """The one long form the abbreviation `key` (an alias key: "omfv") stands for, or None."""
        if " " in key or not 2 <= len(key) <= 10:
            return None
        forms: dict[str, str] = {}
        for name, _ in self.aliases.get(key, ()):
            if initialism(key, name):  # "omfv" -> Optionally Manned Fighting Vehicle
                forms[alias_key(name)] = name
            elif alias_key(name) == key:  # the canonical name is the abbreviation: NATO <- "north atlantic ..."
                forms.update((k, k) for k in self.keys_of[name] if " " in k and initialism(key, k))
        return next(iter(forms.values())) if len(forms) == 1 else None  # none, or several things

    def abbreviations(self, key: str) -> list[str]:
        """The abbreviation keys that stand for the long form `key` (an alias key), and for nothing else."""
        if " " not in key or key not in self.aliases:
            return []
        found = []
        for name, _ in self.aliases.get(key, ()):
            candidates = [k for k in self.keys_of[name] if " " not in k] + [alias_key(name)]
            for short in dict.fromkeys(candidates):
                other = self.long_form(short)
                if other is not None and alias_key(other) in (key, alias_key(name)) and short not in found:
                    found.append(short)
        return found

    def expand(self, query: str) -> list[Expansion]:
        """The other forms of the names in `query`, in query order, each once (kept: a sharded search
        and the app's reruns ask again for the same query)."""
        if query not in self._expanded:
            if len(self._expanded) >= 1000:
                self._expanded.clear()
            self._expanded[query] = self._expand(query)
        return list(self._expanded[query])

    def _expand(self, query: str) -> tuple[Expansion, ...]:
        raw = [m.group(0) for m in _TOKEN.finditer(query)]
        tokens = [t.strip(".'’-") for t in raw]
        if not (self.aliases and tokens) or _has_operators(query):
            return ()
        out: list[Expansion] = []
        keys = [alias_key(t) for t in tokens]  # a phrase's key is its words' keys joined (alias_key works by word)
        said = [f" {' '.join(k for k in keys if k)} "]  # what the query already says, as alias keys

        def add(typed: str, also: str) -> None:
            key = f" {alias_key(also)} "
            if not any(key in s for s in said):
                said.append(key)
                out.append(Expansion(typed, also))

        i = 0
        while i < len(tokens):
            step = 1
            for n in range(min(_LONGEST, len(tokens) - i), 1, -1):  # the longest long form first
                shorts = [] if keys[i] == "the" else self.abbreviations(" ".join(k for k in keys[i : i + n] if k))
                if shorts:
                    for short in shorts:
                        add(" ".join(tokens[i : i + n]), short.upper())
                    step = n
                    break
            else:
                token = tokens[i]
                other = self.long_form(alias_key(token)) if _typed_as_abbreviation(token) else None
                if other is not None:
                    # Shown as typed: "U.S." keeps the full stop its matching leaves out ("U.S").
                    dotted = "." in token and raw[i].rstrip("'’-").endswith(".")
                    add(token + "." if dotted else token, other)
            i += step
        return tuple(out)


def _has_operators(query: str) -> bool:
    """Whether the query uses AND, OR, NOT ...: it is then searched exactly as written, with no other forms."""
    return bool(_OPERATORS & {m.group(0).strip(".'’-") for m in _TOKEN.finditer(query)})


def _typed_as_abbreviation(token: str) -> bool:
    letters = [ch for ch in token if ch.isalpha()]
    return len(letters) >= 2 and sum(ch.isupper() for ch in letters) >= 2


# A fiscal year as a question asks it ("fiscal 2027", "fiscal year 2027", "FY 2027", "FY27") and as reports print it
# ("FY2027"). The keyword index reads "FY2027" as one word, so the other forms never find it. (The year alone, as a
# table's row heads it, was tried for "FY2027" too: over the 8 fresh sets 1 question up and 3 down, so not searched.)
_FISCAL = re.compile(r"\b(?:fiscal\s+(?:year\s+)?(\d{4})|FY[\s-](\d{4})|FY[\s-]?(\d{2}))\b", re.IGNORECASE)


def fiscal_year_forms(query: str) -> list[Expansion]:
    """The printed form of each fiscal year the query names another way ("fiscal 2027" -> "FY2027"); none with
    operators (the query is searched as typed)."""
    if _has_operators(query):
        return []
    return [Expansion(m.group(0), "FY" + (m.group(1) or m.group(2) or ("20" if int(m.group(3)) < 50 else "19") + m.group(3)))
            for m in _FISCAL.finditer(query)]


# English verbs whose past forms the keyword index's stemmer never joins to the present ("wrote", "written" and
# "write" are three terms). Forms that are also common other words are left out ("found", "left", "led", "saw",
# "rose", "felt", "lay", "spoke", "ground").
_IRREGULAR = [
    ("write", "wrote", "written"), ("rise", "risen"), ("fall", "fell", "fallen"), ("grow", "grew", "grown"),
    ("pay", "paid"), ("spend", "spent"), ("sell", "sold"), ("buy", "bought"), ("make", "made"), ("build", "built"),
    ("take", "took", "taken"), ("give", "gave", "given"), ("begin", "began", "begun"), ("hold", "held"),
    ("bring", "brought"), ("lose", "lost"), ("win", "won"), ("choose", "chose", "chosen"), ("draw", "drew", "drawn"),
    ("drive", "drove", "driven"), ("fight", "fought"), ("know", "knew", "known"), ("speak", "spoken"),
    ("teach", "taught"), ("think", "thought"), ("tell", "told"), ("say", "said"), ("send", "sent"), ("meet", "met"),
    ("seek", "sought"), ("lend", "lent"), ("strike", "struck"), ("shrink", "shrank", "shrunk"),
    ("freeze", "froze", "frozen"), ("become", "became"), ("keep", "kept"), ("stand", "stood"),
    ("understand", "understood"), ("undertake", "undertook", "undertaken"), ("withdraw", "withdrew", "withdrawn"),
    ("forgo", "forwent", "forgone"), ("overtake", "overtook", "overtaken"), ("forbid", "forbade", "forbidden"),
    ("forgive", "forgave", "forgiven"), ("steal", "stole", "stolen"), ("swear", "swore", "sworn"),
    ("tear", "tore", "torn"), ("wear", "wore", "worn"), ("throw", "threw", "thrown"), ("fly", "flew", "flown"),
    ("eat", "ate", "eaten"), ("drink", "drank", "drunk"), ("sink", "sank", "sunk"), ("swim", "swam", "swum"),
    ("ride", "rode", "ridden"), ("hide", "hid", "hidden"), ("shake", "shook", "shaken"), ("mistake", "mistook", "mistaken"),
    ("oversee", "oversaw", "overseen"), ("foresee", "foresaw", "foreseen"), ("uphold", "upheld"), ("withhold", "withheld"),
]
_FORMS = {form: group for group in _IRREGULAR for form in group}


def verb_forms(query: str) -> list[Expansion]:
    """The other forms of each irregular verb the query uses ("wrote" -> "write", "written"); none with operators,
    none inside a quoted phrase (a phrase is searched as quoted)."""
    if _has_operators(query):
        return []
    unquoted = re.sub(r'"[^"]*"', " ", query)
    out: list[Expansion] = []
    for word in re.findall(r"[A-Za-z]+", unquoted):
        for other in _FORMS.get(word.casefold(), ()):
            if other != word.casefold() and Expansion(word, other) not in out:
                out.append(Expansion(word, other))
    return out
