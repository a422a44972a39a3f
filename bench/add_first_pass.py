"""A copy of an index built without the vector first pass, with it added (for A/B benchmarks).

The scale indexes made before the first pass existed have no `vectors_reduced.npy`; making a new
100k one takes minutes of CPU. This copies the current generation (hard links for the large
read-only files, a real copy of the store, which SQLite may write to), writes the first-pass files
exactly as the build would (`VectorIndex.save`), and re-keys the manifest. With
CORPUS_SEARCH_FIRST_PASS_DIMS=0 it makes a copy without them (the exact side of an A/B).

Run:  .venv/bin/python bench/add_first_pass.py --index bench/out/scale-100k --out bench/out/scale-100k-fp
"""

from __future__ import annotations

import argparse
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
    from corpus_search.vector_index import BASIS, REDUCED, VectorIndex

    src, gen = copy_index(args.index, args.out)
    vec = VectorIndex.open(src)
    t = time.perf_counter()
    (gen / "vectors.npy").unlink()  # a hard link: save writes a new file, the source index stays as it was
    (gen / "vector_ids.json").unlink()
    VectorIndex.save(gen, vec.ids, vec.matrix)
    took = time.perf_counter() - t
    generations.write_manifest(gen, generations.read_manifest(src))
    sizes = {n: (gen / n).stat().st_size for n in ("vectors.npy", BASIS, REDUCED) if (gen / n).exists()}
    print(f"first pass written in {took:.2f} s (VectorIndex.save, the full matrix included); sizes {sizes}")


if __name__ == "__main__":
    main()
