"""A reproducible scale corpus made from the bundled sources, for the speed benchmarks.

Two products, both from the passages of a real index of `corpus/` (built first if missing):

  index   an index folder (store + keyword index + vectors) of about N passages, written
          straight through the library's own writers (Store, KeywordIndex, VectorIndex,
          generations), without running NER or the embedding model again.
  folder  a corpus folder of D .txt sources with .toml records, for timing incremental builds.

What is synthetic (everything is derived with a fixed seed, so two runs give the same bytes):

  * documents: replica r of every bundled document gets doc_id "{doc_id}-x{r:04d}" and its record
    a title suffix "[replica r]". Replica 0 is the original, unchanged.
  * passage text (replicas >= 1): adjacent sentences swapped with probability 0.5, and each word
    found in SYNONYMS replaced by its partner with probability 0.3 (case kept). Entity names are
    never in the list, so mention spans survive; a mention whose text is no longer found is dropped.
  * passage layout: page, section, kind and paragraph are the base passage's; spans are recomputed
    over a document text that is the passages joined by blank lines; page breaks, note marks and
    raw-offset maps are dropped (the scale corpus is not for quotation tests).
  * vectors: NOT re-embedded. A replica's vector is the base passage's vector plus Gaussian noise
    (sigma per component, default 0.03, i.e. cosine to the base of about 0.87), re-normalised.
    Sentence vectors likewise: the replica text is split into sentences again, and sentence i gets
    the base passage's sentence i (the last one if the replica has more) plus the same noise.
  * entities: the base passage's canonical mentions (name, label) moved to where their text now
    sits; the alias table is the base index's.

Run:
  .venv/bin/python bench/make_scale_corpus.py index --passages 10000 --out bench/out/scale-10k
  .venv/bin/python bench/make_scale_corpus.py index --passages 100000 --out bench/out/scale-100k
  .venv/bin/python bench/make_scale_corpus.py folder --documents 1000 --out bench/out/corpus-1000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
BASE_INDEX = OUT / "base-index"
SEED = 7

# Pairs of ordinary words in these sources; both directions are used. No entity names.
SYNONYMS = dict(
    pair
    for a, b in [
        ("important", "significant"), ("increase", "rise"), ("large", "big"), ("small", "minor"),
        ("rapid", "fast"), ("strong", "robust"), ("weak", "feeble"), ("however", "nevertheless"),
        ("also", "too"), ("often", "frequently"), ("many", "numerous"), ("major", "principal"),
        ("cooperation", "collaboration"), ("relations", "ties"), ("policy", "strategy"),
        ("economic", "commercial"), ("growth", "expansion"), ("trade", "commerce"), ("deal", "agreement"),
        ("country", "state"), ("countries", "states"), ("leaders", "heads"), ("support", "backing"),
        ("interests", "concerns"), ("goal", "aim"), ("plan", "scheme"), ("project", "venture"),
        ("said", "stated"), ("began", "started"), ("help", "assist"), ("show", "demonstrate"),
        ("new", "fresh"), ("key", "central"), ("main", "chief"), ("current", "present"),
        ("limited", "restricted"), ("clear", "evident"), ("difficult", "hard"), ("likely", "probable"),
        ("region", "area"), ("military", "armed"), ("energy", "power"), ("partnership", "alliance"),
    ]
    for pair in ((a, b), (b, a))
)
_WORD = re.compile(r"[A-Za-z]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def perturb(text: str, rng: random.Random) -> str:
    """Swap two adjacent sentences (p=0.5), then replace listed words with their partner (p=0.3)."""
    sentences = _SENTENCE.split(text)
    if len(sentences) > 1 and rng.random() < 0.5:
        i = rng.randrange(len(sentences) - 1)
        sentences[i], sentences[i + 1] = sentences[i + 1], sentences[i]
        text = " ".join(sentences)

    def swap(m: re.Match) -> str:
        word = m.group(0)
        partner = SYNONYMS.get(word.lower())
        if partner is None or rng.random() >= 0.3:
            return word
        return partner.capitalize() if word[0].isupper() else partner

    return _WORD.sub(swap, text)


def ensure_base_index(base: Path = BASE_INDEX) -> Path:
    """The real index of the bundled corpus (built once, with the real models)."""
    from corpus_search.generations import Generations

    if Generations(base).current() is None:
        from corpus_search.api import build

        print(f"building the base index of {ROOT / 'corpus'} in {base} ...", file=sys.stderr)
        build(ROOT / "corpus", base)
    return base


def load_base(base: Path):
    """Documents, passages, mentions, raw mentions, alias rows, vectors and manifest of the base index."""
    from corpus_search.build import STORE
    from corpus_search.generations import Generations
    from corpus_search.store import Store
    from corpus_search.vector_index import VectorIndex

    gen, manifest, _ = Generations(base).good()
    store = Store.open(gen / STORE)
    docs = [d for d in store.documents() if d.passages]
    passages = {d.doc_id: store.passages(d.doc_id) for d in docs}
    texts = {d.doc_id: store.document_text(d.doc_id) for d in docs}
    mentions = store.mentions([p.passage_id for ps in passages.values() for p in ps])
    raw: dict[str, list[tuple]] = {}
    for row in store.raw_mentions([p.passage_id for ps in passages.values() for p in ps]):
        raw.setdefault(row[0], []).append(row)
    aliases = store.conn.execute("SELECT key, name, label, source FROM aliases").fetchall()
    store.close()
    vec = VectorIndex.open(gen)
    vectors = {pid: np.asarray(vec.matrix[i]) for i, pid in enumerate(vec.ids)}
    from corpus_search.sentences import SentenceIndex

    sent = SentenceIndex.open(gen)
    sentence_vectors = {pid: np.asarray(sent.of_passage(i)[1]) for i, pid in enumerate(vec.ids)} if sent else {}
    return docs, passages, texts, mentions, raw, aliases, vectors, manifest, sentence_vectors


def _replica_passages(doc, passages, r: int, rng: random.Random):
    """(new doc_id, new passages, document text, {new pid: base passage}) of replica r."""
    new_id = doc.doc_id if r == 0 else f"{doc.doc_id}-x{r:04d}"
    out, parts, base_of, pos = [], [], {}, 0
    for p in passages:
        text = p.text if r == 0 else perturb(p.text, rng)
        pid = f"{new_id}:{p.seq:04d}"
        q = dataclasses.replace(
            p, passage_id=pid, doc_id=new_id, text=text, start=pos, end=pos + len(text),
            page_breaks=(), note_marks=(), raw_map=(),
        ) if r else p
        out.append(q)
        parts.append(text)
        base_of[pid] = p
        pos += len(text) + 2
    return new_id, out, ("\n\n".join(parts) if r else None), base_of


def _moved(rows, text: str):
    """Mentions re-anchored on the perturbed text (first occurrence at or after the old start, else anywhere)."""
    out = []
    for m in rows:
        at = text.find(m.text, max(0, m.start - 200))
        if at < 0:
            at = text.find(m.text)
        if at >= 0:
            out.append((at, at + len(m.text)))
        else:
            out.append(None)
    return out


def _planned(docs, passages, replicas: int, n_passages: int) -> int:
    """Passages make_index will write: whole documents, in its order, until n_passages is reached."""
    total = 0
    for _ in range(replicas):
        for doc in docs:
            if n_passages and total >= n_passages:
                break
            total += len(passages[doc.doc_id])
    return total


def _max_rss_mb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # kB on Linux


class _Progress:
    """One stderr line per 100k passages and per stage, with the elapsed time and peak memory (a 1M run is long)."""

    def __init__(self, total: int, every: int = 100_000):
        self.total, self.every, self.next = total, every, every
        self.t0 = time.perf_counter()

    def _line(self, what: str) -> None:
        print(f"[{time.perf_counter() - self.t0:7.0f} s, max RSS {_max_rss_mb()} MB] {what}", file=sys.stderr, flush=True)

    def show(self, done: int, what: str) -> None:
        if done >= self.next:
            self._line(f"{what}: {done:,} of {self.total:,} passages")
            self.next = (done // self.every + 1) * self.every

    def stage(self, what: str) -> None:
        self._line(what)

    def each(self, items, what: str):
        self.next = self.every
        for i, item in enumerate(items, 1):
            yield item
            self.show(i, what)


def make_index(out: Path, n_passages: int, sigma: float = 0.03, base: Path = BASE_INDEX) -> dict:
    """Write an index of about `n_passages` passages into `out`; returns timings and counts."""
    from corpus_search import generations
    from corpus_search.build import KEYWORD, STORE
    from corpus_search.entities import RawMention
    from corpus_search.keyword_index import KeywordDoc, KeywordIndex
    from corpus_search.models import Mention
    from corpus_search.store import Store
    from corpus_search.vector_index import VectorIndex

    docs, passages, texts, mentions, raw, aliases, vectors, base_manifest, base_sentences = load_base(
        ensure_base_index(base))
    from corpus_search import sentences

    sentence_rows: list[np.ndarray] = []
    n_sentences = 0
    n_base = sum(len(v) for v in passages.values())
    replicas = max(1, -(-n_passages // n_base)) if n_passages else 1  # 0: the base passages once
    planned = _planned(docs, passages, replicas, n_passages)
    dim = len(next(iter(vectors.values())))
    # Preallocated, not a list of rows stacked at the end: at 1M passages a stack would hold the
    # vectors twice. Sentence vectors (about 3 per passage, 5 GB at 1M) go to a scratch file as
    # they are made and are read back through a memory map, so they never sit in RAM at all.
    matrix = np.empty((planned, dim), dtype=np.float32)
    spill_path = out.parent / f".{out.name}.sentence_vectors.tmp"
    out.parent.mkdir(parents=True, exist_ok=True)
    spill = open(spill_path, "wb") if base_sentences else None
    rng = random.Random(SEED)
    nrng = np.random.default_rng(SEED)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    gens = generations.Generations(out)
    gen = gens.new()
    timings: dict[str, float] = {}

    t = time.perf_counter()
    store = Store.create(gen / STORE)
    ids: list[str] = []
    keyword_docs: list = []
    n_mentions = 0
    progress = _Progress(planned)
    order = 0
    doc_status = {}
    for r in range(replicas):
        for doc in docs:
            if n_passages and len(ids) >= n_passages:
                break
            new_id, new_passages, text, base_of = _replica_passages(doc, passages[doc.doc_id], r, rng)
            record = doc.record if r == 0 else dataclasses.replace(
                doc.record, doc_id=new_id, title=f"{doc.record.title} [replica {r}]")
            new_doc = dataclasses.replace(doc, doc_id=new_id, record=record, path=f"scale/{new_id}")
            store.add_document(new_doc, order, texts[doc.doc_id] if text is None else text, new_passages,
                               f"scale-{SEED}-{r}")
            doc_status[new_id] = new_doc.status
            order += 1
            new_mentions, new_raw = [], []
            for p in new_passages:
                bp = base_of[p.passage_id]
                ms = mentions.get(bp.passage_id, [])
                rs = [RawMention(*row) for row in raw.get(bp.passage_id, [])]
                spans = _moved(ms, p.text) if r else [(m.start, m.end) for m in ms]
                new_mentions += [Mention(p.passage_id, s[0], s[1], m.text, m.name, m.label)
                                 for m, s in zip(ms, spans) if s]
                rspans = _moved(rs, p.text) if r else [(m.start, m.end) for m in rs]
                new_raw += [RawMention(p.passage_id, s[0], s[1], m.text, m.label) for m, s in zip(rs, rspans) if s]
                ids.append(p.passage_id)
                keyword_docs.append(KeywordDoc(p.passage_id, p.doc_id, p.kind, p.text, p.section))
                v = vectors[bp.passage_id]
                if r:
                    v = v + nrng.normal(0.0, sigma, v.shape).astype(np.float32)
                    v = v / np.linalg.norm(v)
                matrix[len(ids) - 1] = v
                if base_sentences:
                    sp = np.asarray(sentences.spans(p.text), dtype=np.int32)
                    bv = base_sentences[bp.passage_id]
                    sv = bv[np.minimum(np.arange(len(sp)), len(bv) - 1)]
                    if r:
                        sv = sv + nrng.normal(0.0, sigma, sv.shape).astype(np.float32)
                        sv = sv / np.linalg.norm(sv, axis=1, keepdims=True)
                    sentence_rows.append(np.column_stack([np.full(len(sp), len(ids) - 1, np.int32), sp]))
                    spill.write(np.ascontiguousarray(sv, dtype=np.float32).tobytes())
                    n_sentences += len(sv)
            store.add_mentions(new_mentions)
            store.add_raw_mentions(new_raw)
            n_mentions += len(new_mentions)
            progress.show(len(ids), "store")
    assert len(ids) == planned, (len(ids), planned)
    store.set_aliases([tuple(a) for a in aliases])
    store.set_meta("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    store.set_meta("synthetic", json.dumps({"from": str(base), "seed": SEED, "replicas": replicas, "sigma": sigma}))
    store.commit()
    store.close()
    timings["store"] = time.perf_counter() - t
    progress.stage("store done")

    t = time.perf_counter()
    KeywordIndex.create(gen / KEYWORD, progress.each(keyword_docs, "keyword")).close()
    del keyword_docs
    timings["keyword"] = time.perf_counter() - t
    progress.stage("keyword index done")

    t = time.perf_counter()
    VectorIndex.save(gen, ids, matrix)
    if spill is not None:
        spill.close()
        spilled = np.memmap(spill_path, dtype=np.float32, mode="r", shape=(n_sentences, dim))
        sentences.SentenceIndex.save(gen, spilled, np.vstack(sentence_rows))
        del spilled
        spill_path.unlink()
    timings["vectors"] = time.perf_counter() - t
    progress.stage("vectors done")

    t = time.perf_counter()
    generations.write_manifest(
        gen,
        {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "corpus_hash": f"synthetic-{SEED}-{n_passages}-{sigma}",
            "models": base_manifest.get("models", {}),
            "vector_dim": dim,
            "counts": {"documents": len(doc_status), "passages": len(ids), "mentions": n_mentions},
            "documents": doc_status,
            "synthetic": {"seed": SEED, "replicas": replicas, "sigma": sigma, "base_passages": n_base},
        },
    )
    gens.publish(gen)
    timings["manifest_publish"] = time.perf_counter() - t
    progress.stage("published")
    size = sum(f.stat().st_size for f in gen.rglob("*") if f.is_file())
    return {"passages": len(ids), "documents": len(doc_status), "mentions": n_mentions,
            "sentences": n_sentences, "bytes": size, "seconds": timings, "max_rss_mb": _max_rss_mb()}


def make_folder(out: Path, n_documents: int, per_doc: int = 3, base: Path = BASE_INDEX) -> dict:
    """Write `n_documents` .txt sources (+ .toml records) of about `per_doc` passages each."""
    import shutil

    docs, passages, *_ = load_base(ensure_base_index(base))
    chunks = []
    for doc in docs:
        body = [p for p in passages[doc.doc_id] if p.kind in ("body", "quote") and len(p.text) > 80]
        chunks += [(doc, body[i : i + per_doc]) for i in range(0, len(body), per_doc) if body[i : i + per_doc]]
    rng = random.Random(SEED)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    total = 0
    for n in range(n_documents):
        doc, chunk = chunks[n % len(chunks)]
        doc_id = f"scale{n:05d}"
        paras = [perturb(p.text, rng) if n >= len(chunks) else p.text for p in chunk]
        (out / f"{doc_id}.txt").write_text("\n\n".join(" ".join(t.split()) for t in paras) + "\n", encoding="utf-8")
        record = {"id": doc_id, "title": f"{doc.record.title} (part {n})", "type": "report",
                  "year": doc.record.year or 2020, "authors": list(doc.record.authors)}
        (out / f"{doc_id}.toml").write_text(tomli_w.dumps(record), encoding="utf-8")
        total += len(paras)
    return {"documents": n_documents, "paragraphs": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p_index = sub.add_parser("index", help="an index folder of about N passages")
    p_index.add_argument("--passages", type=int, default=10_000)
    p_index.add_argument("--sigma", type=float, default=0.03)
    p_index.add_argument("--out", type=Path, required=True)
    p_folder = sub.add_parser("folder", help="a corpus folder of D documents")
    p_folder.add_argument("--documents", type=int, default=1000)
    p_folder.add_argument("--per-doc", type=int, default=3, help="passages per document")
    p_folder.add_argument("--out", type=Path, required=True)
    for p in (p_index, p_folder):
        p.add_argument("--base", type=Path, default=BASE_INDEX, help="index of the bundled corpus to start from")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.what == "index":
        result = make_index(args.out, args.passages, args.sigma, args.base)
    else:
        result = make_folder(args.out, args.documents, args.per_doc, args.base)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
