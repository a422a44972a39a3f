"""Reading a file a user hands a command (a batch of queries, a names list, an annotation export) under a cap.

At most the cap plus one byte is read, so `/dev/zero` or a 10 GB file is refused at once, and a named pipe
is refused before it can block. Every failure is one UsageError line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from corpus_search.errors import UsageError


def read_text(path: Path | str, cap_bytes: int, too_large: str, not_text: str) -> str:
    """The file's text (UTF-8, a byte-order mark dropped); `too_large` and `not_text` are the messages for a
    file over `cap_bytes` and for one that is not UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once instead of waiting for a writer
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            raise UsageError(f"cannot read {path}: it is a named pipe, not a file")
        try:
            raw = f.read(cap_bytes + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > cap_bytes:  # said before decoding: the cut may fall inside a character
        raise UsageError(too_large)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(not_text) from None
