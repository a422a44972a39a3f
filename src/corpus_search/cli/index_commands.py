"""`build`, `shard` and `trust`: making the index, splitting it for a cluster, accepting one built elsewhere."""

from __future__ import annotations

from pathlib import Path

import click

from corpus_search import config, shapes
from corpus_search.annotations import summary_line
from corpus_search.cli.group import CliProgress, cli, dump
from corpus_search.errors import UsageError
from corpus_search.generations import Generations, secret_path
from corpus_search.models import Status


@cli.command()
@click.option("--force", is_flag=True, help="Process every source again, even unchanged ones.")
@click.option("--retry", "retry", multiple=True, metavar="DOC_ID",
              help="Process this source again though it is unchanged (one that failed, after raising a cap); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.option("--cluster", "cluster", is_flag=False, flag_value="", default=None, metavar="ADDRESS",
              help="Extract, tag and embed on a Ray cluster: 'local' (one started on this machine) or a running "
                   "head's host:port; alone, CORPUS_SEARCH_CLUSTER_ADDRESS. Without it the build is local.")
@click.pass_context
def build(ctx: click.Context, force: bool, retry: tuple[str, ...], as_json: bool, cluster: str | None) -> None:
    """Ingest every source under the corpus folder and build the indexes (incremental)."""
    # Lazy: the build brings NumPy and rapidfuzz, which `--help` and `trust` never need.
    from corpus_search.api import build as run_build

    progress = CliProgress()
    report = run_build(ctx.obj["corpus"], ctx.obj["index"], progress=progress, force=force, retry=retry,
                       cluster=cluster)
    progress.log("")
    unknown = sorted(set(retry) - {s.doc_id for s in report.sources})
    if unknown:
        click.echo(f"warning: no source has the id {', '.join(unknown)}; nothing retried for it "
                   "(`corpus-search documents` lists the ids)", err=True)
    if as_json:
        dump(shapes.build_report(report))
        return
    for src in report.sources:
        click.echo(src.line())
    for gone in report.removed:
        n = gone["passages"]
        click.echo(f"{gone['path']}: removed from the corpus folder; its {n} passage{'' if n == 1 else 's'} "
                   "left the index")
    state = "built" if report.changed else "unchanged, nothing to do"
    skipped = sum(1 for s in report.sources if s.status == Status.SKIPPED)  # files no extractor reads
    also = f" ({skipped} other file{'' if skipped == 1 else 's'} skipped)" if skipped else ""
    sources = len(report.sources) - skipped
    click.echo(f"{report.passages} passage{'' if report.passages == 1 else 's'} from {sources} "
               f"source{'' if sources == 1 else 's'}{also}, {state} "
               f"({report.generation}, {report.seconds:.1f}s)")
    found = report.work.get("tags_found_by_text", 0) + report.work.get("vectors_found_by_text", 0)
    if found:
        w = report.work
        click.echo(f"tagged {w['tagged']} and embedded {w['embedded']} passages; of the passages read again, "
                   f"{w['tags_found_by_text']} kept their tags and {w['vectors_found_by_text']} their vectors "
                   "(the same text as in the last build)")
    for line in report.retries:
        click.echo(line)
    if report.annotations:
        click.echo(summary_line(report.annotations))


@cli.command()
@click.option("--shards", "n", type=int, default=None,
              help="Shards to split the index into by document (default: the CORPUS_SEARCH_SHARDS setting).")
@click.pass_context
def shard(ctx, n) -> None:
    """Split the current index into shards for cluster search (a new generation; rewritten when N changes)."""
    # Lazy: shards.py brings NumPy (the shards' vectors), which `--help` never needs.
    from corpus_search import shards

    n = config.get_int("shards") if n is None else n
    gen, counts = shards.publish(ctx.obj["index"], shards.check_count(n))
    if counts is None:
        click.echo(f"{gen.name} is already split into {n} shards; nothing to do")
    else:
        click.echo(f"{sum(counts)} passages in {n} shards ({', '.join(str(c) for c in counts)}), {gen.name}")


@cli.command()
@click.argument("index", required=False, type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Trust without asking (for scripts).")
@click.pass_context
def trust(ctx, index, yes) -> None:
    """Accept an index built elsewhere: re-key its checksums with this installation's key."""
    gens = Generations(Path(index or ctx.obj["index"]))
    lines = gens.describe()
    if not lines:
        raise UsageError(f"no index generation in {gens.root} to trust; run `corpus-search build`")
    click.echo(f"{gens.root}:", err=True)
    for line in lines:
        click.echo(f"  {line}", err=True)
    click.echo("Trusting it records that you accept its contents as if built here. Its files are still "
               "never run: foreign formats and objects stay refused.", err=True)
    if not yes and not click.confirm("Trust this index?", default=False, err=True):
        raise UsageError("not trusted; nothing changed")
    for line in gens.trust():
        click.echo(line)
    click.echo(f"checksums now keyed with {secret_path()}", err=True)
