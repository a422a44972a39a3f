"""The annotation store: user data in its own SQLite file, written durably, never part of an index generation.

WAL journal with synchronous=FULL: a write acknowledged (its transaction committed) survives a
kill -9 or a power cut; a write cut short leaves the store as it was before it. Every write is one
`BEGIN IMMEDIATE` transaction, so two writers (processes or connections) queue instead of
overwriting each other; edits to an annotation carry the version they were made on and a stale
one is refused (`AnnotationConflict`) rather than silently replacing someone else's edit.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from corpus_search import config
from corpus_search.annotations.model import ANCHORED, ORPHAN, Annotation
from corpus_search.errors import CorpusSearchError, NotFoundError, UsageError

INDEX_KEY = "index_name"  # the index folder the store belongs to (store_dir)
FILENAME = "annotations.sqlite"
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS annotations (
    id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    author TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    exact TEXT NOT NULL,
    prefix TEXT NOT NULL,
    suffix TEXT NOT NULL,
    passage_id TEXT NOT NULL,
    passage_start INTEGER,
    passage_end INTEGER,
    doc_start INTEGER,
    doc_end INTEGER,
    page TEXT,
    paragraph INTEGER,
    note TEXT NOT NULL,
    status TEXT NOT NULL,
    anchored_by TEXT NOT NULL,
    source TEXT NOT NULL,
    version INTEGER NOT NULL,
    original TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS annotations_doc ON annotations (doc_id, doc_start);
CREATE TABLE IF NOT EXISTS tags (
    annotation_id TEXT NOT NULL REFERENCES annotations (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (annotation_id, tag)
);
CREATE INDEX IF NOT EXISTS tags_tag ON tags (tag);
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY,
    ord INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collection_items (
    collection TEXT NOT NULL REFERENCES collections (name) ON DELETE CASCADE ON UPDATE CASCADE,
    annotation_id TEXT NOT NULL REFERENCES annotations (id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    PRIMARY KEY (collection, annotation_id)
);
"""

# Columns of the annotations table, in the model's field order.
_COLUMNS = tuple(f.name for f in dataclasses.fields(Annotation) if f.name not in ("tags", "collections"))
_POSITION_FIELDS = ("doc_id", "file_sha256", "exact", "prefix", "suffix", "passage_id", "passage_start",
                    "passage_end", "doc_start", "doc_end", "page", "paragraph", "status", "anchored_by", "original")


class AnnotationConflict(CorpusSearchError):
    """An edit made on an older version of an annotation than the one stored."""

    exit_code = 6


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return uuid.uuid4().hex


def default_author() -> str:
    name = config.get("author")
    if name != "auto":
        return name
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


def store_dir(index: Path | str) -> Path:
    """Where the store lives: the `annotations` setting, or annotations/ beside the index folder.

    Two index folders side by side (`indexes/` and `scans-index/`) would share annotations/ and each
    build would re-anchor the other's notes against the wrong documents, orphaning them. The store
    there is bound to the index folder it was made for (by name, so a project moved or copied whole
    keeps it); another index beside it that still exists gets annotations-<its name>/ instead.
    """
    folder = config.get("annotations")
    if folder != "auto":
        return Path(folder)
    index = Path(index).resolve()
    shared = index.parent / "annotations"
    if belongs_elsewhere(bound_to(shared / FILENAME), index):
        return index.parent / f"annotations-{index.name}"
    return shared


