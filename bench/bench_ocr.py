"""OCR word accuracy and throughput on rasterised CRS reports (200 dpi, grey, no text layer).

Run: .venv/bin/python bench/bench_ocr.py [--pages 12] [--speed-pages 6] [--pytesseract DIR]
Prints a markdown section and writes it to bench/results/ocr.md (BENCHMARKS.md includes it).

Accuracy: each page of the born-digital PDF is rendered at 200 dpi in grey (what a scanner gives),
OCR'd by `ocr.read_pages`, and its words compared with the PDF's own text layer (pypdf):
word accuracy = reference words found in the OCR (multiset, so reading order in multi-column
pages and figures does not count against it) / reference words. Throughput: pages/s at 200 dpi
for the ways of using two cores: one tesseract thread per page with two pages at once (what
`ocr.py` does, CORPUS_SEARCH_OCR_JOBS=2), one page at a time with two threads, one with one; and
pytesseract (when given a folder where it is installed) against calling the binary ourselves.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from common import machine  # noqa: E402
from scans import crs_pdfs, rasterise  # noqa: E402

from corpus_search import ocr  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ocr.md"
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def words(text: str) -> list[str]:
    # A word broken at a line end by a hyphen is one word in both texts.
    text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text)
    return [w.casefold().replace("’", "'") for w in _WORD.findall(text)]


def pages(count: int) -> list[tuple[Path, int]]:
    """The first `count` pages taken round-robin from the CRS PDFs, so every report is represented."""
    from pypdf import PdfReader

    lists = [[(p, i) for i in range(len(PdfReader(p).pages))] for p in crs_pdfs()]
    out: list[tuple[Path, int]] = []
    while len(out) < count and any(lists):
        for items in lists:
            if items and len(out) < count:
                out.append(items.pop(0))
    return out


def accuracy(sample: list[tuple[Path, int]], tmp: Path) -> list[dict]:
    from pypdf import PdfReader

    rows = []
    for n, (pdf, index) in enumerate(sample):
        scan = rasterise(pdf, tmp / f"acc-{n}.pdf", pages=[index])
        outcome = ocr.read_pages(scan, [0], None, ocr.Options(cache=None))
        ref = words(PdfReader(pdf).pages[index].extract_text() or "")
        got = Counter(words(outcome.pages[0].text)) if 0 in outcome.pages else Counter()
        found = sum(min(c, got[w]) for w, c in Counter(ref).items())
        rows.append({"pdf": pdf.name, "page": index + 1, "ref": len(ref), "found": found,
                     "confidence": outcome.pages[0].confidence if 0 in outcome.pages else None})
    return rows


def _images(sample: list[tuple[Path, int]]) -> list[bytes]:
    import pypdfium2 as pdfium

    pngs = []
    for pdf, index in sample:
        doc = pdfium.PdfDocument(str(pdf))
        image = doc[index].render(scale=ocr.DPI / 72, grayscale=True).to_pil()
        buf = io.BytesIO()
        image.save(buf, "PNG", compress_level=1)
        pngs.append(buf.getvalue())
        doc.close()
    return pngs


def _binary(png: bytes, threads: int) -> str:
    env = dict(os.environ, OMP_THREAD_LIMIT=str(threads))
    return subprocess.run(["tesseract", "stdin", "stdout", "-l", "eng", "--dpi", str(ocr.DPI), "tsv"],
                          input=png, capture_output=True, env=env, check=True).stdout.decode()


def throughput(sample: list[tuple[Path, int]], pytesseract_dir: str | None) -> list[dict]:
    pngs = _images(sample)
    runs = []

    def timed(name: str, fn) -> None:
        load = os.getloadavg()[0]
        started = time.perf_counter()
        fn()
        seconds = time.perf_counter() - started
        runs.append({"way": name, "pages": len(pngs), "seconds": seconds, "pages_per_s": len(pngs) / seconds,
                     "load_before": load})

    def parallel(jobs: int, threads: int):
        def go():
            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(lambda p: _binary(p, threads), pngs))
        return go

    timed("binary, 2 pages at once x 1 thread (ocr.py)", parallel(2, 1))
    timed("binary, 1 page at a time x 2 threads", parallel(1, 2))
    timed("binary, 1 page at a time x 1 thread", parallel(1, 1))
    if pytesseract_dir:
        sys.path.insert(0, pytesseract_dir)
        import pytesseract
        from PIL import Image

        images = [Image.open(io.BytesIO(p)) for p in pngs]
        os.environ["OMP_THREAD_LIMIT"] = "1"

        def via_pytesseract():
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda im: pytesseract.image_to_data(im, lang="eng", config=f"--dpi {ocr.DPI}"), images))
        timed("pytesseract image_to_data, 2 pages at once x 1 thread", via_pytesseract)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=12, help="pages for the accuracy figure (>= 10)")
    parser.add_argument("--speed-pages", type=int, default=6, help="pages per throughput run")
    parser.add_argument("--pytesseract", help="folder where pytesseract is installed (pip install --target)")
    args = parser.parse_args()
    import tempfile

    info = machine()
    with tempfile.TemporaryDirectory() as tmp:
        acc = accuracy(pages(args.pages), Path(tmp))
    speed = throughput(pages(args.speed_pages), args.pytesseract)
    ref = sum(r["ref"] for r in acc)
    found = sum(r["found"] for r in acc)
    out = [f"## OCR (`.venv/bin/python bench/bench_ocr.py --pages {args.pages} --speed-pages {args.speed_pages}"
           + (" --pytesseract DIR" if args.pytesseract else "") + "`)\n",
           f"Tesseract {ocr.tesseract_version()}, `eng`, pages rendered by pypdfium2 at {ocr.DPI} dpi in grey. "
           f"Load average before: {info.get('load', '')}.\n",
           f"**Word accuracy: {found / ref:.1%}** ({found:,} of {ref:,} words of the born-digital text layer "
           f"found in the OCR of {len(acc)} rasterised pages; goal >= 97%).\n",
           "| page | words | found | accuracy | mean confidence |", "| --- | ---: | ---: | ---: | ---: |"]
    for r in acc:
        out.append(f"| {r['pdf']} p. {r['page']} | {r['ref']} | {r['found']} | {r['found'] / max(r['ref'], 1):.1%} | "
                   f"{r['confidence'] if r['confidence'] is not None else '-'} |")
    out += ["", f"Throughput on {os.cpu_count()} cores ({speed[0]['pages']} pages per run; goal >= 1 page/s):", "",
            "| way | seconds | pages/s | load before |", "| --- | ---: | ---: | ---: |"]
    for r in speed:
        out.append(f"| {r['way']} | {r['seconds']:.1f} | {r['pages_per_s']:.2f} | {r['load_before']:.2f} |")
    text = "\n".join(out) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
