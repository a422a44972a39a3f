"""The store's SQLite schema, and the chunking its IN (...) queries share."""

from __future__ import annotations

from collections.abc import Iterable


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
CREATE TABLE IF NOT EXISTS entity_labels (name TEXT NOT NULL, label TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (name, label));
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


def chunks(items: list, size: int = 500) -> Iterable[list]:
    """`items` in runs of `size`: SQLite caps the parameters of one statement."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
