"""The click group and what its commands share: the global options, opening the index, printing JSON, progress."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from corpus_search import config, shown


class CliProgress:
    """Build progress on stderr: a live line on a terminal, one line per stage otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.name = ""
        self.total = 0
        self.started = time.perf_counter()
        self._last = 0.0

    def stage(self, name: str, total: int) -> None:
        self._end_line()
        self.name, self.total, self.started = name, total, time.perf_counter()
        if self.tty:
            self.advance(0)
        else:
            click.echo(f"{name}: {total} to do", err=True)

    def advance(self, done: int) -> None:
        if not self.tty:
            return
        now = time.perf_counter()
        if done < self.total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = int(width * done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        click.echo(f"\r{self.name:<20} [{bar}] {done}/{self.total} {now - self.started:5.1f}s", err=True, nl=False)

    def log(self, message: str) -> None:
        self._end_line()
        click.echo(shown.path(message), err=True)

    def _end_line(self) -> None:
        if self.tty and self.name:
            click.echo("", err=True)
            self.name = ""


def open_corpus(ctx: click.Context, few_queries: bool = True):
    """The index the global options name, opened; its warnings (a stale generation, ...) on stderr.

    `few_queries`: the command runs one search at most, so a query is embedded without importing torch."""
    # Lazy: api brings NumPy and rapidfuzz, which `--help` and file-only commands (trash list, ...) never need.
    from corpus_search.api import Corpus

    corpus = Corpus.open(ctx.obj["index"], ctx.obj.get("corpus_given"), few_queries=few_queries)
    for warning in corpus.warnings:
        click.echo(f"warning: {warning}", err=True)
    return corpus


def dump(data) -> None:
    """One JSON value on one line of stdout (shapes.py made it)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=None))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--corpus", "corpus_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of sources (default: corpus/).")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for the indexes (default: indexes/).")
@click.version_option(package_name="corpus-search")
@click.pass_context
def cli(ctx: click.Context, corpus_dir: Path | None, index_dir: Path | None) -> None:
    """Find what a set of sources says about a claim, filter by entity, quote it exactly."""
    ctx.ensure_object(dict)
    ctx.obj["corpus"] = corpus_dir or Path(config.get("corpus"))
    ctx.obj["corpus_given"] = corpus_dir  # None: curation comes from the folder the index was built from
    ctx.obj["index"] = index_dir or Path(config.get("index"))
