"""Build cost per stage on the bundled corpus, from cold, and the options for the two model stages.

Parts (each runs in a fresh subprocess, so imports and model loads are paid as a user pays
them and the peak memory is that part's own):

  cold    `corpus_search.api.build(corpus, fresh folder)`: stage seconds, wall time, peak RSS
  stages  extraction pages/s (ingest.extract), cleaning + splitting (split_document), indexing
          (store + Whoosh + vectors, via make_scale_corpus on the real passages)
  ner     spaCy: model load, words/s for nlp.pipe batch sizes, n_process=2, components excluded
          vs the whole pipeline; mentions compared with the default so a faster option is also right
  embed   sentence-transformers: passages/s for batch sizes, length-sorted vs not, max_seq_length
          256 vs 128, torch threads, bf16 autocast, dynamic int8 (quantize_dynamic), torch.compile;
          quality as cosine to the float vectors and recall@10 of semantic search vs the float index

Run:  .venv/bin/python bench/bench_build.py [--quick] [--parts cold,stages,ner,embed] [--json FILE]
Prints one JSON object per part; bench/run_all.py turns them into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
PY = sys.executable


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _texts_of_base() -> list[str]:
    """The bundled corpus's passages, in store order, from the base index (built if missing)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from make_scale_corpus import ensure_base_index, load_base

    docs, passages, *_ = load_base(ensure_base_index())
    return [p.text for d in docs for p in passages[d.doc_id]]


# -- parts (each runs in its own process) ------------------------------------------------
def part_cold(quick: bool) -> dict:
    t0 = time.perf_counter()
    from corpus_search.api import build

    with tempfile.TemporaryDirectory() as tmp:
        report = build(CORPUS, Path(tmp) / "index", force=True)
        wall = time.perf_counter() - t0
        from corpus_search.build import STORE
        from corpus_search.generations import Generations
        from corpus_search.store import Store

        gen = Generations(Path(tmp) / "index").current()
        store = Store.open(gen / STORE)
        words = sum(len(r[0].split()) for r in store.conn.execute("SELECT text FROM passages"))
        pages = sum(d.pages for d in store.documents())
        store.close()
    st = report.stage_seconds
    return {
        "wall_s": wall,
        "import_and_setup_s": wall - report.seconds,
        "build_s": report.seconds,
        "stage_s": st,
        "passages": report.passages,
        "pages": pages,
        "words": words,
        "pages_per_s_extract_clean": pages / st["extract_clean"] if st.get("extract_clean") else None,
        "ner_words_per_s_incl_load": words / st["entities"] if st.get("entities") else None,
        "embed_passages_per_s_incl_load": report.passages / st["embeddings"] if st.get("embeddings") else None,
        "peak_rss_mb": _rss_mb(),
    }


def part_stages(quick: bool) -> dict:
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document
    from corpus_search.records import find_sources, load_record

    out: dict = {"sources": []}
    t_ex = t_cl = 0.0
    pages = chars = passages = 0
    for path in find_sources(CORPUS):
        record = load_record(path, CORPUS)
        t = time.perf_counter()
        ex = extract(path, record)
        dt_ex = time.perf_counter() - t
        t = time.perf_counter()
        split = split_document(record, ex.pages)
        dt_cl = time.perf_counter() - t
        t_ex += dt_ex
        t_cl += dt_cl
        pages += len(ex.pages)
        chars += sum(len(p.text) for p in ex.pages)
        passages += len(split.passages)
        out["sources"].append({"path": path.relative_to(CORPUS).as_posix(), "pages": len(ex.pages),
                               "extract_s": dt_ex, "clean_split_s": dt_cl})
    out.update(pages=pages, chars=chars, passages=passages, extract_s=t_ex, clean_split_s=t_cl,
               extract_pages_per_s=pages / t_ex, clean_pages_per_s=pages / t_cl)
    # Indexing (store + Whoosh + vectors) on the real passages, without models.
    sys.path.insert(0, str(ROOT / "bench"))
    from make_scale_corpus import make_index

    with tempfile.TemporaryDirectory() as tmp:
        r = make_index(Path(tmp) / "ix", 0)  # replica 0 only: the real passages, mentions and vectors
    s = r["seconds"]
    total = sum(s.values())
    out["indexing"] = {"passages": r["passages"], "seconds": s, "passages_per_s": r["passages"] / total}
    out["peak_rss_mb"] = _rss_mb()
    return out


