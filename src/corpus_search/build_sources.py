"""The build's first stage: each changed source extracted, cleaned and split in its own capped worker.

A failure is the source's status, never the build's. cluster_build.py runs the same `process` and
`take` on a Ray cluster instead of local worker processes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

from corpus_search import config, languages
from corpus_search.build_plan import Source
from corpus_search.build_report import Progress
from corpus_search.models import STATUS_OK, Document, Record
from corpus_search.records import with_found
from corpus_search.source_worker import BATCH_SIZE, Processed, batchable, process as run_worker, process_batch as run_batch


def process_all(todo: list[Source], progress: Progress, ocr_cache: Path | None = None) -> None:
    """Each source in its own capped worker process, a few at once (the workers are separate
    processes, so threads that only wait on them are enough); small files (text, Word, EPUB) a batch to a worker
    (source_worker.process_batch)."""
    workers = config.get_int("source_workers") or min(os.cpu_count() or 1, 4)
    small = [src for src in todo if batchable(src.path)]
    alone = [src for src in todo if not batchable(src.path)]
    # As many batches as workers at least, so a folder of small files still keeps every worker busy.
    size = max(1, min(BATCH_SIZE, -(-len(small) // max(1, workers))))
    batches = [small[i:i + size] for i in range(0, len(small), size)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(process, src, ocr_cache, progress): 1 for src in alone}
        futures.update({pool.submit(process_together, batch): len(batch) for batch in batches})
        done = 0
        try:
            for future in as_completed(futures):
                future.result()
                done += futures[future]
                progress.advance(done)
        except BaseException:
            for future in futures:  # stopped (Ctrl-C, Cancel): start no further workers
                future.cancel()
            raise


def process_together(batch: list[Source]) -> None:
    """Small sources read in one worker (source_worker.process_batch), each becoming its document."""
    for src, result in zip(batch, run_batch([(src.path, src.record) for src in batch])):
        take(src, result, with_found(src.record, result.found))


def process(src: Source, ocr_cache: Path | None = None, progress: Progress | None = None) -> None:
    """Extract and split one source under the caps; any failure becomes the source's status, never the build's."""
    result = run_worker(src.path, src.record, ocr_cache, _ocr_progress(src.rel, progress) if progress else None)
    take(src, result, with_found(src.record, result.found))


def take(src: Source, result: Processed, record: Record, name: str | None = None) -> None:
    """What the worker made of a source (or of an attachment inside it) becomes its document."""
    src.text = result.text
    # Here, not in the worker: one detector (0.4 s to load) serves every source of the build.
    src.passages = languages.tag(result.passages)
    message = result.message
    if record.guessed and src.parent is None:
        found = "title" in result.found
        note = "no .toml record beside it: " + ("title from the file itself" if found else "title guessed from the file name")
        message = f"{message}; {note}" if message else note
    status = result.status
    if status == STATUS_OK and result.pages and not src.passages:
        status, message = "empty", "no text found"
    src.doc = Document(
        doc_id=record.doc_id,
        path=src.rel,
        sha256=src.sha256,
        record=record,
        status=status,
        message=message,
        pages=result.pages,
        skipped_pages=result.skipped_pages,
        passages=len(src.passages),
        parent=src.parent,
        attachment=name,
    )
    for child in result.children:
        if child.parent != record.doc_id:
            continue  # a grandchild: taken by its own parent below
        inner = Source(src.path, src.rel, child.record, src.sha256, src.key, parent=child.parent)
        # The worker flattened the tree; give each child its own children back.
        nested = replace(child.processed, children=tuple(c for c in result.children if c.parent != record.doc_id))
        take(inner, nested, child.record, child.name)
        src.children.append(inner)


def _ocr_progress(rel: str, progress: Progress, every: float = 5.0) -> Callable[[int, int], None]:
    """Log a long scan's OCR as it goes: pages read of all, and the time left at the pace so far."""
    started = time.monotonic()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] < every or done == 0:
            return
        last[0] = now
        left = (now - started) / done * (total - done)
        progress.log(f"{rel}: OCR {done}/{total} pages, about {_clock(left)} left")

    return report


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}:{secs:02d}"
