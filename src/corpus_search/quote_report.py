"""What verifying a quotation found (`QuoteReport`, its verdict) and how a person reads it in a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from corpus_search import shapes
from corpus_search.locators import locator_of
from corpus_search.models import Difference, QuoteMatch, Verdict
from corpus_search.quote_near import CLOSE
from corpus_search.quote_parse import max_quote_chars, quote_length


@dataclass(frozen=True)
class QuoteReport:
    """What verifying one quotation found."""

    quote: str
    found: bool
    matches: tuple[QuoteMatch, ...]
    # "found" (verbatim) | "altered" (close wording: see the first match's `difference`) |
    # "paraphrase" (other words, same meaning, by the vector index) | "not found" |
    # "too long" (a draft's quotation over the max_quote_chars cap, not checked) |
    # "out of time" (a draft's quotation left when its check_timeout budget ran out, not checked)
    verdict: str = ""

    def __post_init__(self) -> None:
        if not self.verdict:
            object.__setattr__(self, "verdict", verdict_of(self.found, self.matches, paraphrase=False))

    def to_json(self) -> dict[str, Any]:
        """CONTRACT.md's `quote --json` object (shapes.quote_report)."""
        return shapes.quote_report(self)


def verdict_of(found: bool, matches: Sequence[QuoteMatch], paraphrase: bool) -> Verdict:
    """The verdict on a quotation from its matches, best first."""
    if found:
        return Verdict.FOUND
    if matches and (matches[0].similarity >= CLOSE or matches[0].difference == Difference.REORDERED):
        return Verdict.ALTERED  # close wording, or the quotation's own words in another order
    return Verdict.PARAPHRASE if paraphrase else Verdict.NOT_FOUND


def _where(match: QuoteMatch) -> str:
    """"d, p. 17" ("p. ii" where the page is printed in roman numerals); "d, page unknown" for a PDF page that
    prints no number; "d" alone for a source that has no pages to name (an e-mail, a text file)."""
    where = locator_of(match) or ("page unknown" if match.pdf_page is not None else "")
    return f"{match.doc_id}, {where}" if where else match.doc_id


def render_diff(diff: Sequence[Sequence[str]]) -> str:
    """A word diff readable in a terminal: [-quoted words-] {+source words+}."""
    parts = []
    for op, words in diff:
        parts.append(words if op == "=" else f"[-{words}-]" if op == "-" else f"{{+{words}+}}")
    return " ".join(parts)


QUOTED_MESSAGE = "quoted message"  # in QuoteMatch.source_quotes: the words are in what an e-mail reply quotes


def quoting_notes(m) -> list[str]:
    """Where the source quotes someone (QuoteMatch.source_quotes), said for the CLI and the app."""
    out = []
    for q in m.source_quotes:
        if q == QUOTED_MESSAGE or q.startswith(QUOTED_MESSAGE + ": "):
            intro = q[len(QUOTED_MESSAGE) + 2:]
            out.append("The e-mail quotes an earlier message here" + (f" (\u201c{intro}\u201d)" if intro else "")
                       + ": these are that message's words, not its sender's.")
    if "within" in m.source_quotes:
        out.append("The source is quoting someone here: these words are inside its quotation marks.")
    inner = [q for q in m.source_quotes if q != "within" and not q.startswith(QUOTED_MESSAGE)]
    if inner:
        out.append(f"The source puts {', '.join(inner)} in quotation marks.")
    return out


def _quoting_lines(m) -> list[str]:
    return [f"    note:   {n[0].lower()}{n[1:]}" for n in quoting_notes(m)]


def render_report(report: QuoteReport) -> str:
    """The report as a person reads it: where the quotation is, or what the source really says."""
    lines = []
    if report.found:
        exact = [m for m in report.matches if m.exact]
        if exact:
            lines.append(f"FOUND verbatim, {len(exact)} occurrence{'s' if len(exact) != 1 else ''}:")
        for m in exact:
            lines.append(f"  {_where(m)} [{', '.join(m.passage_ids) or m.passage_id}]"
                         + (" (OCR text)" if m.ocr else ""))
            lines.append(f"    source: {m.source_text}")
            lines.extend(_quoting_lines(m))
            lines.append(f"    cite:   {m.citation}")
        ocr_only = [m for m in report.matches if m.ocr_equivalent]
        if ocr_only:
            lines.append(f"FOUND in OCR text only modulo OCR confusions, {len(ocr_only)} occurrence"
                         f"{'s' if len(ocr_only) != 1 else ''}:")
        for m in ocr_only:
            lines.append(f"  {_where(m)} [{', '.join(m.passage_ids) or m.passage_id}]")
            lines.append(f"    source: {m.source_text}")
            for eq in m.ocr_equivalent:
                lines.append(f"    OCR read {eq['source']!r} for {eq['quote']!r} (characters {eq['start']}-{eq['end']})")
            lines.append(f"    cite:   {m.citation}")
        return "\n".join(lines)
    if report.verdict == "too long":
        return (f"NOT CHECKED: {quote_length(report.quote):,} characters, more than the {max_quote_chars():,} "
                "a quotation may have (a stray quotation mark? CORPUS_SEARCH_MAX_QUOTE_CHARS sets the cap)")
    if report.verdict == "out of time":
        return ("NOT CHECKED: the draft's time budget ran out before this quotation "
                "(check the draft in parts, or raise CORPUS_SEARCH_CHECK_TIMEOUT)")
    label = {"altered": "NOT FOUND as quoted; the source has", "paraphrase": "NOT FOUND verbatim; a passage says this in other words"}
    lines.append(label.get(report.verdict, "NOT FOUND in the corpus") + (":" if report.matches else "."))
    shown = [m for m in report.matches[:3] if m.similarity >= CLOSE or m.difference == Difference.REORDERED] \
        if report.verdict == "altered" else []
    for m in shown or report.matches[:1]:
        kind = f", {m.difference}" if m.difference and report.verdict != "not found" else ""
        lines.append(f"  {_where(m)} (similarity {m.similarity:.2f}{kind})")
        lines.append(f"    source: {m.source_text}")
        if m.diff and report.verdict != "not found":
            lines.append(f"    diff:   {render_diff(m.diff)}")
        if report.verdict == "not found":
            lines.append("    (closest text only: too different to be this quotation)")
    return "\n".join(lines)
