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

Every checksum in a manifest, and the manifest itself, is keyed with this
installation's secret (setting secret_file, kept outside any index folder), so
whoever can write an index folder cannot re-hash a changed file: an index whose
checksums do not verify was built elsewhere or changed since, and opens only
after `corpus-search trust` re-keys it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import hmac
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from corpus_search import config
from corpus_search.errors import BuildLockedError, CorpusSearchError, IndexMissingError, IndexUntrustedError

FORMAT_VERSION = 1  # a manifest without a MAC (unkeyed blake2b checksums) opens only after `corpus-search trust`
POINTER = "CURRENT"
PUBLISHED = "PUBLISHED"
MANIFEST = "manifest.json"
VERIFIED = ".verified.json"  # stat keys of files last found sound, so opens need not re-hash them
KEY_BYTES = 32
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


# -- the installation's key ------------------------------------------------------------------------


def secret_path() -> Path:
    return Path(config.get("secret_file")).expanduser()


def secret_key() -> bytes:
    """This installation's key, created on first use; checksums made with it show an index was built here."""
    path = secret_path()
    if not path.exists():
        _create_secret(path)
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except OSError as exc:
        raise CorpusSearchError(f"the index key {path} is unreadable ({exc.strerror}); "
                                "fix its permissions or set CORPUS_SEARCH_SECRET_FILE to another file") from None
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise CorpusSearchError(f"the index key {path} is not a key ({KEY_BYTES} bytes in hex); remove it "
                                "(a new one is made, and indexes must then be trusted or rebuilt) or set "
                                "CORPUS_SEARCH_SECRET_FILE to another file")
    return key


def _create_secret(path: Path) -> None:
    """Write a new random key, readable by its owner only; never replaces a key another process made first."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, os.urandom(KEY_BYTES).hex().encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and fails rather than overwrite: two first uses agree on one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        fsync_path(path.parent)
    except OSError as exc:
        raise CorpusSearchError(f"cannot create the index key {path} ({exc.strerror}); "
                                "set CORPUS_SEARCH_SECRET_FILE to a file in a writable folder") from None


def _create(path: Path, flags: int = os.O_WRONLY | os.O_EXCL) -> int:
    """Open a fresh file to write at path. The folder may be a colleague's: a link planted at that name is
    removed, never written through (it could point at any file of the user's)."""
    if flags & os.O_EXCL:
        path.unlink(missing_ok=True)
    return os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW, 0o644)


def _mac(key: bytes, data: object) -> str:
    payload = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def manifest_mac(manifest: dict, key: bytes) -> str:
    """HMAC-SHA256 of everything in the manifest but its own MAC: counts, models and the file list too."""
    return _mac(key, {k: v for k, v in manifest.items() if k != "mac"})


def untrusted_message(root: Path) -> str:
    return (f"the index {root} was not built with this installation's key (built elsewhere, or changed since); "
            f"run `corpus-search trust {root}` if you trust where it came from, or `corpus-search build` "
            "to rebuild it")


# -- checksums -------------------------------------------------------------------------------------


def file_digest(path: Path, key: bytes | None = None) -> str:
    """Keyed blake2b of a file (unkeyed only to check a manifest from before keys, before trusting it)."""
    h = hashlib.blake2b(digest_size=32, key=key) if key else hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def checksums(folder: Path, key: bytes) -> dict[str, dict[str, object]]:
    return {rel: {"size": (folder / rel).stat().st_size, "mac": file_digest(folder / rel, key)}
            for rel in _files(folder)}


def write_manifest(folder: Path, manifest: dict) -> None:
    key = secret_key()
    manifest = {k: v for k, v in manifest.items() if k not in ("files", "format_version", "mac")}
    manifest = dict(manifest, format_version=FORMAT_VERSION, files=checksums(folder, key))
    manifest["mac"] = manifest_mac(manifest, key)
    tmp = folder / (MANIFEST + ".tmp")
    with os.fdopen(_create(tmp), "w", encoding="utf-8") as f:
        f.write(json.dumps(manifest, indent=2, ensure_ascii=False))
    os.replace(tmp, folder / MANIFEST)


