"""Run a worker process that answers with one JSON object on stdout, under a time cap.

The PDF reader, the draft reader and the per-source worker all run untrusted files this way: the
child limits its own memory first thing, the parent waits at most `timeout` seconds, and whatever
happens (a timeout, a memory kill, a crash, the caller itself being stopped) ends as a `Run` the
caller turns into its own message, never as an exception and never with a worker left behind.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Run:
    result: dict[str, Any] | None  # the JSON object the child printed, if any
    timed_out: bool = False
    out_of_memory: bool = False
    returncode: int | None = None
    last_error: str = ""  # the child's last stderr line, for a crash message
    start_error: str = ""  # set when the child could not be started at all


def out_of_memory(stderr: str) -> bool:
    return "MemoryError" in stderr or "Cannot allocate memory" in stderr or "out of memory" in stderr.lower()


def run_json(argv: list[str], request: bytes | None, timeout: float) -> Run:
    """Start `argv`, send `request` on stdin (a password never goes in argv), wait at most `timeout` s."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                close_fds=True)
    except OSError as exc:
        return Run(None, start_error=str(exc))
    try:
        out, err = proc.communicate(request or b"", timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        return Run(None, timed_out=True)
    except BaseException:  # the caller is stopped (Ctrl-C, Cancel): leave no worker behind
        _kill(proc)
        raise
    stderr = err.decode("utf-8", "replace")
    result = None
    try:
        parsed = json.loads(out) if out else None
        result = parsed if isinstance(parsed, dict) else None
    except (ValueError, RecursionError):
        pass
    last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
    return Run(result, out_of_memory=out_of_memory(stderr), returncode=proc.returncode, last_error=last.strip()[:200])




def _kill(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.communicate()
