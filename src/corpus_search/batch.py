"""Many searches from one file (`corpus-search batch`): one query per line, or a JSON line of options.

The file may be anything the user names (/dev/zero, a 50 MB log), so it is read under a size and
a query cap before any search runs. A line whose options are wrong, or whose search fails, is
reported as that line's error and the run goes on; a line that is not JSON at all, or a JSON line
with no "query" string, stops the run before any search (the rest of the file is probably wrong
too, and half a run's output is no use). A key no line may set ("entities" for "entity") runs the
line with a warning that names it, rather than silently unfiltered.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from corpus_search import capped, config
from corpus_search.errors import CorpusSearchError, UsageError
from corpus_search.models import SEARCH_MODES, SearchResult

_LIST_KEYS = ("entity", "label", "doc", "lang")
KEYS = ("query", "mode", "limit", "rollup", *_LIST_KEYS)  # what a JSON line may set


@dataclass(frozen=True)
class Defaults:
    """The command line's options: what a line runs with unless its JSON says otherwise."""

    mode: str = "hybrid"
    entities: Sequence[str] = ()
    labels: Sequence[str] = ()
    doc_ids: Sequence[str] = ()
    kinds: Sequence[str] = ()
    langs: Sequence[str] = ()
    limit: int = 10
    rollup: bool = False


@dataclass(frozen=True)
class Outcome:
    """One line's search: its result, or the one-line error that stopped it."""

    query: str
    result: SearchResult | None = None
    error: str = ""
    line: int = 0  # its line number in the file


def read_lines(file: Path) -> list[tuple[int, str]]:
    """(line number, line) of each query in a batch file, read under the size and count caps.

    At most the cap plus one byte is read: past it, one line says so before any work is done.
    Blank lines and lines starting with '#' are not queries.
    """
    max_mb, max_queries = config.get_int("max_batch_mb"), config.get_int("max_batch_queries")
    cap = max_mb * 1024 * 1024
    text = capped.read_text(file, cap, f"{file} is larger than {max_mb} MiB, the most `batch` reads "
                            "(split it, or set CORPUS_SEARCH_MAX_BATCH_MB)", f"{file} is not UTF-8 text")
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) > max_queries:
        raise UsageError(f"{file} holds {len(lines):,} queries; the most one `batch` runs is {max_queries:,} "
                         "(split it, or set CORPUS_SEARCH_MAX_BATCH_QUERIES)")
    return lines


def parse_line(file: Path, n: int, line: str) -> dict:
    """One batch line as a search: {"query": ...} plus whatever a JSON line sets (UsageError if not JSON)."""
    if not line.lstrip().startswith("{"):
        return {"query": line.strip()}
    try:
        spec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{file}:{n}: not valid JSON ({exc.msg})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("query"), str):
        raise UsageError(f"{file}:{n}: a JSON line needs a \"query\" string")
    return spec


def parse_lines(file: Path, lines: Sequence[tuple[int, str]]) -> list[tuple[int, dict]]:
    """Every line parsed (parse_line): the first that is not JSON, or has no "query", is the run's one error."""
    return [(n, parse_line(file, n, line)) for n, line in lines]


def unknown_keys(spec: dict) -> list[str]:
    """The warning for keys of a JSON line that no line may set (it runs without them), or none."""
    unknown = [k for k in spec if k not in KEYS]
    if not unknown:
        return []
    return [f"this line's {', '.join(json.dumps(k) for k in unknown)} ignored: a line may set {', '.join(KEYS)}"]


def check_spec(file: Path, n: int, spec: dict) -> None:
    """A JSON line's options are of the right type (strings, lists of strings, a whole-number limit)."""
    limit = spec.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise UsageError(f"{file}:{n}: \"limit\" must be a whole number, not {json.dumps(limit)[:40]}")
    for key in _LIST_KEYS:
        value = spec.get(key)
        if value is not None and not isinstance(value, str) and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise UsageError(f"{file}:{n}: \"{key}\" must be a string or a list of strings")
    for key in ("label", "doc"):
        if isinstance(spec.get(key), str):
            spec[key] = [spec[key]]
    if "mode" in spec and not isinstance(spec["mode"], str):
        raise UsageError(f"{file}:{n}: \"mode\" must be one of {', '.join(SEARCH_MODES)}")


def search_args(spec: dict, defaults: Defaults) -> dict:
    """The keyword arguments of `Corpus.search` for one checked line: its own options over the defaults."""
    entities = spec.get("entity", defaults.entities)
    entities = [entities] if isinstance(entities, str) else list(entities or [])
    return dict(
        mode=spec.get("mode", defaults.mode), entities=entities, labels=spec.get("label", defaults.labels) or (),
        doc_ids=spec.get("doc", defaults.doc_ids) or (), kinds=defaults.kinds, limit=spec.get("limit", defaults.limit),
        rollup=bool(spec.get("rollup", defaults.rollup)), lang=spec.get("lang", defaults.langs) or (),
    )


def run(corpus, file: Path, lines: Sequence[tuple[int, str]], defaults: Defaults) -> Iterator[Outcome]:
    """Each line's search in order, as it finishes (`corpus` is an open `api.Corpus`). Every line is parsed
    first: one that is not JSON (or has no "query") stops the run before any search."""
    for n, spec in parse_lines(file, lines):
        try:
            check_spec(file, n, spec)
            result = corpus.search(spec["query"], **search_args(spec, defaults))
        except CorpusSearchError as exc:
            yield Outcome(spec["query"], error=str(exc), line=n)
            continue
        extra = unknown_keys(spec)
        if extra:
            result = dataclasses.replace(result, warnings=(*result.warnings, *extra))
        yield Outcome(spec["query"], result=result, line=n)
