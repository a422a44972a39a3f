"""OCR for PDF pages with no usable text layer: rendered with pypdfium2, read by the `tesseract` binary.

The binary is called directly (PNG on stdin, TSV on stdout) rather than through pytesseract or
OCRmyPDF: pytesseract runs the same binary through temporary files, so it cannot be faster
(bench/bench_ocr.py; its run there was slower, at a higher load), and OCRmyPDF writes a new PDF we
do not need. Calling it ourselves adds no dependency and lets a page be stopped at the worker's
deadline. One tesseract thread per page, pages side by side: two OpenMP threads on one page were
~20x slower on busy shared cores (BENCHMARKS.md).

This runs inside the per-source worker (source_worker), so its time and memory caps hold: the
tesseract processes are its children and inherit its memory limit, and OCR stops itself before the
worker's time cap. Each rendered page image is hashed; the OCR of that image (text, mean
confidence, word boxes) is cached as JSON by the hash, the language and the Tesseract version, in a
folder outside the index generations, so a rebuild OCRs no page twice. Cache files are read as
untrusted data: size-capped JSON, checked field by field, never pickle.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import subprocess
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from corpus_search import config
from corpus_search.extraction import sha256_file
from corpus_search.models import Page, Passage
from corpus_search.offsets import page_starts

DPI = 200
CACHE_FORMAT = 2  # 2: page furniture at the page's edges (_furniture_outside)
_CACHE_MAX_BYTES = 16 << 20  # a dense page's TSV is ~100 KB as JSON; anything near this is not ours
_SCANNED_IMAGE_SHARE = 0.5  # an image covering this much of a textless page makes it a scanned page
_DEADLINE_MARGIN = 5.0  # seconds left to the worker, after OCR, to clean, split and answer


class OcrUnavailable(Exception):
    """Tesseract or a language pack is missing; the message is one line saying what to install."""


@dataclass(frozen=True)
class Word:
    """One OCR'd word: its text, box (x0, top, x1, bottom in PDF points from the page's top-left), confidence 0-100."""

    text: str
    bbox: tuple[float, float, float, float]
    confidence: float


@dataclass(frozen=True)
class PageText:
    """What OCR read on one page."""

    text: str
    confidence: float | None  # mean word confidence (0-100); None when no word was read
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Options:
    """How to OCR: taken from the settings by `options()`; the worker adds its deadline."""

    language: str = "eng"
    cache: Path | None = None
    deadline: float | None = None  # time.monotonic() by which OCR must have stopped
    max_pages: int = 300
    max_pixels: int = 100_000_000
    jobs: int = 2
    progress: Callable[[int, int], None] | None = None  # (pages done, pages to do)


@dataclass
class Outcome:
    """The OCR of a document's pages, by 0-based page index, and what went wrong."""

    pages: dict[int, PageText] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (1-based page, why)
    stopped: str = ""  # why OCR did not run or did not finish ("" when it did)
    tesseract_runs: int = 0  # pages actually OCR'd (not from the cache)
    keys: dict[int, str] = field(default_factory=dict)  # page index -> its cache key


def options(cache: Path | None, deadline: float | None = None,
            progress: Callable[[int, int], None] | None = None) -> Options:
    return Options(
        language=config.get("ocr_language").strip() or "eng",
        cache=cache,
        deadline=deadline,
        max_pages=config.get_int("ocr_max_pages"),
        max_pixels=config.get_int("ocr_max_pixels"),
        jobs=max(1, config.get_int("ocr_jobs")),
        progress=progress,
    )


_active: Options | None = None


def activate(opts: Options | None) -> None:
    """Turn OCR on (or off, with None) for this process: the source worker does, for the file it reads."""
    global _active
    _active = opts


def active() -> Options | None:
    """The OCR options the source worker turned on, or None (OCR off, or not in a worker)."""
    return _active


def cache_dir(index: Path) -> Path:
    """The OCR cache folder of an index folder (setting CORPUS_SEARCH_OCR_CACHE)."""
    setting = config.get("ocr_cache")
    return Path(index) / "ocr-cache" if setting == "auto" else Path(setting).expanduser()


