"""The build's entity stage: spaCy NER over the new passages, then canonical names over the whole corpus.

NER runs in a worker process (spawned, so it holds none of the parent's torch threads) while the
build embeds; a worker that dies or goes silent fails the build with one line instead of hanging it.
It sends its mentions back a part at a time (build_cache.chunks), each saved at once
(`on_part`), so a build stopped midway keeps the tagging it finished.
cluster_build.py offers the same interface (`done`, `result`) over NER actors on a cluster.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queues
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from corpus_search import config
from corpus_search.build_cache import chunks
from corpus_search.build_plan import Previous, Source
from corpus_search.entities import AliasTable, RawMention, Tagger, entity_mentions
from corpus_search.errors import CorpusSearchError
from corpus_search.models import Mention, Passage


def tags_by_text(previous: Previous | None, passages: list[Passage]) -> dict[str, list[RawMention]]:
    """passage id -> the model's mentions, for those of `passages` whose very text the same document had in
    the previous generation, tagged by the same tagger: a source read again (a new PIPELINE_VERSION, an
    edited file) is tagged only where its text changed. A passage with no mentions maps to []."""
    if previous is None or previous.manifest.get("tagger") != Tagger().fingerprint():
        return {}
    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    out: dict[str, list[RawMention]] = {}
    known = {d.doc_id for d in previous.store.documents()}
    for doc_id, mine in by_doc.items():
        if doc_id not in known:
            continue  # a new document
        old_of: dict[str, str] = {}
        for o in previous.store.passages(doc_id):
            old_of.setdefault(o.text, o.passage_id)
        pairs = [(p.passage_id, old_of[p.text]) for p in mine if p.text in old_of]
        raw: dict[str, list[RawMention]] = {}
        for row in previous.store.raw_mentions([old_pid for _, old_pid in pairs]):
            m = RawMention(*row)
            raw.setdefault(m.passage_id, []).append(m)
        for pid, old_pid in pairs:
            out[pid] = [replace(m, passage_id=pid) for m in raw.get(old_pid, ())]
    return out


class NerJob:
    """spaCy NER over the new passages: in a worker process when there is enough to do, else here."""

    MIN_PARALLEL = 50  # below this, starting a process costs more than it saves

    def __init__(self, passages: list[Passage],
                 on_part: Callable[[list[Passage], list[RawMention]], None] | None = None):
        self.passages = passages
        self.on_part = on_part  # called with each part's passages and mentions as they come
        self.parts: list[RawMention] = []
        self.count = 0
        self.final: tuple[str, object] | None = None
        self.proc = None
        if len(passages) >= self.MIN_PARALLEL and config.get_int("parallel_ner"):
            ctx = mp.get_context("spawn")  # no fork: the parent may hold torch threads
            self.queue = ctx.Queue()
            # The passages go to the worker through a queue once it runs, not as its arguments: spawn writes
            # the arguments from this thread while it still holds the pipe's other end, so a worker that died
            # before reading them all left the build blocked in that write for good (seen: 40 min, no error).
            # Kept for the job's life: the worker opens the queue's lock by name, gone once it is collected here.
            self.inbox = ctx.Queue()
            self.inbox.cancel_join_thread()  # a dead worker leaves the queue's writer blocked: never wait for it
            self.proc = ctx.Process(target=ner_worker, args=(self.inbox, self.queue), daemon=True)
            self.proc.start()
            self.inbox.put(passages)
            self.stall = config.get_float("ner_stall")
            self.last_news = time.monotonic()

    def _take(self) -> None:
        """One message from the worker; an error if it died or went silent past the stall cap.

        Every passage is at most about MAX_PASSAGE characters, so a batch is bounded work: a
        worker that reports nothing for `ner_stall` seconds is stuck, and waiting longer would
        hang the build (and the app's build with it).
        """
        assert self.proc is not None
        while True:
            try:
                kind, value = self.queue.get(timeout=1.0)
                break
            except queues.Empty:
                pass
            if not self.proc.is_alive() and self.queue.empty():
                # The commonest cause from the Python API: a script that builds at import time. The worker
                # imports the main script again (spawn), so it builds too and stops at the build lock.
                self.final = ("error", f"the tagger process ended without an answer (exit code {self.proc.exitcode}); "
                              "a script that calls build() must do so under `if __name__ == \"__main__\":`")
                return
            if time.monotonic() - self.last_news > self.stall:
                self.proc.kill()
                self.final = ("error", f"no progress for {self.stall:g} s, stopped "
                                       "(raise CORPUS_SEARCH_NER_STALL to allow more)")
                return
        self.last_news = time.monotonic()
        if kind == "progress":
            self.count = value
        elif kind == "part":
            self._part(*value)
        else:
            self.final = (kind, value)

    def _part(self, start: int, end: int, raw: list[RawMention]) -> None:
        self.parts.extend(raw)
        if self.on_part is not None:
            self.on_part(self.passages[start:end], raw)

    def done(self) -> int:
        """Passages tagged so far (never blocks)."""
        while self.proc is not None and self.final is None and not self.queue.empty():
            self._take()
        return self.count

    def result(self, progress: Callable[[int], None]) -> list[RawMention]:
        if self.proc is None:
            tag_in_parts(self.passages, progress, self._part)
            return self.parts
        while self.final is None:
            self._take()
            progress(self.count)
        self.proc.join(timeout=30)
        kind, value = self.final
        if kind == "error":
            raise CorpusSearchError(f"entity tagging failed: {value}")
        return self.parts


def tag_in_parts(passages: list[Passage], progress: Callable[[int], None],
                 part: Callable[[int, int, list[RawMention]], None]) -> None:
    """Tag the passages a part at a time; `part(start, end, mentions)` after each, `progress(done)` within."""
    tagger = Tagger()
    start = 0
    for piece in chunks(passages):
        tagger_done = start
        part(start, start + len(piece), tagger.tag(piece, progress=lambda n: progress(tagger_done + n)))
        start += len(piece)


def ner_worker(inbox, queue) -> None:
    """Runs in the NER process: take the passages, tag them, report progress, send each part's raw mentions
    back as it is done."""
    try:
        passages = inbox.get()
        tag_in_parts(passages, lambda n: queue.put(("progress", n)),
                     lambda start, end, raw: queue.put(("part", (start, end, raw))))
        queue.put(("done", None))
    except BaseException as exc:  # reported to the parent, which fails the build cleanly
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def canonical_mentions(sources: list[Source], raw: list[RawMention],
                       entities_dir: Path) -> tuple[list[Mention], AliasTable]:
    """Give each processed source its new raw mentions, then name every mention of the corpus canonically.

    Canonical names are made over all sources, carried over or not: a new source can teach an alias
    that renames mentions everywhere.
    """
    by_pid: dict[str, list[RawMention]] = {}
    for m in raw:
        by_pid.setdefault(m.passage_id, []).append(m)
    for src in sources:
        if not src.reused:
            src.raw_mentions = [m for p in src.passages for m in by_pid.get(p.passage_id, ())]
    passages = [p for s in sources for p in s.passages]
    return entity_mentions(passages, [m for s in sources for m in s.raw_mentions], entities_dir)
