"""Are two generations' shards the same index? Every shard file byte for byte, and the Whoosh folders by content.

Whoosh names each segment at random (and its table of contents names the segment), so two writes of the
same passages never give the same keyword folder bytes. Those are compared by what a search can read:
the stored fields of every document in order, each field's total and per-document lengths, and for every
term of every field its term statistics and its postings (document, weight, positions). Every other file
(the BM25 export, vectors, sentence vectors, order, ids, shards.json) must be byte for byte the same.

Run:
  .venv/bin/python bench/compare_shards.py INDEX_A INDEX_B      (each an index folder; its current generation)
Prints one line per shard and exits non-zero at the first difference.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

SEGMENT_FILES = (".seg", ".toc")  # named at random per write: compared by content instead
LOCK = "_WRITELOCK"


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plain_files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _digest(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(SEGMENT_FILES) and not p.name.endswith(LOCK)}


def _whoosh_content(folder: Path):
    """Everything a search reads from a Whoosh folder, as a stream of comparable items."""
    from whoosh import index

    from corpus_search.keyword_index import INDEX_NAME
    from corpus_search.keyword_safety import check_toc, whoosh_safely

    whoosh_safely()
    check_toc(folder)
    ix = index.open_dir(str(folder), indexname=INDEX_NAME, readonly=True)
    with ix.reader() as r:
        yield "doc_count", r.doc_count_all(), r.doc_count()
        fields = sorted(r.indexed_field_names())
        yield "fields", fields
        for docnum in range(r.doc_count_all()):
            yield "stored", docnum, sorted(r.stored_fields(docnum).items()), r.is_deleted(docnum)
        for field in fields:
            if r.schema[field].scorable:  # only these keep lengths
                yield "field_length", field, r.field_length(field), r.min_field_length(field), r.max_field_length(field)
                yield "doc_lengths", field, [r.doc_field_length(d, field) for d in range(r.doc_count_all())]
            for term in r.lexicon(field):
                info = r.term_info(field, term)
                yield ("term", field, term, info.weight(), info.doc_frequency(), info.min_length(),
                       info.max_length(), info.max_weight())
                m = r.postings(field, term)
                postings = []
                positions = r.schema[field].format.supports("positions")
                while m.is_active():
                    postings.append((m.id(), m.weight(), tuple(m.value_as("positions")) if positions else None))
                    m.next()
                yield "postings", field, term, postings


def compare(a: Path, b: Path) -> list[str]:
    """The differences between two index folders' current shards ([] when they are the same index)."""
    from corpus_search import shards
    from corpus_search.build import KEYWORD
    from corpus_search.generations import Generations

    ga, gb = Generations(a).current(), Generations(b).current()
    n = shards.count(ga)
    if n is None or n != shards.count(gb):
        return [f"shard counts differ: {n} and {shards.count(gb)}"]
    problems = []
    if (ga / shards.FOLDER / shards.META).read_bytes() != (gb / shards.FOLDER / shards.META).read_bytes():
        problems.append(f"{shards.META} differs")
    for k in range(n):
        fa, fb = shards.folder(ga, k), shards.folder(gb, k)
        pa, pb = _plain_files(fa), _plain_files(fb)
        differing = sorted(name for name in pa.keys() | pb.keys() if pa.get(name) != pb.get(name))
        items = 0
        for x, y in zip(_whoosh_content(fa / KEYWORD), _whoosh_content(fb / KEYWORD), strict=False):
            items += 1
            if x != y:
                problems.append(f"shard {k}: Whoosh content differs at {x[:3]!r} / {y[:3]!r}")
                break
        else:
            if sum(1 for _ in _whoosh_content(fa / KEYWORD)) != sum(1 for _ in _whoosh_content(fb / KEYWORD)):
                problems.append(f"shard {k}: one Whoosh index holds more than the other")
        segs = sorted((fa / KEYWORD).glob("*.seg")), sorted((fb / KEYWORD).glob("*.seg"))
        same_seg = len(segs[0]) == len(segs[1]) and all(_digest(x) == _digest(y) for x, y in zip(*segs))
        problems += [f"shard {k}: {name} differs" for name in differing]
        print(f"shard {k}: {len(pa)} files byte-identical{' except ' + ', '.join(differing) if differing else ''}; "
              f"Whoosh: {items} items compared, segment files {'byte-identical' if same_seg else 'differ in bytes'}",
              flush=True)
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    args = ap.parse_args()
    problems = compare(args.a, args.b)
    for p in problems:
        print("DIFFERENT:", p)
    print("same index" if not problems else f"{len(problems)} difference(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
