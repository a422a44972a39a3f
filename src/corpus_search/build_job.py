"""A build in its own process group, which any process can watch and cancel (the app's builds).

The app must stay responsive while a build runs, honour SIGTERM, and let a user stop a build
that takes too long, so it never builds in its own process: `start` launches
`build.build` in a child that leads a new process group, and the child writes its progress
to a small JSON file in the index folder (`.build-job.json`), which every app session reads.
`cancel` kills the whole group (the build, its source workers and its NER process); the
index stays on the generation it had, since a generation is only published once complete.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from pathlib import Path

from corpus_search import shapes
from corpus_search.build import Progress, build
from corpus_search.errors import CorpusSearchError, UsageError
from corpus_search.generations import _create

STATE = ".build-job.json"
_SRC = str(Path(__file__).resolve().parents[1])


def _state_path(index: Path) -> Path:
    return Path(index) / STATE


def _write(index: Path, state: dict) -> None:
    path = _state_path(index)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{STATE}.{os.getpid()}.tmp")
    with os.fdopen(_create(tmp), "w", encoding="utf-8") as f:  # never through a link planted in the folder
        f.write(json.dumps(state))
    os.replace(tmp, path)  # readers see the old state or the new one, never half of one


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child of this process is a zombie until reaped: count it as gone
        if os.waitpid(pid, os.WNOHANG)[0] != 0:
            return False
    except ChildProcessError:
        pass  # not our child: kill(0) said it exists
    try:  # after a reboot the id may belong to another program: a build job says so in its command line
        return b"corpus_search.build_job" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc here: trust kill(0)


def status(index: Path) -> dict | None:
    """The last build started here: state running/done/failed/cancelled, progress and report; None if none."""
    try:
        state = json.loads(_state_path(index).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # the index folder may be a colleague's: any bytes
        return None
    pid = state.get("pid") if isinstance(state, dict) else None
    if type(pid) is not int or pid <= 0:  # pid 0 made Cancel kill the app's own process group
        return None
    if state.get("state") == "running" and not _alive(pid):
        state.update(state="failed", error="the build process ended without a report")
    return state


def running(index: Path) -> bool:
    state = status(index)
    return bool(state and state["state"] == "running")


def start(corpus: Path, index: Path, force: bool = False, retry: Collection[str] = ()) -> dict:
    """Start a build in the background; UsageError when one started here is still running."""
    if running(index):
        raise UsageError("a build is already running; wait for it to finish or cancel it")
    request = {"corpus": str(corpus), "index": str(index), "force": force, "retry": sorted(retry)}
    proc = subprocess.Popen(
        [sys.executable, "-P", "-c",
         f"import sys; sys.path.insert(0, {_SRC!r}); from corpus_search.build_job import main; sys.exit(main())",
         json.dumps(request)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
        start_new_session=True,  # its own process group, so Cancel reaches the workers it starts
    )
    state = {"state": "running", "pid": proc.pid, "started": time.time(), "retry": sorted(retry),
             "stage": "starting", "done": 0, "total": 0}
    _write(index, state)
    assert proc.stdin is not None
    proc.stdin.close()  # the child waits for this, so its own writes always come after this one
    return state


def cancel(index: Path) -> bool:
    """Stop the running build and everything it started; True if there was one to stop."""
    state = status(index)
    if not state or state["state"] != "running":
        return False
    pid = int(state["pid"])
    try:
        os.killpg(pid, signal.SIGKILL)  # the child leads its group: pgid == pid
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    state.update(state="cancelled", finished=time.time())
    _write(index, state)
    return True


# ---------------------------------------------------------------- the child


class _FileProgress(Progress):
    """Progress written to the state file, at most a few times a second."""

    def __init__(self, index: Path, state: dict) -> None:
        self.index, self.state = index, state
        self._last = 0.0

    def stage(self, name: str, total: int) -> None:
        self.state.update(stage=name, total=total, done=0)
        self._flush(force=True)

    def advance(self, done: int) -> None:
        self.state["done"] = done
        self._flush()

    def log(self, message: str) -> None:
        if message.strip():
            self.state["log"] = (self.state.get("log", []) + [message.strip()])[-3:]
            self._flush()

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last > 0.3:
            self._last = now
            _write(self.index, self.state)


def _watch_parent() -> None:
    """Die with the process that started the build: an app stopped by SIGTERM leaves no build behind."""
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)


def main() -> int:
    request = json.loads(sys.argv[1])
    index = Path(request["index"])
    threading.Thread(target=_watch_parent, daemon=True).start()
    sys.stdin.read()  # until the parent has written the first state
    try:
        state = json.loads(_state_path(index).read_text(encoding="utf-8"))  # keeps its start time
    except (OSError, ValueError):
        state = {"state": "running", "pid": os.getpid(), "started": time.time(), "retry": request["retry"],
                 "stage": "starting", "done": 0, "total": 0}
    try:
        report = build(Path(request["corpus"]), index, _FileProgress(index, state), request["force"],
                       request["retry"])
    except CorpusSearchError as exc:
        state.update(state="failed", error=str(exc), finished=time.time())
    except Exception as exc:  # noqa: BLE001 - the app shows one line, never a traceback
        state.update(state="failed", error=f"{type(exc).__name__}: {exc}", finished=time.time())
    else:
        state.update(state="done", report=shapes.build_report(report), finished=time.time())
    _write(index, state)
    return 0
