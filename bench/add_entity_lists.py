"""A copy of an index built without the entity filter's stored lists, with them added (for A/B benchmarks).

A store written before `entity_passages` existed is filtered from its mention rows (the slow path);
making a new 100k index takes minutes of CPU. This copies the current generation (hard links for the
large read-only files, a real copy of the store), writes the lists as a build's `Store.commit` does,
and re-keys the manifest.

Run:  .venv/bin/python bench/add_entity_lists.py --index bench/out/scale-100k --out bench/out/scale-100k-lists
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import copy_index  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from corpus_search import generations
    from corpus_search.store import SCHEMA, Store

    src, gen = copy_index(args.index, args.out)
    t = time.perf_counter()
    conn = sqlite3.connect(gen / "store.sqlite")
    conn.executescript(SCHEMA)  # creates only what is missing: the lists' table
    Store(conn, gen / "store.sqlite").commit()
    conn.close()
    took = time.perf_counter() - t
    generations.write_manifest(gen, generations.read_manifest(src))
    print(f"entity lists written in {took:.2f} s; store {(gen / 'store.sqlite').stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
