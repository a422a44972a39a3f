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
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from corpus_search import config, ocr, workers
from corpus_search.ingest import extract
from corpus_search.models import STATUS_FAILED, Passage, Record
from corpus_search.passages import split_document
from corpus_search.pdf_worker import limit_memory
from corpus_search.records import child_id, with_found

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
    found: dict = field(default_factory=dict)  # record fields the file states (ingest.Extraction.found)
    children: tuple[Child, ...] = ()  # documents inside this one (attachments, an mbox's messages), flattened


@dataclass(frozen=True)
class Child:
    """A document read from inside another source's file, already with its own record and passages."""

    record: Record
    parent: str  # the doc id of the document it is inside
    name: str  # what the parent calls it
    processed: Processed


SCRATCH_PREFIX = "corpus-search-source-"
_LEGACY_AGE_S = 24 * 3600  # a folder named before it carried a process id: deleted once this old
_swept: set[str] = set()
_sweeping = threading.Lock()


def sweep_orphaned_scratch(folder: Path | None = None, force: bool = False, prefix: str = SCRATCH_PREFIX) -> list[Path]:
    """Delete the scratch folders named `prefix` whose process is gone; once per process and prefix unless `force`.

    A source worker's scratch folder may hold a copy of a private e-mail attachment, and a cluster
    worker's (`cluster_workers`) a copy of a whole source, so one left by a killed build or worker must
    not stay in the temporary folder. Only folders named `<prefix><pid>-...` whose process no longer runs
    are deleted (or, named before the id was added, ones a day old), never a link, and only what this
    user may delete. Returns the folders deleted.
    """
    with _sweeping:
        if prefix in _swept and not force:
            return []
        _swept.add(prefix)
    root = folder or Path(tempfile.gettempdir())
    gone: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return gone
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_dir(follow_symlinks=False):
            continue
        owner, _, rest = entry.name[len(prefix):].partition("-")
        try:
            if owner.isdigit() and rest:
                if _running(int(owner)):
                    continue
            elif time.time() - entry.stat(follow_symlinks=False).st_mtime < _LEGACY_AGE_S:
                continue
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)  # rmtree unlinks links inside, never follows them
        if not os.path.lexists(entry.path):
            gone.append(Path(entry.path))
    return gone


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: it runs
        return True
    return True


def time_cap_message(seconds: float) -> str:
    return f"over the time cap ({seconds:g} s); raise CORPUS_SEARCH_PDF_TIMEOUT to allow more"


def memory_cap_message(memory_mb: int) -> str:
    return f"over the memory cap ({memory_mb} MiB); raise CORPUS_SEARCH_PDF_MEMORY_MB to allow more"


def process(path: Path, record: Record, ocr_cache: Path | None = None,
            on_ocr_progress: Callable[[int, int], None] | None = None) -> Processed:
    """Extract, clean and split `path` in a worker process; never raises for a bad file.

    `ocr_cache`: where OCR'd pages are cached (ocr.cache_dir); `on_ocr_progress(done, total)` is
    called now and then while a scan is OCR'd.
    """
    timeout = config.get_float("pdf_timeout")  # a bad setting is a usage error and may raise
    memory_mb = config.get_int("pdf_memory_mb")
    use_ocr = config.get("ocr").strip() not in ("0", "false", "no", "off")
    if use_ocr:
        ocr.options(ocr_cache)  # a bad OCR setting is the user's one-line error here, not a crash in every worker
    # The worker's temporary files (an e-mail's attachments, copied out to be read; the OCR progress file)
    # go in a folder this process deletes, so a worker killed at its cap leaves no copy of a private
    # attachment behind. The folder's name carries this process's id: if this process is itself killed
    # before it can delete it (SIGKILL, SIGTERM), the next build that reads a source deletes it.
    sweep_orphaned_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        progress_file = Path(scratch) / "progress.json"
        request = json.dumps({"path": str(path), "record": record.to_json(), "memory_mb": memory_mb,
                              "timeout": timeout, "scratch": scratch, "ocr": use_ocr,
                              "ocr_cache": str(ocr_cache) if ocr_cache is not None else None,
                              "progress": str(progress_file)}).encode()
        argv = _worker_argv()
        stop = threading.Event()
        watcher = None
        if on_ocr_progress is not None:
            watcher = threading.Thread(target=_watch_progress, args=(progress_file, on_ocr_progress, stop), daemon=True)
            watcher.start()
        try:
            run = workers.run_json(argv, request, timeout)
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()
    if run.start_error:
        return Processed(STATUS_FAILED, f"could not start the source worker: {run.start_error}")
    if run.timed_out:
        return Processed(STATUS_FAILED, time_cap_message(timeout))
    return _answer(run, memory_mb)


