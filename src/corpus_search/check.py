"""Check a manuscript: find its quotations and verify each one against the corpus."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from corpus_search import config, workers
from corpus_search.errors import DraftError, QueryError
from corpus_search.models import Verdict
from corpus_search.quote import QuoteReport, Semantic, max_quote_chars, quote_length, render_report, verify
from corpus_search.store import Store

DRAFT_SUFFIXES = (".txt", ".md", ".markdown", ".docx")

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_BLOCK = re.compile(r"(?:^[ \t]{0,3}>[^\n]*(?:\n|$))+", re.MULTILINE)
# A quotation stays inside one paragraph: no blank line between its marks.
_DOUBLE = re.compile(r"\u201c((?:(?!\n\s*\n)[^\u201c\u201d])+)\u201d|\"((?:(?!\n\s*\n)[^\"])+)\"")
# A single curly quotation opens after a space or bracket and closes before a space or
# punctuation; an apostrophe (its twin, U+2019) sits between letters and is neither.
# An opening mark ends the search for the previous one's close: without that bound, every mark in a
# paragraph whose closing marks are all apostrophes scanned to its end (quadratic in its length).
_SINGLE = re.compile(r"(?:(?<=^)|(?<=[\s(\[\u2014\u2013-]))\u2018((?:(?!\n\s*\n)[^\u2018])+?)\u2019(?![A-Za-z\u00c0-\u024f])",
                     re.DOTALL | re.MULTILINE)
_WORKER = Path(__file__).with_name("draft_worker.py")


def extract_quotations(draft_text: str, min_words: int = 4) -> list[str]:
    """The quotations in a draft, in order of appearance, each once.

    Double quotation marks (straight or curly), single curly ones when they plainly open and
    close a quotation, and Markdown block quotes ("> ...").
    """
    text = _FENCE.sub(lambda m: " " * len(m.group()), draft_text)
    found: list[tuple[int, str]] = []
    for block in _BLOCK.finditer(text):
        lines = [re.sub(r"^[ \t]{0,3}>[ \t]?", "", line) for line in block.group().splitlines()]
        found.append((block.start(), " ".join(" ".join(lines).split())))
    # Inline quotations inside a block quote belong to it; blank the blocks out.
    text = _BLOCK.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)
    taken: list[tuple[int, int]] = []
    for m in _DOUBLE.finditer(text):
        found.append((m.start(), m.group(1) or m.group(2)))
        taken.append(m.span())
    for m in _SINGLE.finditer(text):
        if any(a <= m.start() < b for a, b in taken):
            continue  # a quotation within a quotation: the outer one is checked
        found.append((m.start(), m.group(1)))
    out: list[str] = []
    seen: set[str] = set()  # a list's `in` made a draft of many quotations quadratic
    for _, quote in sorted(found):
        quote = " ".join(quote.split()).strip()
        if len(re.findall(r"\w+", quote)) >= min_words and quote not in seen:
            seen.add(quote)
            out.append(quote)
    return out


def check_draft(store: Store, draft_text: str, semantic: Semantic | None = None) -> list[QuoteReport]:
    """A verification report for every quotation in the draft, in order.

    A quotation over the length cap (often a stray quotation mark pairing with one far away) is
    reported as too long, unchecked, rather than failing the whole manuscript.
    """
    quotes = extract_quotations(draft_text)
    most = config.get_int("max_draft_quotes")
    if len(quotes) > most:
        # Each one is a corpus-wide search: a draft of a hundred thousand would run for hours.
        raise QueryError(f"the draft holds {len(quotes):,} quotations; the most `check` verifies is {most:,} "
                         "(split it, or set CORPUS_SEARCH_MAX_DRAFT_QUOTES)")
    cap = max_quote_chars()
    # Long quotations cost seconds each: a whole draft gets a time budget, and what is left when it
    # runs out is reported unchecked rather than holding a terminal or the app for hours.
    deadline = time.monotonic() + config.get_float("check_timeout")
    reports = []
    for quote in quotes:
        if quote_length(quote) > cap:
            reports.append(QuoteReport(quote, False, (), Verdict.TOO_LONG))
        elif time.monotonic() >= deadline:
            reports.append(QuoteReport(quote, False, (), Verdict.OUT_OF_TIME))
        else:
            reports.append(verify(store, quote, semantic))
    return reports


def read_draft(path: Path) -> str:
    """The text of a .txt, .md or .docx draft, read in a worker process under size, time and memory caps.

    A draft comes from outside (a colleague, a download): a .docx is a zip whose document.xml may
    unzip to a hundred times its size, and parsing it whole took 13 bytes of memory per byte of XML
    (a 2.6 MB Word file peaked over 1 GB). The worker streams it; the caps stop what is left.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DRAFT_SUFFIXES:
        raise DraftError(f"{path.name}: drafts must be {', '.join(DRAFT_SUFFIXES)}; save it as one of those")
    max_mb = config.get_int("max_draft_mb")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DraftError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size > max_mb * 1024 * 1024:
        raise DraftError(f"{path.name} is {size / 1024 / 1024:.1f} MiB; the largest draft `check` reads is "
                          f"{max_mb} MiB (set CORPUS_SEARCH_MAX_DRAFT_MB to allow more)")
    result = _run_draft_worker(path)
    if result.get("ok"):
        return str(result["text"])
    kind, detail = result.get("kind"), str(result.get("message", ""))
    if kind in ("too-large", "unzips-too-large"):
        setting = "MAX_DRAFT_UNZIPPED_MB" if kind == "unzips-too-large" else "MAX_DRAFT_MB"
        raise DraftError(f"{path.name}: {detail}, the most `check` reads (set CORPUS_SEARCH_{setting} to allow more)")
    if kind == "memory":
        raise DraftError(_memory_message(path))
    if kind == "encoding":
        raise DraftError(f"{path.name} is not UTF-8 text; save it as UTF-8")
    raise DraftError(f"{path.name} is not a readable {suffix} file ({detail}); re-save it")


