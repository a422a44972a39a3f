"""Map cleaned passages back to positions in the raw source.

Cleaning joins hyphenated line ends, lifts footnotes out of paragraphs and drops
page furniture, so a passage's text is not a slice of the file. To show the
original layout and trace a quotation to its place in the file, each passage
gets `raw_map`: (offset in passage text, offset in the raw text) at the start of
every run where the two advance together. The raw text is the pages' text
joined in order; for a text source that is the decoded file itself.

The map is found by aligning word tokens: each passage anchors where its first
words occur (from its own page on), then follows the raw tokens, skipping what
cleaning removed (markers, lifted notes, furniture) and joining words broken
across lines.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from corpus_search.models import Page, Passage
from corpus_search.textnorm import fold

# Letters and digits apart: a glued footnote marker ("Union4") or paragraph number
# ("14These") is its own raw token, which the passage text no longer has.
_TOKEN = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
_NEAR = 8  # raw tokens a word may skip without the next word confirming the jump
_LOOKAHEAD = 600  # raw tokens a passage may skip over (a page's lifted footnotes)


def raw_text(pages: Sequence[Page]) -> str:
    return "".join(p.text for p in pages)


def page_starts(pages: Sequence[Page]) -> list[int]:
    """Raw offset where each page begins."""
    starts, pos = [], 0
    for p in pages:
        starts.append(pos)
        pos += len(p.text)
    return starts


_MAX_TRIES = 2000  # occurrences of a passage's first word tried as its start


def _tokens(text: str) -> list[tuple[int, str]]:
    return [(m.start(), fold(m.group())) for m in _TOKEN.finditer(text)]


def add_raw_maps(passages: Sequence[Passage], pages: Sequence[Page]) -> list[Passage]:
    """The passages with `raw_map` filled in; a passage that cannot be aligned keeps an empty map."""
    raw = raw_text(pages)
    rtoks = _tokens(raw)
    where: dict[str, list[int]] = defaultdict(list)
    for i, (_, tok) in enumerate(rtoks):
        where[tok].append(i)
    starts = page_starts(pages)
    label_start = {}
    for page, start in zip(pages, starts):
        if page.label is not None:
            label_start.setdefault(str(page.label), start)
    rstarts = [pos for pos, _ in rtoks]
    out = []
    last = 0  # passages mostly follow the source's order: search on from the previous one
    for passage in passages:
        label = passage.page_label or (str(passage.page) if passage.page is not None else None)
        hint = max(label_start.get(label, 0) if label else 0, last)
        first = bisect.bisect_left(rstarts, hint)
        runs = _align(_tokens(passage.text), rtoks, where, first)
        if runs and runs[0][0] > 0:
            runs[:1] = _leading(passage.text, raw, *runs[0])
        if runs and passage.kind != "footnote":  # notes sit at page feet, out of reading order
            last = runs[0][1]
        out.append(replace(passage, raw_map=tuple(runs)))
    return out


def _leading(text: str, raw: str, pos: int, raw_pos: int) -> list[tuple[int, int]]:
    """The runs of the first word's run moved back over what precedes it where the source has the same
    characters (a run of spaces matching a run of any whitespace, "Message----- From" a line break): the
    alignment goes by words, and a passage that opens with an opening quotation mark, a bullet or a separator
    line ("-----Original Message-----", Outlook's rule of underscores) had no position for what came first."""
    runs = [(pos, raw_pos)]
    i, j = pos, raw_pos
    while i > 0 and j > 0:
        if text[i - 1].isspace() and raw[j - 1].isspace():
            while i > 0 and text[i - 1].isspace():
                i -= 1
            while j > 0 and raw[j - 1].isspace():
                j -= 1
        elif text[i - 1] == raw[j - 1]:
            i, j = i - 1, j - 1
        else:
            break
        if runs[0][1] - runs[0][0] == j - i:
            runs[0] = (i, j)
        else:
            runs.insert(0, (i, j))
    return runs


def _align(ptoks, rtoks, where, first: int) -> list[tuple[int, int]]:
    if not ptoks:
        return []
    j = _anchor(ptoks, rtoks, where, first)
    if j is None:
        return []
    runs: list[tuple[int, int]] = []
    delta = None
    for i, (pos, tok) in enumerate(ptoks):
        found = _match_at(tok, rtoks, j)
        if found is None:
            continue  # a word cleaning made (rare): no map for it, the next one re-anchors
        if found[0] - j > _NEAR and i + 1 < len(ptoks):
            # A long jump (over lifted footnotes, say) must be confirmed by the next word,
            # or a common word would pull the alignment to a later occurrence.
            after = _match_at(ptoks[i + 1][1], rtoks, found[0])
            if after is None or after[0] - found[0] > 3:
                continue
        j, raw_pos = found
        if raw_pos - pos != delta:
            runs.append((pos, raw_pos))
            delta = raw_pos - pos
    return runs


def _anchor(ptoks, rtoks, where, first: int) -> int | None:
    """Index of the raw token where the passage starts: its first words in order, from its page on."""
    want = [t for _, t in ptoks[:6]]
    candidates = where.get(want[0], [])
    i = bisect.bisect_left(candidates, first)
    # Its own page first, then anywhere; a bounded number of tries, so a text that repeats its
    # words (a hostile or generated file) costs a constant per passage, not a scan of the source.
    ordered = itertools.islice(itertools.chain(range(i, len(candidates)), range(i)), _MAX_TRIES)
    for j in (candidates[n] for n in ordered):
        if all(k < len(rtoks) and _same(rtoks[j + k][1] if j + k < len(rtoks) else "", w)
               for k, w in enumerate(want)):
            return j
    # Broken across a line ("Chi-" "na"), the first word is no single raw token.
    for j in range(first, min(len(rtoks), first + 5000)):
        if want[0].startswith(rtoks[j][1]) and _match_at(want[0], rtoks, j) is not None:
            return j
    return None


def _same(a: str, b: str) -> bool:
    return a == b


def _match_at(tok: str, rtoks, j: int) -> tuple[int, int] | None:
    """(next raw index, raw offset) if `tok` occurs at or shortly after raw index j."""
    for k in range(j, min(len(rtoks), j + _LOOKAHEAD)):
        raw_pos, rtok = rtoks[k]
        if rtok == tok:
            return k + 1, raw_pos
        if tok.startswith(rtok) and len(rtok) < len(tok):
            # A word joined across a line-end hyphen: its pieces follow one another.
            joined, m = rtok, k + 1
            while m < len(rtoks) and len(joined) < len(tok) and tok.startswith(joined + rtoks[m][1]):
                joined += rtoks[m][1]
                m += 1
            if joined == tok:
                return m, raw_pos
    return None


def raw_offset(passage: Passage, offset: int) -> int | None:
    """The raw-source offset of a character offset in the passage text, where the map knows it."""
    best = None
    for t, r in passage.raw_map:
        if t <= offset:
            best = r + (offset - t)
        else:
            break
    return best
