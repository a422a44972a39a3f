"""Reading a file a user hands a command (a batch of queries, a names list, an annotation export) under a cap.

At most the cap plus one byte is read, so `/dev/zero` or a 10 GB file is refused at once, and a named pipe
is refused before it can block. Every failure is one UsageError line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from corpus_search.errors import UsageError


def read_head(path: Path | str, cap_bytes: int, only_regular: bool = False) -> tuple[int, bytes]:
    """(the file's st_mode, at most `cap_bytes` + 1 of its bytes); nothing is read from a named pipe, which
    is opened without waiting for a writer, nor with `only_regular` from anything but a regular file.
    Raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        skip = stat.S_ISFIFO(mode) or (only_regular and not stat.S_ISREG(mode))
        return mode, b"" if skip else f.read(cap_bytes + 1)


def read_text(path: Path | str, cap_bytes: int, too_large: str, not_text: str) -> str:
    """The file's text (UTF-8, a byte-order mark dropped); `too_large` and `not_text` are the messages for a
    file over `cap_bytes` and for one that is not UTF-8."""
    try:
        mode, raw = read_head(path, cap_bytes)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISFIFO(mode):
        raise UsageError(f"cannot read {path}: it is a named pipe, not a file")
    if len(raw) > cap_bytes:  # said before decoding: the cut may fall inside a character
        raise UsageError(too_large)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(not_text) from None
