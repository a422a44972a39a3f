"""`annotate` and `annotations ...`: highlights, notes, tags and collections kept apart from the index (issue 15)."""

from __future__ import annotations

from pathlib import Path

import click

from corpus_search import config, shapes
from corpus_search.annotations import EXPORT_FORMATS, annotate as run_annotate, export as run_export, import_text
from corpus_search.annotations import open_store, read_import
from corpus_search.cli.group import cli, dump, open_corpus
from corpus_search.errors import IndexMissingError
from corpus_search.locators import locator_text


def _annotation_line(a) -> str:
    where = (locator_text("page", a.page) if a.page else "") or a.passage_id or a.source or "?"
    state = " [orphan]" if a.orphan else ""
    tags = f"  #{' #'.join(a.tags)}" if a.tags else ""
    note = f"  — {' '.join(a.note.split())[:80]}" if a.note else ""
    return f"{a.id}\t{a.doc_id or '-'}\t{where}{state}\t“{' '.join(a.exact.split())[:80]}”{note}{tags}"


@cli.command()
@click.argument("passage_id")
@click.option("--quote", default=None, help="The words to highlight, as they are in the passage (default: all of it).")
@click.option("--offset", type=click.IntRange(0), default=None, help="Where the quote starts in the passage text, "
              "when it occurs more than once.")
@click.option("--note", default="", help="A note in Markdown.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--collection", "collections", multiple=True, help="Add to this collection, made if new (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def annotate(ctx, passage_id, quote, offset, note, tags, collections, as_json) -> None:
    """Highlight words of a passage with a note, tags and collections; kept across builds."""
    corpus = open_corpus(ctx)
    a = run_annotate(corpus, passage_id, open_store(ctx.obj["index"]), quote=quote, note=note, tags=tags,
                     collections=collections, offset=offset)
    if as_json:
        dump(shapes.annotation(a))
        return
    click.echo(_annotation_line(a))


@cli.group("annotations")
def annotations_group() -> None:
    """List, edit, export and import annotations (the store beside the index folder)."""


@annotations_group.command("list")
@click.option("--tag", default=None, help="Only annotations with this tag.")
@click.option("--collection", default=None, help="Only this collection, in its order.")
@click.option("--doc", "doc_id", default=None, help="Only this document.")
@click.option("--search", default=None, help="Only annotations whose note or quote contains these words.")
@click.option("--orphans", is_flag=True, help="Only annotations that could not be placed in the current sources.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def annotations_list(ctx, tag, collection, doc_id, search, orphans, as_json) -> None:
    """List annotations, filtered by tag, collection, document or text."""
    found = open_store(ctx.obj["index"], create=False).list(tag=tag, collection=collection, doc_id=doc_id,
                                                            search=search, orphans=orphans)
    if as_json:
        dump([shapes.annotation(a) for a in found])
        return
    for a in found:
        click.echo(_annotation_line(a))
    if not found:
        click.echo("no annotations", err=True)


@annotations_group.command("edit")
@click.argument("annotation_id")
@click.option("--version", "version", type=int, required=True,
              help="The version you edited (from list --json); a newer stored version refuses the edit.")
@click.option("--note", default=None, help="The new note.")
@click.option("--tag", "tags", multiple=True, help="The new tags (replace the old ones).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def annotations_edit(ctx, annotation_id, version, note, tags, as_json) -> None:
    """Change an annotation's note or tags (refused if someone changed it since `version`)."""
    a = open_store(ctx.obj["index"]).update(annotation_id, version, note=note, tags=tags or None)
    if as_json:
        dump(shapes.annotation(a))
        return
    click.echo(_annotation_line(a))


@annotations_group.command("delete")
@click.argument("annotation_id")
@click.pass_context
def annotations_delete(ctx, annotation_id) -> None:
    """Delete one annotation."""
    open_store(ctx.obj["index"]).delete(annotation_id)


@annotations_group.command("collections")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def annotations_collections(ctx, as_json) -> None:
    """The collections, in order, with how many annotations each holds."""
    rows = open_store(ctx.obj["index"], create=False).collections()
    if as_json:
        dump(shapes.collections(rows))
        return
    for name, count in rows:
        click.echo(f"{name}\t{count}")


@annotations_group.command("export")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="w3c", show_default=True)
@click.option("--collection", default=None, help="Only this collection, in its order.")
@click.option("--tag", default=None, help="Only annotations with this tag.")
@click.option("--doc", "doc_id", default=None, help="Only this document.")
@click.pass_context
def annotations_export(ctx, fmt, collection, tag, doc_id) -> None:
    """Export annotations as W3C Web Annotation JSON-LD or a reference-manager format."""
    found = open_store(ctx.obj["index"], create=False).list(tag=tag, collection=collection, doc_id=doc_id)
    corpus = None if fmt == "w3c" else open_corpus(ctx)
    text, warnings = run_export(found, fmt, corpus)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(text, nl=False)


@annotations_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def annotations_import(ctx, file, as_json) -> None:
    """Import W3C JSON-LD or a Hypothesis JSON export; each annotation is anchored in the current sources."""
    text = read_import(file)
    try:
        corpus = open_corpus(ctx)
    except IndexMissingError as exc:
        click.echo(f"warning: {exc}; annotations are imported without being anchored", err=True)
        corpus = None
    counts = import_text(text, open_store(ctx.obj["index"]), corpus.store if corpus else None)
    if as_json:
        dump(counts)
        return
    click.echo(f"{counts['imported']} imported from {counts['format']} ({counts['anchored']} anchored, "
               f"{counts['orphaned']} orphans kept with their quotes), {counts['skipped']} already there")
    if counts["long_quotes"]:
        click.echo(f"note: {counts['long_quotes']} of them quote more than {config.get_int('max_quote_chars'):,} characters: "
                   "placed only where their words are verbatim, else kept as orphans (CORPUS_SEARCH_MAX_QUOTE_CHARS)",
                   err=True)
