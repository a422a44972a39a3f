"""Read one source file into pages, by the extractor its suffix names (extractors/): text files by their
page convention and PDFs in an isolated worker live here; other formats in their own modules.

`extract` never raises for a bad file; it returns a status (models.STATUS_*) and one line for the user.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus_search import config, workers
from corpus_search.errors import UsageError
from corpus_search.models import (
    STATUS_EMPTY,
    STATUS_FAILED,
    STATUS_LOW_QUALITY,
    STATUS_NO_TEXT,
    STATUS_OK,
    STATUS_OK_OCR,
    STATUS_OK_SKIPPED,
    STATUS_PASSWORD,
    STATUS_SKIPPED,
    Page,
    Record,
)

_WORKER = Path(__file__).with_name("pdf_worker.py")

# Longest BOM first: the UTF-32 LE BOM begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Files that are plainly not text, whatever their name says.
_MAGIC = (
    (b"%PDF-", "a PDF; rename it .pdf"),
    (b"PK\x03\x04", "a zip archive (docx/epub?)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"\x7fELF", "a program"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")

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


@dataclass(frozen=True)
class Extraction:
    """What a source file gave: its pages and how the reading went."""

    pages: list[Page]
    status: str  # one of models.STATUS_*
    message: str  # one line for the user; empty when all went well (text: notes a fallback encoding)
    skipped_pages: tuple[int, ...] = ()  # 1-based physical pages left out
    encoding: str | None = None  # text files: the encoding used to decode
    # Record fields the file itself states (an HTML <title>, an e-mail's From and Date): they fill
    # what the .toml record leaves empty (records.with_found).
    found: dict[str, Any] = field(default_factory=dict)
    # Files inside this one that are documents of their own: an e-mail's attachments, an mbox's messages.
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Attachment:
    """A document inside another one, read by the extractor of its own format."""

    key: str  # its place in the parent, unique there ("att2", "msg14"); part of its doc id
    name: str  # what the parent calls it ("report.pdf", "message 14: Re: budget")
    extraction: Extraction


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks so big PDFs do not sit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract(path: Path, record: Record, isolated: bool = False) -> Extraction:
    """Pages of a source file, or a status saying why there are none (never raises for a bad file).

    `isolated`: this process already runs under the caps (source_worker), so a PDF is read here
    instead of in a PDF worker of its own; PDF pages with no usable text layer are then OCR'd when
    the worker turned OCR on (ocr.activate).
    """
    path = Path(path)
    limit_mb = config.get_int("max_source_mb")  # a bad setting is a usage error and may raise
    try:
        size = path.stat().st_size
    except OSError as exc:
        return _failed(f"cannot read the file: {exc.strerror or exc}")
    if not path.is_file():
        return _failed("not a regular file")
    if size > limit_mb * 1024 * 1024:
        return _failed(
            f"file is {size / 1048576:.1f} MiB, over the {limit_mb} MiB limit; "
            "raise CORPUS_SEARCH_MAX_SOURCE_MB to include it"
        )
    from corpus_search import extractors

    suffix = path.suffix.lower()
    extractor = extractors.for_suffix(suffix)
    if extractor is None:
        return _failed(extractors.unsupported_message(suffix), STATUS_SKIPPED)
    try:
        return extractor(path, record, isolated)
    except UsageError:
        raise  # a bad CORPUS_SEARCH_* setting is the user's to fix, not this file's status
    except extractors.Unreadable as exc:  # the extractor's own one-line reason
        return _failed(str(exc))
    except MemoryError:
        raise  # the worker reports it against its memory cap
    except RecursionError:
        return _failed("could not be read: nested too deeply")
    except Exception as exc:  # noqa: BLE001 - the promise is a status, never a traceback
        return _failed(f"could not be read: {type(exc).__name__}: {str(exc)[:200]}")


def _failed(message: str, status: str = STATUS_FAILED) -> Extraction:
    return Extraction(pages=[], status=status, message=message)


# ---------------------------------------------------------------- text files


def _extract_text(path: Path, record: Record) -> Extraction:
    raw = path.read_bytes()
    if not raw:
        return _failed("the file is empty (0 bytes)", STATUS_EMPTY)
    decoded = _decode(raw)
    if isinstance(decoded, Extraction):
        return decoded
    text, encoding, note = decoded
    text = text.replace("\x00", "")
    if not text.strip():
        return Extraction(pages=[], status=STATUS_EMPTY, message="the file holds only whitespace", encoding=encoding)
    texts, paged = _split_pages(text, record.page_starts)
    pages = [
        Page(index=i, text=t, label=str(i + 1 + (record.page_offset or 0)) if paged else None) for i, t in enumerate(texts)
    ]
    return Extraction(pages=pages, status=STATUS_OK, message=note, encoding=encoding)


def _decode(raw: bytes) -> tuple[str, str, str] | Extraction:
    """(text, encoding, note) or a failed Extraction for files that are not text."""
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(codec)
                note = ""
            except UnicodeDecodeError:
                text = raw.decode(codec, errors="replace")
                note = f"has a {codec} byte-order mark but broken bytes; replaced them with U+FFFD"
            name = codec if codec == "utf-8-sig" else codec + _bom_order(bom)
            return _check_text(text, name, note)
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            return _failed(f"not a text file: it looks like {what}")
    head = raw[:65536]
    # UTF-16 without a BOM and most binaries are full of NULs; a stray NUL in a text export is not.
    if head.count(0) > len(head) // 10:
        return _failed("not a text file: it holds many NUL bytes (if it is UTF-16, save it with a byte-order mark)")
    try:
        return _check_text(raw.decode("utf-8"), "utf-8", "")
    except UnicodeDecodeError:
        pass
    try:
        text, encoding = raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "latin-1"
    return _check_text(text, encoding, f"not valid UTF-8; decoded as {encoding}")


def _bom_order(bom: bytes) -> str:
    return "-le" if bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE) else "-be"


def _check_text(text: str, encoding: str, note: str) -> tuple[str, str, str] | Extraction:
    # Binary junk decodes "successfully" as cp1252/latin-1; control characters give it away.
    sample = text[:200_000]
    controls = sum(
        1 for c in sample if (c < " " and c not in _ALLOWED_CONTROLS) or "\x7f" <= c <= "\x9f" or c == "\ufffd"
    )
    if sample and controls > len(sample) * 0.05:
        return _failed(f"not a text file: {controls / len(sample):.0%} of it is control characters or undecodable")
    return text, encoding, note


def _split_pages(text: str, convention: str | None) -> tuple[list[str], bool]:
    """The page texts, and whether the source marks pages at all (so labels mean something)."""
    if convention == "leading-space":
        return _split_leading_space(text), True
    if convention == "formfeed" or (convention is None and "\f" in text):
        parts = text.split("\f")
        # A form feed after the last page is a terminator, not the start of an empty page.
        if len(parts) > 1 and not parts[-1].strip():
            parts.pop()
        return parts, True
    return [text], False


def _split_leading_space(text: str) -> list[str]:
    """Every line that begins with exactly one space (even a line that is just " ") starts a page.

    The marker space stays in the text, so the pages joined give back the source.
    """
    pages: list[str] = []
    current: list[str] = []
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        if line.startswith(" ") and not line.startswith("  "):
            pages.append("".join(current))
            current = []
        current.append(line)
    pages.append("".join(current))
    if len(pages) > 1 and not pages[0].strip():
        pages.pop(0)  # nothing before the first marker
    if len(pages) > 1 and not pages[-1].strip():
        pages.pop()  # a lone marker at the very end opens no real page
    return pages


# ---------------------------------------------------------------- PDFs


def _extract_pdf(path: Path, record: Record, isolated: bool = False, ocr_options: Any = None) -> Extraction:
    if isolated:
        from corpus_search import pdf_worker

        result: dict[str, Any] | Extraction = pdf_worker.extract(str(path), record.password)
    else:
        result = _run_worker(path, record.password)
    if isinstance(result, Extraction):
        return result
    if not result.get("ok"):
        return _worker_failure(path, result, record)
    raw_pages: list[dict[str, Any]] = result["pages"]
    if not raw_pages:
        return _failed("the PDF has no pages", STATUS_EMPTY)
    labels: list[str | None] | None = result.get("labels")
    # OCR first, so a scan's printed page numbers are read from its OCR'd text too.
    ocr_note = _ocr_pages(path, raw_pages, record, ocr_options) if ocr_options is not None else ""
    if labels is None and record.page_offset is None:
        # No /PageLabels and no offset in the record (0 included): read the numbers the pages print.
        from corpus_search.printed_pages import detect

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
    return Extraction(pages=pages, status=status, message=message, skipped_pages=skipped)


def _ocr_pages(path: Path, raw_pages: list[dict[str, Any]], record: Record, options: Any) -> str:
    """OCR the pages with no usable text layer into `raw_pages` (in place); one line on what OCR did.

    A PDF with no text at all, or text that reads as garbage, is OCR'd page by page; in a PDF that
    has text, only textless pages that are mostly one image (a scanned insert) are.
    """
    from corpus_search import ocr

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
        return _failed(f"could not start the PDF worker: {run.start_error}")
    if run.timed_out:
        return _failed(f"took longer than {timeout:g} s; stopped (raise CORPUS_SEARCH_PDF_TIMEOUT to allow more)")
    if run.result is not None and run.returncode == 0:
        return run.result
    if run.out_of_memory:
        return _failed(_memory_message(memory_mb))
    if run.returncode and run.returncode < 0:
        return _failed(f"the PDF reader crashed (signal {-run.returncode})")
    return _failed(f"the PDF reader crashed: {run.last_error or 'no output'}")


def _memory_message(memory_mb: int) -> str:
    return f"ran out of memory (limit {memory_mb} MiB); raise CORPUS_SEARCH_PDF_MEMORY_MB to allow more"


def _worker_failure(path: Path, result: dict[str, Any], record: Record) -> Extraction:
    kind, detail = result.get("kind"), str(result.get("message", ""))
    record_file = path.with_suffix(".toml").name
    if kind == "password":
        return _failed(f'encrypted: needs a password; add password = "..." to {record_file}', STATUS_PASSWORD)
    if kind == "wrong-password":
        return _failed(f"encrypted: the password in {record_file} is wrong", STATUS_PASSWORD)
    if kind == "dependency":
        return _failed(f"cannot decrypt it: {detail} (install the 'cryptography' package)")
    if kind == "memory":
        return _failed(_memory_message(config.get_int("pdf_memory_mb")))
    return _failed(f"not a readable PDF ({detail})")


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
