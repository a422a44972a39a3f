"""Plain text and Markdown: the existing reader in ingest.py (encodings, page conventions)."""

from __future__ import annotations

from pathlib import Path

from corpus_search.models import Record



def extract(path: Path, record: Record, isolated: bool = False):
    from corpus_search.ingest import _extract_text

    return _extract_text(path, record)