def _load_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested thousands deep
        raise IndexMissingError(f"index {folder} has no readable manifest ({exc}); run `corpus-search build`") from None
    if not isinstance(manifest, dict):
        raise IndexMissingError(f"index {folder} has no readable manifest; run `corpus-search build`")
    return manifest


def read_manifest(folder: Path) -> dict:
    """The manifest, once its MAC verifies with this installation's key."""
    manifest = _load_manifest(folder)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMissingError(
            f"index {folder} has format {manifest.get('format_version')}, this version reads {FORMAT_VERSION}; "
            "run `corpus-search build`"
        )
    if not _keyed_by_us(manifest, secret_key()):
        raise IndexUntrustedError(untrusted_message(folder.parent))
    return manifest


def _keyed_by_us(manifest: dict, key: bytes) -> bool:
    mac = manifest.get("mac")
    return (manifest.get("format_version") == FORMAT_VERSION and isinstance(mac, str)
            and hmac.compare_digest(mac, manifest_mac(manifest, key)))


def stat_key(path: Path) -> list[int]:
    """What changes when a file is written, truncated or replaced: size, mtime, ctime and inode.

    ctime is set by the kernel on every write and cannot be set back (os.utime restores mtime only).
    """
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def verify_files(folder: Path, manifest: dict, deep: bool = True,
                 checked: dict[str, list[int]] | None = None) -> list[str]:
    """Problems found: missing, truncated, unlisted or (deep) changed files.

    `checked` maps files already found sound to their stat_key then; a file whose
    stat_key is unchanged is not hashed again (every open would otherwise read the
    whole index: 1.5 s at 100k passages).
    """
    key = secret_key()
    listed = manifest.get("files", {})
    problems = [f"{rel} is not in the manifest" for rel in _files(folder) if rel not in listed]
    for rel, info in listed.items():
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif path.stat().st_size != info.get("size"):
            problems.append(f"{rel} is truncated or changed ({path.stat().st_size} bytes, expected {info.get('size')})")
        elif deep and (checked or {}).get(rel) != stat_key(path) and not hmac.compare_digest(
                file_digest(path, key), str(info.get("mac", ""))):
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
        name, trouble = self._pointer()
        if trouble is not None or not (self.root / name).is_dir():
            return None
        return self.root / name

    def _pointer(self) -> tuple[str, str | None]:
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
        name, trouble = self._pointer()
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
        if not _keyed_by_us(manifest, secret_key()):
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
            if isinstance(entries, dict) and hmac.compare_digest(str(data.get("mac")), _mac(secret_key(), entries)):
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
            with os.fdopen(_create(tmp), "w", encoding="utf-8") as f:
                f.write(json.dumps({"entries": known, "mac": _mac(secret_key(), known)}))
            os.replace(tmp, self.root / VERIFIED)
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            pass

    # -- trusting an index built elsewhere ---------------------------------------------------------

    def _trust_candidates(self) -> list[Path]:
        name, trouble = self._pointer()
        if trouble is None and (self.root / name).is_dir():
            return [g for g in reversed(self.list()) if g.name <= name and (g / MANIFEST).exists()]
        return self.published() or [g for g in reversed(self.list()) if (g / MANIFEST).exists()]

    def describe(self) -> list[str]:
        """One line per generation `trust` would consider: what a user is asked to accept."""
        lines = []
        for gen in self._trust_candidates():
            try:
                m = _load_manifest(gen)
            except IndexMissingError:
                lines.append(f"{gen.name}: no readable manifest")
                continue
            counts = m.get("counts") if isinstance(m.get("counts"), dict) else {}
            files = m.get("files") if isinstance(m.get("files"), dict) else {}
            lines.append(f"{gen.name}: {counts.get('passages', '?')} passages from {counts.get('documents', '?')} "
                         f"sources, built {m.get('created', '?')}, {len(files)} files")
        # The manifest is the sender's: a terminal escape in it could rewrite the lines the user is judging.
        return ["".join(ch if ch.isprintable() else "?" for ch in line)[:300] for line in lines]

    def trust(self) -> list[str]:
        """Re-key the published generations' manifests with this installation's key; one line per generation.

        Called once the user has accepted the folder. A generation is still refused when its files do not
        match its own manifest (sizes; an unkeyed manifest's checksums too), it holds a file its manifest
        does not list, or its parts do not open under our loaders (a keyword index whose table of contents
        is in a format we do not write, or that names a foreign object, is refused): trusting an index
        never lets anything in it run.
        """
        key = secret_key()
        done, refused = [], []
        for gen in self._trust_candidates():
            try:
                manifest = _load_manifest(gen)
            except IndexMissingError:
                refused.append(f"{gen.name}: {MANIFEST} is missing or unreadable")
                continue
            if _keyed_by_us(manifest, key):
                problems = verify_files(gen, manifest)
                line = f"{gen.name}: {problems[0] if problems else 'already trusted'}"
                (refused if problems else done).append(line)
                continue
            problem = _foreign_problem(gen, manifest)
            if problem is None:
                write_manifest(gen, manifest)
                fsync_tree(gen)
                done.append(f"{gen.name}: trusted, checksums re-keyed")
            else:
                refused.append(f"{gen.name}: {problem}")
        if not done:
            reasons = "; ".join(refused) or "no generation found"
            raise IndexMissingError(f"nothing in {self.root} can be trusted: {reasons}; "
                                    "run `corpus-search build` to rebuild it")
        self._record_published([self.root / line.split(":")[0] for line in done])
        return done + [f"{line} (refused)" for line in refused]

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
        with os.fdopen(_create(tmp), "w", encoding="utf-8") as f:
            f.write(gen.name + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.root / POINTER)
        fsync_path(self.root)
        self._record_published([gen])

    def _record_published(self, gens: list[Path]) -> None:
        """Add to PUBLISHED (after the switch: a generation is recorded only once it was current)."""
        names = [g.name for g in reversed(self.published())] + [g.name for g in gens]
        names = list(dict.fromkeys(n for n in names if (self.root / n).is_dir()))[-20:]
        tmp = self.root / (PUBLISHED + ".tmp")
        with os.fdopen(_create(tmp), "w", encoding="utf-8") as f:
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
            fd = _create(self.root / ".lock", os.O_RDWR)
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


