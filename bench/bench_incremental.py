"""Incremental build: adding one document to a 1,000-document corpus vs indexing that document alone.

Each build is the user's command, `corpus-search --corpus C --index I build --json`, in a fresh
process (imports and model loads included, as a user pays them):

  full         the 1,000-document folder from make_scale_corpus.py, from nothing
  incremental  the same folder plus one new document, on top of the full build's index
  alone        a folder holding only that new document, from nothing
  unchanged    the build again with nothing changed
  edited       one document of the folder with a paragraph added (the document is read again)
  reread       every source read again, as after a new PIPELINE_VERSION (the CLI with that constant changed);
               the passages' tags and vectors are found by their text in the last build, not made again

Target: incremental <= 2 x alone.
Run:  .venv/bin/python bench/bench_incremental.py [--documents 1000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import emit, machine  # noqa: E402

CLI = str(Path(sys.executable).with_name("corpus-search"))
NEW_DOC = """Gazprom and CNPC signed a new memorandum on the Far Eastern route of gas supplies, the company said.

The agreement sets out volumes and a start date, but the price formula remains open, as it did for the Power of Siberia pipeline.

Analysts in Moscow and Beijing read the memorandum differently: one side stresses the political signal, the other the commercial terms.
"""
EDIT = ("A paragraph added in review: the memorandum's volumes were revised downward after the talks in Harbin, "
        "and Rosneft asked for a separate clause on oil swaps.\n")
NEW_RECORD = 'id = "bench-new"\ntitle = "A new memorandum on gas supplies"\ntype = "report"\nyear = 2026\n'


# The CLI, with the pipeline's version changed first: every source's build key changes, as after an upgrade.
BUMPED = ("import sys; from corpus_search import build_plan; build_plan.PIPELINE_VERSION += '-bench'; "
          "from corpus_search.cli import main; sys.argv[0] = 'corpus-search'; main()")


def build(corpus: Path, index: Path, bumped: bool = False) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    command = [sys.executable, "-c", BUMPED] if bumped else [CLI]
    t = time.perf_counter()
    proc = subprocess.run([*command, "--corpus", str(corpus), "--index", str(index), "build", "--json"],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": proc.stderr[-1500:], "wall_s": wall}
    report = json.loads(proc.stdout)
    return {"wall_s": wall, "build_s": report["seconds"], "stage_s": report["stage_seconds"],
            "passages": report["passages"], "changed": report["changed"], "work": report.get("work", {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from make_scale_corpus import make_folder

    out: dict = {"documents": args.documents, "machine_before": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus, index = tmp / "corpus", tmp / "index"
        out["folder"] = make_folder(corpus, args.documents)
        out["full"] = build(corpus, index)
        (corpus / "bench-new.txt").write_text(NEW_DOC, encoding="utf-8")
        (corpus / "bench-new.toml").write_text(NEW_RECORD, encoding="utf-8")
        out["incremental"] = build(corpus, index)
        out["unchanged"] = build(corpus, index)
        first = sorted(p for p in corpus.glob("*.txt") if p.stem != "bench-new")[0]
        first.write_text(first.read_text(encoding="utf-8") + "\n\n" + EDIT, encoding="utf-8")
        out["edited"] = build(corpus, index)
        out["reread"] = build(corpus, index, bumped=True)
        alone = tmp / "alone"
        alone.mkdir()
        for name in ("bench-new.txt", "bench-new.toml"):
            shutil.copy(corpus / name, alone / name)
        out["alone"] = build(alone, tmp / "index-alone")
        size = sum(f.stat().st_size for f in index.rglob("*") if f.is_file())
        out["index_bytes"] = size
    if "wall_s" in out["incremental"] and "wall_s" in out["alone"]:
        out["incremental_over_alone"] = out["incremental"]["wall_s"] / out["alone"]["wall_s"]
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    emit(out, args.json)


if __name__ == "__main__":
    main()
