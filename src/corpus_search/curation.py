"""Curation: a person's changes to the entities, kept as readable TOML in corpus/_entities/curation.toml.

The file is a history: one `[[change]]` per merge, rename, relabel, reject or alias change,
in order, and `[[undone]]` for the ones taken back. What the entities look like is the
history replayed (`State`), applied over the stored mentions each time they are read, so a
change shows at once in facets, filters and exports, an undo takes it back just as fast, and
a build never has to run NER again. Added aliases also reach the build's alias table, so the
next build finds them where the model did not. The file is user data: written atomically
(temporary file, fsync, rename, fsync of the folder) and never touched by a build.
"""

from __future__ import annotations

import os
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from corpus_search.entities import alias_key
from corpus_search.errors import CorpusSearchError, UsageError

FILE = "curation.toml"
OPS = ("merge", "rename", "relabel", "reject", "add-alias", "remove-alias")
_HEADER = (
    "# Entity curation: changes made in the app or with `corpus-search curate`, oldest first.\n"
    "# Applied over the built entities whenever they are read; `corpus-search curate undo` takes\n"
    "# the last one back (it moves to [[undone]]). Safe to edit by hand; keep it valid TOML.\n"
)


@dataclass(frozen=True)
class Change:
    """One curation step. `value` is the other entity (merge), the new name, label or alias."""

    op: str
    name: str
    value: str = ""
    at: str = ""

    def to_toml(self) -> dict:
        out = {"op": self.op, "name": self.name}
        if self.value:
            out["value"] = self.value
        out["at"] = self.at
        return out

    def describe(self) -> str:
        verbs = {"merge": "merged {name} into {value}", "rename": "renamed {name} to {value}",
                 "relabel": "relabelled {name} as {value}", "reject": "rejected {name}",
                 "add-alias": "added alias {value} to {name}", "remove-alias": "removed alias {value} from {name}"}
        return verbs[self.op].format(name=self.name, value=self.value)


@dataclass
class State:
    """The history replayed: where each stored name goes, its label, what is gone, extra aliases."""

    names: dict[str, str] = field(default_factory=dict)  # stored name -> shown name (merge, rename)
    labels: dict[str, str] = field(default_factory=dict)  # shown name -> label
    rejected: set[str] = field(default_factory=set)  # shown names never shown again
    aliases: dict[str, set[str]] = field(default_factory=dict)  # shown name -> added aliases
    split: set[tuple[str, str]] = field(default_factory=set)  # (alias key, shown name): alias removed

    def final(self, name: str) -> str:
        seen = set()
        while name in self.names and name not in seen:
            seen.add(name)
            name = self.names[name]
        return name

    @property
    def empty(self) -> bool:
        return not (self.names or self.labels or self.rejected or self.aliases or self.split)


class Curation:
    """The curation history of one corpus folder."""

    def __init__(self, folder: Path, changes: list[Change] | None = None, undone: list[Change] | None = None):
        self.folder = folder
        self.changes = changes or []
        self.undone = undone or []

    @property
    def path(self) -> Path:
        return self.folder / FILE

    @classmethod
    def load(cls, folder: Path) -> Curation:
        path = folder / FILE
        if not path.exists():
            return cls(folder)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            changes = [_change(item) for item in data.get("change", [])]
            undone = [_change(item) for item in data.get("undone", [])]
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CorpusSearchError(f"{path}: curation file is not valid ({exc}); fix it or restore it from a backup") \
                from None
        return cls(folder, changes, undone)

    def state(self) -> State:
        st = State()
        for c in self.changes:
            name = st.final(c.name)
            if c.op in ("merge", "rename"):
                target = st.final(c.value)
                if target != name:
                    st.names[name] = target
                    if name in st.labels and target not in st.labels and c.op == "rename":
                        st.labels[target] = st.labels.pop(name)
                    st.aliases.setdefault(target, set()).update(st.aliases.pop(name, set()))
                st.rejected.discard(target)
            elif c.op == "relabel":
                st.labels[name] = c.value.upper()
            elif c.op == "reject":
                st.rejected.add(name)
            elif c.op == "add-alias":
                st.aliases.setdefault(name, set()).add(c.value)
                st.split.discard((alias_key(c.value), name))
            elif c.op == "remove-alias":
                st.aliases.get(name, set()).discard(c.value)
                st.split.add((alias_key(c.value), name))
        return st

    def add(self, op: str, name: str, value: str = "") -> Change:
        if op not in OPS:
            raise UsageError(f"unknown curation {op!r}; one of {', '.join(OPS)}")
        name, value = name.strip(), value.strip()
        if not name or (op != "reject" and not value):
            raise UsageError(f"{op} needs a name{'' if op == 'reject' else ' and a value'}")
        if op in ("merge", "rename") and name == value:
            raise UsageError(f"cannot {op} {name!r} into itself")
        change = Change(op, name, value, time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self.changes.append(change)
        self.save()
        return change

    def undo(self) -> Change:
        if not self.changes:
            raise UsageError("nothing to undo: the curation history is empty")
        change = self.changes.pop()
        self.undone.append(change)
        self.save()
        return change

    def save(self) -> None:
        import tomli_w

        self.folder.mkdir(parents=True, exist_ok=True)
        body = tomli_w.dumps({"change": [c.to_toml() for c in self.changes],
                              "undone": [c.to_toml() for c in self.undone]})
        fd, tmp = tempfile.mkstemp(prefix=".curation-", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(_HEADER + "\n" + body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)


def _change(item: dict) -> Change:
    op = str(item["op"])
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}")
    return Change(op, str(item["name"]), str(item.get("value", "")), str(item.get("at", "")))


def folder_of(corpus: Path) -> Path:
    return corpus / "_entities"
