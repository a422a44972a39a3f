"""Prototype: SQLite FTS5 (stdlib, inside the store) as the keyword index, against Whoosh.

FTS5 gives BM25 with column weights, Porter stemming after accent folding
(tokenize='porter unicode61 remove_diacritics 2', as our Whoosh analyzer does), phrases,
AND/OR/NOT, and it lives in the store, so incremental updates are row deletes and inserts
and an entity filter is a join. This script copies a scale index's store, adds the FTS5
table, and compares latency and top-10 overlap with our Whoosh KeywordIndex on the same passages.

Run:  .venv/bin/python bench/prototypes/proto_fts5.py --index bench/out/scale-100k [--json FILE]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from common import emit, QUERIES, WARMUP, machine, percentile  # noqa: E402

from corpus_search.keyword_index import STOP_WORDS  # noqa: E402

_TOKEN = re.compile(r'"[^"]*"|\w+', re.UNICODE)


# The keyword index's own stop list (it held a copy of an older highlighting list when measured).
STOP = STOP_WORDS


def to_fts(query: str, drop_stop: bool = False) -> str:
    """Words OR'ed (Whoosh's OrGroup), quoted phrases kept as phrases; no other syntax."""
    parts = []
    for tok in _TOKEN.findall(query):
        if tok.startswith('"'):
            words = re.findall(r"\w+", tok)
            if words:
                parts.append('"' + " ".join(words) + '"')
        elif tok not in ("AND", "OR", "NOT") and not (drop_stop and tok.casefold() in STOP):
            parts.append('"' + tok + '"')  # quoted: FTS5 keywords and odd words stay plain terms
    return " OR ".join(parts)


def add_fts(conn: sqlite3.Connection) -> float:
    t = time.perf_counter()
    # A table of its own (not external-content): `section` sits in the passages' json column.
    conn.execute(
        "CREATE VIRTUAL TABLE passages_fts USING fts5(text, section, "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "INSERT INTO passages_fts (rowid, text, section) "
        "SELECT row, text, coalesce(json_extract(json, '$.section'), '') FROM passages"
    )
    conn.execute("INSERT INTO passages_fts(passages_fts) VALUES ('optimize')")
    conn.commit()
    return time.perf_counter() - t


SQL = (
    "SELECT p.passage_id, bm25(passages_fts, 1.0, 0.5) AS score FROM passages_fts "
    "JOIN passages p ON p.row = passages_fts.rowid WHERE passages_fts MATCH ? ORDER BY score LIMIT ?"
)
SQL_ENTITY = (
    "SELECT p.passage_id, bm25(passages_fts, 1.0, 0.5) AS score FROM passages_fts "
    "JOIN passages p ON p.row = passages_fts.rowid WHERE passages_fts MATCH ? "
    "AND p.passage_id IN (SELECT passage_id FROM mentions WHERE name = ?) ORDER BY score LIMIT ?"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-whoosh", action="store_true", help="no Whoosh latency (overlap still computed)")
    args = parser.parse_args()
    from corpus_search.build import KEYWORD, STORE
    from corpus_search.generations import Generations
    from corpus_search.keyword_index import KeywordIndex

    gen = Generations(args.index).current()
    out: dict = {"index": str(args.index), "machine_before": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.sqlite"
        shutil.copy(gen / STORE, db)
        conn = sqlite3.connect(db)
        out["passages"] = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
        out["fts_build_s"] = add_fts(conn)
        out["store_bytes_before"] = (gen / STORE).stat().st_size
        out["store_bytes_after"] = db.stat().st_size
        out["whoosh_bytes"] = sum(f.stat().st_size for f in (gen / KEYWORD).rglob("*") if f.is_file())
        kw = KeywordIndex.open(gen / KEYWORD)
        for q in WARMUP:
            conn.execute(SQL, (to_fts(q), 200)).fetchall()
            kw.search(q, limit=200)

        def lat(fn, items):
            ms = []
            for it in items:
                t = time.perf_counter()
                fn(it)
                ms.append((time.perf_counter() - t) * 1000)
            return {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "n": len(ms)}

        items = QUERIES * 2
        out["fts5 top-200"] = lat(lambda q: conn.execute(SQL, (to_fts(q), 200)).fetchall(), items)
        out["fts5 top-200 entity=Russia (join)"] = lat(
            lambda q: conn.execute(SQL_ENTITY, (to_fts(q), "Russia", 200)).fetchall(), items)
        out["fts5 top-200, stop words dropped outside phrases"] = lat(
            lambda q: conn.execute(SQL, (to_fts(q, True), 200)).fetchall(), items)
        if not args.skip_whoosh:
            out["whoosh top-200"] = lat(lambda q: kw.search(q, limit=200), items)
        overlap, overlap200, overlap_stop = [], [], []
        for q in QUERIES:
            ours = [p for p, _ in kw.search(q, limit=200).ids]
            fts = [r[0] for r in conn.execute(SQL, (to_fts(q), 200)).fetchall()]
            overlap.append(len(set(ours[:10]) & set(fts[:10])) / 10)
            overlap200.append(len(set(ours) & set(fts)) / max(1, min(200, len(ours))))
            fts_stop = [r[0] for r in conn.execute(SQL, (to_fts(q, True), 10)).fetchall()]
            overlap_stop.append(len(set(ours[:10]) & set(fts_stop)) / 10)
        out["overlap@10 with Whoosh"] = sum(overlap) / len(overlap)
        out["overlap@200 with Whoosh"] = sum(overlap200) / len(overlap200)
        out["overlap@10 with Whoosh, stop words dropped"] = sum(overlap_stop) / len(overlap_stop)
        phrase = '"Power of Siberia"'
        out["phrase query hits (fts5, whoosh)"] = [
            len(conn.execute(SQL, (to_fts(phrase), 100000)).fetchall()), kw.search(phrase, limit=100000).total]
        kw.close()
        conn.close()
    out["load_after"] = [round(x, 2) for x in __import__("os").getloadavg()]
    emit(out, args.json)


if __name__ == "__main__":
    main()
