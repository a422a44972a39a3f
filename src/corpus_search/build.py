"""The build: sources -> passages -> entities -> store + keyword index + vector index.

Incremental by content: a source whose file and record are unchanged since the
current generation is carried over (passages, mentions, vectors) instead of
being extracted, tagged and embedded again. Every build writes a new generation
and switches to it only once it has been verified (see generations.py).

This module runs the stages in order, one module each:
  build_plan      what the corpus holds, what the previous generation has, what changed
  build_sources   extract, clean and split each changed source in its own capped worker
  build_entities  spaCy NER in a worker process, then canonical names over the corpus
  build_vectors   passage and sentence vectors, carried over where unchanged
  build_cache     the model outputs of a build that stopped before it published, taken up by the next
  build_write     write the generation through the store and the backends, then verify it
The cluster build (cluster_build.py) swaps in its own extraction, tagger and encoder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path

from corpus_search import backends, build_entities, build_plan, build_sources, build_vectors, build_write, config
from corpus_search import embedding_text, ocr
from corpus_search import shards
from corpus_search.annotations import after_build
from corpus_search.build_cache import BuildCache
from corpus_search.build_plan import PIPELINE_VERSION, models_manifest, source_key
from corpus_search.build_report import BuildReport, Progress, SourceReport, in_order, report_of
from corpus_search.cluster_build import Engine
from corpus_search.generations import KEYWORD, STORE, Generations
from corpus_search.vector_index import Encoder

# The names other modules import from here.
__all__ = ["KEYWORD", "PIPELINE_VERSION", "STORE", "BuildReport", "Progress", "SourceReport", "build",
           "models_manifest", "source_key"]


def build(corpus: Path, index: Path, progress: Progress | None = None, force: bool = False,
          retry: Collection[str] = (), scrub: bool = False,
          prepare: Callable[[], None] | None = None, cluster: str | None = None) -> BuildReport:
    """Build (or update) the index of `corpus` in `index`; returns one report line per source.

    `retry`: doc ids processed again even when their file and record are unchanged (a source
    that failed, say, once the caps are raised).
    `scrub` (a purge): write the new generation into fresh files, so no deleted row or posting of a
    removed source lingers in SQLite free pages or unmerged Whoosh segments, and delete every older
    generation. `prepare` runs under the build lock before the corpus is read (a purge deletes there).
    `cluster`: run extraction, NER and embedding on the Ray cluster at this address ("local", host:port;
    "" for the cluster_address setting) instead of local processes; see cluster_build.py.
    """
    backends.keyword_backend(), backends.vector_backend()  # a misspelt backend fails before any source is read
    progress = progress or Progress()
    engine = None
    if cluster is not None:
        engine = Engine(cluster, progress)  # a bad address fails here, before the index folder is touched
    try:
        gens = Generations(index)
        with gens.lock():
            if prepare is not None:
                prepare()
            report = _build_locked(corpus, gens, progress, force, frozenset(retry), scrub, engine)
    finally:
        if engine is not None:
            engine.close()
    if engine is not None:
        report.retries = list(engine.retried)
    return report


def _build_locked(corpus: Path, gens: Generations, progress: Progress, force: bool,
                  retry: frozenset[str] = frozenset(), scrub: bool = False, engine: Engine | None = None) -> BuildReport:
    started = time.perf_counter()
    timings: dict[str, float] = {}
    models = models_manifest()
    cache = BuildCache.of_index(gens.root)
    if scrub or force:
        # A purge: the purged source's text must not outlive it in the cache. --force: everything anew.
        cache.clear()

    # 1. What is there, and what changed.
    found = build_plan.survey(corpus)
    previous = build_plan.open_previous(gens, models) if not force else None
    if previous is not None:
        if build_plan.nothing_changed(found, previous, corpus, retry, scrub):
            if gens.current() != previous.gen:
                # The current generation was damaged and reads fell back to this sound one,
                # which matches the corpus: point at it again instead of rebuilding.
                gens.publish(previous.gen)
                gens.prune()
            report = build_plan.unchanged_report(gens, found, previous.store, started)
            previous.store.close()
            cache.clear()
            # Orphans an earlier build could not place (their document away then) are tried again.
            report.annotations = after_build(gens.root, previous.gen / STORE, orphans_only=True)
            return report
        build_plan.carry_over_unchanged(found.sources, previous, retry)

    # 2. Extract and split what changed.
    t = time.perf_counter()
    todo = [s for s in found.sources if not s.reused]
    progress.stage("extract and clean", len(todo))
    (engine.process_all if engine is not None else build_sources.process_all)(todo, progress, ocr.cache_dir(gens.root))
    build_plan.adopt_children(found.sources, found.seen_ids)
    sources = [x for s in found.sources for x in build_plan.with_children(s)]
    todo = [s for s in sources if not s.reused]
    timings["extract_clean"] = time.perf_counter() - t

    # 3 and 4. Entities and embeddings. Both need models whose imports are slow and
    # single-threaded, so NER runs in a worker process while this one loads the
    # embedding model and embeds; the two stages share one progress bar.
    new_passages = [p for s in todo for p in s.passages]
    all_passages = [p for s in sources for p in s.passages]
    vectors = build_vectors.carried(previous, sources)
    reread = [p for p in all_passages if p.passage_id not in vectors]  # passages of sources read again, or new
    previous_gen = previous.gen if previous is not None else None
    old = build_vectors.Digests.of_generation(previous_gen, list(previous.vectors.ids) if previous else [])
    digests = build_vectors.Digests(passage={pid: d for pid, d in old.passage.items() if pid in vectors})
    # What the model reads: each abbreviation spelled out once, from its own document's definitions.
    need_docs = {p.doc_id for p in reread}
    defined = embedding_text.definitions(p for p in all_passages if p.doc_id in need_docs)
    # A passage an earlier build tagged or embedded with the very same text is not done again.
    # So is one a stopped build already tagged or embedded (build_cache).
    tags_found = build_entities.tags_by_text(previous, new_passages)
    fingerprint = build_entities.Tagger().fingerprint()
    tags_saved = cache.tags(fingerprint, [p for p in new_passages if p.passage_id not in tags_found])
    tags_found.update(tags_saved)
    to_tag = [p for p in new_passages if p.passage_id not in tags_found]
    vectors.update(build_vectors.found_by_text(previous, old, reread, defined, digests))
    vectors_saved = build_vectors.found_in_cache(cache, reread, digests, vectors)
    vectors.update(vectors_saved)
    if tags_saved or vectors_saved:
        progress.log(f"taken up from a build that stopped before it finished, or from a document the last build "
                     f"removed: the tags of {len(tags_saved)} and the vectors of {len(vectors_saved)} passages")
    need = [p for p in reread if p.passage_id not in vectors]
    t = time.perf_counter()
    if engine is not None:
        tagger = engine.tagger(to_tag)
    else:
        tagger = build_entities.NerJob(to_tag, on_part=lambda ps, raw: cache.add_tags(fingerprint, ps, raw))
    # One bar for two models: its steps are passages tagged plus passages embedded, so say so first,
    # or "666/666" reads as 666 passages where there are 333.
    progress.log(f"entities + embeddings: {len(to_tag)} passages to tag and {len(need)} to embed, "
                 f"{len(to_tag) + len(need)} steps")
    progress.stage("entities + embeddings", len(to_tag) + len(need))
    encoder = engine.encoder() if engine is not None else None
    if need:
        encoder = encoder or Encoder()
        vectors.update(build_vectors.embed(encoder, need, lambda done: progress.advance(tagger.done() + done),
                                           defined, cache, digests))
    sentence_vectors = build_vectors.sentence_vectors(all_passages, reread, previous_gen, encoder, vectors, defined,
                                                      digests, old, cache)
    build_vectors.fill_in(digests, all_passages)  # what an index from before digests carried over
    timings["embeddings"] = time.perf_counter() - t
    t = time.perf_counter()
    raw = tagger.result(lambda n: progress.advance(n + len(need)))
    if engine is not None:
        cache.add_tags(fingerprint, to_tag, raw)
    raw += [m for found in tags_found.values() for m in found]
    # With NER in its own process this is only the wait after embedding finished.
    timings["entities"] = time.perf_counter() - t
    mentions, table = build_entities.canonical_mentions(sources, raw, corpus / "_entities")
    removed: list[dict] = []
    removed_work = None
    if previous is not None:
        # By path: a file there still (read, or failed before it was read) is no removal; a renamed one is.
        present = {s.rel for s in sources} | {r.path for r in found.failed + found.skipped}
        removed = [{"path": d.path, "doc_id": d.doc_id, "passages": d.passages}
                   for d in previous.store.documents() if d.parent is None and d.path not in present]
        # Read now, saved once this build has published (which empties the cache): a document moved to
        # the trash and restored, the usual undo, is then neither tagged nor embedded again.
        removed_work = build_vectors.work_of_documents(previous, old, [r["doc_id"] for r in removed], fingerprint)
        previous.store.close()

    # 5. Write, verify and publish a new generation.
    t = time.perf_counter()
    progress.stage("write indexes", 3)
    gen = gens.new()
    build_write.write(gen, sources, None if scrub else previous_gen, mentions, table, vectors, models, progress,
                      found.failed + found.skipped, corpus.resolve(), sentence_vectors, digests)
    if config.get("backend").strip().lower() == "cluster":  # cluster search reads shards: written with the index
        shards.add(gen, config.get_int("shards"))
    timings["write_indexes"] = time.perf_counter() - t
    t = time.perf_counter()
    build_write.verify(gen)
    gens.publish(gen)
    gens.remember_sound(gen)  # just hashed in full: the first open need not do it again
    gens.prune()
    if scrub:
        gens.remove_others(gen)
    cache.clear()  # all of it is in the generation now
    if removed_work is not None and not scrub:
        removed_work.save(cache)
    timings["verify_publish"] = time.perf_counter() - t

    return BuildReport(
        generation=gen.name,
        sources=in_order(found.failed + found.skipped + [report_of(s.doc, s.reused) for s in sources]),
        passages=len(all_passages),
        seconds=time.perf_counter() - started,
        stage_seconds=timings,
        work={"tagged": len(to_tag), "tags_found_by_text": len(tags_found) - len(tags_saved), "embedded": len(need),
              "vectors_found_by_text": len(reread) - len(need) - len(vectors_saved),
              **({"tags_from_stopped_build": len(tags_saved), "vectors_from_stopped_build": len(vectors_saved)}
                 if tags_saved or vectors_saved else {})},
        # User annotations live outside the generations; they are found again in the new text.
        annotations=after_build(gens.root, gen / STORE),
        removed=removed,
    )
