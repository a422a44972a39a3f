"""Render one PDF page to PNG and list its characters with their boxes, as a capped child process.

Usage: python page_worker.py MEMORY_MB   (the request as JSON on stdin:
  {"path": str, "page": int (0-based), "width": int, "max_pixels": int, "out": str, "password": str | null})

Prints one JSON object on stdout and nothing else:
  {"ok": true, "pages": int, "width": int, "height": int, "rotation": int,
   "chars": str, "boxes": [[left, top, right, bottom], ...]}   (one box per char, as fractions of the page)
  {"ok": false, "kind": "password" | "page" | "broken" | "memory", "message": str}

Like pdf_worker, it imports nothing from corpus_search and runs by path: a hostile PDF costs this
process (memory cap here, time cap in the parent), never the app.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def render(request: dict[str, Any]) -> dict[str, Any]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    try:
        pdf = pdfium.PdfDocument(request["path"], password=request.get("password") or None)
    except pdfium.PdfiumError as exc:
        kind = "password" if "password" in str(exc).lower() else "broken"
        return {"ok": False, "kind": kind, "message": _short(exc)}
    count = len(pdf)
    index = int(request["page"])
    if not 0 <= index < count:
        return {"ok": False, "kind": "page", "message": f"the PDF has {count} pages"}
    page = pdf[index]
    left, bottom, right, top = page.get_cropbox()
    page_w, page_h = max(right - left, 1.0), max(top - bottom, 1.0)
    rotation = page.get_rotation()
    shown_w, shown_h = (page_h, page_w) if rotation in (90, 270) else (page_w, page_h)
    # The width asked for, unless the page is so tall (or the size so odd) that the pixels would pass the cap.
    scale = int(request["width"]) / shown_w
    if shown_w * shown_h * scale * scale > int(request["max_pixels"]):
        scale = (int(request["max_pixels"]) / (shown_w * shown_h)) ** 0.5 * 0.99  # pdfium rounds sizes up
    bitmap = page.render(scale=scale, may_draw_forms=True)
    image = bitmap.to_pil()
    tmp = request["out"] + f".{os.getpid()}.tmp"
    image.save(tmp, format="PNG", optimize=False)
    os.replace(tmp, request["out"])  # a reader never sees half a PNG

    chars: list[str] = []
    boxes: list[list[float]] = []
    if rotation == 0:  # char boxes are in unrotated page space; marks on turned pages are left out
        textpage = page.get_textpage()
        for i in range(textpage.count_chars()):
            code = raw.FPDFText_GetUnicode(textpage.raw, i)
            chars.append(chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else " ")
            l, b, r, t = textpage.get_charbox(i, loose=True)
            boxes.append([round((l - left) / page_w, 5), round((top - t) / page_h, 5),
                          round((r - left) / page_w, 5), round((top - b) / page_h, 5)])
    return {"ok": True, "pages": count, "width": image.width, "height": image.height, "rotation": rotation,
            "chars": "".join(chars), "boxes": boxes, "page_size": [page_w, page_h]}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: page_worker.py MEMORY_MB (request on stdin)", file=sys.stderr)
        return 2
    memory_mb = int(argv[1])
    if memory_mb > 0:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    request = json.loads(sys.stdin.read())
    out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the JSON
    try:
        result = render(request)
    except MemoryError:
        result = {"ok": False, "kind": "memory", "message": "MemoryError"}
    except Exception as exc:  # noqa: BLE001 - any failure of a hostile page is a message, not a crash
        result = {"ok": False, "kind": "broken", "message": _short(exc)}
    out.write(json.dumps(result, ensure_ascii=True))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
