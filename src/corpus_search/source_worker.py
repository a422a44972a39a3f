"""One source, read and split in its own process under the time and memory caps.

Every per-source stage that reads what a file holds (extract, clean, split into passages)
runs here, so a hostile file costs at most its caps: a PDF whose pages are 70 MB text
streams, or a paragraph no splitter was meant for, ends as status "failed" with a one-line
reason, and the build goes on with the other sources. The caps are the PDF settings
(CORPUS_SEARCH_PDF_TIMEOUT, CORPUS_SEARCH_PDF_MEMORY_MB), now applied to every source.

The parent sends the request as JSON on stdin (the record may hold a password, which must not
show in a process listing) and reads one JSON object from stdout. Nothing but JSON crosses
back: the child handles hostile bytes, so its answer is data, never pickled objects.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from corpus_search import config, workers
from corpus_search.models import STATUS_FAILED, Passage, Record
from corpus_search.pdf_worker import limit_memory

_SRC = str(Path(__file__).resolve().parents[1])  # the child imports this very checkout of the package


@dataclass(frozen=True)
class Processed:
    """What one source turned into, or why it turned into nothing."""

    status: str
    message: str
    pages: int = 0
    skipped_pages: tuple[int, ...] = ()
    text: str = ""
    passages: tuple[Passage, ...] = ()


def time_cap_message(seconds: float) -> str:
    return f"over the time cap ({seconds:g} s); raise CORPUS_SEARCH_PDF_TIMEOUT to allow more"


def memory_cap_message(memory_mb: int) -> str:
    return f"over the memory cap ({memory_mb} MiB); raise CORPUS_SEARCH_PDF_MEMORY_MB to allow more"


def process(path: Path, record: Record) -> Processed:
    """Extract, clean and split `path` in a worker process; never raises for a bad file."""
    timeout = config.get_float("pdf_timeout")  # a bad setting is a usage error and may raise
    memory_mb = config.get_int("pdf_memory_mb")
    request = json.dumps({"path": str(path), "record": record.to_json(), "memory_mb": memory_mb,
                          "timeout": timeout}).encode()
    # -P: neither the working folder nor this file's folder may shadow stdlib or pypdf imports.
    # In the build's process group (no session of its own), so cancelling a build kills it too;
    # it starts no process of its own, so a timeout needs to kill only this one.
    run = workers.run_json(
        [sys.executable, "-P", "-c",
         f"import sys; sys.path.insert(0, {_SRC!r}); from corpus_search.source_worker import main; sys.exit(main())"],
        request, timeout)
    if run.start_error:
        return Processed(STATUS_FAILED, f"could not start the source worker: {run.start_error}")
    if run.timed_out:
        return Processed(STATUS_FAILED, time_cap_message(timeout))
    return _answer(run, memory_mb)


def _answer(run: workers.Run, memory_mb: int) -> Processed:
    result = run.result
    if result is not None and result.get("kind") == "done":
        return Processed(
            status=result["status"], message=result["message"], pages=result["pages"],
            skipped_pages=tuple(result["skipped_pages"]), text=result["text"],
            passages=tuple(Passage.from_json(p) for p in result["passages"]),
        )
    if result is not None and result.get("kind") == "memory" or run.out_of_memory:
        return Processed(STATUS_FAILED, memory_cap_message(memory_mb))
    if result is not None and result.get("kind") == "error":
        return Processed(STATUS_FAILED, str(result.get("message", ""))[:300])
    if run.returncode and run.returncode < 0:
        return Processed(STATUS_FAILED, f"the source worker crashed (signal {-run.returncode})")
    return Processed(STATUS_FAILED, f"the source worker crashed: {run.last_error or 'no output'}")


# ---------------------------------------------------------------- the child


def _work(request: dict) -> dict:
    from corpus_search.ingest import extract
    from corpus_search.passages import split_document

    record = Record.from_json(request["record"])
    # This process is the isolation, so PDFs are read here rather than in a further child.
    extraction = extract(Path(request["path"]), record, isolated=True)
    pages = extraction.pages
    try:
        split = split_document(record, pages, pdf=Path(request["path"]).suffix.lower() == ".pdf") if pages else None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - odd text must cost this source, never the build
        return {"kind": "error", "message": f"could not be processed: {type(exc).__name__}: {exc}"}
    return {
        "kind": "done",
        "status": extraction.status,
        "message": extraction.message,
        "pages": len(pages),
        "skipped_pages": list(extraction.skipped_pages),
        "text": split.text if split else "",
        "passages": [p.to_json() for p in split.passages] if split else [],
    }


def main() -> int:
    request = json.loads(sys.stdin.read())
    if request.get("memory_mb", 0) > 0:
        limit_memory(int(request["memory_mb"]))
    if request.get("timeout", 0) > 0:
        # The parent kills this process at the time cap, but a build stopped by SIGTERM cannot: the
        # CPU limit (a second past the cap, so the parent's timeout comes first) stops an orphan too.
        import resource

        seconds = math.ceil(request["timeout"]) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    # pypdf warns through logging; anything a library prints must not corrupt the JSON on stdout.
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    out = sys.stdout
    sys.stdout = sys.stderr
    try:
        data = json.dumps(_work(request), ensure_ascii=True)
    except MemoryError:
        data = json.dumps({"kind": "memory"})
    out.write(data)
    out.flush()
    return 0
