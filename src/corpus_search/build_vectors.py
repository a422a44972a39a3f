"""The build's embedding stage: a vector per passage and per sentence, carried over where unchanged.

The encoder is given (vector_index.Encoder here, cluster_build.ClusterEncoder on a cluster), so the
same passages make the same vectors either way.

A source read again (a new PIPELINE_VERSION, an edited file) mostly gives passages the model has read
before. Each generation keeps, per vector row, a digest of what the model read for the passage and for
its sentences (`Digests`); a later build takes the vector of any passage or sentence set whose digest it
finds there, or in the build cache (what a build that stopped before publishing made, build_cache.py),
and embeds only the rest, saving each part to that cache as soon as it is made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpus_search import backends, embedding_text, sentences
from corpus_search.build_cache import BuildCache, chunks
from corpus_search.build_plan import Previous, Source
from corpus_search.entity_keys import RawMention
from corpus_search.models import Passage
from corpus_search.sentences import SentenceIndex
from corpus_search.vector_index import Encoder, model_name

PASSAGE_DIGESTS = "passage_digests.npy"  # row -> digest of what the model read for the passage
SENTENCE_DIGESTS = "sentence_digests.npy"  # row -> digest of the passage's sentences as the model read them
_SIZE = 16
UNKNOWN = bytes(_SIZE)  # a row whose digest an older build did not keep


def digest(texts: Iterable[str], spans: Iterable[tuple[int, int]] = ()) -> bytes:
    """What the model read (and where each piece sits in the passage), with the model's name: 16 bytes."""
    h = hashlib.blake2b(model_name().encode(), digest_size=_SIZE)
    for a, b in spans:
        h.update(f"\0{a},{b}".encode())
    for t in texts:
        h.update(b"\1" + t.encode("utf-8", "surrogatepass"))
    return h.digest()


@dataclass
class Digests:
    """passage id -> digest of its passage text and of its sentences as the model read them."""

    passage: dict[str, bytes] = field(default_factory=dict)
    sentences: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def of_generation(cls, gen: Path | None, ids: list[str]) -> Digests:
        """Those a generation kept for its rows (`ids`: its passage ids in row order); none if it kept none."""
        out = cls()
        if gen is not None:
            out.passage = _load(gen / PASSAGE_DIGESTS, ids)
            out.sentences = _load(gen / SENTENCE_DIGESTS, ids)
        return out

    def save(self, gen: Path, ids: list[str]) -> None:
        for name, table in ((PASSAGE_DIGESTS, self.passage), (SENTENCE_DIGESTS, self.sentences)):
            rows = np.frombuffer(b"".join(table.get(pid, UNKNOWN) for pid in ids), dtype=np.uint8)
            np.save(gen / name, rows.reshape(len(ids), _SIZE), allow_pickle=False)


def _load(path: Path, ids: list[str]) -> dict[str, bytes]:
    try:
        rows = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return {}  # built before digests were kept: nothing is found by its text
    if rows.dtype != np.uint8 or rows.shape != (len(ids), _SIZE):
        return {}
    return {pid: d for pid, d in zip(ids, (r.tobytes() for r in rows)) if d != UNKNOWN}


def carried(previous: Previous | None, sources: list[Source]) -> dict[str, np.ndarray]:
    """passage id -> vector, from the previous generation, for the passages of the sources carried over."""
    if previous is None:
        return {}
    return previous.vectors.vectors_for([p.passage_id for s in sources if s.reused for p in s.passages])


def found_by_text(previous: Previous | None, old: Digests, passages: list[Passage],
                  defined: dict[str, dict[str, str]], digests: Digests) -> dict[str, np.ndarray]:
    """passage id -> vector, for those of `passages` whose model text the previous generation embedded.

    Records each passage's digest in `digests`; `old` are the previous generation's."""
    texts = embedding_text.texts_for(passages, defined)
    for p, text in zip(passages, texts):
        digests.passage[p.passage_id] = digest([text])
    if previous is None or not old.passage:
        return {}
    row_of = {d: pid for pid, d in old.passage.items()}
    pairs = [(p.passage_id, row_of[digests.passage[p.passage_id]]) for p in passages
             if digests.passage[p.passage_id] in row_of]
    if not pairs:
        return {}
    got = previous.vectors.vectors_for([old_pid for _, old_pid in pairs])
    return {pid: got[old_pid] for pid, old_pid in pairs if old_pid in got}


