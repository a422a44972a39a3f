"""The entity curation (corpus/_entities) applied over the stored mentions whenever they are read.

A curated store reads its mentions from a temporary view that renames, merges, relabels, splits and
rejects as the curation history says; an uncurated one reads the stored table.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from corpus_search.curation import FILE, Curation
from corpus_search.entities import alias_key


class Curated:
    """Which table a store's mention queries read: the stored mentions, or the curated view over them."""

    conn: sqlite3.Connection
    _curation_folder: Path | None
    _curation_stamp: tuple | None
    _curation: object  # curation.State when one applies
    _lock: threading.Lock
    curation_version: int

    def set_curation(self, folder: Path | None) -> None:
        """Apply the curation history in `folder` (corpus/_entities) to every read from now on."""
        self._curation_folder = folder
        self._curation_stamp = None
        self._m()

    def curation(self):
        """The replayed curation state, or None when nothing is curated."""
        self._m()
        return self._curation

    def _m(self) -> str:
        """The table to read mentions from: the stored one, or a view with the curation applied.

        The curation file is stat-ed on every read, so a change made in another process (the
        CLI while the app runs) shows at the next query.
        """
        folder = self._curation_folder
        if folder is None:
            return "mentions"
        try:
            st = (folder / FILE).stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._curation_stamp:
                state = Curation.load(folder).state() if stamp is not None else None
                self._install(state if state is not None and not state.empty else None)
                self._curation_stamp = stamp
                self.curation_version += 1
            return "temp.curated_mentions" if self._curation is not None else "mentions"

    def _install(self, state) -> None:
        c = self.conn
        c.create_function("alias_key", 1, alias_key, deterministic=True)
        c.executescript(
            "DROP VIEW IF EXISTS temp.curated_mentions; DROP VIEW IF EXISTS temp.curated_names;"
            "CREATE TEMP TABLE IF NOT EXISTS cur_name (old TEXT PRIMARY KEY, new TEXT NOT NULL);"
            "CREATE TEMP TABLE IF NOT EXISTS cur_label (name TEXT PRIMARY KEY, label TEXT NOT NULL);"
            "CREATE TEMP TABLE IF NOT EXISTS cur_reject (name TEXT PRIMARY KEY);"
            "CREATE TEMP TABLE IF NOT EXISTS cur_split (key TEXT, name TEXT, PRIMARY KEY (key, name));"
            "DELETE FROM cur_name; DELETE FROM cur_label; DELETE FROM cur_reject; DELETE FROM cur_split;"
        )
        self._curation = state
        if state is None:
            return
        stored = [r[0] for r in c.execute("SELECT DISTINCT name FROM main.mentions")]
        c.executemany("INSERT INTO cur_name VALUES (?, ?)",
                      [(n, state.final(n)) for n in stored if state.final(n) != n])
        c.executemany("INSERT INTO cur_label VALUES (?, ?)", list(state.labels.items()))
        c.executemany("INSERT INTO cur_reject VALUES (?)", [(n,) for n in state.rejected])
        c.executemany("INSERT INTO cur_split VALUES (?, ?)", list(state.split))
        # An alias removed from an entity: its mentions become an entity of their own, named as written.
        c.executescript(
            "CREATE TEMP VIEW curated_names AS SELECT m.passage_id, m.start, m.end, m.text, m.label, "
            "CASE WHEN s.name IS NOT NULL THEN m.text ELSE COALESCE(r.new, m.name) END AS name "
            "FROM main.mentions m LEFT JOIN cur_name r ON r.old = m.name "
            "LEFT JOIN cur_split s ON s.name = COALESCE(r.new, m.name) AND s.key = alias_key(m.text);"
            "CREATE TEMP VIEW curated_mentions AS SELECT c.passage_id, c.start, c.end, c.text, c.name, "
            "COALESCE(l.label, c.label) AS label FROM curated_names c LEFT JOIN cur_label l ON l.name = c.name "
            "WHERE c.name NOT IN (SELECT name FROM cur_reject);"
        )
