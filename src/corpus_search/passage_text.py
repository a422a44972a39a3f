"""Step 5's text (see passages.py): a block's lines joined into one paragraph, cut to passage size,
and its sentinels (note markers, page breaks) taken out into offsets.
"""

from __future__ import annotations

import bisect
import re

from corpus_search.clean import NOTE_CLOSE, NOTE_OPEN, PAGE_CLOSE, PAGE_OPEN, SENTINEL, split_fragment
from corpus_search.passage_blocks import Doc

MAX_PASSAGE = 2500  # characters; longer paragraphs are split at sentence ends


def join_lines(lines: list[str], doc: Doc) -> str:
    """One paragraph from its lines: a space between lines, hyphenated breaks decided.

    Built as a list of non-empty parts, and a hyphen is judged on the paragraph's tail only,
    so a paragraph of a million lines costs a million steps, not a million copies of itself.
    """
    parts: list[str] = []
    pending = ""  # a page-break sentinel waiting for the next line
    for line in lines:
        if line.startswith(PAGE_OPEN):
            pending += line
            continue
        if not parts:
            new = [line]
        elif parts[-1].endswith(("-", "\u2010", "\u2011")) and not _RULE.fullmatch(parts[-1]):
            fragment = split_fragment(_plain_tail(parts), SENTINEL.sub("", line))
            if fragment and doc.judge.join(*fragment):
                parts[-1] = parts[-1][:-1]
                if not parts[-1]:
                    parts.pop()
                doc.stats["hyphen_joined"] += 1
            elif fragment:  # "Sino-friendly"; no fragment: "2014-2015"
                doc.stats["hyphen_kept"] += 1
            new = [pending, line]
        else:
            new = [" ", pending, line]
        parts.extend(piece for piece in new if piece)
        pending = ""
    return "".join(parts)


# A line of dashes only (an e-mail's "-- " signature delimiter, a rule), or ending in two or more
# ("-----Original Message-----"): no word is broken at its end.
_RULE = re.compile("(?:.*[-\u2010\u2011])?[-\u2010\u2011]+")
_TAIL = 400  # characters of a paragraph's end that decide a line-end hyphen (a word is far shorter)


def _plain_tail(parts: list[str]) -> str:
    """The paragraph's last _TAIL characters so far, sentinels removed (one cut off at the start too)."""
    tail: list[str] = []
    size = 0
    for part in reversed(parts):
        tail.append(part)
        size += len(part)
        if size >= _TAIL:
            break
    text = "".join(reversed(tail))[-_TAIL:]
    close = min((i for i in (text.find(NOTE_CLOSE), text.find(PAGE_CLOSE)) if i >= 0), default=-1)
    opened = min((i for i in (text.find(NOTE_OPEN), text.find(PAGE_OPEN)) if i >= 0), default=len(text))
    if size > _TAIL and 0 <= close < opened:  # the cut fell inside a sentinel
        text = text[close + 1 :]
    return SENTINEL.sub("", text)


_SENTENCE_END = re.compile(r"[.!?…][’”\"')\]]*(?:\ue000\d+\ue001)?(?= (?:\ue002[^\ue003]*\ue003)?[A-Z“‘\"(])")


def split_long(raw: str) -> list[str]:
    """Paragraphs above MAX_PASSAGE characters, cut at sentence ends (or spaces, if none).

    One pass: each cut looks only at the next MAX_PASSAGE + 200 characters, and the text left
    after a cut is measured from sentinel positions found once, never by rescanning the rest.
    """
    spans = [m.span() for m in SENTINEL.finditer(raw)]
    starts = [a for a, _ in spans]
    hidden_after = [0] * (len(spans) + 1)  # sentinel characters in spans[i:]
    for i in range(len(spans) - 1, -1, -1):
        hidden_after[i] = hidden_after[i + 1] + spans[i][1] - spans[i][0]

    def plain_left(pos: int) -> int:
        i = bisect.bisect_left(starts, pos)
        if i and spans[i - 1][1] > pos:  # a hard cut inside a sentinel: measure as the old code did
            return len(SENTINEL.sub("", raw[pos:]))
        return len(raw) - pos - hidden_after[i]

    chunks: list[str] = []
    pos = 0
    while plain_left(pos) > MAX_PASSAGE:
        ends = [m.end() - pos for m in _SENTENCE_END.finditer(raw, pos, pos + MAX_PASSAGE + 200)
                if 200 <= m.end() - pos <= MAX_PASSAGE]
        space = raw.rfind(" ", pos + 200, pos + MAX_PASSAGE)
        cut = ends[-1] if ends else (space - pos if space >= 0 else -1)
        if cut <= 0:
            cut = MAX_PASSAGE
        while pos + cut < len(raw) and raw[pos + cut - 1] in (NOTE_OPEN, PAGE_OPEN):
            cut += 1  # never cut inside a sentinel
        chunks.append(raw[pos : pos + cut])
        pos += cut
    chunks.append(raw[pos:])
    return chunks


def cut(raw: str, label: str | None) -> tuple[str, str | None, list[tuple[int, str]], list[tuple[int, str]]]:
    """Sentinels out: the text, its start label, page breaks and note marks (text offsets)."""
    parts: list[str] = []
    size = 0
    pos = 0
    breaks: list[tuple[int, str]] = []
    marks: list[tuple[int, str]] = []
    for match in SENTINEL.finditer(raw):
        piece = raw[pos : match.start()]
        parts.append(piece)
        size += len(piece)
        if match.group(1) is not None:
            marks.append((size, match.group(1)))
        elif match.group(2):
            breaks.append((size, match.group(2)))
        pos = match.end()
    parts.append(raw[pos:])
    text = "".join(parts)
    lead = len(text) - len(text.lstrip())
    text = text.strip()

    def clip(off: int) -> int:
        return min(max(off - lead, 0), len(text))

    breaks = [(clip(o), lab) for o, lab in breaks]
    marks = [(clip(o), num) for o, num in marks]
    while breaks and breaks[0][0] == 0:  # a chunk that begins on the new page
        label = breaks.pop(0)[1]
    return text, label, breaks, marks


_LEADING = re.compile(f"(?:\\s+|{SENTINEL.pattern})*")


def leading_pages(chunk: str) -> int:
    """Page breaks before a chunk's first word: the chunk begins on the page after them."""
    return _LEADING.match(chunk).group().count(PAGE_OPEN)
