"""Where in a source a passage or a quotation sits, as a reader cites it: "p. 17", "pp. 17-18", "para. 6".

`find_locator` works out the pages (or paragraphs) a span covers; `locator_text` writes them.

One formatter for the CLI, the app, quote reports, names-list screening and citations. Plain text (the CLI, citations,
exports) joins a range with a hyphen, which every terminal and bibliography manager reads as
typed; the app typesets the range with an en dash (`dash=EN_DASH`).
"""

from __future__ import annotations

from dataclasses import dataclass

from corpus_search.models import Passage, Record

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
                         page_label: str | None = None, *, dash: str = HYPHEN, paragraph_end: int | None = None) -> str:
    """The locator of a passage (or a quotation): its paragraph numbers when the source numbers them, else its
    pages."""
    if paragraph is not None:
        return locator_text("paragraph", paragraph, paragraph_end, dash=dash)
    if page is not None:
        return locator_text("page", page, page_end, dash=dash)
    return locator_text("page", page_label, dash=dash)


def locator_of(item, *, dash: str = HYPHEN) -> str:
    """`passage_locator_text` for anything with page, page_end and paragraph (a Passage, a QuoteMatch, a hit)."""
    return passage_locator_text(getattr(item, "page", None), getattr(item, "page_end", None),
                                getattr(item, "paragraph", None), getattr(item, "page_label", None), dash=dash,
                                paragraph_end=getattr(item, "paragraph_end", None))


@dataclass(frozen=True)
class Locator:
    """Where in a work: a page range or a paragraph range (both ends may be equal)."""

    label: str  # "page" | "paragraph" | "" (the whole work)
    first: str = ""
    last: str = ""

    @property
    def value(self) -> str:
        """The bare locator, "17" or "17-18"."""
        return self.first if self.last in ("", self.first) else f"{self.first}-{self.last}"

    def text(self, mla: bool = False, *, dash: str = HYPHEN) -> str:
        return locator_text(self.label, self.first, self.last, dash=dash, mla=mla)


def find_locator(
    record: Record,
    passage: Passage | None,
    offset: int | None = None,
    end_offset: int | None = None,
    last: Passage | None = None,
) -> Locator:
    """The locator of a passage, or of the quotation at [offset, end_offset) in it.

    `last` is the passage a quotation ends in when it runs over into the next one; `end_offset`
    is then an offset in `last`.
    """
    if passage is None:
        return Locator("")
    end_passage = last or passage
    if record.cite_by == "paragraph" and passage.paragraph is not None:
        final = end_passage.paragraph if end_passage.paragraph is not None else passage.paragraph
        return Locator("paragraph", str(passage.paragraph), str(final))
    if offset is None:
        first = passage.page_at(0)
        final_page = end_passage.page_at(max(len(end_passage.text) - 1, 0))
    else:
        first = passage.page_at(offset)
        stop = end_offset if end_offset is not None else offset + 1
        # The page of the quotation's last character, not of the position after it.
        final_page = end_passage.page_at(max(stop - 1, 0))
    if first is None:
        return Locator("")
    return Locator("page", first, final_page or first)


def locator(
    record: Record,
    passage: Passage | None,
    offset: int | None = None,
    end_offset: int | None = None,
    *,
    last: Passage | None = None,
) -> str:
    """"p. 17", "pp. 17-18" or "para. 14" (by `record.cite_by`); "" for the work as a whole."""
    return find_locator(record, passage, offset, end_offset, last).text()
