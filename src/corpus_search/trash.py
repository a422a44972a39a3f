"""Remove, restore and purge one source: a trash inside the corpus, and a purge that leaves nothing behind.

Removing moves a source and its record to `corpus/_trash/<id>/files/<path>`
(folders starting with `_` are not sources, so a build never reads the trash),
with `entry.json` saying where each file came from. Restoring moves the same
bytes back to the same path. Purging deletes a source from the corpus and the
trash, then rewrites the index without it into fresh files and deletes every
older generation (see build.build's `scrub`): deleted SQLite rows and Whoosh
postings would otherwise linger in free pages and unmerged segments.

Each acts on exactly one source: a record shared by another source of the same
stem (`report.pdf` and `report.txt` beside one `report.toml`) is kept, and a
symbolic link is moved or deleted as a link, never followed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from datetime import datetime, timezone
from dataclasses import dataclass
from pathlib import Path

from corpus_search import ocr, shown
from corpus_search.errors import CorpusSearchError, NotFoundError, UsageError
from corpus_search.generations import STORE, Generations
from corpus_search.ingest import sha256_file
from corpus_search.records import SOURCE_SUFFIXES, sidecar
from corpus_search.store import Store

TRASH_DIR = "_trash"
ENTRY = "entry.json"
FILES = "files"
_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


@dataclass(frozen=True)
class TrashedFile:
    path: str  # relative to the corpus: where the file was, and where a restore puts it
    role: str  # "source" or "record"
    moved: bool  # False: a record another source still uses, left in place (the trash holds a copy)
    link: str | None = None  # the link's own target, when the file was a symbolic link
    sha256: str | None = None  # of the bytes (None for a link: its target is never read)
    size: int = 0

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TrashItem:
    id: str
    path: str  # the source's path, relative to the corpus
    removed_at: str  # UTC, ISO 8601
    files: tuple[TrashedFile, ...]

    def to_json(self) -> dict:
        return {"id": self.id, "path": self.path, "removed_at": self.removed_at,
                "files": [f.to_json() for f in self.files]}


@dataclass(frozen=True)
class PurgePlan:
    target: str  # what the user named
    path: str  # the source's path, relative to the corpus
    corpus_files: tuple[str, ...]  # deleted from the corpus folder
    trash_ids: tuple[str, ...]  # trash items deleted
    kept: tuple[str, ...]  # records left because another source uses them

    def describe(self) -> str:
        parts = [", ".join(self.corpus_files) + " from the corpus folder"] if self.corpus_files else []
        if self.trash_ids:
            items = "items " if len(self.trash_ids) > 1 else "item "
            parts.append(f"{self.path} from the trash ({items}{', '.join(self.trash_ids)})")
        what = " and ".join(parts) or f"nothing on disk ({self.path} is only in the index)"
        kept = f" (keeping {', '.join(self.kept)}, which another source uses)" if self.kept else ""
        return f"{what}{kept}"

    def to_json(self) -> dict:
        return {"target": self.target, "path": self.path, "corpus_files": list(self.corpus_files),
                "trash_ids": list(self.trash_ids), "kept": list(self.kept)}


# -- remove and restore ---------------------------------------------------------------------
def remove(corpus: Path, rel_path: str) -> TrashItem:
    """Move one source (and its record, unless another source shares it) to the corpus trash."""
    root, path, rel = source_path(corpus, rel_path)
    files = [_describe(path, rel, "source", moved=True)]
    record = sidecar(path)
    sharers = _sharers(path)
    if record.is_symlink() or record.is_file():
        files.append(_describe(record, _rel(record, root), "record", moved=not sharers))
    # Microseconds: "the latest removal" of a path must be well defined, also within one second.
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    item = TrashItem(_new_id(), rel, now, tuple(files))
    entry = _trash_root(root, create=True) / item.id
    entry.mkdir()
    try:
        _write_json(entry / ENTRY, item.to_json())
    except (OSError, ValueError) as exc:  # a removal leaves a whole entry or none, never a half-written one
        shutil.rmtree(entry, ignore_errors=True)
        raise CorpusSearchError(f"cannot move {_shown(rel)} to the trash: {getattr(exc, 'strerror', None) or exc}") from None
    # Source first: a build running meanwhile sees a record without its source (ignored),
    # never a source without its record.
    done = []
    try:
        for f in files:
            dest = entry / FILES / f.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if f.moved:
                os.rename(root / f.path, dest)  # rename moves a link itself, never what it points to
            else:
                shutil.copy2(root / f.path, dest, follow_symlinks=False)
            done.append(f)
    except OSError as exc:
        for f in done:  # put back what was moved: a removal happens whole or not at all
            if f.moved:
                os.rename(entry / FILES / f.path, root / f.path)
        shutil.rmtree(entry, ignore_errors=True)
        raise CorpusSearchError(f"cannot move {rel} to the trash: {exc.strerror or exc}") from None
    return item


def list_trash(corpus: Path) -> list[TrashItem]:
    """Everything in the trash, most recently removed first."""
    root = Path(corpus).resolve()
    trash = _trash_root(root, create=False)
    if trash is None:
        return []
    items = []
    for entry in trash.iterdir():
        if _ID.match(entry.name) and entry.is_dir() and not entry.is_symlink():
            try:
                items.append(_load(entry))
            except (OSError, ValueError, KeyError, TypeError, UsageError, RecursionError):
                continue  # a half-written or hand-edited entry is not offered for restore
    return sorted(items, key=lambda i: (i.removed_at, i.id), reverse=True)


def restore(corpus: Path, key: str) -> TrashItem:
    """Put a trashed source (by trash id, or by its path: the latest removal) back where it was, same bytes."""
    root = Path(corpus).resolve()
    item = find_item(Path(corpus), key)
    entry = _trash_root(root, create=False) / item.id
    moves = []
    for f in item.files:
        held = entry / FILES / f.path
        if not os.path.lexists(held):
            raise NotFoundError(f"trash item {item.id} is missing {f.path}; it cannot be restored")
        if f.sha256 is not None and (held.is_symlink() or sha256_file(held) != f.sha256):
            raise CorpusSearchError(f"{f.path} changed in the trash (item {item.id}); not restoring it")
        _check_parents(root, f.path)  # before anything moves: a restore happens whole or not at all
        dest = root / f.path
        if os.path.lexists(dest):
            if f.moved and not (f.role == "record" and _same(dest, f)):
                raise UsageError(f"cannot restore {f.path}: something is already at that path; move it away first")
            continue  # a shared record still (or again) in place
        moves.append((held, dest, f))
    # Records first, as an upload writes them: a build never sees a source without its record.
    for held, dest, f in sorted(moves, key=lambda m: m[2].role != "record"):
        _make_parents(root, f.path)
        os.rename(held, dest)
    shutil.rmtree(entry)
    return item


def find_item(corpus: Path, key: str) -> TrashItem:
    """The trash item with this id, or the latest one removed from this path."""
    items = list_trash(corpus)
    if _ID.match(key):
        for item in items:
            if item.id == key:
                return item
        raise NotFoundError(f"no trash item {key!r}; `corpus-search trash` lists them")
    rel = check_rel(Path(corpus), key)
    for item in items:
        if item.path == rel:
            return item
    raise NotFoundError(f"nothing removed from {_shown(key)} is in the trash; `corpus-search trash` lists it")


# -- purge -----------------------------------------------------------------------------------
def plan_purge(corpus: Path, index: Path, key: str) -> PurgePlan:
    """What purging `key` (a trash id, or a source path in the corpus, the trash or the index) would delete."""
    root = Path(corpus).resolve()
    if _ID.match(key):
        item = find_item(root, key)
        return PurgePlan(key, item.path, (), (item.id,), ())
    rel = check_rel(Path(corpus), key)
    corpus_files: list[str] = []
    kept: list[str] = []
    if os.path.lexists(root / rel):
        _, path, rel = source_path(root, rel)
        corpus_files.append(rel)
        record = sidecar(path)
        if record.is_symlink() or record.is_file():
            (kept if _sharers(path) else corpus_files).append(_rel(record, root))
    trash_ids = tuple(i.id for i in list_trash(root) if i.path == rel)
    if not corpus_files and not trash_ids and not _indexed(Path(index), rel):
        raise NotFoundError(f"no source {_shown(key)} in the corpus folder, its trash or the index")
    return PurgePlan(key, rel, tuple(corpus_files), trash_ids, tuple(kept))


def purge(corpus: Path, index: Path, key: str, progress=None) -> PurgePlan:
    """Delete a source from the corpus and the trash, and rewrite the index so no file under it keeps its text."""
    # Lazy: the build brings NumPy and the whole pipeline, which `trash list`, `remove` and `restore` never need.
    from corpus_search.build import build

    root = Path(corpus).resolve()
    plan = plan_purge(Path(corpus), index, key)

    deleted = []

    def delete() -> None:
        deleted.append(True)
        _forget_ocr(root, Path(index), plan)
        for rel in plan.corpus_files:
            if os.path.lexists(root / rel):
                os.unlink(root / rel)  # unlink removes a link itself, never its target
        trash = _trash_root(root, create=False)
        for item_id in plan.trash_ids:
            if trash is not None and (trash / item_id).is_dir():
                shutil.rmtree(trash / item_id)  # rmtree unlinks links inside, never follows them

    if not Generations(Path(index)).list():
        delete()  # no index: nothing else holds its text
        return plan
    try:
        build(root, Path(index), progress, scrub=True, prepare=delete)
    except CorpusSearchError as exc:
        if not deleted:
            raise  # nothing was deleted (another build held the lock, say): the message says what to do
        raise CorpusSearchError(
            f"{plan.path} was deleted, but the index could not be rewritten without it ({exc}); "
            f"run `corpus-search purge {plan.path} --yes` again"
        ) from None
    return plan


def _forget_ocr(root: Path, index: Path, plan: PurgePlan) -> None:
    """Drop the purged source's OCR'd pages from the OCR cache (it lives outside the generations a purge rewrites)."""
    digests = {sha256_file(root / rel) for rel in plan.corpus_files
               if (root / rel).is_file() and not (root / rel).is_symlink()}
    digests |= {f.sha256 for item in list_trash(root) if item.id in plan.trash_ids for f in item.files if f.sha256}
    for digest in digests:
        ocr.forget(ocr.cache_dir(index), digest)


# -- paths -----------------------------------------------------------------------------------
def check_rel(corpus: Path, rel_path: str) -> str:
    """A path inside the corpus as a clean relative POSIX string, or UsageError (no NUL, no '..', no escape)."""
    if not isinstance(rel_path, str) or not rel_path.strip() or "\x00" in rel_path:
        raise UsageError(f"{_shown(rel_path)} is not a path")
    path = Path(rel_path)
    if ".." in path.parts:
        raise UsageError(f"{_shown(rel_path)}: '..' is not allowed; give the path from the corpus folder")
    if path.is_absolute():
        for base in (Path(os.path.abspath(corpus)), Path(corpus).resolve()):
            if path.is_relative_to(base):
                path = path.relative_to(base)
                break
        else:
            raise UsageError(f"{_shown(rel_path)} is outside the corpus folder {corpus}")
    if not path.parts:
        raise UsageError(f"{_shown(rel_path)} is the corpus folder itself, not a source")
    if any(part.startswith((".", "_")) for part in path.parts):
        raise UsageError(f"{_shown(rel_path)} is not a source (hidden and _ folders are not read)")
    return path.as_posix()


def source_path(corpus: Path, rel_path: str) -> tuple[Path, Path, str]:
    """(corpus, source path, relative path) of an existing source, its parents checked to be real folders."""
    root = Path(corpus).resolve()
    rel = check_rel(Path(corpus), rel_path)
    if not shown.utf8(rel):
        raise UsageError(f"{_shown(rel)}: its name is not valid UTF-8; rename it (mv) and build again")
    _check_parents(root, rel)
    path = root / rel
    if path.suffix.lower() not in SOURCE_SUFFIXES or path.name.lower() == "readme.md":
        raise UsageError(f"{_shown(rel)} is not a source ({', '.join(SOURCE_SUFFIXES)} files are)")
    if not os.path.lexists(path) or not (path.is_symlink() or path.is_file()):
        raise NotFoundError(f"no source {_shown(rel)} in the corpus folder")
    return root, path, rel


def _check_parents(root: Path, rel: str) -> None:
    folder = root
    for part in Path(rel).parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            raise UsageError(f"{_shown(rel)}: its folder {_shown(_rel(folder, root))} is a symbolic link; "
                             "links are never followed")


def _make_parents(root: Path, rel: str) -> None:
    _check_parents(root, rel)
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    _check_parents(root, rel)  # nothing swapped a folder for a link meanwhile


def _sharers(path: Path) -> list[Path]:
    """Other sources beside `path` with the same stem, which read the same .toml record."""
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return []
    return [p for p in siblings if p != path and p.stem == path.stem and p.suffix.lower() in SOURCE_SUFFIXES]


def _trash_root(root: Path, create: bool) -> Path | None:
    trash = root / TRASH_DIR
    if trash.is_symlink():
        raise UsageError(f"{trash} is a symbolic link; the trash must be a real folder inside the corpus")
    if create:
        trash.mkdir(exist_ok=True)
    return trash if trash.is_dir() else None


def _indexed(index: Path, rel: str) -> bool:
    """Whether any index generation still holds a document built from `rel` (a purge that failed half-way)."""
    for gen in Generations(index).list():
        try:
            store = Store.open(gen / STORE)
        except CorpusSearchError:
            continue
        try:
            if any(d.path == rel for d in store.documents()):
                return True
        except Exception:  # a damaged store cannot vouch either way; the others may
            continue
        finally:
            store.close()
    return False


# -- helpers ---------------------------------------------------------------------------------
def _describe(path: Path, rel: str, role: str, moved: bool) -> TrashedFile:
    if path.is_symlink():
        return TrashedFile(rel, role, moved, link=os.readlink(path))
    return TrashedFile(rel, role, moved, sha256=sha256_file(path), size=path.stat().st_size)


def _same(path: Path, f: TrashedFile) -> bool:
    return f.sha256 is not None and not path.is_symlink() and path.is_file() and sha256_file(path) == f.sha256


def _load(entry: Path) -> TrashItem:
    data = json.loads((entry / ENTRY).read_text(encoding="utf-8"))
    root = entry.parent.parent

    def checked(p: str) -> str:
        # entry.json is data from disk (a corpus may come from a colleague): its paths are checked too.
        if check_rel(root, p) != p:
            raise ValueError(f"bad path {p!r}")
        return p

    files = tuple(
        TrashedFile(checked(f["path"]), str(f["role"]), bool(f["moved"]), f.get("link"), f.get("sha256"),
                    int(f.get("size", 0)))
        for f in data["files"]
    )
    if data["id"] != entry.name:
        raise ValueError("entry id differs from its folder")
    return TrashItem(entry.name, checked(data["path"]), str(data["removed_at"]), files)


def _new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _shown(name: object) -> str:
    text = shown.path(str(name))
    return "'" + (text if len(text) <= 60 else text[:57] + "...") + "'"

