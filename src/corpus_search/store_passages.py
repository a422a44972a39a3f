"""The store's documents and passages as queries read them."""

from __future__ import annotations

import difflib
import json
import sqlite3
from collections.abc import Sequence

from corpus_search.errors import NotFoundError
from corpus_search.models import Document, Passage
from corpus_search.store_schema import chunks


class PassageReads:
    """Documents, passages and the build's meta values, read from a store."""

    conn: sqlite3.Connection
    _passage_cache: dict[str, Passage]

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def documents(self) -> list[Document]:
        rows = self.conn.execute("SELECT json FROM documents ORDER BY ord").fetchall()
        return [Document.from_json(json.loads(r[0])) for r in rows]

    def document(self, doc_id: str) -> Document:
        row = self.conn.execute("SELECT json FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            doc_id = known_doc_id(doc_id, {d.doc_id for d in self.documents()})  # "R48903.3" is "r48903.3"
            row = self.conn.execute("SELECT json FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
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
            doc_id = self.document(doc_id).doc_id  # raises NotFoundError with the nearest ids
            rows = self.conn.execute("SELECT json FROM passages WHERE doc_id = ? ORDER BY seq", (doc_id,)).fetchall()
        return [Passage.from_json(json.loads(r[0])) for r in rows]

    def passage(self, passage_id: str) -> Passage:
        cached = self._passage_cache.get(passage_id)
        if cached is not None:
            return cached
        row = self.conn.execute("SELECT json FROM passages WHERE passage_id = ?", (passage_id,)).fetchone()
        if row is None:
            # An id of this index, so the example is one the user can run (not one of the bundled corpus).
            some = self.conn.execute("SELECT passage_id FROM passages ORDER BY rowid LIMIT 1").fetchone()
            like = f"; ids look like {some[0]!r} (see `passages`)" if some else "; this index holds no passages"
            raise NotFoundError(f"no passage {passage_id!r}{like}")
        passage = Passage.from_json(json.loads(row[0]))
        self._passage_cache[passage_id] = passage
        return passage

    def get_passages(self, ids: Sequence[str]) -> dict[str, Passage]:
        out: dict[str, Passage] = {}
        missing = [i for i in ids if i not in self._passage_cache]
        for chunk in chunks(missing):
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


def known_doc_id(doc_id: str, known: set[str]) -> str:
    """The document id as the index has it: typed with other capitals ("R48903.3" for "r48903.3") it is the one
    id that differs only so; otherwise NotFoundError with the nearest ids (not all of a large corpus's)."""
    if doc_id in known:
        return doc_id
    same = [k for k in known if k.casefold() == doc_id.casefold()]
    if len(same) == 1:
        return same[0]
    near = difflib.get_close_matches(doc_id.casefold(), sorted(known), n=5, cutoff=0.5)
    if len(known) <= 12:
        hint = f"known: {', '.join(sorted(known))}"
    else:
        hint = (f"nearest: {', '.join(near)}; " if near else "") + f"{len(known):,} documents, `corpus-search documents` lists them"
    raise NotFoundError(f"no document {doc_id!r} ({hint})")