def part_ner(quick: bool) -> dict:
    from corpus_search import config
    from corpus_search.entities import _FOR_MODEL, _UNUSED, PATTERNS, load_patterns

    texts = _texts_of_base()
    if quick:
        texts = texts[:150]
    texts = [t.translate(_FOR_MODEL) for t in texts]
    words = sum(len(t.split()) for t in texts)

    def load(exclude):
        import spacy

        t = time.perf_counter()
        nlp = spacy.load(config.get("spacy_model"), exclude=exclude)
        nlp.add_pipe("entity_ruler", before="ner").add_patterns(load_patterns(PATTERNS))
        return nlp, time.perf_counter() - t

    def ents(docs):
        return [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in docs]

    out: dict = {"passages": len(texts), "words": words, "runs": []}
    t = time.perf_counter()
    import spacy

    out["import_spacy_s"] = time.perf_counter() - t
    nlp, load_s = load(_UNUSED)
    out["load_excluded_s"] = load_s
    out["pipeline_excluded"] = nlp.pipe_names
    list(nlp.pipe(texts[:20]))  # warm-up
    reference = None
    configs = [("excluded", 16, 1), ("excluded", 64, 1), ("excluded", 256, 1), ("excluded", 64, 2)]
    if quick:
        configs = [("excluded", 64, 1), ("excluded", 64, 2)]
    for name, batch, n_process in configs:
        t = time.perf_counter()
        docs = list(nlp.pipe(texts, batch_size=batch, n_process=n_process))
        dt = time.perf_counter() - t
        got = ents(docs)
        if reference is None:
            reference = got
        out["runs"].append({"pipeline": name, "batch_size": batch, "n_process": n_process, "seconds": dt,
                            "words_per_s": words / dt, "same_entities": got == reference})
    full, load_s = load([])
    out["load_full_s"] = load_s
    out["pipeline_full"] = full.pipe_names
    list(full.pipe(texts[:20]))
    t = time.perf_counter()
    docs = list(full.pipe(texts, batch_size=64))
    dt = time.perf_counter() - t
    out["runs"].append({"pipeline": "full", "batch_size": 64, "n_process": 1, "seconds": dt,
                        "words_per_s": words / dt, "same_entities": ents(docs) == reference})
    out["peak_rss_mb"] = _rss_mb()
    return out


def _recall_at_10(ref, other, queries) -> float:
    import numpy as np

    hits = 0
    for q in queries:
        a = set(np.argsort(-(ref @ q))[:10])
        b = set(np.argsort(-(other @ q))[:10])
        hits += len(a & b)
    return hits / (10 * len(queries))


