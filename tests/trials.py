"""How long the long trials run: CORPUS_SEARCH_TEST_TRIALS=quick (the default, CI's) or full.

The same assertions either way; `full` runs longer streams of tasks and queries around a lost worker or
host (the cluster tests) and more kill -9 trials (tests/test_reliability.py), for a release or after
changing the failover or publishing code.
"""

from __future__ import annotations

import os

MODES = ("quick", "full")


def trials() -> str:
    mode = os.environ.get("CORPUS_SEARCH_TEST_TRIALS", "quick").strip().lower() or "quick"
    if mode not in MODES:
        raise ValueError(f"CORPUS_SEARCH_TEST_TRIALS must be quick or full, not {mode!r}")
    return mode


def n(quick: int, full: int) -> int:
    """The trial length for the current setting."""
    return full if trials() == "full" else quick
