"""Read one source file into pages, by the extractor its suffix names (extractors/: one module per
format, text and PDF included); the size cap and the promise of a status are kept here.

`extract` never raises for a bad file; it returns a status (models.STATUS_*) and one line for the user.
"""

from __future__ import annotations

from pathlib import Path

from corpus_search import config, extractors
from corpus_search.errors import UsageError
from corpus_search.extraction import Attachment, Extraction, failed, sha256_file
from corpus_search.models import STATUS_SKIPPED, Record

# Names other modules import from here (source_worker, build_plan, uploads, trash, page_image, tests).
__all__ = ["Attachment", "Extraction", "extract", "sha256_file"]


def extract(path: Path, record: Record, isolated: bool = False) -> Extraction:
    """Pages of a source file, or a status saying why there are none (never raises for a bad file).

    `isolated`: this process already runs under the caps (source_worker), so a PDF is read here
    instead of in a PDF worker of its own; PDF pages with no usable text layer are then OCR'd when
    the worker turned OCR on (ocr.activate).
    """
    path = Path(path)
    limit_mb = config.get_int("max_source_mb")  # a bad setting is a usage error and may raise
    try:
        size = path.stat().st_size
    except OSError as exc:
        return failed(f"cannot read the file: {exc.strerror or exc}")
    if not path.is_file():
        return failed("not a regular file")
    if size > limit_mb * 1024 * 1024:
        return failed(
            f"file is {size / 1048576:.1f} MiB, over the {limit_mb} MiB limit; "
            "raise CORPUS_SEARCH_MAX_SOURCE_MB to include it"
        )
    suffix = path.suffix.lower()
    extractor = extractors.for_suffix(suffix)
    if extractor is None:
        return failed(extractors.unsupported_message(suffix), STATUS_SKIPPED)
    try:
        return extractor(path, record, isolated)
    except UsageError:
        raise  # a bad CORPUS_SEARCH_* setting is the user's to fix, not this file's status
    except extractors.Unreadable as exc:  # the extractor's own one-line reason
        return failed(str(exc))
    except MemoryError:
        raise  # the worker reports it against its memory cap
    except RecursionError:
        return failed("could not be read: nested too deeply")
    except Exception as exc:  # noqa: BLE001 - the promise is a status, never a traceback
        return failed(f"could not be read: {type(exc).__name__}: {str(exc)[:200]}")

