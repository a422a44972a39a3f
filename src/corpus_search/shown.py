"""File names as a terminal may show them: control characters and undecodable bytes escaped, one line."""

from __future__ import annotations

import re

# C0, DEL, C1, bidi embeddings/overrides/isolates, line and paragraph separators, and the lone surrogates
# os.fsdecode makes of bytes that are not UTF-8 (U+DC80-U+DCFF stand for the bytes 0x80-0xFF).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # the byte the name holds
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def path(name: str) -> str:
    """`name` with every control character, bidi control and undecodable byte written as \\xNN or \\uNNNN."""
    return _UNSAFE.sub(_escape, str(name))


def utf8(name: str) -> bool:
    """Whether a name (as os.fsdecode gives it) is valid UTF-8, so it can be stored and printed."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
