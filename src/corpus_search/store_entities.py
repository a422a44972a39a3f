"""The store's entity queries: mentions, aliases, the entity filter and the entity list."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from corpus_search.entities import alias_key
from corpus_search.models import Entity, Mention
from corpus_search.store_curation import Curated
from corpus_search.store_schema import chunks


class EntityReads(Curated):
    """Mentions and entities, read through the curation (`_m` names the table to read)."""

    conn: sqlite3.Connection
    _tables: dict[str, bool]

    def mentions(self, passage_ids: Sequence[str]) -> dict[str, list[Mention]]:
        out: dict[str, list[Mention]] = defaultdict(list)
        for chunk in chunks(list(passage_ids)):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT passage_id, start, end, text, name, label FROM {self._m()} "
                f"WHERE passage_id IN ({marks}) ORDER BY passage_id, start",
                chunk,
            ):
                out[row[0]].append(Mention(*row))
        return out

    def mention_names(self, passage_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """passage id -> (name, label) of each of its mentions, in text order: what facets count, read without
        building a Mention per row (a keyword search's 200 candidates hold about 1,400 mentions)."""
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for chunk in chunks(list(passage_ids)):
            marks = ",".join("?" * len(chunk))
            for pid, name, label in self.conn.execute(
                    f"SELECT passage_id, name, label FROM {self._m()} WHERE passage_id IN ({marks}) "
                    "ORDER BY passage_id, start", chunk):
                out[pid].append((name, label))
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

    def _label_counts(self) -> Iterable[tuple[str, str, int]]:
        """(name, label, mentions) for each name and label, curated; from the counts the build wrote
        unless the curation splits an alias off (a split goes by each mention's text) or the store
        predates them."""
        cur = self._curation if self._m() != "mentions" else None
        stored = self._has_table("entity_labels")
        if not stored or (cur is not None and cur.split):
            return self.conn.execute(f"SELECT name, label, count(*) FROM {self._m()} GROUP BY name, label")
        rows = self.conn.execute("SELECT name, label, n FROM entity_labels")
        if cur is None:
            return rows
        out = []
        for name, label, n in rows:
            name = cur.final(name)
            if name not in cur.rejected:
                out.append((name, cur.labels.get(name, label), n))
        return out

    def _has_entity_lists(self) -> bool:
        """Whether the store has the entity filter's index (a store built before it has not)."""
        return self._has_table("entity_passages")

    def _has_table(self, name: str) -> bool:
        """Whether the store has the table `name` filled by its build (a store built before it was has not)."""
        if name not in self._tables:
            self._tables[name] = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None
        return self._tables[name]

    def passages_labelled(self, labels: Sequence[str]) -> set[str]:
        marks = ",".join("?" * len(labels))
        return {r[0] for r in self.conn.execute(f"SELECT DISTINCT passage_id FROM {self._m()} WHERE label IN ({marks})", labels)}

    def entity_names(self) -> dict[str, str]:
        """Canonical name -> its label (the most frequent one)."""
        counts: dict[str, Counter] = defaultdict(Counter)
        for name, label, n in self._label_counts():
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
        for chunk in chunks(names):
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

