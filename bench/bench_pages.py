"""Language detection and page images: what they cost.

Run: .venv/bin/python bench/bench_pages.py [--corpus corpus]
Prints the figures: the detector's load time and per-passage time over the corpus's passages (each
mode), the installed size of lingua, and one PDF page's render (cold, in the worker) and cached time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _passages(corpus: Path) -> list:
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document
    from corpus_search.records import find_sources, load_record

    out = []
    for path in find_sources(corpus):
        record = load_record(path, corpus)
        out += split_document(record, extract(path, record).pages, pdf=path.suffix == ".pdf").passages
    return out


def _detect_timing(mode: str, texts: list[str]) -> str:
    # A fresh process per mode: the load time is what a build pays once.
    code = (
        "import os, sys, time, json; os.environ['CORPUS_SEARCH_LANGUAGE_DETECTION'] = sys.argv[1]\n"
        "texts = json.load(sys.stdin); from corpus_search import languages\n"
        "t = time.perf_counter(); languages.detect([max(texts, key=len)]); load = time.perf_counter() - t\n"
        "t = time.perf_counter(); codes = languages.detect(texts); run = time.perf_counter() - t\n"
        "print(f'{sys.argv[1]}: first call (loads models) {load:.2f} s; {len(texts)} passages {run:.2f} s '"
        "f'({run / len(texts) * 1000:.2f} ms each); tagged {sum(c is not None for c in codes)}')\n"
    )
    import json

    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, "-c", code, mode], input=json.dumps(texts), text=True,
                          capture_output=True, env=env, timeout=600)
    return proc.stdout.strip() or proc.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import lingua

    from corpus_search import page_image
    from corpus_search.ingest import sha256_file
    from corpus_search.models import Document, Record

    size = sum(f.stat().st_size for f in Path(lingua.__file__).parent.rglob("*") if f.is_file())
    print(f"lingua-language-detector installed size: {size / 1e6:.0f} MB (models inside the wheel)")
    passages = _passages(args.corpus)
    texts = [p.text for p in passages]
    for mode in ("low", "high"):
        print(_detect_timing(mode, texts))

    pdf = next((p for p in passages if p.pdf_page), None)
    if pdf is None:
        return
    source = next(s for s in args.corpus.rglob("*.pdf"))
    doc = Document(doc_id="b", path=source.relative_to(args.corpus).as_posix(), sha256=sha256_file(source),
                   record=Record(doc_id="b", title="b"), pages=1)
    with tempfile.TemporaryDirectory() as index:
        started = time.perf_counter()
        page_image.page_image(Path(index), args.corpus, doc, 1)
        cold = time.perf_counter() - started
        warm = []
        for _ in range(5):
            started = time.perf_counter()
            image = page_image.page_image(Path(index), args.corpus, doc, 1)
            warm.append(time.perf_counter() - started)
        started = time.perf_counter()
        page_image.boxes_for(image, image.chars[len(image.chars) // 3: len(image.chars) // 2])
        mark = time.perf_counter() - started
    print(f"page image ({source.name} p. 1, {image.width}x{image.height}): cold render {cold:.2f} s in the worker; "
          f"cached {statistics.median(warm) * 1000:.0f} ms; marking a passage {mark * 1000:.0f} ms")


if __name__ == "__main__":
    main()