def _foreign_problem(gen: Path, manifest: dict) -> str | None:
    """What stops a generation built elsewhere from being trusted, or None."""
    from corpus_search.backends import keyword_backend, vector_backend
    from corpus_search.store import Store

    found = manifest.get("format_version")
    if found != FORMAT_VERSION:
        return f"format {found}, this version reads {FORMAT_VERSION}"
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not listed:
        return f"{MANIFEST} lists no files"
    unlisted = [rel for rel in _files(gen) if rel not in listed]
    if unlisted:
        return f"{unlisted[0]} is not in the manifest"
    for rel, info in listed.items():
        path = gen / rel
        if not isinstance(info, dict) or not path.is_file() or path.stat().st_size != info.get("size"):
            return f"{rel} is missing or not the size its manifest says"
        if "blake2b" in info and file_digest(path) != info["blake2b"]:  # an unkeyed manifest can still be checked
            return f"{rel} is corrupt (checksum differs)"
    keyword, vectors = keyword_backend(), vector_backend()  # a misspelt setting is its own error, not the index's
    try:  # each part opens under our own loaders: restricted unpickler, TOC format check, no pickled arrays
        Store.open(gen / "store.sqlite").close()
        keyword.open(gen / "keyword").close()
        vectors.open(gen)
    except CorpusSearchError as exc:
        return str(exc)
    return None
