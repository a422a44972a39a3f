"""Trusting an index built elsewhere: `corpus-search trust` re-keys its manifests with this installation's key.

Trusting never lets anything in the folder run. A generation is refused when its files do not match
its own manifest, it holds a file its manifest does not list, it was written by other backends than
the settings choose, or its parts do not open under our own loaders.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from corpus_search import backends
from corpus_search.errors import CorpusSearchError, IndexMissingError
from corpus_search.generation_manifest import (
    FORMAT_VERSION,
    KEYWORD,
    MANIFEST,
    STORE,
    file_digest,
    fsync_tree,
    keyed_by_us,
    listed_files,
    load_manifest,
    secret_key,
    verify_files,
    write_manifest,
)
from corpus_search.store import Store

if TYPE_CHECKING:  # generations.py calls these functions: imported for the type only
    from corpus_search.generations import Generations


def candidates(gens: Generations) -> list[Path]:
    """The generations `trust` considers: the current one and older ones, else those once published."""
    name, trouble = gens.pointer()
    if trouble is None and (gens.root / name).is_dir():
        return [g for g in reversed(gens.list()) if g.name <= name and (g / MANIFEST).exists()]
    return gens.published() or [g for g in reversed(gens.list()) if (g / MANIFEST).exists()]


def describe(gens: Generations) -> list[str]:
    """One line per generation `trust` would consider: what a user is asked to accept."""
    lines = []
    for gen in candidates(gens):
        try:
            m = load_manifest(gen)
        except IndexMissingError:
            lines.append(f"{gen.name}: no readable manifest")
            continue
        counts = m.get("counts") if isinstance(m.get("counts"), dict) else {}
        files = m.get("files") if isinstance(m.get("files"), dict) else {}
        lines.append(f"{gen.name}: {counts.get('passages', '?')} passages from {counts.get('documents', '?')} "
                     f"sources, built {m.get('created', '?')}, {len(files)} files")
    # The manifest is the sender's: a terminal escape in it could rewrite the lines the user is judging.
    return ["".join(ch if ch.isprintable() else "?" for ch in line)[:300] for line in lines]


def trust(gens: Generations) -> list[str]:
    """Re-key the published generations' manifests with this installation's key; one line per generation.

    Called once the user has accepted the folder. A generation is still refused when its files do not
    match its own manifest (sizes; an unkeyed manifest's checksums too), it holds a file its manifest
    does not list, other backends wrote it, or its parts do not open under our loaders (a keyword index
    whose table of contents is in a format we do not write, or that names a foreign object, is refused):
    trusting an index never lets anything in it run.
    """
    key = secret_key()
    done, refused = [], []
    for gen in candidates(gens):
        try:
            manifest = load_manifest(gen)
        except IndexMissingError:
            refused.append(f"{gen.name}: {MANIFEST} is missing or unreadable")
            continue
        if keyed_by_us(manifest, key):
            problems = verify_files(gen, manifest)
            line = f"{gen.name}: {problems[0] if problems else 'already trusted'}"
            (refused if problems else done).append(line)
            continue
        problem = foreign_problem(gen, manifest)
        if problem is None:
            write_manifest(gen, manifest)
            fsync_tree(gen)
            done.append(f"{gen.name}: trusted, checksums re-keyed")
        else:
            refused.append(f"{gen.name}: {problem}")
    if not done:
        reasons = "; ".join(refused) or "no generation found"
        raise IndexMissingError(f"nothing in {gens.root} can be trusted: {reasons}; "
                                "run `corpus-search build` to rebuild it")
    gens.record_published([gens.root / line.split(":")[0] for line in done])
    return done + [f"{line} (refused)" for line in refused]


def foreign_problem(gen: Path, manifest: dict) -> str | None:
    """What stops a generation built elsewhere from being trusted, or None."""
    found = manifest.get("format_version")
    if found != FORMAT_VERSION:
        return f"format {found}, this version reads {FORMAT_VERSION}"
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not listed:
        return f"{MANIFEST} lists no files"
    unlisted = [rel for rel in listed_files(gen) if rel not in listed]
    if unlisted:
        return f"{unlisted[0]} is not in the manifest"
    for rel, info in listed.items():
        path = gen / rel
        if not isinstance(info, dict) or not path.is_file() or path.stat().st_size != info.get("size"):
            return f"{rel} is missing or not the size its manifest says"
        if "blake2b" in info and file_digest(path) != info["blake2b"]:  # an unkeyed manifest can still be checked
            return f"{rel} is corrupt (checksum differs)"
    # Our loaders are only ours for what our backends wrote: another backend's folder is refused by name,
    # before any part of it is read. A misspelt setting raises its own error here, not the index's.
    try:
        backends.check_written_by(manifest, gen)
    except IndexMissingError as exc:
        return str(exc)
    keyword, vectors = backends.keyword_backend(), backends.vector_backend()
    try:  # each part opens under our own loaders: restricted unpickler, TOC format check, no pickled arrays
        Store.open(gen / STORE).close()
        keyword.open(gen / KEYWORD).close()
        vectors.open(gen)
    except CorpusSearchError as exc:
        return str(exc)
    return None
