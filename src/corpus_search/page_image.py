"""The original page of a PDF source as an image, and where a passage or quotation sits on it.

The page is rendered once by `page_worker` (pypdfium2, in a child process under a memory and a time
cap: a hostile PDF costs that process, not the app) and cached on disk under the index folder, outside
the generations a build replaces, keyed by the file's SHA-256, the page and the width. With the PNG the
worker saves every character of the page's text layer and its box, so marking another passage on the
same page needs no worker. A passage's text is cleaned (hyphens joined, footnote markers lifted,
running heads dropped), so it is found on the page by letters and digits only, with a fuzzy alignment.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from corpus_search import config, ocr, workers
from corpus_search.errors import SourceError, UsageError
from corpus_search.ingest import sha256_file
from corpus_search.models import Document, Passage

CACHE = "page-images"
_WORKER = Path(__file__).with_name("page_worker.py")
_SHA = re.compile(r"[0-9a-f]{64}")
MIN_SCORE = 80  # rapidfuzz alignment score (0-100) below which a text is not marked at all


@dataclass(frozen=True)
class Box:
    """A rectangle on the page, as fractions of its width and height from the top left."""

    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class PageImage:
    png: Path
    width: int  # pixels
    height: int
    chars: str  # the page's text layer, one char per box
    boxes: tuple[tuple[float, float, float, float], ...]


def page_image(index_root: Path, corpus_root: Path, doc: Document, pdf_page: int,
               password: str | None = None) -> PageImage:
    """The rendered page (1-based `pdf_page`) of a PDF source, from the cache or rendered now."""
    if not _SHA.fullmatch(doc.sha256 or ""):
        raise SourceError(f"document {doc.doc_id!r} has no valid file hash in the index; rebuild it")
    if not isinstance(pdf_page, int) or isinstance(pdf_page, bool) or not 1 <= pdf_page <= max(doc.pages, 1):
        raise UsageError(f"page {pdf_page!r} is not a page of {doc.doc_id} (1-{doc.pages})")
    width = min(max(config.get_int("page_image_width"), 200), 4000)
    folder = Path(index_root) / CACHE
    stem = folder / f"{doc.sha256}-p{pdf_page}-w{width}"
    png, meta = stem.with_suffix(".png"), stem.with_suffix(".json")
    if png.is_file() and meta.is_file():
        try:
            return _image(png, json.loads(meta.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            pass  # a damaged cache entry is rendered again
    source = _source_path(corpus_root, doc)
    if password is None:  # the index never holds a password: it is read from the source's .toml record
        password = _password_of(source, Path(corpus_root).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    # The worker writes a private file, moved into the cache only once the whole render succeeded: a
    # worker stopped at the time cap after saving the image (while reading the text boxes) leaves nothing.
    part = png.with_name(f"{png.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        result = _render(source, pdf_page - 1, width, str(part), password)
        try:
            part.replace(png)
        except OSError as exc:
            raise SourceError(f"the page renderer's image could not be stored: {exc.strerror or exc}") from None
    finally:
        for leftover in (part, *folder.glob(f"{part.name}.*.tmp")):
            leftover.unlink(missing_ok=True)
    data = {"width": result["width"], "height": result["height"], "chars": result["chars"], "boxes": result["boxes"],
            "page_size": result.get("page_size"), "rotation": result.get("rotation", 0)}
    data = with_ocr_words(data, ocr.page_words(ocr.cache_dir(index_root), doc.sha256, pdf_page - 1))
    tmp = meta.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(meta)
    return _image(png, data)


def _image(png: Path, data: dict) -> PageImage:
    chars, boxes = str(data["chars"]), tuple(tuple(float(v) for v in b) for b in data["boxes"])
    if len(chars) != len(boxes):
        raise ValueError("chars and boxes differ in length")
    return PageImage(png, int(data["width"]), int(data["height"]), chars, boxes)


def _source_path(corpus_root: Path, doc: Document) -> Path:
    """The source file, only if it lies inside the corpus folder, is a PDF and is the file that was indexed."""
    root = Path(corpus_root).resolve()
    path = (root / doc.path).resolve()
    if root not in path.parents or path.suffix.lower() != ".pdf":
        raise SourceError(f"document {doc.doc_id!r} is not a PDF inside the corpus folder")
    if not path.is_file():
        raise SourceError(f"{doc.path} is no longer in the corpus folder; rebuild the index")
    if sha256_file(path) != doc.sha256:
        raise SourceError(f"{doc.path} changed since the index was built; rebuild it to see its pages")
    return path


def _password_of(source: Path, corpus_root: Path) -> str | None:
    from corpus_search.records import load_record
    try:
        return load_record(source, corpus_root).password
    except SourceError:
        return None  # the page renderer then says the PDF needs a password


def _render(path: Path, index: int, width: int, out: str, password: str | None) -> dict:
    timeout = config.get_float("page_image_timeout")
    memory_mb = config.get_int("pdf_memory_mb")
    request = {"path": str(path), "page": index, "width": width, "out": out, "password": password,
               "max_pixels": config.get_int("page_image_max_pixels")}
    # -P: the worker's own folder must not shadow stdlib or pypdfium2 imports (as for pdf_worker).
    run = workers.run_json([sys.executable, "-P", str(_WORKER), str(max(memory_mb, 0))],
                           json.dumps(request).encode(), timeout)
    if run.start_error:
        raise SourceError(f"could not start the page renderer: {run.start_error}")
    if run.timed_out:
        raise SourceError(f"rendering the page took over {timeout:g} s; stopped (CORPUS_SEARCH_PAGE_IMAGE_TIMEOUT)")
    result = run.result
    if result is not None and result.get("ok"):
        return result
    if run.out_of_memory or (result or {}).get("kind") == "memory":
        raise SourceError(f"rendering the page ran out of memory (limit {memory_mb} MiB)")
    if result is not None:
        raise SourceError(f"cannot render the page: {str(result.get('message', ''))[:200]}")
    raise SourceError(f"the page renderer crashed: {run.last_error or 'no output'}")


# ---------------------------------------------------------------- marking a text on the page


def text_on_page(passage: Passage, pdf_page: int, start: int = 0, end: int | None = None) -> str:
    """The part of the passage's text (or of its span start:end) that lies on PDF page `pdf_page`."""
    end = len(passage.text) if end is None else end
    if passage.pdf_page is None:
        return ""
    cuts = [0] + [off for off, _ in passage.page_breaks] + [len(passage.text)]
    k = pdf_page - passage.pdf_page
    if not 0 <= k < len(cuts) - 1:
        return ""
    lo, hi = max(cuts[k], start), min(cuts[k + 1], end)
    return passage.text[lo:hi] if lo < hi else ""


