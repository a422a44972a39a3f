"""Index generations: each build writes a whole new folder, verifies and fsyncs it,
then switches the CURRENT pointer with one atomic rename.

indexes/
  CURRENT          the name of the generation readers use ("gen-000007")
  .lock            held (flock) by a running build
  gen-000007/      store.sqlite, keyword/, vectors.npy, vector_ids.json, manifest.json
  gen-000006/      the previous generation, kept for rollback

Readers open CURRENT once and then only that folder, so they always see one
whole generation. A crash before the rename leaves the old pointer: the
half-written folder is ignored and removed by the next build.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from corpus_search import config
from corpus_search.errors import BuildLockedError, IndexMissingError

FORMAT_VERSION = 1
POINTER = "CURRENT"
MANIFEST = "manifest.json"
VERIFIED = ".verified.json"  # stat keys of files last found sound, so opens need not re-hash them
_GEN = re.compile(r"^gen-(\d{6})$")


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """fsync every file, then every folder bottom-up, so the generation is on disk before the switch."""
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files:
            fsync_path(Path(root) / name)
        fsync_path(Path(root))


def file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checksums(folder: Path) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            rel = path.relative_to(folder).as_posix()
            out[rel] = {"size": path.stat().st_size, "blake2b": file_digest(path)}
    return out


def write_manifest(folder: Path, manifest: dict) -> None:
    manifest = dict(manifest, format_version=FORMAT_VERSION, files=checksums(folder))
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexMissingError(f"index {folder} has no readable manifest ({exc}); run `corpus-search build`") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMissingError(
            f"index {folder} has format {manifest.get('format_version')}, this version reads {FORMAT_VERSION}; "
            "run `corpus-search build`"
        )
    return manifest


def stat_key(path: Path) -> list[int]:
    """What changes when a file is rewritten, truncated or replaced: size, mtime and inode."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def verify_files(folder: Path, manifest: dict, deep: bool = True,
                 checked: dict[str, list[int]] | None = None) -> list[str]:
    """Problems found: missing, truncated or (deep) changed files.

    `checked` maps files already found sound to their stat_key then; a file whose
    stat_key is unchanged is not hashed again (every open would otherwise read the
    whole index: 1.5 s at 100k passages).
    """
    problems = []
    for rel, info in manifest.get("files", {}).items():
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif path.stat().st_size != info["size"]:
            problems.append(f"{rel} is truncated or changed ({path.stat().st_size} bytes, expected {info['size']})")
        elif deep and (checked or {}).get(rel) != stat_key(path) and file_digest(path) != info["blake2b"]:
            problems.append(f"{rel} is corrupt (checksum differs)")
    return problems


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
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        if not _GEN.match(name) or not (self.root / name).is_dir():
            return None
        return self.root / name

    def good(self, deep: bool = True) -> tuple[Path, dict, list[str]]:
        """The current generation if sound, else the newest older sound one, with the warnings met on the way.

        Only published generations are candidates: a folder newer than CURRENT was never
        switched to (a build died before its rename), so it is never read, even if it looks whole.
        """
        warnings: list[str] = []
        try:
            name = (self.root / POINTER).read_text(encoding="utf-8").strip()
        except OSError:
            raise IndexMissingError(f"no index in {self.root}; run `corpus-search build`") from None
        if not _GEN.match(name):
            raise IndexMissingError(
                f"the index pointer {self.root / POINTER} does not name a generation; run `corpus-search build`"
            )
        current = self.root / name
        candidates = [current] + [g for g in reversed(self.list()) if g.name < name]
        damaged: list[str] = []
        for gen in candidates:
            if gen != current and not (gen / MANIFEST).exists():
                continue  # an unfinished build's folder
            problem = self.problem(gen, deep=deep) if gen.is_dir() else "its folder is missing"
            if problem is None:
                if deep:
                    self.remember_sound(gen)
                if gen != current:
                    warnings.append(f"using the previous good index generation {gen.name}")
                return gen, read_manifest(gen), warnings
            warnings.append(f"index generation {gen.name} is damaged: {problem}; run `corpus-search build`")
            damaged.append(f"{gen.name} ({problem})")
        raise IndexMissingError(
            f"no sound index generation in {self.root}: {'; '.join(damaged)}; run `corpus-search build`"
        )

    def problem(self, gen: Path, deep: bool = True) -> str | None:
        """The first thing wrong with a generation's files, or None when they match its manifest."""
        try:
            manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return f"{MANIFEST} is missing or unreadable"
        if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
            found = manifest.get("format_version") if isinstance(manifest, dict) else None
            return f"format {found}, this version reads {FORMAT_VERSION}"
        problems = verify_files(gen, manifest, deep=deep, checked=self._sound().get(gen.name))
        return problems[0] if problems else None

    def _sound(self) -> dict[str, dict[str, list[int]]]:
        try:
            data = json.loads((self.root / VERIFIED).read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def remember_sound(self, gen: Path) -> None:
        """Record that gen's files matched their checksums, as they are now (best effort: readers may not write)."""
        try:
            manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
            known = {g: v for g, v in self._sound().items() if (self.root / g).is_dir()}
            entry = {rel: stat_key(gen / rel) for rel in manifest.get("files", {})}
            if known.get(gen.name) == entry:
                return
            known[gen.name] = entry
            tmp = self.root / f"{VERIFIED}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(known), encoding="utf-8")
            os.replace(tmp, self.root / VERIFIED)
        except (OSError, ValueError):
            pass

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
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(gen.name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / POINTER)
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
            if g != keep:
                shutil.rmtree(g)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the build lock; a second build waits (setting lock_wait) or fails with a clear message."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
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
