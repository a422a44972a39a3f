"""`documents`, `remove`, `trash`, `restore` and `purge`: the sources in the corpus folder, and taking them out."""

from __future__ import annotations

import click

from corpus_search import shapes, shown
from corpus_search.cli.group import CliProgress, cli, dump, open_corpus
from corpus_search.errors import UsageError
from corpus_search.trash import list_trash, plan_purge, purge, remove, restore


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def documents(ctx, as_json) -> None:
    """List the sources with their records and build status."""
    corpus = open_corpus(ctx)
    docs = corpus.documents()
    if as_json:
        dump(corpus.documents_json())
        return
    added, gone = corpus.since_build()
    for d in docs:
        message = "; ".join(filter(None, (d.message, shapes.GONE if d.parent is None and d.path in gone else "")))
        msg = f": {message}" if message else ""
        inside = "\t" + shown.path(f"(in {d.parent}: {d.attachment})") if d.parent else ""
        click.echo(f"{d.doc_id}\t{d.status}{shown.path(msg)}\t{d.passages} passages\t{d.record.title}{inside}")
    for u in [*corpus.unindexed(), *added]:  # files that are no document: named, never silently left out
        click.echo(f"-\t{u['status']}: {shown.path(u['message'])}\t0 passages\t{shown.path(u['path'])}")


@cli.command("remove")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def remove_cmd(ctx, path, as_json) -> None:
    """Move a source (PATH from the corpus folder) and its record to the corpus trash."""
    item = remove(ctx.obj["corpus"], path)
    if as_json:
        dump(shapes.trash_item(item))
        return
    click.echo(f"moved {shown.path(item.path)} to the trash as {item.id} (`corpus-search restore {item.id}` puts it back); "
               "`corpus-search build` drops it from the index")


@cli.command("trash")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def trash_cmd(ctx, as_json) -> None:
    """List what is in the corpus trash, most recently removed first."""
    items = list_trash(ctx.obj["corpus"])
    if as_json:
        dump([shapes.trash_item(i) for i in items])
        return
    if not items:
        click.echo("the trash is empty")
    for i in items:
        click.echo(f"{i.id}\t{i.removed_at}\t{shown.path(i.path)}\t{shown.path(', '.join(f.path for f in i.files))}")


@cli.command("restore")
@click.argument("key", metavar="ID|PATH")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def restore_cmd(ctx, key, as_json) -> None:
    """Put a trashed source back where it was (by trash id, or by path: the latest removal)."""
    item = restore(ctx.obj["corpus"], key)
    if as_json:
        dump(shapes.trash_item(item))
        return
    click.echo(f"restored {shown.path(', '.join(f.path for f in item.files))}; `corpus-search build` indexes it again")


@cli.command("purge")
@click.argument("key", metavar="PATH|ID")
@click.option("--yes", is_flag=True, help="Really delete: without it, only say what would be deleted.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def purge_cmd(ctx, key, yes, as_json) -> None:
    """Delete a source for good: from the corpus, the trash and every index generation."""
    if not yes:
        plan = plan_purge(ctx.obj["corpus"], ctx.obj["index"], key)
        raise UsageError(f"purge would delete {plan.describe()}, then rewrite the index without it and delete "
                         "every older index generation; add --yes to do it")
    progress = CliProgress()
    plan = purge(ctx.obj["corpus"], ctx.obj["index"], key, progress=progress)
    progress.log("")
    if as_json:
        dump(shapes.purge_report(plan))
        return
    click.echo(f"purged: deleted {shown.path(plan.describe())}; the index holds nothing of it, in any generation")
