"""PDF: the existing reader in ingest.py (pypdf in pdf_worker.py, or in this process when isolated)."""

from __future__ import annotations

from pathlib import Path

from corpus_search.models import Record


def extract(path: Path, record: Record, isolated: bool = False):
    from corpus_search import ocr
    from corpus_search.ingest import _extract_pdf

    # OCR only inside the capped source worker, which turns it on (ocr.activate) for its whole run.
    return _extract_pdf(path, record, isolated, ocr.active() if isolated else None)