def _run_draft_worker(path: Path) -> dict[str, Any]:
    """The worker's JSON answer; a timeout, crash or memory kill becomes a DraftError."""
    timeout = config.get_float("draft_timeout")
    memory_mb = config.get_int("draft_memory_mb")
    max_text = config.get_int("max_draft_mb") * 1024 * 1024
    max_unzipped = config.get_int("max_draft_unzipped_mb") * 1024 * 1024
    # Run by path with -P, as the PDF worker is: it needs only the standard library.
    run = workers.run_json([sys.executable, "-P", str(_WORKER), str(path), str(max_text), str(max_unzipped),
                            str(max(memory_mb, 0))], None, timeout)
    if run.start_error:
        raise DraftError(f"could not start the draft reader: {run.start_error}")
    if run.timed_out:
        raise DraftError(f"{path.name}: reading it took longer than {timeout:g} s; stopped "
                          "(set CORPUS_SEARCH_DRAFT_TIMEOUT to allow more)")
    if run.result is not None and run.returncode == 0:
        return run.result
    if run.out_of_memory:
        raise DraftError(_memory_message(path))
    raise DraftError(f"{path.name}: the draft reader crashed ({run.last_error or f'exit {run.returncode}'})")


def _memory_message(path: Path) -> str:
    return (f"{path.name}: reading it needed more than {config.get_int('draft_memory_mb')} MiB of memory; stopped "
            "(set CORPUS_SEARCH_DRAFT_MEMORY_MB to allow more)")


def render_check(reports: list[QuoteReport]) -> str:
    """A manuscript report: one block per quotation, then the counts."""
    if not reports:
        return "No quotations of four or more words found in the draft."
    blocks = []
    for i, report in enumerate(reports, 1):
        shown = report.quote if report.verdict != Verdict.TOO_LONG else report.quote[:200] + "\u2026"
        blocks.append(f"{i}. \u201c{shown}\u201d\n" + render_report(report))
    verdicts = tuple(Verdict)
    counts = {v: sum(r.verdict == v for r in reports) for v in verdicts}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    noun = "quotation" if len(reports) == 1 else "quotations"
    return "\n\n".join(blocks) + f"\n\n{len(reports)} {noun}: {summary}"
