"""Pages per second for PDF text extraction: our isolated `extract`, raw pypdf, and pypdfium2.

Run: .venv/bin/python bench/bench_extract.py [--repeat N]
Prints a markdown table and writes it to bench/results/extract.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing

import pypdf  # noqa: E402
import pypdfium2  # noqa: E402

from corpus_search.ingest import extract  # noqa: E402
from corpus_search.models import Record  # noqa: E402

GEOTOPO = ROOT.parent / "shared/testdata/pdf/sample-files/009-pdflatex-geotopo/GeoTopo-komprimiert.pdf"
CRS = sorted((ROOT / "corpus" / "crs").glob("*.pdf"))
RESULTS = ROOT / "bench" / "results" / "extract.md"


def via_extract(paths: list[Path]) -> tuple[int, int]:
    pages = chars = 0
    for path in paths:
        result = extract(path, Record(doc_id="bench", title="bench"))
        pages += len(result.pages)
        chars += sum(len(p.text) for p in result.pages)
    return pages, chars


def via_pypdf(paths: list[Path]) -> tuple[int, int]:
    pages = chars = 0
    for path in paths:
        reader = pypdf.PdfReader(path)
        for page in reader.pages:
            chars += len(page.extract_text())
            pages += 1
    return pages, chars


def via_pdfium(paths: list[Path]) -> tuple[int, int]:
    pages = chars = 0
    for path in paths:
        doc = pypdfium2.PdfDocument(path)
        for page in doc:
            textpage = page.get_textpage()
            chars += len(textpage.get_text_range())
            textpage.close()
            page.close()
            pages += 1
        doc.close()
    return pages, chars


METHODS: list[tuple[str, Callable[[list[Path]], tuple[int, int]]]] = [
    ("ingest.extract (pypdf, worker process)", via_extract),
    ("pypdf in-process", via_pypdf),
    ("pypdfium2 in-process", via_pdfium),
]


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:  # not available on every platform
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is reported")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # pypdf's font warnings would swamp the output and cost time

    load_before = _load()
    sets = [(f"GeoTopo ({GEOTOPO.name})", [GEOTOPO]), (f"CRS reports ({len(CRS)} PDFs)", CRS)]
    sets = [(name, paths) for name, paths in sets if paths and all(p.is_file() for p in paths)]
    lines = [
        "| document | method | pages | chars | median s | pages/s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, paths in sets:
        for label, run in METHODS:
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                pages, chars = run(paths)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            lines.append(f"| {name} | {label} | {pages} | {chars} | {median:.2f} | {pages / median:.1f} |")
            print(lines[-1], flush=True)

    header = (
        "# PDF extraction speed\n\n"
        f"`bench/bench_extract.py --repeat {args.repeat}`: median of {args.repeat} runs; "
        f"pypdf {pypdf.__version__}, pypdfium2 {pypdfium2.version.PYPDFIUM_INFO}, "
        f"Python {platform.python_version()}, {platform.machine()}.\n"
        "`ingest.extract` includes starting the worker process and its JSON hand-back.\n"
        f"{os.cpu_count()} CPUs; load average before/after: {load_before} / {_load()} "
        "(other work on the machine slows every row alike).\n\n"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    print("\n" + "\n".join(lines))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