# ---------------------------------------------------------------- Tesseract itself


def tesseract_version() -> str:
    """"5.3.0", or OcrUnavailable when the binary is missing."""
    try:
        out = subprocess.run(["tesseract", "--version"], capture_output=True, timeout=30)
    except FileNotFoundError:
        raise OcrUnavailable(
            "tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng, or `make tesseract`)"
        ) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OcrUnavailable(f"tesseract could not be run: {exc}") from None
    first = (out.stdout or out.stderr).decode("utf-8", "replace").strip().splitlines()
    return first[0].split()[-1] if first and first[0].startswith("tesseract") else "unknown"


def check_language(language: str) -> None:
    """OcrUnavailable naming the Debian package when a language pack is missing."""
    try:
        out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OcrUnavailable(f"tesseract could not be run: {exc}") from None
    installed = set(out.stdout.decode("utf-8", "replace").split()[1:])  # after the "List of ..." header words
    for lang in language.split("+"):
        if lang not in installed:
            raise OcrUnavailable(
                f"Tesseract has no {lang!r} language pack (CORPUS_SEARCH_OCR_LANGUAGE={language}); "
                f"install tesseract-ocr-{lang.lower().replace('_', '-')}"
            )


def _tesseract(png: bytes, language: str, timeout: float) -> str:
    """TSV of one page image; one tesseract thread, so pages run side by side instead (bench_ocr.py)."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    run = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", language, "--dpi", str(DPI), "tsv"],
        input=png, capture_output=True, timeout=max(timeout, 0.1), env=env,
    )
    if run.returncode != 0:
        lines = [ln for ln in run.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        raise RuntimeError(f"tesseract failed: {lines[-1].strip()[:200] if lines else f'exit {run.returncode}'}")
    return run.stdout.decode("utf-8", "replace")


def parse_tsv(tsv: str) -> PageText:
    """Page text (lines in reading order, a blank line between Tesseract's paragraphs) with word boxes."""
    scale = 72.0 / DPI
    words: list[Word] = []
    lines: list[str] = []
    current: list[str] = []
    line_key = par_key = None
    rows = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        try:
            conf = float(cols[10])
            left, top, width, height = (int(c) for c in cols[6:10])
        except ValueError:
            continue
        if text and conf >= 0:
            rows.append((cols, text, conf, left, top, width, height))
    for cols, text, conf, left, top, width, height in _furniture_outside(rows):
        key = (cols[2], cols[3], cols[4])
        if key != line_key:
            if current:
                lines.append(" ".join(current))
            if par_key is not None and key[:2] != par_key and lines:
                lines.append("")
            current, line_key, par_key = [], key, key[:2]
        current.append(text)
        words.append(Word(text, (round(left * scale, 2), round(top * scale, 2), round((left + width) * scale, 2),
                                 round((top + height) * scale, 2)), round(conf, 2)))
    if current:
        lines.append(" ".join(current))
    mean = round(sum(w.confidence for w in words) / len(words), 2) if words else None
    return PageText("\n".join(lines) + ("\n" if lines else ""), mean, tuple(words))


_BODY_LINES = 3  # a block of this many lines is body text; page furniture is a line or two


def _furniture_outside(rows: list[tuple]) -> list[tuple]:
    """Word rows in Tesseract's block order, but with the page's furniture at its edges: a block of one or two
    lines lying wholly above the first line of the body (every block of three lines or more) comes first, one
    lying wholly below its last line comes last, each group in Tesseract's order.

    Tesseract reads a two-column page column by column, and sets a running head or a date line printed over
    the second column ("Updated April 22, 2026") between the columns: in the middle of the sentence the first
    column ends and the second goes on with. At the page's top or foot, the cleaner takes it for what it is."""
    blocks: dict[str, list[tuple]] = {}
    for row in rows:
        blocks.setdefault(row[0][2], []).append(row)
    if len(blocks) < 2:
        return rows
    lines = {b: len({(r[0][3], r[0][4]) for r in rs}) for b, rs in blocks.items()}
    top = {b: min(r[4] for r in rs) for b, rs in blocks.items()}
    bottom = {b: max(r[4] + r[6] for r in rs) for b, rs in blocks.items()}
    body = [b for b in blocks if lines[b] >= _BODY_LINES]
    if not body:
        return rows
    first, last = min(top[b] for b in body), max(bottom[b] for b in body)
    head = [b for b in blocks if lines[b] < _BODY_LINES and bottom[b] < first]
    foot = [b for b in blocks if lines[b] < _BODY_LINES and top[b] > last]
    middle = [b for b in blocks if b not in head and b not in foot]
    return [row for b in head + middle + foot for row in blocks[b]]


# ---------------------------------------------------------------- the cache


def _cache_file(cache: Path, key: str) -> Path:
    return cache / "pages" / key[:2] / f"{key}.json"


def _atomic_write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False)
        os.replace(tmp, path)  # readers see the old file or the whole new one, never half
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict[str, Any] | None:
    """A cache file's object, or None when it is missing, too big or not what we write."""
    try:
        if path.stat().st_size > _CACHE_MAX_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and data.get("format") == CACHE_FORMAT else None


