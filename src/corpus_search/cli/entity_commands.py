"""`entities`, `curate ...` and `screen`: the entities found, corrected by hand, and a names list checked against them."""

from __future__ import annotations

from pathlib import Path

import click

from corpus_search import shapes
from corpus_search.cli.group import cli, dump, open_corpus
from corpus_search.screen import read_names, screen as run_screen, to_csv


@cli.command()
@click.option("--label", default=None, help="Only entities of this type (PERSON, ORG, GPE, ...).")
@click.option("--limit", type=click.IntRange(1, 100000), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def entities(ctx, label, limit, as_json) -> None:
    """List entities with their labels, aliases and passage counts."""
    rows = open_corpus(ctx).entities(label=label, limit=limit)
    if as_json:
        dump([shapes.entity(e) for e in rows])
        return
    for e in rows:
        aliases = f"  (also: {', '.join(e.aliases[:5])})" if e.aliases else ""
        click.echo(f"{e.passages:>5}  {e.label:<8} {e.name}{aliases}")


@cli.group("curate")
def curate_group() -> None:
    """Curate entities: merge, rename, relabel, reject, add or remove aliases, undo.

    Changes are kept in corpus/_entities/curation.toml and apply at once to entity lists,
    filters and exports; the next build keeps them without running NER again.
    """


def _curate(ctx, op: str, name: str, value: str = "") -> None:
    change = open_corpus(ctx).curate(op, name, value)
    click.echo(f"{change.describe()} (undo: corpus-search curate undo)")


@curate_group.command("merge")
@click.argument("name")
@click.argument("into")
@click.pass_context
def curate_merge(ctx, name, into) -> None:
    """Merge entity NAME into entity INTO (NAME becomes one of its aliases)."""
    _curate(ctx, "merge", name, into)


@curate_group.command("rename")
@click.argument("name")
@click.argument("new_name")
@click.pass_context
def curate_rename(ctx, name, new_name) -> None:
    """Show entity NAME as NEW_NAME."""
    _curate(ctx, "rename", name, new_name)


@curate_group.command("relabel")
@click.argument("name")
@click.argument("label")
@click.pass_context
def curate_relabel(ctx, name, label) -> None:
    """Give entity NAME the label LABEL (PERSON, ORG, GPE, ...)."""
    _curate(ctx, "relabel", name, label)


@curate_group.command("reject")
@click.argument("name")
@click.pass_context
def curate_reject(ctx, name) -> None:
    """Never show entity NAME again (its passages stay; undo brings it back)."""
    _curate(ctx, "reject", name)


@curate_group.command("add-alias")
@click.argument("name")
@click.argument("alias")
@click.pass_context
def curate_add_alias(ctx, name, alias) -> None:
    """Let ALIAS find entity NAME (the next build also tags it where the model did not)."""
    _curate(ctx, "add-alias", name, alias)


@curate_group.command("remove-alias")
@click.argument("name")
@click.argument("alias")
@click.pass_context
def curate_remove_alias(ctx, name, alias) -> None:
    """Mentions written ALIAS no longer count as entity NAME (they become an entity of their own)."""
    _curate(ctx, "remove-alias", name, alias)


@curate_group.command("undo")
@click.pass_context
def curate_undo(ctx) -> None:
    """Take back the last curation change."""
    change = open_corpus(ctx).curation().undo()
    click.echo(f"undone: {change.describe()}")


@curate_group.command("history")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def curate_history(ctx, as_json) -> None:
    """The curation changes in force, oldest first."""
    cur = open_corpus(ctx).curation()
    if as_json:
        dump(shapes.curation_history(cur))
        return
    for c in cur.changes:
        click.echo(f"{c.at}  {c.describe()}")
    if not cur.changes:
        click.echo("no curation changes")


@cli.command()
@click.argument("names_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--fuzzy", type=click.IntRange(50, 100), default=None, metavar="SCORE",
              help="Also match entity names at least this similar (50-100).")
@click.option("--csv", "as_csv", is_flag=True, help="One CSV row per match (and one per name not found).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def screen(ctx, names_csv, fuzzy, as_csv, as_json) -> None:
    """Screen a list of names (CSV: name, aliases) against the corpus: every passage, page and form matched."""
    names = read_names(names_csv)
    results = run_screen(open_corpus(ctx), names, fuzzy)
    if as_json:
        dump(shapes.screen_report(results))
        return
    if as_csv:
        click.echo(to_csv(results), nl=False)
        return
    for r in results:
        if not r.found:
            click.echo(f"{r.name.name}: not found")
            continue
        click.echo(f"{r.name.name}: {len(r.matches)} mentions in {len({m.passage_id for m in r.matches})} passages")
        for m in r.matches:
            click.echo(f"  {m.doc_id} {m.where() or 'no page'}  {m.matched!r}  ({m.via})  {m.passage_id}")