def mark_boxes(image: PageImage, text: str) -> list[Box]:
    """Line-sized boxes covering `text` on the page (none when it cannot be found there)."""
    needle, _ = _skeleton(text)
    hay, where = _skeleton(image.chars)
    if len(needle) < 3 or not hay:
        return []
    if needle in hay:
        lo = hay.index(needle)
        hi = lo + len(needle)
    else:
        from rapidfuzz import fuzz

        if len(needle) > len(hay):
            return []
        found = fuzz.partial_ratio_alignment(needle, hay)
        if found is None or found.score < MIN_SCORE:
            return []
        lo, hi = _snap(needle, hay, found.dest_start, found.dest_end)
    return _line_boxes([image.boxes[where[i]] for i in range(lo, hi)])


def _snap(needle: str, hay: str, lo: int, hi: int, probe: int = 12, slack: int = 40) -> tuple[int, int]:
    """Move a fuzzy alignment's ends onto the exact first and last letters of the text when they are near:
    the alignment trims ends that differ only by a footnote number or a lifted marker in between."""
    head, tail = needle[:probe], needle[-probe:]
    start = hay.find(head, max(0, lo - slack), lo + slack + len(head))
    end = hay.rfind(tail, max(0, hi - slack - len(tail)), hi + slack)
    return (start if start >= 0 else lo), (end + len(tail) if end >= 0 else hi)


def with_ocr_words(data: dict, words: list | None) -> dict:
    """A page with no text layer gets the OCR's words as its characters, so `mark_boxes` finds a text on a scan.

    `words` are ocr.Word (boxes in PDF points from the page's top-left); each character takes its word's box.
    """
    size = data.get("page_size")
    if not words or str(data["chars"]).strip() or not size or data.get("rotation", 0):
        return data
    page_w, page_h = max(float(size[0]), 1.0), max(float(size[1]), 1.0)
    chars: list[str] = []
    boxes: list[list[float]] = []
    for word in words:
        x0, top, x1, bottom = word.bbox
        box = [round(x0 / page_w, 5), round(top / page_h, 5), round(x1 / page_w, 5), round(bottom / page_h, 5)]
        chars.append(word.text + " ")
        boxes.extend([box] * len(word.text) + [[0.0, 0.0, 0.0, 0.0]])
    return {**data, "chars": "".join(chars), "boxes": boxes}


def boxes_for(image: PageImage, text: str) -> list[Box]:
    """Where `text` is on the page: from its text layer, or from the OCR's word boxes when the page was OCR'd."""
    return mark_boxes(image, text)


def _skeleton(text: str) -> tuple[str, list[int]]:
    """Letters and digits only, case-folded and NFKC-normalised, with the index of the char each came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if c.isalnum():
                out.append(c)
                where.append(i)
    return "".join(out), where


def _line_boxes(chars: list[tuple[float, float, float, float]]) -> list[Box]:
    """Char boxes merged into one box per run on a line (a new line starts where a box is not beside the last)."""
    lines: list[list[float]] = []
    for left, top, right, bottom in chars:
        if right <= left or bottom <= top:
            continue  # spaces and generated line breaks have empty boxes
        last = lines[-1] if lines else None
        middle = (top + bottom) / 2
        if last and last[1] <= middle <= last[3] and left >= last[0] - 0.01:
            last[1], last[2], last[3] = min(last[1], top), max(last[2], right), max(last[3], bottom)
        else:
            lines.append([left, top, right, bottom])
    return [Box(*line) for line in lines]
