"""PDF: pypdf in pdf_worker.py (a capped child process, or this process when it is already the capped
source worker), the printed page numbers, OCR of pages without a usable text layer, and one status."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

from corpus_search import config, ocr, pdf_worker, workers
from corpus_search.extraction import Extraction, failed
from corpus_search.extractors.common import stated_metadata, with_printed_date
from corpus_search.models import (
    STATUS_EMPTY,
    STATUS_FAILED,
    STATUS_LOW_QUALITY,
    STATUS_NO_TEXT,
    STATUS_OK,
    STATUS_OK_OCR,
    STATUS_OK_SKIPPED,
    STATUS_PASSWORD,
    Page,
    Record,
)
from corpus_search.printed_pages import detect

_WORKER = Path(pdf_worker.__file__)

# A few very common words of the languages a corpus is likely to hold; real prose is full of them,
# glyph-id garbage from fonts without a Unicode map never is.
_COMMON_WORDS = frozenset(
    """the of and to in a is that for on with as by it be are was this from or at an not which
    der die das und ist zu den von mit des sich dem nicht ein eine auf für im als auch es wir
    le la les et des du un une est en que qui dans pour pas sur au par
    el los las y que en un una por con para es del al lo se
    il di che è per una non con del della gli
    de het een van en op dat niet zijn""".split()
)


def extract(path: Path, record: Record, isolated: bool = False) -> Extraction:
    # OCR only inside the capped source worker, which turns it on (ocr.activate) for its whole run.
    return _extract_pdf(path, record, isolated, ocr.active() if isolated else None)


def _extract_pdf(path: Path, record: Record, isolated: bool = False, ocr_options: Any = None) -> Extraction:
    if isolated:
        result: dict[str, Any] | Extraction = pdf_worker.extract(str(path), record.password)
    else:
        result = _run_worker(path, record.password)
    if isinstance(result, Extraction):
        return result
    if not result.get("ok"):
        return _worker_failure(path, result, record)
    raw_pages: list[dict[str, Any]] = result["pages"]
    if not raw_pages:
        return failed("the PDF has no pages", STATUS_EMPTY)
    labels: list[str | None] | None = result.get("labels")
    # OCR first, so a scan's printed page numbers are read from its OCR'd text too.
    ocr_note = _ocr_pages(path, raw_pages, record, ocr_options) if ocr_options is not None else ""
    if labels is None and record.page_offset is None:
        # No /PageLabels and no offset in the record (0 included): read the numbers the pages print.
        labels = detect([str(item.get("text") or "") for item in raw_pages])
    pages: list[Page] = []
    errors: list[tuple[int, str]] = []
    for index, item in enumerate(raw_pages):
        if "error" in item:
            errors.append((index + 1, str(item["error"])))
            continue
        label = labels[index] if labels else str(index + 1 + (record.page_offset or 0))
        pages.append(Page(index=index, text=_clean_pdf_text(item.get("text") or ""), label=label,
                          ocr_confidence=item.get("ocr_confidence")))
    skipped = tuple(n for n, _ in errors)
    status, message = _pdf_status(pages, errors)
    if ocr_note:
        if status == STATUS_OK and any(p.ocr_confidence is not None for p in pages):
            status = STATUS_OK_OCR
        # "run OCR on it first" is stale advice once OCR ran: say what it did instead.
        message = ocr_note if status == STATUS_NO_TEXT else "; ".join(filter(None, (message, ocr_note)))
    return Extraction(pages=pages, status=status, message=message, skipped_pages=skipped,
                      found=_found(result.get("info") or {}, raw_pages))


def _found(info: dict, raw_pages: list[dict]) -> dict:
    """What the file says about itself: its properties' title and authors, and the date its first page prints
    (read before cleaning, which may take a date repeated on every page for a running head)."""
    first = next((str(item.get("text") or "") for item in raw_pages[:2] if str(item.get("text") or "").strip()), "")
    return with_printed_date(stated_metadata(info), first)


# What a PDF's information dictionary holds when nobody filled it in: the name of the file it was made from, the
# word processor's placeholder, the account that typed it.


def _ocr_pages(path: Path, raw_pages: list[dict[str, Any]], record: Record, options: Any) -> str:
    """OCR the pages with no usable text layer into `raw_pages` (in place); one line on what OCR did.

    A PDF with no text at all, or text that reads as garbage, is OCR'd page by page; in a PDF that
    has text, only textless pages that are mostly one image (a scanned insert) are.
    """
    readable = [i for i, item in enumerate(raw_pages) if "error" not in item]
    text = "\n".join(raw_pages[i].get("text") or "" for i in readable)
    whole = not text.strip() or text_quality_problem(text) is not None
    todo = readable if whole else [i for i in readable if not (raw_pages[i].get("text") or "").strip()]
    if not todo:
        return ""
    outcome = ocr.read_pages(path, todo, record.password, options, scanned_only=not whole)
    notes = []
    if outcome.stopped:
        # Half a scan indexed as "ok" would hide the rest; the pages read so far wait in the cache.
        if outcome.pages:
            notes.append(f"{len(outcome.pages)} of {len(todo)} pages were read")
        notes.append(outcome.stopped)
        return "; ".join(notes[::-1])
    for index, page in outcome.pages.items():
        raw_pages[index] = {"text": page.text, "ocr_confidence": page.confidence if page.confidence is not None else 0.0}
    if outcome.pages and not any(p.text.strip() for p in outcome.pages.values()):
        notes.append(f"OCR ({options.language}) found no text on {len(outcome.pages)} page(s)")
    elif outcome.pages:
        confs = [p.confidence for p in outcome.pages.values() if p.confidence is not None]
        mean = f", mean confidence {sum(confs) / len(confs):.0f}%" if confs else ""
        notes.append(f"{len(outcome.pages)} of {len(raw_pages)} pages read by OCR ({options.language}{mean})")
    if outcome.skipped:
        first, why = outcome.skipped[0]
        more = f" and {len(outcome.skipped) - 1} more" if len(outcome.skipped) > 1 else ""
        notes.append(f"OCR skipped page {first}{more}: {why}")
    return "; ".join(notes)


def _pdf_status(pages: list[Page], errors: list[tuple[int, str]]) -> tuple[str, str]:
    """The worst thing that happened, in the order a user needs to hear it."""
    if not pages:
        return STATUS_FAILED, f"no page could be read ({_describe_errors(errors)})"
    skipped_note = f"{_describe_errors(errors)}; skipped" if errors else ""
    text = "\n".join(p.text for p in pages)
    if not text.strip():
        message = "no extractable text (scanned or vector text?); run OCR on it first"
        return STATUS_NO_TEXT, "; ".join(filter(None, (message, skipped_note)))
    problem = text_quality_problem(text)
    if problem:
        message = f"text looks garbled ({problem}; a font without a Unicode map?)"
        return STATUS_LOW_QUALITY, "; ".join(filter(None, (message, skipped_note)))
    if errors:
        return STATUS_OK_SKIPPED, skipped_note
    return STATUS_OK, ""


def _run_worker(path: Path, password: str | None) -> dict[str, Any] | Extraction:
    timeout = config.get_float("pdf_timeout")
    memory_mb = config.get_int("pdf_memory_mb")
    # -P: the worker's own folder (our modules) must not shadow stdlib or pypdf imports. The worker
    # limits its own memory first thing: a preexec_fn is unsafe when the caller has threads.
    # The password goes through stdin, not argv, so it never shows in a process listing.
    run = workers.run_json([sys.executable, "-P", str(_WORKER), str(path), str(max(memory_mb, 0))],
                           json.dumps({"password": password}).encode(), timeout)
    if run.start_error:
        return failed(f"could not start the PDF worker: {run.start_error}")
    if run.timed_out:
        return failed(f"took longer than {timeout:g} s; stopped (raise CORPUS_SEARCH_PDF_TIMEOUT to allow more)")
    if run.result is not None and run.returncode == 0:
        return run.result
    if run.out_of_memory:
        return failed(_memory_message(memory_mb))
    if run.returncode and run.returncode < 0:
        return failed(f"the PDF reader crashed (signal {-run.returncode})")
    return failed(f"the PDF reader crashed: {run.last_error or 'no output'}")


def _memory_message(memory_mb: int) -> str:
    return f"ran out of memory (limit {memory_mb} MiB); raise CORPUS_SEARCH_PDF_MEMORY_MB to allow more"


def _worker_failure(path: Path, result: dict[str, Any], record: Record) -> Extraction:
    kind, detail = result.get("kind"), str(result.get("message", ""))
    record_file = path.with_suffix(".toml").name
    if kind == "password":
        # The status says "needs a password"; the message says where it goes.
        return failed(f'encrypted; add password = "..." to its record, {record_file}', STATUS_PASSWORD)
    if kind == "wrong-password":
        return failed(f"encrypted: the password in {record_file} is wrong", STATUS_PASSWORD)
    if kind == "dependency":
        return failed(f"cannot decrypt it: {detail} (install the 'cryptography' package)")
    if kind == "memory":
        return failed(_memory_message(config.get_int("pdf_memory_mb")))
    return failed(f"not a readable PDF ({detail})")


def _describe_errors(errors: list[tuple[int, str]]) -> str:
    first_page, first_error = errors[0]
    reason = first_error.split(": ", 1)[-1].rstrip(".")
    if len(errors) == 1:
        return f"page {first_page} unreadable: {reason}"
    numbers = ", ".join(str(n) for n, _ in errors[:10]) + (", ..." if len(errors) > 10 else "")
    return f"{len(errors)} pages unreadable ({numbers}); page {first_page}: {reason}"


def _clean_pdf_text(text: str) -> str:
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from odd ToUnicode maps would break storage later
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def text_quality_problem(text: str) -> str | None:
    """Why extracted text looks like garbage (few letters, no common words), or None if it reads as text."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return None
    letters = sum(1 for c in chars if c.isalpha())
    ratio = letters / len(chars)
    if ratio < 0.5:
        return f"only {ratio:.0%} of its characters are letters"
    words = re.findall(r"[^\W\d_]+", text.lower())
    latin = [w for w in words if _is_latin(w)]
    # Only judge words in Latin script, and only with enough of them for the rate to mean something.
    if len(latin) >= 100 and len(latin) >= len(words) // 2:
        common = sum(1 for w in latin if w in _COMMON_WORDS) / len(latin)
        if common < 0.02:
            return f"only {common:.1%} of its words are common words"
    return None


def _is_latin(word: str) -> bool:
    return all(c < "\u0250" or unicodedata.name(c, "").startswith("LATIN") for c in word)
