"""Index generations: each build writes a whole new folder, verifies and fsyncs it,
then switches the CURRENT pointer with one atomic rename.

indexes/
  CURRENT          the name of the generation readers use ("gen-000007")
  PUBLISHED        the generations ever made current, so a garbled CURRENT can fall back
  .lock            held (flock) by a running build
  .verified.json   stat keys of files last found sound (keyed), so opens need not re-hash them
  gen-000007/      store.sqlite, keyword/, vectors.npy, vector_ids.json, manifest.json
  gen-000006/      the previous generation, kept for rollback

Readers open CURRENT once and then only that folder, so they always see one
whole generation. A crash before the rename leaves the old pointer: the
half-written folder is ignored and removed by the next build.

A generation's manifest and its keyed checksums are generation_manifest.py's; trusting an
index built elsewhere is generation_trust.py's. This module finds the sound generation to
read, and switches, rolls back and cleans up; it keeps the names callers import from here.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hmac
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from corpus_search import config, generation_trust
from corpus_search.errors import BuildLockedError, IndexMissingError, IndexUntrustedError
from corpus_search.generation_manifest import (
    FORMAT_VERSION,
    KEYWORD,
    MANIFEST,
    STORE,
    checksums,
    create_file,
    file_digest,
    fsync_path,
    fsync_tree,
    keyed_by_us,
    keyed_mac,
    read_manifest,
    secret_key,
    secret_path,
    stat_key,
    untrusted_message,
    verify_files,
    write_manifest,
)

_create = create_file  # the name build_job.py imports it by

__all__ = [
    "FORMAT_VERSION", "KEYWORD", "MANIFEST", "POINTER", "PUBLISHED", "STORE", "VERIFIED", "Generations", "checksums",
    "file_digest", "fsync_path", "fsync_tree", "read_manifest", "secret_key", "secret_path", "stat_key",
    "untrusted_message", "verify_files", "write_manifest",
]

POINTER = "CURRENT"
PUBLISHED = "PUBLISHED"
VERIFIED = ".verified.json"  # stat keys of files last found sound, so opens need not re-hash them
_GEN = re.compile(r"^gen-(\d{6})$")


class Generations:
    """The generations under one index folder."""

    def __init__(self, root: Path):
        self.root = root

    def list(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        gens = [p for p in self.root.iterdir() if p.is_dir() and _GEN.match(p.name)]
        return sorted(gens, key=lambda p: p.name)

    def current(self) -> Path | None:
        name, trouble = self.pointer()
        if trouble is not None or not (self.root / name).is_dir():
            return None
        return self.root / name

    def pointer(self) -> tuple[str, str | None]:
        """The name CURRENT holds, or what is wrong with it."""
        try:
            name = (self.root / POINTER).read_bytes().decode("utf-8").strip()
        except FileNotFoundError:
            return "", "is missing"
        except OSError as exc:
            return "", f"is unreadable ({exc.strerror})"
        except UnicodeDecodeError:
            return "", "is garbled"
        if not _GEN.match(name):
            return name, "does not name a generation"
        return name, None

    def published(self) -> list[Path]:
        """Generations that were once made current and still exist, newest first."""
        try:
            names = (self.root / PUBLISHED).read_bytes().decode("utf-8", "replace").split()
        except OSError:
            return []
        return sorted({self.root / n for n in names if _GEN.match(n) and (self.root / n).is_dir()}, reverse=True)

    def good(self, deep: bool = True) -> tuple[Path, dict, list[str]]:
        """The current generation if sound, else the newest older sound one, with the warnings met on the way.

        Only published generations are candidates: a folder newer than CURRENT was never
        switched to (a build died before its rename), so it is never read, even if it looks whole.
        A garbled or missing CURRENT, or one naming a missing folder, falls back to the newest
        generation PUBLISHED records.
        """
        warnings: list[str] = []
        name, trouble = self.pointer()
        if trouble is not None:
            if trouble == "is missing" and not self.list():
                raise IndexMissingError(f"no index in {self.root}; run `corpus-search build`")
            candidates = self.published()
            if not candidates:
                raise IndexMissingError(f"the index pointer {self.root / POINTER} {trouble}, and no published "
                                        "generation is recorded; run `corpus-search build`")
            warnings.append(f"the index pointer {self.root / POINTER} {trouble}; "
                            "run `corpus-search build` to repair it")
        elif not (self.root / name).is_dir():
            warnings.append(f"index generation {name} is damaged: its folder is missing; run `corpus-search build`")
            candidates = [g for g in self.published() if g.name < name]
        else:
            candidates = [self.root / name] + [g for g in reversed(self.list()) if g.name < name]
        damaged: list[str] = []
        foreign = False
        for gen in candidates:
            if gen.name != name and not (gen / MANIFEST).exists():
                continue  # an unfinished build's folder
            problem, untrusted = self._examine(gen, deep=deep)
            if problem is None:
                if deep:
                    self.remember_sound(gen)
                if gen.name != name:
                    warnings.append(f"using the previous good index generation {gen.name}")
                return gen, read_manifest(gen), warnings
            foreign = foreign or untrusted
            warnings.append(f"index generation {gen.name} is damaged: {problem}; run `corpus-search build`")
            damaged.append(f"{gen.name} ({problem})")
        if foreign:
            raise IndexUntrustedError(untrusted_message(self.root))
        raise IndexMissingError(
            f"no sound index generation in {self.root}: {'; '.join(damaged) or 'none found'}; run `corpus-search build`"
        )

    def problem(self, gen: Path, deep: bool = True) -> str | None:
        """The first thing wrong with a generation's files, or None when they match its manifest."""
        return self._examine(gen, deep)[0]

    def _examine(self, gen: Path, deep: bool = True) -> tuple[str | None, bool]:
        """(the first thing wrong with gen or None, whether that is its checksums not being keyed by us)."""
        try:
            manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return f"{MANIFEST} is missing or unreadable", False
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        if found != FORMAT_VERSION:
            return f"format {found}, this version reads {FORMAT_VERSION}", False
        if not keyed_by_us(manifest, secret_key()):
            return "its checksums were not made with this installation's key", True
        entry = self._sound().get(gen.name) or {}
        checked = entry.get("files") if entry.get("manifest") == manifest["mac"] else None
        problems = verify_files(gen, manifest, deep=deep, checked=checked)
        return (problems[0] if problems else None), False

    def _sound(self) -> dict[str, dict]:
        """The cache of files found sound; ignored unless its MAC verifies (it lives where an attacker can write)."""
        try:
            data = json.loads((self.root / VERIFIED).read_text(encoding="utf-8"))
            entries = data.get("entries")
            if isinstance(entries, dict) and hmac.compare_digest(str(data.get("mac")), keyed_mac(secret_key(), entries)):
                return entries
        except (OSError, ValueError, AttributeError, RecursionError):
            pass
        return {}

    def remember_sound(self, gen: Path) -> None:
        """Record that gen's files matched their checksums, as they are now (best effort: readers may not write)."""
        try:
            manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
            known = {g: v for g, v in self._sound().items() if (self.root / g).is_dir()}
            entry = {"manifest": manifest["mac"], "files": {rel: stat_key(gen / rel) for rel in manifest["files"]}}
            if known.get(gen.name) == entry:
                return
            known[gen.name] = entry
            tmp = self.root / f"{VERIFIED}.{os.getpid()}.tmp"
            with os.fdopen(create_file(tmp), "w", encoding="utf-8") as f:
                f.write(json.dumps({"entries": known, "mac": keyed_mac(secret_key(), known)}))
            os.replace(tmp, self.root / VERIFIED)
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            pass

    # -- trusting an index built elsewhere (generation_trust.py) -----------------------------------

    def describe(self) -> list[str]:
        """One line per generation `trust` would consider: what a user is asked to accept."""
        return generation_trust.describe(self)

    def trust(self) -> list[str]:
        """Re-key the generations' manifests with this installation's key (see generation_trust.trust)."""
        return generation_trust.trust(self)

    # -- switching: a new generation, the atomic pointer, cleanup ------------------------------------

    def new(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        numbers = [int(_GEN.match(p.name).group(1)) for p in self.list()]
        gen = self.root / f"gen-{(max(numbers) + 1 if numbers else 1):06d}"
        gen.mkdir()
        return gen

    def publish(self, gen: Path) -> None:
        """Make `gen` current with one atomic rename, durable before returning.

        Folders numbered between the previous current generation and `gen` are builds that died
        before their switch; they were never published, so they are removed, never kept for rollback.
        """
        previous = self.current()
        for g in self.list():
            if previous is not None and previous.name < g.name < gen.name:
                shutil.rmtree(g, ignore_errors=True)
        fsync_tree(gen)
        tmp = self.root / (POINTER + ".tmp")
        with os.fdopen(create_file(tmp), "w", encoding="utf-8") as f:
            f.write(gen.name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / POINTER)
        fsync_path(self.root)
        self.record_published([gen])

    def record_published(self, gens: list[Path]) -> None:
        """Add to PUBLISHED (after the switch: a generation is recorded only once it was current)."""
        names = [g.name for g in reversed(self.published())] + [g.name for g in gens]
        names = list(dict.fromkeys(n for n in names if (self.root / n).is_dir()))[-20:]
        tmp = self.root / (PUBLISHED + ".tmp")
        with os.fdopen(create_file(tmp), "w", encoding="utf-8") as f:
            f.write("".join(n + "\n" for n in names))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / PUBLISHED)
        fsync_path(self.root)

    def prune(self) -> None:
        """Keep the current generation and sound older ones up to the setting; remove the rest.

        A damaged older generation is removed rather than kept, so the one kept for rollback can be used.
        """
        keep = max(1, config.get_int("keep_generations"))
        current = self.current()
        gens = self.list()
        if current is None:
            finished = [g for g in gens if (g / MANIFEST).exists()]
            keep_set = set(finished[-keep:])
        else:
            keep_set = {current}
            for g in reversed(gens):
                if len(keep_set) >= keep:
                    break
                if g.name < current.name and (g / MANIFEST).exists() and self.problem(g) is None:
                    keep_set.add(g)
        for g in gens:
            if g not in keep_set:
                shutil.rmtree(g, ignore_errors=True)

    def remove_others(self, keep: Path) -> None:
        """Delete every generation but `keep`: after a purge no older one may still hold what was purged."""
        for g in self.list():
            if g.is_symlink():  # never deleted through; rmtree refuses a link, and stopped the purge
                g.unlink()
            elif g != keep:
                shutil.rmtree(g)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the build lock; a second build waits (setting lock_wait) or fails with a clear message."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            fd = create_file(self.root / ".lock", os.O_RDWR)
        except OSError as exc:  # ELOOP: a link planted as the lock is refused, not truncated through
            raise BuildLockedError(f"cannot take the build lock {self.root / '.lock'} ({exc.strerror}); "
                                   "remove that file and try again") from None
        deadline = time.monotonic() + config.get_float("lock_wait")
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise BuildLockedError(
                            f"another build is running on {self.root}; wait for it to finish "
                            "(or set CORPUS_SEARCH_LOCK_WAIT=seconds to wait)"
                        ) from None
                    time.sleep(0.2)
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            os.close(fd)  # closing releases the flock, also when the process dies

