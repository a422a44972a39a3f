"""Files users hand a command (batch queries, names lists, annotation exports) are read under a cap."""

from __future__ import annotations

import os
import threading

import pytest

from corpus_search import capped
from corpus_search.batch import read_lines
from corpus_search.errors import UsageError
from corpus_search.screen import read_names


def test_a_named_pipe_is_refused_at_once_not_waited_on(tmp_path):
    """`batch`, `screen` and `annotations import` on a FIFO blocked for ever waiting for a writer."""
    fifo = tmp_path / "queries"
    os.mkfifo(fifo)
    done: list = []

    def run(reader):
        try:
            reader(fifo)
        except UsageError as exc:
            done.append(str(exc))

    for reader in (read_lines, read_names, lambda p: capped.read_text(p, 100, "big", "binary")):
        worker = threading.Thread(target=run, args=(reader,), daemon=True)
        worker.start()
        worker.join(timeout=10)
        if worker.is_alive():  # unblock the old code's open() so the test fails instead of hanging
            with open(fifo, "w"):
                pass
            worker.join(timeout=10)
            pytest.fail("the reader waited on the named pipe")
    assert len(done) == 3 and all("named pipe" in line for line in done), done


def test_past_the_cap_or_not_text_is_one_line(tmp_path):
    with pytest.raises(UsageError, match="^too big$"):
        capped.read_text("/dev/zero", 1024, "too big", "not text")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(UsageError, match="^not text$"):
        capped.read_text(latin, 1024, "too big", "not text")
    with pytest.raises(UsageError, match="cannot read"):
        capped.read_text(tmp_path / "missing.txt", 1024, "too big", "not text")
    (tmp_path / "ok.txt").write_bytes("\ufeffcaf\u00e9\n".encode("utf-8"))
    assert capped.read_text(tmp_path / "ok.txt", 1024, "too big", "not text") == "caf\u00e9\n"