def bound_to(path: Path) -> str | None:
    """The name of the index folder the store at `path` is bound to (read only); None when unbound."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (INDEX_KEY,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def belongs_elsewhere(bound: str | None, index: Path) -> bool:
    """Whether a store bound to the index folder named `bound` is another index's, not `index`'s: that
    index is still there beside it. Its folder gone, `index` is that index renamed."""
    if bound is None or bound == index.name:
        return False
    other = index.parent / bound
    return other.is_dir() and other.resolve() != index.resolve()


def check_note(note: str) -> str:
    cap = config.get_int("note_max_chars")
    if len(note) > cap:
        raise UsageError(f"the note is {len(note):,} characters; notes are capped at {cap:,} "
                         f"(setting CORPUS_SEARCH_NOTE_MAX_CHARS): shorten it or split it in several notes")
    return note


def clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for tag in tags:
        tag = " ".join(str(tag).split())
        if tag and tag not in out:
            out.append(tag)
    return tuple(out)


class AnnotationStore:
    """Annotations, their tags and the named, ordered collections that gather them."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.RLock()
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # isolation_level=None: transactions are the explicit BEGIN IMMEDIATE ones below.
            self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=30000")
            with self._tx():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
                columns = {row[1] for row in self.conn.execute("PRAGMA table_info(annotations)")}
                if "original" not in columns:  # a store from before it was kept
                    self.conn.execute("ALTER TABLE annotations ADD COLUMN original TEXT NOT NULL DEFAULT ''")
        except sqlite3.DatabaseError as exc:  # not a database, or a disk that refuses writes
            raise CorpusSearchError(f"cannot open the annotation store {path}: {exc}; it is your data, so it is "
                                    "never replaced: move it aside to start a new one") from None

    @classmethod
    def open(cls, folder: Path | str) -> AnnotationStore:
        return cls(Path(folder) / FILENAME)

    @classmethod
    def for_index(cls, index: Path | str) -> AnnotationStore:
        return cls.open(store_dir(index))

    def close(self) -> None:
        self.conn.close()

    def bound_to(self) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (INDEX_KEY,)).fetchone()
        return row[0] if row else None

    def bind(self, index: Path | str) -> None:
        """Bind the store to the index folder it is used with (see store_dir), renamed or not."""
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (INDEX_KEY, Path(index).resolve().name))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # -- reading ---------------------------------------------------------------
    def get(self, annotation_id: str) -> Annotation:
        found = self._load("WHERE a.id = ?", (annotation_id,))
        if not found:
            raise NotFoundError(f"no annotation {annotation_id!r} (see `corpus-search annotations list`)")
        return found[0]

    def list(self, tag: str | None = None, collection: str | None = None, doc_id: str | None = None,
             search: str | None = None, passage_ids: Sequence[str] | None = None,
             orphans: bool = False) -> list[Annotation]:
        """Annotations that pass every filter given; in a collection's own order when filtering by one.

        `orphans`: only those that could not be placed in the current sources.
        """
        where, args, order = [], [], "a.doc_id, a.doc_start, a.created"
        if tag:
            where.append("a.id IN (SELECT annotation_id FROM tags WHERE tag = ?)")
            args.append(tag)
        if collection:
            where.append("a.id IN (SELECT annotation_id FROM collection_items WHERE collection = ?)")
            args.append(collection)
            order = "(SELECT ord FROM collection_items c WHERE c.annotation_id = a.id AND c.collection = ?)"
        if doc_id:
            where.append("a.doc_id = ?")
            args.append(doc_id)
        if search:
            # The notes' text and the quoted words; LIKE with an escape so % and _ are plain characters.
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(a.note LIKE ? ESCAPE '\\' OR a.exact LIKE ? ESCAPE '\\')")
            args += [pattern, pattern]
        if passage_ids is not None:
            where.append(f"a.passage_id IN ({','.join('?' * len(passage_ids))})")
            args += list(passage_ids)
        if orphans:
            where.append("a.status = ?")
            args.append(ORPHAN)
        if collection:
            args.append(collection)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self._load(f"{clause} ORDER BY {order}", tuple(args))

    def _load(self, clause: str, args: tuple) -> list[Annotation]:
        cols = ", ".join(f"a.{c}" for c in _COLUMNS)
        with self._lock:
            rows = self.conn.execute(f"SELECT {cols} FROM annotations a {clause}", args).fetchall()
            ids = [r[0] for r in rows]
            tags: dict[str, list[str]] = {}
            colls: dict[str, list[str]] = {}
            for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
                marks = ",".join("?" * len(chunk))
                for aid, tag in self.conn.execute(
                        f"SELECT annotation_id, tag FROM tags WHERE annotation_id IN ({marks}) ORDER BY rowid", chunk):
                    tags.setdefault(aid, []).append(tag)
                for aid, name in self.conn.execute(
                        f"SELECT i.annotation_id, i.collection FROM collection_items i JOIN collections c "
                        f"ON c.name = i.collection WHERE i.annotation_id IN ({marks}) ORDER BY c.ord", chunk):
                    colls.setdefault(aid, []).append(name)
        out = []
        for row in rows:
            data = dict(zip(_COLUMNS, row))
            out.append(Annotation(**data, tags=tuple(tags.get(row[0], ())), collections=tuple(colls.get(row[0], ()))))
        return out

    def tags(self) -> list[tuple[str, int]]:
        with self._lock:
            return self.conn.execute("SELECT tag, count(*) FROM tags GROUP BY tag ORDER BY tag").fetchall()

    def collections(self) -> list[tuple[str, int]]:
        """(name, number of annotations) in the collections' own order."""
        with self._lock:
            return self.conn.execute(
                "SELECT c.name, count(i.annotation_id) FROM collections c LEFT JOIN collection_items i "
                "ON i.collection = c.name GROUP BY c.name ORDER BY c.ord").fetchall()

    def count(self) -> int:
        with self._lock:
            return self.conn.execute("SELECT count(*) FROM annotations").fetchone()[0]

    # -- writing ---------------------------------------------------------------
    def add(self, annotation: Annotation, replace: bool = False) -> Annotation:
        """Store a new annotation (with its tags and collections); returns it as stored."""
        check_note(annotation.note)
        annotation = dataclasses.replace(annotation, tags=clean_tags(annotation.tags))
        with self._tx() as conn:
            if replace:
                conn.execute("DELETE FROM annotations WHERE id = ?", (annotation.id,))
            try:
                marks = ", ".join("?" * len(_COLUMNS))
                conn.execute(f"INSERT INTO annotations ({', '.join(_COLUMNS)}) VALUES ({marks})",
                             tuple(getattr(annotation, c) for c in _COLUMNS))
            except sqlite3.IntegrityError:
                raise UsageError(f"an annotation {annotation.id!r} already exists") from None
            self._set_tags(conn, annotation.id, annotation.tags)
            for name in annotation.collections:
                self._add_item(conn, name, annotation.id)
        return self.get(annotation.id)

    def update(self, annotation_id: str, version: int, *, note: str | None = None,
               tags: Sequence[str] | None = None) -> Annotation:
        """Change the note and/or tags of the annotation as it was at `version`; a stale version is refused."""
        if note is not None:
            check_note(note)
        with self._tx() as conn:
            row = conn.execute("SELECT version FROM annotations WHERE id = ?", (annotation_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no annotation {annotation_id!r}")
            if row[0] != version:
                raise AnnotationConflict(
                    f"annotation {annotation_id} was changed elsewhere (version {row[0]}, yours {version}); "
                    "reload it and make your change again")
            sets, args = ["version = version + 1", "updated = ?"], [now()]
            if note is not None:
                sets.append("note = ?")
                args.append(note)
            conn.execute(f"UPDATE annotations SET {', '.join(sets)} WHERE id = ?", (*args, annotation_id))
            if tags is not None:
                self._set_tags(conn, annotation_id, clean_tags(tags))
        return self.get(annotation_id)

    def add_tags(self, annotation_id: str, tags: Sequence[str]) -> Annotation:
        """Add tags whatever the version: adding is a merge, so concurrent taggers lose nothing."""
        with self._tx() as conn:
            self._require(conn, annotation_id)
            for tag in clean_tags(tags):
                conn.execute("INSERT OR IGNORE INTO tags VALUES (?, ?)", (annotation_id, tag))
            conn.execute("UPDATE annotations SET version = version + 1, updated = ? WHERE id = ?",
                         (now(), annotation_id))
        return self.get(annotation_id)

    def set_position(self, annotation_id: str, **fields) -> None:
        """Where re-anchoring placed the annotation (or that it is an orphan); the user's fields are kept.

        The version is not bumped: it guards the user's own fields (note, tags) against concurrent
        edits, and a build that moved the words under a note conflicts with no edit of it."""
        unknown = set(fields) - set(_POSITION_FIELDS)
        if unknown:
            raise ValueError(f"not position fields: {sorted(unknown)}")
        with self._tx() as conn:
            sets = ", ".join(f"{k} = ?" for k in fields)
            conn.execute(f"UPDATE annotations SET {sets} WHERE id = ?", (*fields.values(), annotation_id))

    def delete(self, annotation_id: str) -> None:
        with self._tx() as conn:
            self._require(conn, annotation_id)
            conn.execute("DELETE FROM annotations WHERE id = ?", (annotation_id,))

    # -- collections -------------------------------------------------------------
    def create_collection(self, name: str) -> str:
        with self._tx() as conn:
            return self._ensure_collection(conn, name)

    def add_to_collection(self, name: str, annotation_id: str) -> None:
        """Append to the collection (created if new); one transaction, so concurrent appends all land."""
        with self._tx() as conn:
            self._require(conn, annotation_id)
            self._add_item(conn, name, annotation_id)

    def remove_from_collection(self, name: str, annotation_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM collection_items WHERE collection = ? AND annotation_id = ?",
                         (name, annotation_id))

    def move_in_collection(self, name: str, annotation_id: str, step: int) -> None:
        """Move an annotation `step` places up (-) or down (+) in its collection."""
        with self._tx() as conn:
            ids = [r[0] for r in conn.execute(
                "SELECT annotation_id FROM collection_items WHERE collection = ? ORDER BY ord", (name,))]
            if annotation_id not in ids:
                raise NotFoundError(f"annotation {annotation_id!r} is not in collection {name!r}")
            i = ids.index(annotation_id)
            j = max(0, min(len(ids) - 1, i + step))
            ids.insert(j, ids.pop(i))
            for n, aid in enumerate(ids):
                conn.execute("UPDATE collection_items SET ord = ? WHERE collection = ? AND annotation_id = ?",
                             (n, name, aid))

    def rename_collection(self, name: str, new: str) -> None:
        new = _collection_name(new)
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM collections WHERE name = ?", (new,)).fetchone():
                raise UsageError(f"a collection {new!r} already exists")
            if conn.execute("UPDATE collections SET name = ? WHERE name = ?", (new, name)).rowcount == 0:
                raise NotFoundError(f"no collection {name!r}")

    def delete_collection(self, name: str) -> None:
        """Forget the collection; its annotations stay."""
        with self._tx() as conn:
            conn.execute("DELETE FROM collections WHERE name = ?", (name,))

    # -- helpers -------------------------------------------------------------------
    @staticmethod
    def _require(conn: sqlite3.Connection, annotation_id: str) -> None:
        if conn.execute("SELECT 1 FROM annotations WHERE id = ?", (annotation_id,)).fetchone() is None:
            raise NotFoundError(f"no annotation {annotation_id!r}")

    @staticmethod
    def _set_tags(conn: sqlite3.Connection, annotation_id: str, tags: Sequence[str]) -> None:
        conn.execute("DELETE FROM tags WHERE annotation_id = ?", (annotation_id,))
        conn.executemany("INSERT INTO tags VALUES (?, ?)", [(annotation_id, t) for t in tags])

    @staticmethod
    def _ensure_collection(conn: sqlite3.Connection, name: str) -> str:
        name = _collection_name(name)
        if conn.execute("SELECT 1 FROM collections WHERE name = ?", (name,)).fetchone() is None:
            ord_ = conn.execute("SELECT coalesce(max(ord), -1) + 1 FROM collections").fetchone()[0]
            conn.execute("INSERT INTO collections VALUES (?, ?, ?)", (name, ord_, now()))
        return name

    def _add_item(self, conn: sqlite3.Connection, name: str, annotation_id: str) -> None:
        name = self._ensure_collection(conn, name)
        ord_ = conn.execute("SELECT coalesce(max(ord), -1) + 1 FROM collection_items WHERE collection = ?",
                            (name,)).fetchone()[0]
        conn.execute("INSERT OR IGNORE INTO collection_items VALUES (?, ?, ?)", (name, annotation_id, ord_))


def _collection_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise UsageError("a collection needs a name")
    return name


def new_annotation(**fields) -> Annotation:
    stamp = now()
    fields.setdefault("id", new_id())
    fields.setdefault("created", stamp)
    fields.setdefault("updated", stamp)
    fields.setdefault("author", default_author())
    fields.setdefault("status", ANCHORED)
    return Annotation(**fields)