def _worker_argv() -> list[str]:
    # -P: neither the working folder nor this file's folder may shadow stdlib or pypdf imports.
    # In the build's process group (no session of its own), so cancelling a build kills it too.
    # Its only children are tesseract processes, which it stops before its own time cap (and
    # which inherit its CPU limit), so a timeout needs to kill only this one.
    return [sys.executable, "-P", "-c",
            f"import sys; sys.path.insert(0, {_SRC!r}); from corpus_search.source_worker import main; sys.exit(main())"]


# Read many to a worker: formats with no pages to OCR and no documents inside them, in files this small. Starting
# a worker costs about 0.1-0.2 s of imports, more than reading a small text or Word file; a folder of a thousand
# notes paid it a thousand times. A Word or EPUB zip bomb stops at the extractor's own limits or at the batch's caps
# (then each file is read again alone). An e-mail is batched only when it names no attachment (a PDF inside may
# need OCR, which would hold up the batch); a mailbox never is.
BATCH_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".docx", ".epub"})
BATCH_MAX_BYTES = 256 * 1024
BATCH_SIZE = 16
# A part that is a file: a disposition, or a file name in its disposition or its type ("name=", RFC 2231 "name*=").
_ATTACHMENT_HEADER = re.compile(rb"^content-disposition:[ \t]*(?:attachment|inline)\b|\b(?:file)?name\*?=", re.I | re.M)


def batchable(path: Path) -> bool:
    """Whether `path` may be read in one worker with others (process_batch)."""
    try:
        suffix = path.suffix.lower()
        if path.stat().st_size > BATCH_MAX_BYTES:
            return False
        if suffix == ".eml":
            return not _ATTACHMENT_HEADER.search(path.read_bytes())
        return suffix in BATCH_SUFFIXES
    except OSError:
        return False


def process_batch(items: list[tuple[Path, Record]]) -> list[Processed]:
    """Extract, clean and split small sources (`batchable`) in one worker process, under one source's caps.

    The answer is each source's, as `process` gives it. If the worker fails at all (a cap, a crash, an
    answer that is not one per source), every source is read again in a worker of its own, so the one at
    fault fails alone, with the message it would have had."""
    if len(items) <= 1:
        return [process(path, record) for path, record in items]
    timeout = config.get_float("pdf_timeout")
    memory_mb = config.get_int("pdf_memory_mb")
    sweep_orphaned_scratch()
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-") as scratch:
        request = json.dumps({"batch": [{"path": str(path), "record": record.to_json()} for path, record in items],
                              "memory_mb": memory_mb, "timeout": timeout, "scratch": scratch}).encode()
        run = workers.run_json(_worker_argv(), request, timeout)
    answers = run.result.get("results") if run.result is not None and run.result.get("kind") == "batch" else None
    if not isinstance(answers, list) or len(answers) != len(items):
        return [process(path, record) for path, record in items]
    return [_answer(workers.Run(answer if isinstance(answer, dict) else None), memory_mb) for answer in answers]


def _answer(run: workers.Run, memory_mb: int) -> Processed:
    result = run.result
    if result is not None and result.get("kind") == "done":
        children = tuple(Child(Record.from_json(c["record"]), c["parent"], c["name"], _processed(c))
                         for c in result.get("children", ()))
        return _processed(result, children)
    if result is not None and result.get("kind") == "memory" or run.out_of_memory:
        return Processed(STATUS_FAILED, memory_cap_message(memory_mb))
    if result is not None and result.get("kind") == "error":
        return Processed(STATUS_FAILED, str(result.get("message", ""))[:300])
    if run.returncode and run.returncode < 0:
        return Processed(STATUS_FAILED, f"the source worker crashed (signal {-run.returncode})")
    return Processed(STATUS_FAILED, f"the source worker crashed: {run.last_error or 'no output'}")


