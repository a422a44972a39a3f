"""A note's Markdown as HTML that cannot run: escape everything first, then add a few known tags.

Only what a research note needs comes back as markup: paragraphs, line breaks, **bold**,
*italic*, `code` and [links](https://...) whose scheme is http, https or mailto. Anything else,
<script> and javascript: links included, stays visible as the text the user typed.
"""

from __future__ import annotations

import html
import re

from corpus_search.render import escape_fragment

# One pass over the raw note: each construct found is rendered from its escaped parts, and
# everything between them is escaped as plain text (HTML and Markdown characters alike).
_INLINE = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>(?:https?://|mailto:)[^\s)]+)\)"
    r"|\*\*(?P<bold>\S(?:[^\n]*?\S)?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\s](?:[^*\n]*?[^*\s])?)\*(?![\w*])",
    re.IGNORECASE,
)


def note_html(note: str) -> str:
    """The note as safe HTML: <p> per paragraph, <br> per line, a few inline tags."""
    paragraphs = [p for p in re.split(r"\n\s*\n", note.replace("\x00", "").strip()) if p.strip()]
    return "".join("<p>" + "<br>".join(_inline(line) for line in p.splitlines()) + "</p>" for p in paragraphs)


def _inline(line: str) -> str:
    parts: list[str] = []
    pos = 0
    for m in _INLINE.finditer(line):
        parts.append(escape_fragment(line[pos : m.start()]))
        if m.group("code") is not None:
            parts.append(f"<code>{escape_fragment(m.group('code'))}</code>")
        elif m.group("url") is not None:
            href = html.escape(m.group("url"), quote=True)
            parts.append(f'<a href="{href}" rel="nofollow noopener noreferrer" target="_blank">'
                         f"{escape_fragment(m.group('label'))}</a>")
        elif m.group("bold") is not None:
            parts.append(f"<strong>{escape_fragment(m.group('bold'))}</strong>")
        else:
            parts.append(f"<em>{escape_fragment(m.group('em'))}</em>")
        pos = m.end()
    parts.append(escape_fragment(line[pos:]))
    return "".join(parts)
