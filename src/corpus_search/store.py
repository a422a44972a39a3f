"""The store: documents, passages, entity mentions and aliases in SQLite; the source of truth.

The keyword and vector indexes refer to passages by `passage_id`; the text
lives here only. `entity_passages` is derived from the mentions at each commit
(each canonical name's passage ids, for the entity filter); a store built
before it filters from the mention rows.

`Store` is opened here; what it does is in parts: the build's writes (store_write.py), documents
and passages (store_passages.py), entity queries (store_entities.py) over the curated mentions
(store_curation.py), and the schema (store_schema.py).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from corpus_search.errors import IndexMissingError
from corpus_search.models import Passage
from corpus_search.store_entities import EntityReads
from corpus_search.store_passages import PassageReads
from corpus_search.store_schema import SCHEMA
from corpus_search.store_write import Writes

__all__ = ["SCHEMA", "Store"]


class Store(Writes, PassageReads, EntityReads):
    """A SQLite store, opened read-only for queries and read-write by the build."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path
        self._passage_cache: dict[str, Passage] = {}
        self._curation_folder: Path | None = None
        self._curation_stamp: tuple | None = None
        self._curation = None  # curation.State when one applies
        self._lock = threading.Lock()
        self.curation_version = 0  # bumped whenever the curation file changes (caches compare it)
        self._tables: dict[str, bool] = {}  # tables a later build added (entity_passages...): whether this store has them

    # -- opening -----------------------------------------------------------
    @classmethod
    def create(cls, path: Path) -> Store:
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        return cls(conn, path)

    @classmethod
    def open(cls, path: Path) -> Store:
        if not path.exists():
            raise IndexMissingError(f"no store at {path}; run `corpus-search build`")
        uri = f"file:{path}?mode=ro&immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            # A trusted index's content is data: views and triggers in its schema may not call
            # functions that are unsafe outside the application's own statements.
            conn.execute("PRAGMA trusted_schema=OFF")
            conn.execute("SELECT count(*) FROM passages").fetchone()
        except sqlite3.DatabaseError as exc:
            raise IndexMissingError(f"store {path} is unreadable ({exc}); run `corpus-search build`") from None
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

