"""Read a draft (.txt, .md, .docx) as a child process of `check`, so a hostile file cannot exhaust it.

Usage: python draft_worker.py PATH MAX_TEXT_CHARS MAX_UNZIPPED_BYTES MEMORY_MB

Prints one JSON object on stdout and nothing else:
  {"ok": true, "text": str}
  {"ok": false, "kind": "broken" | "encoding" | "too-large" | "unzips-too-large" | "memory", "message": str}

Like pdf_worker.py it imports nothing from corpus_search (it runs by file path, with -P) and
reports facts; `check.read_draft` turns them into a message for the user.
A .docx is a zip: its document.xml is decompressed and parsed a piece at a time, with a cap on
the bytes unzipped, so a zip bomb stops at the cap instead of filling memory.
"""

from __future__ import annotations

import json
import sys
import zipfile
from typing import Any
from xml.etree import ElementTree

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _T, _TAB, _BREAKS = f"{_W}p", f"{_W}t", f"{_W}tab", (f"{_W}br", f"{_W}cr")
_CHUNK = 1 << 16


class TooLarge(Exception):
    def __init__(self, message: str, kind: str = "too-large"):
        super().__init__(message)
        self.kind = kind


def read_docx(path: str, max_chars: int, max_bytes: int) -> str:
    """Paragraph text of a Word file's body, unzipped and parsed in pieces of _CHUNK bytes."""
    paragraphs: list[str] = []
    parser = ElementTree.XMLPullParser(events=("end",))
    unzipped = chars = 0
    with zipfile.ZipFile(path) as archive, archive.open("word/document.xml") as xml:
        while chunk := xml.read(_CHUNK):
            unzipped += len(chunk)
            if unzipped > max_bytes:
                raise TooLarge(f"it unzips to more than {max_bytes // (1024 * 1024)} MiB", "unzips-too-large")
            parser.feed(chunk)
            for _, node in parser.read_events():
                if node.tag == _P:
                    paragraphs.append("".join(_text(node)))
                    chars += len(paragraphs[-1]) + 2
                    if chars > max_chars:
                        raise TooLarge(f"it holds more than {max_chars // (1024 * 1024)} Mi characters of text")
                    # Done with it: a parsed tree of the whole body is what filled memory.
                    node.clear()
        parser.close()
    return "\n\n".join(paragraphs)


def _text(para: ElementTree.Element) -> list[str]:
    parts = []
    for node in para.iter():
        if node.tag == _T and node.text:
            parts.append(node.text)
        elif node.tag == _TAB:
            parts.append("\t")
        elif node.tag in _BREAKS:
            parts.append("\n")
    return parts


def read_text(path: str, max_bytes: int) -> str:
    with open(path, "rb") as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise TooLarge(f"it is larger than {max_bytes // (1024 * 1024)} MiB")
    for encoding in ("utf-8-sig", "utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("cp1252")  # Word's "plain text" export on Windows


def read(path: str, max_chars: int, max_unzipped: int) -> dict[str, Any]:
    try:
        if path.lower().endswith(".docx"):
            return {"ok": True, "text": read_docx(path, max_chars, max_unzipped)}
        return {"ok": True, "text": read_text(path, max_chars)}
    except TooLarge as exc:
        return {"ok": False, "kind": exc.kind, "message": str(exc)}
    except MemoryError:
        return {"ok": False, "kind": "memory", "message": "MemoryError"}
    except UnicodeDecodeError:
        return {"ok": False, "kind": "encoding", "message": "not UTF-8 text"}
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError, EOFError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return {"ok": False, "kind": "broken", "message": f"{type(exc).__name__}: {first}".rstrip(": ")}


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not POSIX: the time limit still applies
        return
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print("usage: draft_worker.py PATH MAX_TEXT_CHARS MAX_UNZIPPED_BYTES MEMORY_MB", file=sys.stderr)
        return 2
    if int(argv[4]) > 0:
        _limit_memory(int(argv[4]))
    try:
        result = read(argv[1], int(argv[2]), int(argv[3]))
        data = json.dumps(result, ensure_ascii=True)
    except MemoryError:
        data = json.dumps({"ok": False, "kind": "memory", "message": "MemoryError"})
    sys.stdout.write(data)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