def _processed(result: dict, children: tuple[Child, ...] = ()) -> Processed:
    return Processed(
        status=result["status"], message=result["message"], pages=result["pages"],
        skipped_pages=tuple(result["skipped_pages"]), text=result["text"],
        passages=tuple(Passage.from_json(p) for p in result["passages"]), found=result.get("found") or {},
        children=children,
    )


def _watch_progress(path: Path, callback: Callable[[int, int], None], stop: threading.Event) -> None:
    """Pass the worker's OCR progress (a small JSON file it rewrites) to `callback` until `stop`."""
    last = None
    while not stop.wait(0.5):
        try:
            if path.stat().st_size > 200:
                continue
            data = json.loads(path.read_text())
            done, total = int(data["done"]), int(data["total"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if (done, total) != last:
            last = (done, total)
            callback(done, total)


def _progress_writer(path: str | None) -> Callable[[int, int], None] | None:
    if not path:
        return None

    def write(done: int, total: int) -> None:
        tmp = f"{path}.tmp"
        try:
            with open(tmp, "w") as fh:
                fh.write(json.dumps({"done": done, "total": total}))
            os.replace(tmp, path)
        except OSError:
            pass  # progress is a courtesy; the OCR goes on

    return write


# ---------------------------------------------------------------- the child


def _work(request: dict, started: float) -> dict:
    record = Record.from_json(request["record"])
    ocr_options = None
    if request.get("ocr"):
        timeout = float(request.get("timeout") or 0)
        # OCR stops early enough for the pages read so far to reach the cache and the answer to be sent.
        deadline = started + max(timeout - max(5.0, timeout * 0.1), 1.0) if timeout > 0 else None
        cache = Path(request["ocr_cache"]) if request.get("ocr_cache") else None
        ocr_options = ocr.options(cache, deadline, _progress_writer(request.get("progress")))
    # This process is the isolation, so PDFs are read here rather than in a further child.
    # Process-wide in this worker, so a scanned PDF attached to an e-mail is OCR'd too.
    ocr.activate(ocr_options)
    extraction = extract(Path(request["path"]), record, isolated=True)
    try:
        answer = _split(extraction, record, pdf=Path(request["path"]).suffix.lower() == ".pdf")
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - odd text must cost this source, never the build
        return {"kind": "error", "message": f"could not be processed: {type(exc).__name__}: {exc}"}
    answer["kind"] = "done"
    answer["children"] = _children(extraction, record.doc_id)
    return answer


def _split(extraction, record: Record, pdf: bool = False) -> dict:
    pages = extraction.pages
    split = split_document(record, pages, pdf=pdf) if pages else None
    if split is not None:
        split = replace(split, passages=ocr.mark_passages(split.passages, pages))
    return {
        "status": extraction.status,
        "message": extraction.message,
        "pages": len(pages),
        "skipped_pages": list(extraction.skipped_pages),
        "text": split.text if split else "",
        "passages": [p.to_json() for p in split.passages] if split else [],
        "found": extraction.found,
    }


def _children(extraction, parent_id: str) -> list[dict]:
    """Each document inside this one (and inside those), with a record of its own: its doc id derives
    from its parent's, so its passage ids are stable across builds."""
    out: list[dict] = []
    for item in extraction.attachments:
        doc_id = child_id(parent_id, item.key, item.name)
        record = with_found(Record(doc_id=doc_id, title=item.name, type="document", guessed=True),
                            item.extraction.found)
        try:
            answer = _split(item.extraction, record, pdf=item.name.lower().endswith(".pdf"))
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - one odd attachment costs itself, not its message
            answer = {"status": STATUS_FAILED, "message": f"could not be processed: {type(exc).__name__}: {exc}",
                      "pages": 0, "skipped_pages": [], "text": "", "passages": [], "found": {}}
        out.append({**answer, "record": record.to_json(), "parent": parent_id, "name": item.name})
        out.extend(_children(item.extraction, doc_id))
    return out


def main() -> int:
    started = time.monotonic()
    request = json.loads(sys.stdin.read())
    if request.get("scratch"):
        tempfile.tempdir = request["scratch"]
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
        if "batch" in request:  # small sources (process_batch): any failure fails them all
            answer = {"kind": "batch", "results": [_work({**request, **item}, started) for item in request["batch"]]}
        else:
            answer = _work(request, started)
        data = json.dumps(answer, ensure_ascii=True)
    except MemoryError:
        data = json.dumps({"kind": "memory"})
    out.write(data)
    out.flush()
    return 0
