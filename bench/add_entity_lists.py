"""A copy of an index built without the entity filter's stored lists, with them added (for A/B benchmarks).

A store written before `entity_passages` existed is filtered from its mention rows (the slow path);
making a new 100k index takes minutes of CPU. This copies the current generation (hard links for the
large read-only files, a real copy of the store), writes the lists as a build's `Store.commit` does,
and re-keys the manifest.

Run:  .venv/bin/python bench/add_entity_lists.py --index bench/out/scale-100k --out bench/out/scale-100k-lists
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from corpus_search import generations
    from corpus_search.store import SCHEMA, Store

    src = generations.Generations(args.index).current()
    if src is None:
        raise SystemExit(f"{args.index} has no current generation")
    if args.out.exists():
        raise SystemExit(f"{args.out} exists; remove it first")
    gen = args.out / src.name
    shutil.copytree(src, gen, copy_function=os.link, ignore=shutil.ignore_patterns("store.sqlite*", "manifest.json"))
    shutil.copy2(src / "store.sqlite", gen / "store.sqlite")
    for name in ("CURRENT", "PUBLISHED"):
        shutil.copy2(args.index / name, args.out / name)
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