def _to_cache(page: PageText) -> dict[str, Any]:
    return {"format": CACHE_FORMAT, "text": page.text, "confidence": page.confidence,
            "words": [[w.text, *w.bbox, w.confidence] for w in page.words]}


def _from_cache(data: dict[str, Any]) -> PageText | None:
    text, conf, raw_words = data.get("text"), data.get("confidence"), data.get("words")
    if not isinstance(text, str) or not isinstance(raw_words, list):
        return None
    if conf is not None and not (isinstance(conf, (int, float)) and math.isfinite(conf)):
        return None
    words = []
    for item in raw_words:
        if (not isinstance(item, list) or len(item) != 6 or not isinstance(item[0], str)
                or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in item[1:])):
            return None
        words.append(Word(item[0], (float(item[1]), float(item[2]), float(item[3]), float(item[4])), float(item[5])))
    return PageText(text, float(conf) if conf is not None else None, tuple(words))


def page_words(cache: Path, file_sha256: str, pdf_page: int) -> list[Word] | None:
    """The OCR word boxes of a PDF's page (0-based), for marking a hit on the page image; None if not OCR'd.

    `cache` is `cache_dir(index)`; `file_sha256` is the source's `Document.sha256`.
    """
    if not all(c in "0123456789abcdef" for c in file_sha256) or len(file_sha256) != 64:
        return None
    manifest = _read_json(cache / "docs" / f"{file_sha256}.json")
    key = (manifest or {}).get("pages", {}).get(str(pdf_page)) if isinstance((manifest or {}).get("pages"), dict) else None
    if not isinstance(key, str) or len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
        return None
    data = _read_json(_cache_file(cache, key))
    page = _from_cache(data) if data else None
    return list(page.words) if page else None


def forget(cache: Path, file_sha256: str) -> int:
    """Delete what the cache holds of one source file (its pages' text and boxes); the number of files deleted.

    A purge calls this: the OCR'd text of a purged scan must not outlive it in the cache.
    """
    if len(file_sha256) != 64 or not all(c in "0123456789abcdef" for c in file_sha256):
        return 0
    manifest_file = cache / "docs" / f"{file_sha256}.json"
    manifest = _read_json(manifest_file) or {}
    pages = manifest.get("pages") if isinstance(manifest.get("pages"), dict) else {}
    deleted = 0
    for key in pages.values():
        if isinstance(key, str) and len(key) == 64 and all(c in "0123456789abcdef" for c in key):
            target = _cache_file(cache, key)
            if target.is_file():
                target.unlink()
                deleted += 1
    if manifest_file.is_file():
        manifest_file.unlink()
        deleted += 1
    return deleted


