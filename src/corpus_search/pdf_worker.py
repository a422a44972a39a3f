"""PDF text extraction, run as a child process by `ingest` so a hostile file cannot hang or exhaust the build.

Usage: python pdf_worker.py PATH   (password, if any, as JSON on stdin: {"password": "..."})

Prints one JSON object on stdout and nothing else:
  {"ok": true, "pages": [{"text": str} | {"error": str}, ...], "labels": [str, ...] | null}
  {"ok": false, "kind": "password" | "wrong-password" | "broken" | "dependency" | "memory", "message": str}

Deliberately imports nothing from corpus_search: it runs by file path, so it starts fast and needs no install.
It reports facts; `ingest` turns them into a status and a message for the user. In a build, `source_worker`
calls `extract` in its own capped process instead (that process is the isolation, so no second child).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _open(path: str, password: str | None) -> tuple[Any, dict[str, Any] | None]:
    """The reader, decrypted when needed; or (None, failure) when it cannot be opened."""
    from pypdf import PdfReader
    from pypdf import PasswordType
    from pypdf.errors import DependencyError

    try:
        # Without a password pypdf tries the empty user password itself (form_dd0293 opens that way).
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            if not password:
                return None, {"ok": False, "kind": "password", "message": "encrypted"}
            if reader.decrypt(password) == PasswordType.NOT_DECRYPTED:
                return None, {"ok": False, "kind": "wrong-password", "message": "wrong password"}
    except DependencyError as exc:
        return None, {"ok": False, "kind": "dependency", "message": _short(exc)}
    except MemoryError as exc:
        return None, {"ok": False, "kind": "memory", "message": _short(exc)}
    except Exception as exc:  # noqa: BLE001 - any parser failure means "cannot read this file"
        return None, {"ok": False, "kind": "broken", "message": _short(exc)}
    return reader, None


def _labels(reader: Any, count: int) -> list[str] | None:
    """Printed page labels, only when the PDF declares /PageLabels (pypdf otherwise invents "1", "2", ...)."""
    try:
        if "/PageLabels" not in reader.root_object:
            return None
        labels = [str(label) for label in reader.page_labels]
    except Exception:  # noqa: BLE001 - a broken label tree just means "no labels"
        return None
    return labels if len(labels) == count else None


def extract(path: str, password: str | None) -> dict[str, Any]:
    reader, failure = _open(path, password)
    if failure is not None:
        return failure
    try:
        count = len(reader.pages)
    except MemoryError as exc:
        return {"ok": False, "kind": "memory", "message": _short(exc)}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "kind": "broken", "message": f"page tree unreadable: {_short(exc)}"}
    pages: list[dict[str, str]] = []
    for index in range(count):
        # One bad page must not cost the others, so each page is tried on its own.
        try:
            text = reader.pages[index].extract_text()
            pages.append({"text": text if isinstance(text, str) else ""})
        except MemoryError:
            # Out of memory is the limit talking, not a bad page: every later page would fail too.
            return {"ok": False, "kind": "memory", "message": f"MemoryError on page {index + 1}"}
        except Exception as exc:  # noqa: BLE001 - includes RecursionError from deeply nested content
            pages.append({"error": _short(exc)})
    # Outlines and link destinations are never walked: they can be cyclic (cyclic-toc.pdf).
    return {"ok": True, "pages": pages, "labels": _labels(reader, count), "info": _info(reader)}


def _info(reader: Any) -> dict[str, str]:
    """The document information dictionary's title and author, as strings (extractors.common.stated_metadata judges them)."""
    try:
        info = reader.metadata or {}
        return {key: str(info.get(name))[:1000] for key, name in (("title", "/Title"), ("author", "/Author"))
                if isinstance(info.get(name), str) and info.get(name).strip()}
    except Exception:  # noqa: BLE001 - a broken info dictionary just means "none"
        return {}


def limit_memory(memory_mb: int) -> None:
    """Cap this process's address space, so a decompression bomb fails here, not the machine."""
    try:
        import resource
    except ImportError:  # not POSIX: the time limit still applies
        return
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: pdf_worker.py PATH [MEMORY_MB]", file=sys.stderr)
        return 2
    if len(argv) == 3 and int(argv[2]) > 0:
        limit_memory(int(argv[2]))
    # pypdf warns through logging; send that to stderr so stdout carries only our JSON.
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
    raw = sys.stdin.read() if not sys.stdin.isatty() else ""
    password = (json.loads(raw).get("password") if raw.strip() else None) or None
    out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the JSON
    try:
        result = extract(argv[1], password)
    except MemoryError:
        result = {"ok": False, "kind": "memory", "message": "MemoryError"}
    data = json.dumps(result, ensure_ascii=True)
    out.write(data)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