def part_embed(quick: bool) -> dict:
    import numpy as np

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    texts = _texts_of_base()
    t = time.perf_counter()
    import torch
    from sentence_transformers import SentenceTransformer  # noqa: F401

    import_s = time.perf_counter() - t
    from corpus_search.query_encoder import QueryEncoder
    from corpus_search.vector_index import Encoder, model_path

    t = time.perf_counter()
    enc = Encoder()
    load_s = time.perf_counter() - t
    model = enc.model
    # A sample with the corpus's length mix (every k-th passage by length) keeps each run short.
    by_len = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    step = 8 if quick else 4
    sample = [texts[i] for i in by_len[::step]]
    tok = model.tokenizer
    lengths = [len(tok(x)["input_ids"]) for x in texts]
    out: dict = {"passages": len(texts), "sample": len(sample), "import_s": import_s, "load_s": load_s,
                 "tokens_mean": float(np.mean(lengths)), "tokens_p90": float(np.percentile(lengths, 90)),
                 "over_128": int(sum(n > 128 for n in lengths)), "over_256": int(sum(n > 256 for n in lengths)),
                 "torch_threads_default": torch.get_num_threads(), "runs": []}

    def encode(items, batch, sort=True, m=None):
        m = m or model
        order = sorted(range(len(items)), key=lambda i: len(items[i])) if sort else list(range(len(items)))
        res = np.zeros((len(items), 384), dtype=np.float32)
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            res[idx] = m.encode([items[i] for i in idx], batch_size=batch, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return res

    def timed(name, fn, repeat=2, **info):
        fn(sample[:8])  # warm-up (and compile)
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            fn(sample)
            best = min(best, time.perf_counter() - t)
        row = {"variant": name, **info, "seconds": best, "passages_per_s": len(sample) / best}
        out["runs"].append(row)
        print(json.dumps(row), file=sys.stderr)
        return row

    for batch in ([64] if quick else [16, 32, 64, 128]):
        timed(f"fp32 bs{batch} sorted", lambda s, b=batch: encode(s, b), batch_size=batch)
    timed("fp32 bs64 unsorted", lambda s: encode(s, 64, sort=False), batch_size=64)
    torch.set_num_threads(1)
    timed("fp32 bs64 1 thread", lambda s: encode(s, 64), batch_size=64, threads=1)
    torch.set_num_threads(out["torch_threads_default"])

    # Quality: vectors of every passage per variant vs the float vectors, and semantic top-10 agreement
    # for real queries (encoded with the float NumPy query encoder, as Corpus.encode_query does).
    reference = encode(texts, 64)
    sys.path.insert(0, str(ROOT / "bench"))
    from common import QUERIES

    qenc = QueryEncoder(model_path())
    queries = [qenc.encode(q) for q in QUERIES] + [reference[i] for i in range(0, len(texts), 10)]

    def quality(name, vecs):
        cos = np.sum(vecs * reference, axis=1)
        q = {"variant": name, "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
             "recall_at_10": _recall_at_10(reference, vecs, queries)}
        out.setdefault("quality", []).append(q)
        print(json.dumps(q), file=sys.stderr)

    model.max_seq_length = 128
    timed("fp32 bs64 max_seq 128", lambda s: encode(s, 64), batch_size=64, max_seq_length=128)
    quality("fp32 max_seq 128", encode(texts, 64))
    model.max_seq_length = 256

    def bf16(s):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return encode(s, 64)

    timed("bf16 autocast bs64", bf16, batch_size=64)
    quality("bf16 autocast", bf16(texts))

    import copy

    # The module sentence-transformers actually runs (`model` in v6, `auto_model` before).
    attr = "model" if isinstance(getattr(model[0], "model", None), torch.nn.Module) else "auto_model"
    qmodel = copy.deepcopy(model)
    setattr(qmodel[0], attr, torch.ao.quantization.quantize_dynamic(
        getattr(qmodel[0], attr), {torch.nn.Linear}, dtype=torch.qint8))
    timed("int8 dynamic bs64", lambda s: encode(s, 64, m=qmodel), batch_size=64)
    quality("int8 dynamic", encode(texts, 64, m=qmodel))
    qmodel.max_seq_length = 128
    timed("int8 dynamic bs64 max_seq 128", lambda s: encode(s, 64, m=qmodel), batch_size=64, max_seq_length=128)
    quality("int8 dynamic max_seq 128", encode(texts, 64, m=qmodel))
    del qmodel

    if not quick:
        try:
            cmodel = copy.deepcopy(model)
            setattr(cmodel[0], attr, torch.compile(getattr(cmodel[0], attr), dynamic=True))
            t = time.perf_counter()
            encode(sample[:8], 8, m=cmodel)
            out["compile_first_call_s"] = time.perf_counter() - t
            timed("torch.compile bs64", lambda s: encode(s, 64, m=cmodel), batch_size=64)
        except Exception as exc:  # inductor needs a C++ toolchain; say so rather than fail the bench
            out["compile_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    out["peak_rss_mb"] = _rss_mb()
    return out



PARTS = {"cold": part_cold, "stages": part_stages, "ner": part_ner, "embed": part_embed}


def run_part(name: str, quick: bool, timeout: float = 1800) -> dict:
    """Run one part in a fresh interpreter; its JSON is the last line of stdout."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TQDM_DISABLE="1")
    cmd = [PY, __file__, "--child", name] + (["--quick"] if quick else [])
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        return {"part": name, "error": proc.stderr[-2000:]}
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    data["part"] = name
    data["process_wall_s"] = time.perf_counter() - t
    data["load_after"] = os.getloadavg()
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer variants and passages")
    parser.add_argument("--parts", default="cold,stages,ner,embed")
    parser.add_argument("--json", type=Path, help="append the results (one JSON object a line) here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(PARTS[args.child](args.quick)))
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from common import emit

    for name in args.parts.split(","):
        data = run_part(name, args.quick)
        emit(data, args.json)


if __name__ == "__main__":
    main()
