"""What reading a source file gives, shared by ingest.py, the extractors and OCR: `Extraction`, the
documents inside a file (`Attachment`), and the file's content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus_search.models import STATUS_FAILED, Page


@dataclass(frozen=True)
class Extraction:
    """What a source file gave: its pages and how the reading went."""

    pages: list[Page]
    status: str  # one of models.STATUS_*
    message: str  # one line for the user; empty when all went well (text: notes a fallback encoding)
    skipped_pages: tuple[int, ...] = ()  # 1-based physical pages left out
    encoding: str | None = None  # text files: the encoding used to decode
    # Record fields the file itself states (an HTML <title>, an e-mail's From and Date): they fill
    # what the .toml record leaves empty (records.with_found).
    found: dict[str, Any] = field(default_factory=dict)
    # Files inside this one that are documents of their own: an e-mail's attachments, an mbox's messages.
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Attachment:
    """A document inside another one, read by the extractor of its own format."""

    key: str  # its place in the parent, unique there ("att2", "msg14"); part of its doc id
    name: str  # what the parent calls it ("report.pdf", "message 14: Re: budget")
    extraction: Extraction


def failed(message: str, status: str = STATUS_FAILED) -> Extraction:
    """No pages, and the one line that says why."""
    return Extraction(pages=[], status=status, message=message)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks so big PDFs do not sit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
