"""Seconds to split one huge paragraph into passages: `_split_long` alone and the whole `split_document`.

Run: .venv/bin/python bench/bench_split.py [--mb 8] [--src DIR]
`--src` picks which checkout's `src/` to time (the default is this one), so a before/after pair is
two runs. Prints a markdown row and appends it to bench/results/split.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "split.md"
# Prose with sentence ends, so cuts fall where they do on real text; no blank line: one paragraph.
SENTENCE = "The pipeline from Siberia carried gas to China in 2014, and the contract was signed in May. "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=8.0, help="size of the paragraph in MB (default 8)")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src/ folder to time")
    parser.add_argument("--stage", choices=["split_long", "split_document"], default="split_long")
    args = parser.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    from corpus_search.models import Page, Record
    from corpus_search.passages import _split_long, split_document

    size = int(args.mb * 1_000_000)
    text = (SENTENCE * (size // len(SENTENCE) + 1))[:size]
    started = time.perf_counter()
    if args.stage == "split_long":
        count = len(_split_long(text))
    else:
        count = len(split_document(Record(doc_id="bench", title="bench"), [Page(0, text)]).passages)
    seconds = time.perf_counter() - started
    commit = subprocess.run(["git", "-C", str(args.src), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(args.src), "status", "--porcelain", "--", "."],
                           capture_output=True, text=True).stdout.strip()
    row = (f"| {args.mb:g} MB, one paragraph | {args.stage} | {args.src.resolve().parent.name} "
           f"{commit}{'+' if dirty else ''} | {count} | {seconds:.2f} |")
    print(row)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Splitting one huge paragraph\n\n"
            f"`bench/bench_split.py`; Python {platform.python_version()}, {os.cpu_count()} CPUs shared with other "
            "work (figures are single runs).\n\n"
            "| text | stage | checkout | passages | seconds |\n| --- | --- | --- | ---: | ---: |\n"
        )
    with open(RESULTS, "a") as fh:
        fh.write(row + "\n")


if __name__ == "__main__":
    main()
