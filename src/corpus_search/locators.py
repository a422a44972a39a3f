"""Where in a source a passage or a quotation sits, as a reader cites it: "p. 17", "pp. 17-18", "para. 6".

One formatter for the CLI, the app, quote reports and citations. Plain text (the CLI, citations,
exports) joins a range with a hyphen, which every terminal and bibliography manager reads as
typed; the app typesets the range with an en dash (`dash=EN_DASH`).
"""

from __future__ import annotations

HYPHEN = "-"
EN_DASH = "–"

# (one, several) for each unit; MLA abbreviates paragraphs as "par."/"pars." (MLA Handbook 9th ed., 6.5).
_LABELS = {"page": ("p.", "pp."), "paragraph": ("para.", "paras.")}
_MLA_LABELS = {"page": ("p.", "pp."), "paragraph": ("par.", "pars.")}


def locator_text(unit: str, first: object, last: object = None, *, dash: str = HYPHEN, mla: bool = False) -> str:
    """"p. 17", "pp. 17-18", "para. 6", "paras. 6-7" for `unit` "page" or "paragraph"; "" for the whole work."""
    if unit not in _LABELS or first is None or first == "":
        return ""
    one, several = (_MLA_LABELS if mla else _LABELS)[unit]
    if last is None or last == "" or str(last) == str(first):
        return f"{one} {first}"
    return f"{several} {first}{dash}{last}"


def passage_locator_text(page: int | None, page_end: int | None = None, paragraph: int | None = None,
                         page_label: str | None = None, *, dash: str = HYPHEN) -> str:
    """The locator of a passage: its paragraph number when the source numbers them, else its pages."""
    if paragraph is not None:
        return locator_text("paragraph", paragraph, dash=dash)
    if page is not None:
        return locator_text("page", page, page_end, dash=dash)
    return locator_text("page", page_label, dash=dash)


def locator_of(item, *, dash: str = HYPHEN) -> str:
    """`passage_locator_text` for anything with page, page_end and paragraph (a Passage, a QuoteMatch, a hit)."""
    return passage_locator_text(getattr(item, "page", None), getattr(item, "page_end", None),
                                getattr(item, "paragraph", None), getattr(item, "page_label", None), dash=dash)