# ---------------------------------------------------------------- reading a PDF's pages


def read_pages(path: Path, indexes: Sequence[int], password: str | None, opts: Options,
               scanned_only: bool = False) -> Outcome:
    """OCR the given 0-based pages of a PDF; never raises for a bad page (it lands in `skipped`).

    `scanned_only`: OCR only those of the pages that carry an image covering most of the page (the
    textless pages of an otherwise born-digital PDF are mostly blank or vector figures).
    """
    outcome = Outcome()
    if not indexes:
        return outcome
    if len(indexes) > opts.max_pages and not scanned_only:
        outcome.stopped = (f"{len(indexes)} pages need OCR, over the cap of {opts.max_pages}; "
                           "raise CORPUS_SEARCH_OCR_MAX_PAGES (and CORPUS_SEARCH_PDF_TIMEOUT) to read them")
        return outcome
    try:
        version = tesseract_version()
        check_language(opts.language)
    except OcrUnavailable as exc:
        outcome.stopped = f"OCR unavailable: {exc}"
        return outcome
    import pypdfium2 as pdfium  # a native library: loaded only when a page is OCR'd, not by every build

    try:
        pdf = pdfium.PdfDocument(str(path), password=password)
    except Exception as exc:  # noqa: BLE001 - pypdf read it, pdfium cannot: a status, not a crash
        outcome.stopped = f"OCR could not open the PDF: {type(exc).__name__}: {str(exc)[:150]}"
        return outcome
    try:
        _read(pdf, list(indexes), opts, version, outcome, scanned_only)
    finally:
        pdf.close()
    if opts.cache is not None and outcome.pages:
        _write_manifest(path, opts, outcome)
    return outcome


def _read(pdf: Any, indexes: list[int], opts: Options, version: str, outcome: Outcome, scanned_only: bool) -> None:
    memo: dict[str, PageText] = {}  # the same image twice in one file (blank pages) is read once
    pending: list[tuple[int, str, Future]] = []
    keys = outcome.keys
    total = len(indexes)
    done = 0

    def report() -> None:
        if opts.progress is not None:
            opts.progress(done, total)

    def finish(index: int, key: str, future: Future) -> None:
        nonlocal done
        try:
            page = parse_tsv(future.result())
        except subprocess.TimeoutExpired:
            outcome.stopped = outcome.stopped or _time_message()
            return
        except Exception as exc:  # noqa: BLE001 - one bad page must not cost the others
            outcome.skipped.append((index + 1, str(exc)[:200]))
            return
        outcome.tesseract_runs += 1
        memo[key] = page
        outcome.pages[index] = page
        keys[index] = key
        if opts.cache is not None:
            try:
                _atomic_write(_cache_file(opts.cache, key), _to_cache(page))
            except OSError:
                pass  # a read-only cache costs speed on the next build, not this one
        done += 1
        report()

    with ThreadPoolExecutor(max_workers=opts.jobs) as pool:
        for index in indexes:
            if outcome.stopped or (opts.deadline is not None and time.monotonic() > opts.deadline):
                outcome.stopped = outcome.stopped or _time_message()
                break
            try:
                rendered = _render(pdf, index, opts, scanned_only)
            except MemoryError:
                raise  # the worker's memory cap: the whole source fails with that message
            except Exception as exc:  # noqa: BLE001
                rendered = f"could not be rendered: {type(exc).__name__}: {str(exc)[:100]}"
            if rendered is None:
                total -= 1
                continue
            if isinstance(rendered, str):
                outcome.skipped.append((index + 1, rendered))
                total -= 1
                continue
            key = _key(rendered, opts.language, version)
            hit = memo.get(key) or _cached(opts.cache, key)
            if hit is not None:
                memo[key] = hit
                outcome.pages[index] = hit
                keys[index] = key
                done += 1
                report()
                continue
            png = _png(rendered)
            del rendered
            timeout = (opts.deadline - time.monotonic()) if opts.deadline is not None else 600.0
            pending.append((index, key, pool.submit(_tesseract, png, opts.language, timeout)))
            while len(pending) >= opts.jobs * 2:  # keep a few images waiting, not the whole scan
                finish(*pending.pop(0))
        for item in pending:
            finish(*item)


