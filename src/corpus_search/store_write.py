"""The store's writes, made by the build only (a query opens the store read-only)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from corpus_search.models import Document, Mention, Passage
from corpus_search.store_schema import chunks


class Writes:
    """The build's writes into a store opened with `Store.create`."""

    conn: sqlite3.Connection

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
        for chunk in chunks(ids):
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
        for chunk in chunks(list(passage_ids)):
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
        # Each name's mentions per label, for the names a search resolves: grouping 7.4M mention rows
        # at 1M passages made the first query after opening the index take 33 s (BENCHMARKS.md).
        self.conn.execute("DELETE FROM entity_labels")
        self.conn.execute("INSERT INTO entity_labels SELECT name, label, count(*) FROM mentions GROUP BY name, label")
        self.conn.commit()
