"""A generation's manifest and its checksums, keyed with this installation's secret.

Every checksum in a manifest, and the manifest itself, is keyed with this installation's secret
(setting secret_file, kept outside any index folder), so whoever can write an index folder cannot
re-hash a changed file: an index whose checksums do not verify was built elsewhere or changed
since, and opens only after `corpus-search trust` re-keys it (generation_trust.py).

Files are written here as an index folder that may be a colleague's needs: fresh, never through a
link planted at their name, and fsynced before the generation they belong to is switched to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from corpus_search import config
from corpus_search.errors import CorpusSearchError, IndexMissingError, IndexUntrustedError

FORMAT_VERSION = 1  # a manifest without a MAC (unkeyed blake2b checksums) opens only after `corpus-search trust`
MANIFEST = "manifest.json"
# The parts every generation folder holds beside its manifest (and the vector backend's own files).
STORE = "store.sqlite"
KEYWORD = "keyword"
KEY_BYTES = 32


# -- writing files that survive a crash and are never written through a link -------------------------


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


def create_file(path: Path, flags: int = os.O_WRONLY | os.O_EXCL) -> int:
    """Open a fresh file to write at path. The folder may be a colleague's: a link planted at that name is
    removed, never written through (it could point at any file of the user's)."""
    if flags & os.O_EXCL:
        path.unlink(missing_ok=True)
    return os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW, 0o644)


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


def keyed_mac(key: bytes, data: object) -> str:
    """HMAC-SHA256 of JSON data in one canonical spelling."""
    payload = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def manifest_mac(manifest: dict, key: bytes) -> str:
    """HMAC-SHA256 of everything in the manifest but its own MAC: counts, models and the file list too."""
    return keyed_mac(key, {k: v for k, v in manifest.items() if k != "mac"})


def keyed_by_us(manifest: dict, key: bytes) -> bool:
    mac = manifest.get("mac")
    return (manifest.get("format_version") == FORMAT_VERSION and isinstance(mac, str)
            and hmac.compare_digest(mac, manifest_mac(manifest, key)))


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


def listed_files(folder: Path) -> list[str]:
    """Every file of a generation a manifest must list (all but the manifest itself)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def checksums(folder: Path, key: bytes) -> dict[str, dict[str, object]]:
    return {rel: {"size": (folder / rel).stat().st_size, "mac": file_digest(folder / rel, key)}
            for rel in listed_files(folder)}


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
    problems = [f"{rel} is not in the manifest" for rel in listed_files(folder) if rel not in listed]
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


# -- the manifest ----------------------------------------------------------------------------------


def write_manifest(folder: Path, manifest: dict) -> None:
    key = secret_key()
    manifest = {k: v for k, v in manifest.items() if k not in ("files", "format_version", "mac")}
    manifest = dict(manifest, format_version=FORMAT_VERSION, files=checksums(folder, key))
    manifest["mac"] = manifest_mac(manifest, key)
    tmp = folder / (MANIFEST + ".tmp")
    with os.fdopen(create_file(tmp), "w", encoding="utf-8") as f:
        f.write(json.dumps(manifest, indent=2, ensure_ascii=False))
    os.replace(tmp, folder / MANIFEST)


def load_manifest(folder: Path) -> dict:
    """The manifest as the folder has it, MAC unchecked (to describe or trust a generation from elsewhere)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: JSON nested thousands deep
        raise IndexMissingError(f"index {folder} has no readable manifest ({exc}); run `corpus-search build`") from None
    if not isinstance(manifest, dict):
        raise IndexMissingError(f"index {folder} has no readable manifest; run `corpus-search build`")
    return manifest


def read_manifest(folder: Path) -> dict:
    """The manifest, once its MAC verifies with this installation's key."""
    manifest = load_manifest(folder)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMissingError(
            f"index {folder} has format {manifest.get('format_version')}, this version reads {FORMAT_VERSION}; "
            "run `corpus-search build`"
        )
    if not keyed_by_us(manifest, secret_key()):
        raise IndexUntrustedError(untrusted_message(folder.parent))
    return manifest