def found_in_cache(cache: BuildCache, passages: list[Passage], digests: Digests,
                   have: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """passage id -> vector, for those of `passages` not in `have` whose model text a stopped build embedded
    (their digests are in `digests`, from found_by_text)."""
    lacking = [p for p in passages if p.passage_id not in have]
    if not lacking:
        return {}
    saved = cache.vectors()
    return {p.passage_id: saved[digests.passage[p.passage_id]] for p in lacking
            if digests.passage.get(p.passage_id) in saved}


def fill_in(digests: Digests, passages: list[Passage]) -> int:
    """Digest the passages carried over without one (an index built before digests were kept), so a later
    version change finds their vectors by text too. Their vectors were made by this very pipeline version
    (their sources' keys hold it), so what the model read is what it reads now. Returns how many."""
    lacking = [p for p in passages if p.passage_id not in digests.passage or p.passage_id not in digests.sentences]
    if not lacking:
        return 0
    docs = {p.doc_id for p in lacking}
    defined = embedding_text.definitions(p for p in passages if p.doc_id in docs)
    for p, text in zip(lacking, embedding_text.texts_for(lacking, defined)):
        digests.passage.setdefault(p.passage_id, digest([text]))
        if p.passage_id not in digests.sentences:
            spans, texts = sentences.model_sentences(p.text, defined.get(p.doc_id, {}),
                                                     embedding_text.float_title(p.section))
            digests.sentences[p.passage_id] = digest(texts, spans)
    return len(lacking)


def embed(encoder: Encoder, passages: list[Passage], progress: Callable[[int], None],
          defined: dict[str, dict[str, str]] | None = None, cache: BuildCache | None = None,
          digests: Digests | None = None) -> dict[str, np.ndarray]:
    """passage id -> vector for passages that have none yet; `defined`: each document's abbreviations
    (embedding_text.definitions), spelled out in what the model reads. With a `cache` (and the passages'
    `digests`), each part is saved to it as soon as it is embedded."""
    out: dict[str, np.ndarray] = {}
    texts = embedding_text.texts_for(passages, defined or {})
    done = 0
    for part in chunks(range(len(passages))):
        encoded = encoder.encode([texts[i] for i in part], progress=lambda n, before=done: progress(before + n))
        out.update((passages[i].passage_id, encoded[j]) for j, i in enumerate(part))
        if cache is not None and digests is not None:
            cache.add_vectors([digests.passage[passages[i].passage_id] for i in part], encoded)
        done += len(part)
    return out


def sentence_vectors(passages: list[Passage], need: list[Passage], previous_gen: Path | None,
                     encoder: Encoder | None, vectors: dict[str, np.ndarray],
                     defined: dict[str, dict[str, str]] | None = None,
                     digests: Digests | None = None, old: Digests | None = None,
                     cache: BuildCache | None = None) -> dict:
    """passage id -> (sentence spans, vectors): carried over from the previous generation, else embedded.

    `need` are the passages the previous generation did not hold unchanged (read again, or new): their
    sentences are found by digest in `old` (the previous generation's), or embedded; `encoder` is None when
    no passage needed one; `defined` as for `embed`, spelled out in each sentence. Each passage's sentence
    digest goes into `digests` (carried over from `old` for the passages carried over). Sets of sentences
    a stopped build embedded are taken from `cache`, and those embedded now are saved to it part by part.
    """
    out: dict = {}
    digests = digests if digests is not None else Digests()
    old = old if old is not None else Digests()
    needed = {p.passage_id for p in need}
    old_index = old_vectors = None
    if previous_gen is not None:
        old_index = SentenceIndex.open(previous_gen)
        if old_index is not None:
            old_vectors = backends.vector_backend().open(previous_gen)
            for p in passages:
                row = old_vectors.row(p.passage_id)
                if p.passage_id not in needed and row is not None:
                    spans, vecs = old_index.of_passage(row)
                    if len(spans):
                        out[p.passage_id] = (spans, vecs)
    for p in passages:
        if p.passage_id not in needed and p.passage_id in old.sentences:
            digests.sentences[p.passage_id] = old.sentences[p.passage_id]
    row_of = {d: pid for pid, d in old.sentences.items()}
    todo = []
    for p in passages:
        if p.passage_id in out:
            continue
        spans, texts = sentences.model_sentences(p.text, (defined or {}).get(p.doc_id, {}),
                                                 embedding_text.float_title(p.section))
        key = digests.sentences[p.passage_id] = digest(texts, spans)
        if len(spans) == 1 and p.passage_id in vectors:
            # One sentence (a heading, a caption, a short note): its vector is the passage's, already made.
            out[p.passage_id] = (np.asarray(spans, dtype=np.int32).reshape(-1, 2), vectors[p.passage_id][None, :])
            continue
        old_row = old_vectors.row(row_of[key]) if old_vectors is not None and key in row_of else None
        if old_row is not None:  # the same sentences, read the same way, in an earlier build
            got_spans, vecs = old_index.of_passage(old_row)
            if len(got_spans) == len(spans):
                out[p.passage_id] = (got_spans, np.asarray(vecs))
                continue
        saved = cache.sentences().get(key) if cache is not None else None
        if saved is not None and len(saved[0]) == len(spans):  # a stopped build embedded them
            out[p.passage_id] = saved
            continue
        todo.append(p)
    if todo:
        encoder = encoder or Encoder()
    for part in chunks(todo):
        per_text, matrix = sentences.embed(encoder, [p.text for p in part],
                                           [(defined or {}).get(p.doc_id, {}) for p in part],
                                           [embedding_text.float_title(p.section) for p in part])
        i = 0
        made = []
        for p, spans in zip(part, per_text):
            out[p.passage_id] = (np.asarray(spans, dtype=np.int32).reshape(-1, 2), matrix[i:i + len(spans)])
            made.append((digests.sentences[p.passage_id], *out[p.passage_id]))
            i += len(spans)
        if cache is not None:
            cache.add_sentences(made)
    return out


def save_sentences(gen: Path, ids: list[str], sentence_vectors: dict, dim: int) -> None:
    """Write the sentence index: each sentence's row points at its passage's row in the vector backend."""
    rows, mats = [], []
    for i, pid in enumerate(ids):
        spans, vecs = sentence_vectors[pid]
        rows.append(np.column_stack([np.full(len(spans), i, dtype=np.int32), spans]))
        mats.append(vecs)
    SentenceIndex.save(gen, np.concatenate(mats) if mats else np.zeros((0, dim), np.float32),
                       np.concatenate(rows) if rows else np.zeros((0, 3), np.int32))


@dataclass
class SavedWork:
    """The model outputs of some passages of a generation, to be put in the build cache (build_cache)."""

    vector_keys: list[bytes]
    vectors: np.ndarray | None
    sentences: list[tuple[bytes, np.ndarray, np.ndarray]]
    fingerprint: str | None  # the tagger's, when the generation's tags are this tagger's
    passages: list[Passage]
    raw: list[RawMention]

    def save(self, cache: BuildCache) -> None:
        if self.vectors is not None:
            cache.add_vectors(self.vector_keys, self.vectors)
        cache.add_sentences(self.sentences)
        if self.fingerprint is not None:
            cache.add_tags(self.fingerprint, self.passages, self.raw)


def work_of_documents(previous: Previous, old: Digests, doc_ids: list[str], fingerprint: str) -> SavedWork | None:
    """What the models made of these documents (and of the ones read from inside them) in the previous
    generation: their vectors, sentence vectors and tags, by the digests the next build looks them up by."""
    wanted = set(doc_ids)
    for parent, kids in previous.children.items():
        if parent in wanted:
            stack = list(kids)
            while stack:
                kid = stack.pop()
                wanted.add(kid.doc_id)
                stack.extend(previous.children.get(kid.doc_id, ()))
    passages = [p for d in sorted(wanted) for p in previous.store.passages(d)]
    if not passages:
        return None
    pids = [p.passage_id for p in passages]
    got = previous.vectors.vectors_for([pid for pid in pids if pid in old.passage])
    keys = [pid for pid in pids if pid in got]
    sentences: list[tuple[bytes, np.ndarray, np.ndarray]] = []
    index = SentenceIndex.open(previous.gen)
    if index is not None and old.sentences:
        row_of = {pid: row for row, pid in enumerate(previous.vectors.ids)}
        for pid in pids:
            if pid in old.sentences and pid in row_of:
                spans, vecs = index.of_passage(row_of[pid])
                sentences.append((old.sentences[pid], spans, vecs))
    same_tagger = previous.manifest.get("tagger") == fingerprint
    raw = [RawMention(*row) for row in previous.store.raw_mentions(pids)] if same_tagger else []
    return SavedWork([old.passage[pid] for pid in keys], np.stack([got[pid] for pid in keys]) if keys else None,
                     sentences, fingerprint if same_tagger else None, passages, raw)
