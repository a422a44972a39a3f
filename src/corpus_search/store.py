"""The store: documents, passages, entity mentions and aliases in SQLite; the source of truth.

The keyword and vector indexes refer to passages by `passage_id`; the text
lives here only. `entity_passages` is derived from the mentions at each commit
(each canonical name's passage ids, for the entity filter); a store built
before it filters from the mention rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from corpus_search.curation import FILE, Curation
from corpus_search.entities import alias_key
from corpus_search.errors import IndexMissingError, NotFoundError
from corpus_search.models import Document, Entity, Mention, Passage

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    ord INTEGER NOT NULL,
    json TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    source_key TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS passages (
    row INTEGER PRIMARY KEY,
    passage_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    page INTEGER,
    text TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages (doc_id, seq);
CREATE TABLE IF NOT EXISTS mentions (
    passage_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mentions_passage ON mentions (passage_id);
CREATE INDEX IF NOT EXISTS mentions_name ON mentions (name);
CREATE TABLE IF NOT EXISTS entity_passages (name TEXT PRIMARY KEY, ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raw_mentions (
    passage_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    label TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS raw_mentions_passage ON raw_mentions (passage_id);
CREATE TABLE IF NOT EXISTS aliases (
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (key, name)
);
"""


class Store:
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
        self._entity_lists: bool | None = None  # whether the store has the entity filter's index

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

    # -- writing (build only) ---------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def add_document(
        self, doc: Document, ord_: int, text: str, passages: Sequence[Passage], source_key: str = ""
    ) -> None:
        self.conn.execute(
            "INSERT INTO documents (doc_id, ord, json, text, source_key) VALUES (?, ?, ?, ?, ?)",
            (doc.doc_id, ord_, json.dumps(doc.to_json(), ensure_ascii=False), text, source_key),
        )
        self.conn.executemany(
            "INSERT INTO passages (passage_id, doc_id, seq, kind, page, text, json) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (p.passage_id, p.doc_id, p.seq, p.kind, p.page, p.text, json.dumps(p.to_json(), ensure_ascii=False))
                for p in passages
            ],
        )

    def delete_document(self, doc_id: str) -> None:
        """Remove a document with its passages and mentions (an incremental build replacing it)."""
        ids = [r[0] for r in self.conn.execute("SELECT passage_id FROM passages WHERE doc_id = ?", (doc_id,))]
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            self.conn.execute(f"DELETE FROM mentions WHERE passage_id IN ({marks})", chunk)
            self.conn.execute(f"DELETE FROM raw_mentions WHERE passage_id IN ({marks})", chunk)
        self.conn.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        self.conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    def set_order(self, doc_ids: Sequence[str]) -> None:
        self.conn.executemany("UPDATE documents SET ord = ? WHERE doc_id = ?", [(i, d) for i, d in enumerate(doc_ids)])

    def clear_mentions(self) -> None:
        self.conn.execute("DELETE FROM mentions")
        self.conn.execute("DELETE FROM aliases")

    def add_mentions(self, mentions: Iterable[Mention]) -> None:
        self.conn.executemany(
            "INSERT INTO mentions VALUES (?, ?, ?, ?, ?, ?)",
            [(m.passage_id, m.start, m.end, m.text, m.name, m.label) for m in mentions],
        )

    def add_raw_mentions(self, raw: Iterable) -> None:
        """What the tagger found before canonical names: kept so an unchanged source is not tagged again."""
        self.conn.executemany(
            "INSERT INTO raw_mentions VALUES (?, ?, ?, ?, ?)",
            [(m.passage_id, m.start, m.end, m.text, m.label) for m in raw],
        )

    def raw_mentions(self, passage_ids: Sequence[str]) -> list[tuple]:
        rows: list[tuple] = []
        for chunk in _chunks(list(passage_ids), 500):
            marks = ",".join("?" * len(chunk))
            rows += self.conn.execute(
                f"SELECT passage_id, start, end, text, label FROM raw_mentions WHERE passage_id IN ({marks}) "
                "ORDER BY passage_id, start",
                chunk,
            ).fetchall()
        return rows

    def set_aliases(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        """Rows of (key, canonical name, label, source)."""
        self.conn.executemany("INSERT OR REPLACE INTO aliases VALUES (?, ?, ?, ?)", list(rows))

    def commit(self) -> None:
        """Commit the build's writes, with each entity's passage list derived from the mentions written."""
        # The entity filter's index: one JSON list per canonical name. Reading the commonest entity's
        # 40,000 passages from its 105,000 mention rows cost 70-75 ms of CPU at 100k passages; its list
        # costs 4-11 (BENCHMARKS.md). Rewritten whole at every commit, so it always matches the mentions.
        self.conn.execute("DELETE FROM entity_passages")
        self.conn.execute(
            "INSERT INTO entity_passages SELECT name, json_group_array(passage_id) FROM "
            "(SELECT DISTINCT name, passage_id FROM mentions ORDER BY name, passage_id) GROUP BY name")
        self.conn.commit()

    # -- reading -----------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def documents(self) -> list[Document]:
        rows = self.conn.execute("SELECT json FROM documents ORDER BY ord").fetchall()
        return [Document.from_json(json.loads(r[0])) for r in rows]

    def document(self, doc_id: str) -> Document:
        row = self.conn.execute("SELECT json FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            known = ", ".join(d.doc_id for d in self.documents()) or "none"
            raise NotFoundError(f"no document {doc_id!r} (known: {known})")
        return Document.from_json(json.loads(row[0]))

    def document_text(self, doc_id: str) -> str:
        row = self.conn.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {doc_id!r}")
        return row[0]

    def source_keys(self) -> dict[str, str]:
        """doc_id -> the key (content + record hash) it was built from."""
        return dict(self.conn.execute("SELECT doc_id, source_key FROM documents").fetchall())

    def passage_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM passages").fetchone()[0]

    def passage_ids_in_order(self) -> list[str]:
        """Every passage id, documents in corpus order and passages in theirs: the vector rows' order."""
        return [r[0] for r in self.conn.execute(
            "SELECT p.passage_id FROM passages p JOIN documents d USING (doc_id) ORDER BY d.ord, p.seq")]

    def first_passage_text(self) -> str | None:
        """The text of the passage stored first (the build's canary query is made from it)."""
        row = self.conn.execute("SELECT text FROM passages ORDER BY row LIMIT 1").fetchone()
        return row[0] if row else None

    def stored_mention_count(self) -> int:
        """Mentions as the build stored them (no curation applied)."""
        return self.conn.execute("SELECT count(*) FROM main.mentions").fetchone()[0]

    def passages(self, doc_id: str | None = None) -> list[Passage]:
        if doc_id is None:
            rows = self.conn.execute(
                "SELECT p.json FROM passages p JOIN documents d USING (doc_id) ORDER BY d.ord, p.seq"
            ).fetchall()
        else:
            self.document(doc_id)  # raises NotFoundError with the known ids
            rows = self.conn.execute("SELECT json FROM passages WHERE doc_id = ? ORDER BY seq", (doc_id,)).fetchall()
        return [Passage.from_json(json.loads(r[0])) for r in rows]

    def passage(self, passage_id: str) -> Passage:
        cached = self._passage_cache.get(passage_id)
        if cached is not None:
            return cached
        row = self.conn.execute("SELECT json FROM passages WHERE passage_id = ?", (passage_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no passage {passage_id!r}; ids look like 'makocki2016:0042' (see `passages`)")
        passage = Passage.from_json(json.loads(row[0]))
        self._passage_cache[passage_id] = passage
        return passage

    def get_passages(self, ids: Sequence[str]) -> dict[str, Passage]:
        out: dict[str, Passage] = {}
        missing = [i for i in ids if i not in self._passage_cache]
        for chunk in _chunks(missing, 500):
            marks = ",".join("?" * len(chunk))
            for pid, js in self.conn.execute(
                f"SELECT passage_id, json FROM passages WHERE passage_id IN ({marks})", chunk
            ):
                self._passage_cache[pid] = Passage.from_json(json.loads(js))
        for i in ids:
            if i in self._passage_cache:
                out[i] = self._passage_cache[i]
        return out

    def neighbour(self, passage: Passage, step: int) -> Passage | None:
        """The passage `step` places before (-) or after (+) in the same document."""
        row = self.conn.execute(
            "SELECT json FROM passages WHERE doc_id = ? AND seq = ?", (passage.doc_id, passage.seq + step)
        ).fetchone()
        return Passage.from_json(json.loads(row[0])) if row else None

    def passage_ids(self, doc_ids: Sequence[str] | None = None, kinds: Sequence[str] | None = None) -> set[str]:
        sql, args = "SELECT passage_id FROM passages WHERE 1=1", []
        if doc_ids:
            sql += f" AND doc_id IN ({','.join('?' * len(doc_ids))})"
            args += list(doc_ids)
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        return {r[0] for r in self.conn.execute(sql, args)}

    def passages_in_languages(self, codes: Sequence[str]) -> set[str]:
        # The language lives in the passage's JSON only: no schema change, and older stores read as "unknown".
        marks = ",".join("?" * len(codes))
        sql = f"SELECT passage_id FROM passages WHERE json_extract(json, '$.language') IN ({marks})"
        return {r[0] for r in self.conn.execute(sql, list(codes))}

    def language_counts(self) -> list[tuple[str, int]]:
        rows = self.conn.execute(
            "SELECT json_extract(json, '$.language') AS lang, COUNT(*) FROM passages "
            "WHERE lang IS NOT NULL GROUP BY lang ORDER BY COUNT(*) DESC, lang")
        return [(str(code), int(n)) for code, n in rows]

    # -- entities ----------------------------------------------------------
    def mentions(self, passage_ids: Sequence[str]) -> dict[str, list[Mention]]:
        out: dict[str, list[Mention]] = defaultdict(list)
        for chunk in _chunks(list(passage_ids), 500):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT passage_id, start, end, text, name, label FROM {self._m()} "
                f"WHERE passage_id IN ({marks}) ORDER BY passage_id, start",
                chunk,
            ):
                out[row[0]].append(Mention(*row))
        return out

    def all_mentions(self) -> list[Mention]:
        return [Mention(*r) for r in self.conn.execute(f"SELECT passage_id, start, end, text, name, label FROM {self._m()}")]

    def aliases(self) -> dict[str, list[tuple[str, str]]]:
        """alias key -> [(canonical name, label)], with the curation's merges, renames and aliases."""
        cur = self.curation()
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for key, name, label in self.conn.execute("SELECT key, name, label FROM aliases"):
            if cur is not None:
                name = cur.final(name)
                if name in cur.rejected or (key, name) in cur.split:
                    continue
                label = cur.labels.get(name, label)
            out[key].append((name, label))
        if cur is not None:
            for old, new in cur.names.items():  # "DOD" merged into "Department of Defense" still finds it
                out[alias_key(old)].append((cur.final(new), cur.labels.get(cur.final(new), "")))
            for name, extra in cur.aliases.items():
                for alias in extra:
                    out[alias_key(alias)].append((cur.final(name), cur.labels.get(cur.final(name), "")))
        return out

    # -- curation: applied over the stored mentions whenever they are read --------------
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

    def passages_mentioning(self, names: Sequence[str]) -> set[str]:
        if not names:
            return set()
        marks = ",".join("?" * len(names))
        table = self._m()
        if table == "mentions" and self._has_entity_lists():
            out: set[str] = set()
            for (ids,) in self.conn.execute(f"SELECT ids FROM entity_passages WHERE name IN ({marks})", names):
                out.update(json.loads(ids))
            return out
        # A curated corpus renames, merges and splits names as it reads: the stored lists do not apply.
        sql = f"SELECT DISTINCT passage_id FROM {table} WHERE name IN ({marks})"
        return {r[0] for r in self.conn.execute(sql, names)}

    def _has_entity_lists(self) -> bool:
        """Whether the store has the entity filter's index (a store built before it has not)."""
        if self._entity_lists is None:
            self._entity_lists = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entity_passages'").fetchone() is not None
        return self._entity_lists

    def passages_labelled(self, labels: Sequence[str]) -> set[str]:
        marks = ",".join("?" * len(labels))
        return {r[0] for r in self.conn.execute(f"SELECT DISTINCT passage_id FROM {self._m()} WHERE label IN ({marks})", labels)}

    def entity_names(self) -> dict[str, str]:
        """Canonical name -> its label (the most frequent one)."""
        counts: dict[str, Counter] = defaultdict(Counter)
        for name, label, n in self.conn.execute(f"SELECT name, label, count(*) FROM {self._m()} GROUP BY name, label"):
            counts[name][label] += n
        return {name: c.most_common(1)[0][0] for name, c in counts.items()}

    def entities(self, label: str | None = None, limit: int | None = None, cooccurring: int = 5) -> list[Entity]:
        """Entities by passage count, with their aliases (surface forms) and the entities they appear with."""
        rows = self.conn.execute(
            f"SELECT name, label, count(DISTINCT passage_id), count(*) FROM {self._m()} GROUP BY name, label"
        ).fetchall()
        best: dict[str, tuple[str, int, int]] = {}
        for name, lab, npass, nment in rows:
            cur = best.get(name)
            if cur is None or nment > cur[2]:
                best[name] = (lab, npass, nment)
        pass_counts = dict(
            self.conn.execute(f"SELECT name, count(DISTINCT passage_id) FROM {self._m()} GROUP BY name").fetchall()
        )
        ment_counts = dict(self.conn.execute(f"SELECT name, count(*) FROM {self._m()} GROUP BY name").fetchall())
        chosen = [
            (name, lab)
            for name, (lab, _, _) in best.items()
            if label is None or lab.upper() == label.upper()
        ]
        chosen.sort(key=lambda nl: (-pass_counts[nl[0]], nl[0].casefold()))
        if limit is not None:
            chosen = chosen[:limit]
        names = [n for n, _ in chosen]
        surface: dict[str, Counter] = defaultdict(Counter)
        for chunk in _chunks(names, 500):
            marks = ",".join("?" * len(chunk))
            for name, text, n in self.conn.execute(
                f"SELECT name, text, count(*) FROM {self._m()} WHERE name IN ({marks}) GROUP BY name, text", chunk
            ):
                surface[name][text] += n
        declared: dict[str, set[str]] = defaultdict(set)
        for name, key in self.conn.execute("SELECT name, key FROM aliases WHERE source != 'surface'"):
            declared[name].add(key)
        co = self._cooccurring(names, cooccurring) if cooccurring else {}
        out = []
        for name, lab in chosen:
            aliases = [t for t, _ in surface[name].most_common() if t != name]
            out.append(
                Entity(
                    name=name,
                    label=lab,
                    aliases=tuple(dict.fromkeys(aliases)),
                    passages=pass_counts[name],
                    mentions=ment_counts[name],
                    cooccurring=tuple(co.get(name, ())),
                )
            )
        return out

    def _cooccurring(self, names: Sequence[str], top: int) -> dict[str, list[tuple[str, int]]]:
        wanted = set(names)
        by_passage: dict[str, set[str]] = defaultdict(set)
        for pid, name in self.conn.execute(f"SELECT DISTINCT passage_id, name FROM {self._m()}"):
            by_passage[pid].add(name)
        pairs: dict[str, Counter] = defaultdict(Counter)
        for group in by_passage.values():
            for a in group & wanted:
                for b in group:
                    if b != a:
                        pairs[a][b] += 1
        # Ties by name: Counter keeps insertion order, which here is set order and so changes per process.
        return {a: sorted(c.items(), key=lambda nc: (-nc[1], nc[0].casefold(), nc[0]))[:top] for a, c in pairs.items()}


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
