"""How the shards' candidate lists merge into the lists the unsharded index would give.

Keyword hits are ordered by score, ties by each passage's place in the unsharded index (as that index
breaks them); semantic hits by score, ties by id. A shard's own list in the same order is the merged
list's restriction to that shard, so the best of the union are the index's best.
"""

from __future__ import annotations

from corpus_search.backends import KeywordHits


def keyword_order(hit: tuple[str, float, int]) -> tuple[float, int]:
    """A keyword hit (passage id, score, place in the unsharded index) as the merged list sorts it."""
    return -hit[1], hit[2]


def semantic_order(hit: tuple[str, float]) -> tuple[float, str]:
    """A semantic hit (passage id, score) as the merged list sorts it."""
    return -hit[1], hit[0]


def merge_keyword(parts: list, limit: int) -> KeywordHits:
    """Each shard's (hits, total, warnings) as one KeywordHits: the top `limit`, every shard's total and warnings."""
    merged = sorted((hit for ids, _, _ in parts for hit in ids), key=keyword_order)[:limit]
    warnings = list(dict.fromkeys(w for _, _, ws in parts for w in ws))
    return KeywordHits(ids=[(pid, score) for pid, score, _ in merged], total=sum(t for _, t, _ in parts),
                       warnings=warnings)


def merge_semantic(parts: list, depth: int) -> list[tuple[str, float]]:
    return sorted((hit for part in parts for hit in part), key=semantic_order)[:depth]
