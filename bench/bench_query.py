"""Query latency on the scale indexes, with the peers measured on the same passages in the same run.

For each index (made by make_scale_corpus.py):
  * Corpus.open time (it verifies every file's checksum), then, after warm-up queries,
    p50/p95 of Corpus.search for keyword, semantic (query encoding included: the query
    vector cache is emptied before each query), hybrid, and hybrid filtered by an entity (with the
    filter kept from an earlier query, and as the first query with it, as every CLI search is),
    each with the p50 CPU ms of this process (`cpu_p50_ms`; the machine is shared);
  * the parts: query encoding, brute-force vector top-200, keyword top-200 (our NumPy BM25F and,
    for comparison, Whoosh's own scoring of the same query), entity filter;
  * peers: bm25s on the same texts (latency, overlap@10 with our keyword top 10);
    usearch HNSW vs exact NumPy (build time, latency, recall@10 vs exact);
  * cold CLI: `corpus-search --help`, one keyword and one semantic query, each a fresh process.

Run:  .venv/bin/python bench/bench_query.py --index bench/out/scale-10k [--index ...] [--rounds 2] [--json FILE]
      .venv/bin/python bench/bench_query.py --first-pass --index DIR   (first pass vs exact scan, A/B)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import QUERIES, WARMUP, machine, percentile  # noqa: E402

from corpus_search.generations import VERIFIED  # noqa: E402

ENTITIES = ("Gazprom", "Russia")  # a moderately common one and the commonest
CLI = str(Path(sys.executable).with_name("corpus-search"))


class Timings(list):
    """Wall ms of each call, with the CPU ms this process spent on it in `cpu`."""

    def __init__(self):
        super().__init__()
        self.cpu: list[float] = []


def _stats(ms: list[float]) -> dict:
    out = {"p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "n": len(ms)}
    if getattr(ms, "cpu", None):
        # CPU time of this process: what a query costs, less the waiting for a core that other people's
        # work on this shared machine adds to the wall time.
        out["cpu_p50_ms"] = percentile(ms.cpu, 50)
    return out


def _timed(fn, reps: list) -> Timings:
    out = Timings()
    for args in reps:
        t, cpu = time.perf_counter(), time.process_time()
        fn(*args)
        out.append((time.perf_counter() - t) * 1000)
        out.cpu.append((time.process_time() - cpu) * 1000)
    return out


@contextlib.contextmanager
def without_verified_cache(index: Path):
    """The index as a first open finds it (no cache of files found sound), then its cache as it was.

    The open time a user meets first is the one that hashes every file, which the cache
    (generations.VERIFIED, written by every open) spares later opens; so the benchmark moves the
    cache aside to measure it, and puts the same bytes back, whatever happens: the scale indexes
    are shared, and another run's (or a user's) next open must not pay for this one.
    """
    cache = index / VERIFIED
    try:
        kept, st = cache.read_bytes(), cache.stat()
    except FileNotFoundError:
        kept = st = None
    cache.unlink(missing_ok=True)
    try:
        yield
    finally:
        if kept is None:
            cache.unlink(missing_ok=True)
        else:
            tmp = cache.with_name(f"{VERIFIED}.bench-{os.getpid()}.tmp")
            tmp.write_bytes(kept)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            os.replace(tmp, cache)


def bench_api(index: Path, rounds: int, quick: bool = False) -> dict:
    from corpus_search.api import Corpus

    with without_verified_cache(index):
        t = time.perf_counter()
        corpus = Corpus.open(index)  # hashes every file
        open_s = time.perf_counter() - t
        corpus.close()
        t = time.perf_counter()
        corpus = Corpus.open(index)  # files unchanged since verified: sizes and identities only
        reopen_s = time.perf_counter() - t
    n = len(corpus.vectors)
    res: dict = {"index": str(index), "passages": n, "open_s": open_s, "reopen_s": reopen_s}
    for q in WARMUP:  # loads the query encoder, touches the matrix and Whoosh's segments
        for mode in ("keyword", "semantic", "hybrid"):
            corpus.search(q, mode=mode)
        corpus.search(q, mode="hybrid", entities=[ENTITIES[0]])

    def run(q, mode, entities=()):
        corpus._query_cache.clear()  # pay for encoding every time, as a new query does
        corpus.store._passage_cache.clear()
        corpus.search(q, mode=mode, entities=entities)

    reps = [(q,) for _ in range(rounds) for q in QUERIES]
    for mode in ("keyword", "semantic", "hybrid"):
        res[mode] = _stats(_timed(lambda q, m=mode: run(q, m), reps))
    for ent in ENTITIES:
        allowed = corpus.searcher.allowed_passages(_filters(ent))
        res[f"hybrid+entity {ent}"] = dict(_stats(_timed(lambda q, e=ent: run(q, "hybrid", [e]), reps)),
                                           allowed=len(allowed))

    def first_with_filter(q, ent):
        corpus.searcher._allowed.clear()  # as the first query with this filter (each CLI search is one)
        run(q, "hybrid", [ent])

    ent = ENTITIES[1]
    res[f"hybrid+entity {ent}, first query with the filter"] = _stats(_timed(first_with_filter,
                                                                             [(q, ent) for q in QUERIES[:10]]))

    # The parts, one by one.
    from corpus_search import config

    depth = config.get_int("candidates")
    enc = corpus._encoder
    res["part encode_query"] = _stats(_timed(enc.encode, reps))
    qvecs = [enc.encode(q) for q in QUERIES]
    # VectorIndex.search alone: the first pass when the index has one, BLAS threads as the library likes.
    res["part vector top-200 (VectorIndex.search)"] = _stats(_timed(lambda v: corpus.vectors.search(v, k=depth),
                                                             [(v,) for v in qvecs] * rounds))
    res["part keyword top-200 (NumPy BM25F, bm25.py)"] = _stats(
        _timed(lambda q: corpus.keyword.search(q, limit=depth), reps))
    if not quick:
        scorer, corpus.keyword._scorer = corpus.keyword._scorer, None  # the same query, scored by Whoosh itself
        res["part keyword top-200 (Whoosh scoring)"] = _stats(
            _timed(lambda q: corpus.keyword.search(q, limit=depth), reps))
        corpus.keyword._scorer = scorer
    ent = ENTITIES[1]

    def first_filter():
        corpus.searcher._allowed.clear()  # as on the first query with this filter
        corpus.searcher.allowed_passages(_filters(ent))

    res[f"part entity filter {ent} (store -> set), first query"] = _stats(_timed(first_filter, [()] * 5))
    res[f"part entity filter {ent}, later queries (kept per filter)"] = _stats(
        _timed(lambda: corpus.searcher.allowed_passages(_filters(ent)), [()] * 10))
    res["part semantic with best sentences (Searcher._semantic)"] = _stats(
        _timed(lambda v: corpus.searcher._semantic(v, depth, None), [(v,) for v in qvecs] * rounds))
    allowed = corpus.searcher.allowed_passages(_filters(ent))
    res[f"part keyword top-200 with {ent} filter"] = _stats(
        _timed(lambda q: corpus.keyword.search(q, limit=depth, allowed=allowed), reps[:10]))
    res[f"part vector top-200 with {ent} filter"] = _stats(
        _timed(lambda v: corpus.vectors.search(v, k=depth, allowed=allowed), [(v,) for v in qvecs[:10]]))

    if not quick:
        res["peers"] = peers(corpus, qvecs, rounds)
    corpus.close()
    return res


def bench_first_pass(index: Path, rounds: int) -> dict:
    """The vector first pass against the exact scan, alternated query by query in one process (A/B/C, B/C/A, ...).

    Exact is the first pass switched off through its setting (first_pass_min_rows above the row
    counts), so both sides run the same code otherwise. Also: whether the top 10 and recall@10 of
    semantic and hybrid search agree, over the benchmark's queries and ~200 passage vectors as queries.
    """
    from corpus_search import config
    from corpus_search.api import Corpus

    corpus = Corpus.open(index)
    env = "CORPUS_SEARCH_FIRST_PASS_MIN_ROWS"
    threads = "CORPUS_SEARCH_SCAN_THREADS"
    bf16 = "CORPUS_SEARCH_FIRST_PASS_BF16"
    sides = {"exact": {env: str(10**12), threads: "0"}, "first pass": {threads: "0"},
             "first pass, 1 BLAS thread": {threads: "1"}, "exact, 1 BLAS thread": {env: str(10**12), threads: "1"}}
    # Where "first pass" runs in bfloat16, no float32 side is timed here: switching precision query by query remakes
    # the long passages' reduced sentences each time. Time the two with --quick runs, CORPUS_SEARCH_FIRST_PASS_BF16=0
    # and auto one after the other (BENCHMARKS.md); their quality is compared below.

    def use(side):
        os.environ.pop(env, None)
        os.environ.pop(bf16, None)
        os.environ.update(sides[side])

    res: dict = {"index": str(index), "passages": len(corpus.vectors),
                 "first_pass": corpus.vectors.basis is not None and {
                     "dims": int(corpus.vectors.basis.shape[1]), "rescore": config.get_int("first_pass_rescore"),
                     "reduced_mb": corpus.vectors.reduced.nbytes / 2**20}}
    use("first pass")
    t = time.perf_counter()
    corpus.search(WARMUP[0], mode="semantic")  # loads the encoder, gathers the long passages' sentences
    res["first semantic query s (encoder load, long passages sentences gathered)"] = time.perf_counter() - t
    for q in WARMUP:
        for side in sides:
            use(side)
            for mode in ("semantic", "hybrid"):
                corpus.search(q, mode=mode)

    def run(q, mode):
        corpus._query_cache.clear()
        corpus.store._passage_cache.clear()
        corpus.search(q, mode=mode)

    depth = config.get_int("candidates")
    qvecs = [corpus.encode_query(q) for q in QUERIES]
    times: dict = {}
    order = list(sides)
    for r in range(rounds):
        for q, v in zip(QUERIES, qvecs):
            for side in order:
                use(side)
                for name, fn in (("semantic", lambda: run(q, "semantic")), ("hybrid", lambda: run(q, "hybrid")),
                                 ("part Searcher._semantic", lambda: corpus.searcher._semantic(v, depth, None)),
                                 ("part vector top-200", lambda: corpus.vectors.search(v, k=depth))):
                    t, cpu = time.perf_counter(), time.process_time()
                    fn()
                    times.setdefault(f"{name} ({side})", []).append((time.perf_counter() - t) * 1000)
                    # CPU time of this process (all its threads): what the query costs, less the waiting
                    # for a core that other people's work on the machine adds to the wall time.
                    times.setdefault(f"{name} ({side}) CPU", []).append((time.process_time() - cpu) * 1000)
            order = order[1:] + order[:1]  # each side takes each place in turn
    res.update({k: _stats(v) for k, v in times.items()})

    # Quality: the first pass against the exact scan, same queries.
    matrix = corpus.vectors.matrix
    pvecs = [np.asarray(matrix[i]) for i in range(0, len(matrix), max(1, len(matrix) // 200))][:200]
    out: dict = {}
    # A first pass in bfloat16 (where this process encodes with torch on a CPU that has it) against one in float32.
    variants = {"first pass": "auto", "first pass float32": "0"} if corpus.vectors.scans_bf16() else {"first pass": "0"}
    for variant, setting in variants.items():
        tag = "" if variant == "first pass" else " (float32)"
        if variant == "first pass" and len(variants) > 1:
            out["first pass in bfloat16"] = True
        for label, vecs in (("queries", qvecs), ("passage vectors", pvecs)):
            got = {}
            for side in ("exact", "first pass"):
                use(side)
                os.environ[bf16] = setting
                got[side] = [[pid for pid, _ in corpus.searcher._semantic(v, depth, None)] for v in vecs]
            ex, fp = got["exact"], got["first pass"]
            out[f"semantic top-10 identical, {label}{tag}"] = float(np.mean([a[:10] == b[:10] for a, b in zip(ex, fp)]))
            out[f"semantic recall@10, {label}{tag}"] = float(np.mean([len(set(a[:10]) & set(b[:10])) / 10
                                                                     for a, b in zip(ex, fp)]))
            out[f"semantic recall@{depth}, {label}{tag}"] = float(np.mean([len(set(a) & set(b)) / max(1, len(a))
                                                                          for a, b in zip(ex, fp)]))
        for mode in ("semantic", "hybrid"):
            got = {}
            for side in ("exact", "first pass"):
                use(side)
                os.environ[bf16] = setting
                got[side] = [[h.passage.passage_id for h in corpus.search(q, mode=mode).hits] for q in QUERIES]
            ex, fp = got["exact"], got["first pass"]
            out[f"{mode} search top-10 identical, queries{tag}"] = float(np.mean([a == b for a, b in zip(ex, fp)]))
            out[f"{mode} search recall@10, queries{tag}"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ex, fp)]))
        os.environ.pop(bf16, None)
    res["quality"] = out
    use("first pass")
    corpus.close()
    return res


def _base_of(pid: str) -> str:
    """The bundled passage a scale-corpus replica was made from."""
    import re

    return re.sub(r"-x\d{4}(?=:)", "", pid)


def _filters(entity: str):
    from corpus_search.search import Filters

    return Filters(entities=(entity,))


def peers(corpus, qvecs: list[np.ndarray], rounds: int) -> dict:
    out: dict = {}
    ids = corpus.vectors.ids
    rows = dict(corpus.store.conn.execute("SELECT passage_id, text FROM passages").fetchall())
    texts = [rows[pid] for pid in ids]

    # bm25s: the same texts, Porter stems like ours, no stop list (ours keeps every word too).
    import bm25s
    from whoosh.lang.porter import stem

    def stemmer(words):
        return [stem(w) for w in words]

    t = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords=None, stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    out["bm25s index_s"] = time.perf_counter() - t

    def bm25(q, k):
        qt = bm25s.tokenize([q], stopwords=None, stemmer=stemmer, show_progress=False)
        docs, _ = retriever.retrieve(qt, k=k, show_progress=False, n_threads=1)
        return [ids[i] for i in docs[0]]

    reps = [(q,) for _ in range(rounds) for q in QUERIES]
    out["bm25s top-10"] = _stats(_timed(lambda q: bm25(q, 10), reps))
    out["bm25s top-200"] = _stats(_timed(lambda q: bm25(q, 200), reps))
    out["ours keyword top-10"] = _stats(_timed(lambda q: corpus.keyword.search(q, limit=10), reps))
    overlap, by_base = [], []
    for q in QUERIES:
        ours = [pid for pid, _ in corpus.keyword.search(q, limit=10).ids]
        theirs = bm25(q, 10)
        overlap.append(len(set(ours) & set(theirs)) / 10)
        # Replicas of one source passage tie or nearly tie; count a hit per source passage too.
        mine = {_base_of(p) for p in ours}
        by_base.append(len(mine & {_base_of(p) for p in theirs}) / max(1, len(mine)))
    out["bm25s overlap@10 with ours"] = float(np.mean(overlap))
    out["bm25s overlap@10 with ours, by source passage"] = float(np.mean(by_base))

    # Exact NumPy (the matrix in RAM, not mmap) vs usearch HNSW.
    matrix = np.ascontiguousarray(corpus.vectors.matrix, dtype=np.float32)
    pvecs = [matrix[i] for i in range(0, len(ids), max(1, len(ids) // 200))][:200]
    queries = qvecs + pvecs

    def exact(v, k):
        s = matrix @ v
        top = np.argpartition(-s, k - 1)[:k]
        return top[np.argsort(-s[top])]

    out["numpy exact top-200 (in RAM)"] = _stats(_timed(lambda v: exact(v, 200), [(v,) for v in qvecs] * rounds))
    truth = [set(exact(v, 10)) for v in queries]
    try:
        from usearch.index import Index
    except ImportError:
        out["usearch"] = "not installed (pip install -c constraints.txt usearch)"
        return out
    for dtype in ("f32", "i8"):
        t = time.perf_counter()
        index = Index(ndim=matrix.shape[1], metric="ip", dtype=dtype, connectivity=16, expansion_add=128,
                      expansion_search=64)
        index.add(np.arange(len(ids)), matrix, threads=1)
        build_s = time.perf_counter() - t
        rec = np.mean([len(truth[i] & set(index.search(v, 10).keys.tolist())) / 10 for i, v in enumerate(queries)])
        lat = _stats(_timed(lambda v: index.search(v, 200), [(v,) for v in qvecs] * rounds))
        out[f"usearch hnsw {dtype}"] = {"build_s": build_s, "recall_at_10": float(rec), "top-200": lat,
                                        "memory_mb": index.memory_usage / 2**20}
    return out


def bench_cli(index: Path, repeat: int = 3) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if not shutil.which(CLI):
        return {"error": f"{CLI} not found"}

    def run(args):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            proc = subprocess.run([CLI, *args], capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - t)
            if proc.returncode != 0:
                return {"error": proc.stderr[-500:]}
        return {"median_s": float(np.median(times)), "min_s": min(times), "runs": times}

    q = QUERIES[0]
    return {
        "--help": run(["--help"]),
        "keyword": run(["--index", str(index), "search", q, "--mode", "keyword"]),
        "semantic": run(["--index", str(index), "search", q, "--mode", "semantic"]),
        "hybrid": run(["--index", str(index), "search", q]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, action="append", required=True)
    parser.add_argument("--rounds", type=int, default=2, help="times each query is measured")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--quick", action="store_true", help="no peers, no Whoosh-scored part, no cold CLI")
    parser.add_argument("--json", type=Path, help="append the results (one JSON object a line) here")
    parser.add_argument("--first-pass", action="store_true",
                        help="only the vector first pass vs the exact scan, alternated (bench_first_pass)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.first_pass:
        for index in args.index:
            before = machine()
            res = dict(bench_first_pass(index, args.rounds), machine_before=before,
                       load_after=[round(x, 2) for x in os.getloadavg()])
            print(json.dumps(res), flush=True)
            if args.json:
                with open(args.json, "a", encoding="utf-8") as f:
                    f.write(json.dumps(res) + "\n")
        return
    for index in args.index:
        before = machine()
        res = bench_api(index, args.rounds, args.quick)
        if not (args.no_cli or args.quick):
            res["cli"] = bench_cli(index)
        res["machine_before"] = before
        res["load_after"] = [round(x, 2) for x in os.getloadavg()]
        line = json.dumps(res)
        print(line, flush=True)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
