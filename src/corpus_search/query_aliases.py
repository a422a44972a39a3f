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
    """The abbreviation <-> long form pairs of one corpus, from its alias table (store.aliases())."""

    def __init__(self, aliases: Mapping[str, Sequence[tuple[str, str]]]):
        pairs: dict[str, dict[str, str]] = defaultdict(dict)  # abbreviation key -> {long form key: long form}
        for key, names in aliases.items():
            for name, _ in names:
                name_key = alias_key(name)
                if " " not in key and initialism(key, name):  # "omfv" -> Optionally Manned Fighting Vehicle
                    pairs[key][name_key] = name
                elif " " in key and " " not in name_key and initialism(name_key, key):  # "north atlantic ..." -> NATO
                    pairs[name_key][key] = key
        self.long_forms: dict[str, str] = {}  # abbreviation key -> its long form
        self.abbreviations: dict[str, list[str]] = defaultdict(list)  # long form, folded -> abbreviation keys
        for abbreviation, forms in pairs.items():
            if len(forms) != 1:  # an abbreviation of several things in this corpus
                continue
            (long_key, long_form), = forms.items()
            self.long_forms[abbreviation] = long_form
            self.abbreviations[_fold(long_form)].append(abbreviation)

    def expand(self, query: str) -> list[Expansion]:
        """The other forms of the names in `query`, in query order, each once."""
        tokens = [m.group(0).strip(".'’-") for m in _TOKEN.finditer(query)]
        if not (self.long_forms and tokens) or _OPERATORS & set(tokens):
            return []
        out: list[Expansion] = []
        folded = [_fold(t) for t in tokens]
        seen = {f" {' '.join(folded)} "}  # what the query already says, as words

        def add(typed: str, also: str) -> None:
            if not any(f" {_fold(also)} " in s for s in seen):
                seen.add(f" {_fold(also)} ")
                out.append(Expansion(typed, also))

        i = 0
        while i < len(tokens):
            step = 1
            for n in range(min(_LONGEST, len(tokens) - i), 1, -1):  # the longest long form first
                phrase = " ".join(folded[i : i + n])
                if phrase in self.abbreviations:
                    for key in self.abbreviations[phrase]:
                        add(" ".join(tokens[i : i + n]), key.upper())
                    step = n
                    break
            else:
                token = tokens[i]
                if _typed_as_abbreviation(token) and alias_key(token) in self.long_forms:
                    add(token, self.long_forms[alias_key(token)])
            i += step
        return out


def _typed_as_abbreviation(token: str) -> bool:
    letters = [ch for ch in token if ch.isalpha()]
    return len(letters) >= 2 and sum(ch.isupper() for ch in letters) >= 2


def _fold(text: str) -> str:
    return " ".join(w.casefold() for w in _WORD.findall(text))
