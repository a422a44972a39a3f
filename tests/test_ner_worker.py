"""The NER worker process: a worker that dies fails the build with a clear error; it never hangs it."""

from __future__ import annotations

import multiprocessing.spawn
from multiprocessing import resource_tracker
import os
import shutil
import threading
import time

from corpus_search.build_entities import NerJob
from corpus_search.errors import CorpusSearchError
from corpus_search.models import Passage


def test_a_worker_that_dies_before_reading_the_passages_fails_the_job_it_does_not_hang_it(monkeypatch):
    """Several MB of passages (far more than a pipe holds) and a worker process that exits at once
    without reading a byte (its interpreter is `false`): the parent used to block for good writing the
    passages to the dead process (a build stuck 40 min); now the job reports the death in seconds."""
    monkeypatch.setenv("CORPUS_SEARCH_PARALLEL_NER", "1")
    resource_tracker.ensure_running()  # started by the real interpreter before the worker's is swapped
    monkeypatch.setattr(multiprocessing.spawn, "_python_exe", os.fsencode(shutil.which("false")))
    text = "The pipeline from Siberia to China was agreed in May 2014 after ten years of talks. " * 30
    passages = [Passage(f"doc:{i:05d}", "doc", i, text, end=len(text)) for i in range(2000)]
    outcome: list = []

    def run() -> None:
        try:
            job = NerJob(passages)
            outcome.append(job.proc is not None)
            job.result(lambda n: None)
            outcome.append("no error")
        except CorpusSearchError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the job hung on a worker that died"
    assert outcome[0] is True, "a job this size runs in a worker process"
    assert isinstance(outcome[1], CorpusSearchError) and "ended without an answer" in str(outcome[1])
    assert "__main__" in str(outcome[1])  # names the likely cause for a Python API user
    assert time.monotonic() - started < 60