def _time_message() -> str:
    return ("stopped OCR at the time cap; raise CORPUS_SEARCH_PDF_TIMEOUT to read the rest "
            "(pages read so far are cached: `corpus-search build --retry DOC_ID` goes on from there)")


def _render(pdf: Any, index: int, opts: Options, scanned_only: bool) -> Any:
    """The page as a grey PIL image at DPI; a string saying why not; None when it is not a scanned page."""
    import pypdfium2.raw as pdfium_c  # loaded with pypdfium2 above, only when a page is OCR'd

    page = pdf[index]
    try:
        width, height = page.get_size()
        px_w, px_h = math.ceil(width * DPI / 72), math.ceil(height * DPI / 72)
        if px_w * px_h > opts.max_pixels:
            return (f"{px_w} x {px_h} px at {DPI} dpi, over the CORPUS_SEARCH_OCR_MAX_PIXELS cap "
                    f"({opts.max_pixels}); not OCR'd")
        covered = 0.0
        # Image sizes come from the page's dictionaries, so a huge image is refused before any decoding.
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
            img_w, img_h = obj.get_px_size()
            if img_w * img_h > opts.max_pixels:
                return (f"holds a {img_w} x {img_h} px image, over the CORPUS_SEARCH_OCR_MAX_PIXELS "
                        f"cap ({opts.max_pixels}); not OCR'd")
            left, bottom, right, top = obj.get_bounds()
            covered = max(covered, (right - left) * (top - bottom) / max(width * height, 1.0))
        if scanned_only and covered < _SCANNED_IMAGE_SHARE:
            return None
        return page.render(scale=DPI / 72, grayscale=True).to_pil()
    finally:
        page.close()


def _key(image: Any, language: str, version: str) -> str:
    digest = hashlib.sha256(f"{CACHE_FORMAT}|{language}|{version}|{image.width}x{image.height}|{image.mode}|".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)  # the fastest level: tesseract decodes it at once anyway
    return buf.getvalue()


def _cached(cache: Path | None, key: str) -> PageText | None:
    if cache is None:
        return None
    data = _read_json(_cache_file(cache, key))
    return _from_cache(data) if data else None


def _write_manifest(path: Path, opts: Options, outcome: Outcome) -> None:
    keys = outcome.keys
    try:
        _atomic_write(opts.cache / "docs" / f"{sha256_file(path)}.json",
                      {"format": CACHE_FORMAT, "language": opts.language,
                       "pages": {str(i): k for i, k in sorted(keys.items())}})
    except OSError:
        pass


# ---------------------------------------------------------------- passages


def mark_passages(passages: Sequence[Passage], pages: Sequence[Page]) -> list[Passage]:
    """Passages that start or end on an OCR'd page say so, with the mean confidence of those pages."""
    if not any(p.ocr_confidence is not None for p in pages):
        return list(passages)
    starts = page_starts(pages)
    ocr_pages = [p for p in pages if p.ocr_confidence is not None]
    fallback = sum(p.ocr_confidence for p in ocr_pages) / len(ocr_pages)
    out = []
    for passage in passages:
        if passage.raw_map:
            first = bisect_right(starts, passage.raw_map[0][1]) - 1
            last = bisect_right(starts, passage.raw_map[-1][1]) - 1
            confs = [pages[i].ocr_confidence for i in range(max(first, 0), last + 1)
                     if pages[i].ocr_confidence is not None]
            if confs:
                out.append(replace(passage, ocr=True, ocr_confidence=round(sum(confs) / len(confs), 1)))
            else:
                out.append(passage)
        else:  # not aligned to the raw text: say OCR with the document's mean, rather than claim a text layer
            out.append(replace(passage, ocr=True, ocr_confidence=round(fallback, 1)))
    return out
