"""Time shards.write on a copy of an index: one process for every shard (--workers 1) against one per shard.

Each run writes into a fresh copy of INDEX (so both sides start alike), the sides taking turns round by
round so both see the same machine load, and prints wall seconds, CPU seconds (this process and its shard
writers) and peak RSS per run, with the 1-minute load at its start and end. `--check` then compares the
last two runs' shards with bench/compare_shards.py (byte for byte; Whoosh by content).

Run:
  .venv/bin/python bench/bench_shard_write.py --index bench/out/scale-100k --work /tmp/shard-write --shards 2 --rounds 2 --check
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ONE_RUN = """
import json, resource, sys, time
from pathlib import Path
from corpus_search import shards
from corpus_search.generations import Generations
if __name__ == "__main__":
    root, n, workers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    t = time.perf_counter()
    counts = shards.write(Generations(root).current(), n, workers=workers or None)
    wall = time.perf_counter() - t
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"counts": counts, "wall_s": round(wall, 1),
                      "cpu_s": round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 1),
                      "max_rss_mb": me.ru_maxrss // 1024, "max_child_rss_mb": kids.ru_maxrss // 1024}))
"""


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:1])


def run(index: Path, work: Path, n: int, workers: int, tag: str) -> dict:
    dest = work / tag
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(index, dest)
    script = work / "one_run.py"
    script.write_text(ONE_RUN, encoding="utf-8")
    start = _load()
    done = subprocess.run([sys.executable, str(script), str(dest), str(n), str(workers)], capture_output=True,
                          text=True, env=os.environ)
    if done.returncode != 0:
        sys.exit(f"error: the {tag} run failed: {done.stderr.strip().splitlines()[-1:]}")
    result = dict(json.loads(done.stdout.strip().splitlines()[-1]), side=tag, load_start=start, load_end=_load())
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the copies")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--check", action="store_true", help="compare the last two runs' shards")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for _ in range(args.rounds):
        run(args.index, args.work, args.shards, 1, "one-process")
        run(args.index, args.work, args.shards, 0, "per-shard")
    if args.check:
        sys.path.insert(0, str(Path(__file__).parent))
        from compare_shards import compare

        problems = compare(args.work / "one-process", args.work / "per-shard")
        print("same index" if not problems else "DIFFERENT: " + "; ".join(problems))
        sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
