"""`quote`, `check`, `cite`, `passages` and `export`: words verified, cited and taken out of the index."""

from __future__ import annotations

from pathlib import Path

import click

from corpus_search import shapes
from corpus_search.check import read_draft, render_check
from corpus_search.cite import STYLES
from corpus_search.cli.group import cli, dump, open_corpus
from corpus_search.locators import passage_locator_text
from corpus_search.models import Verdict
from corpus_search.quote_report import render_report


@cli.command()
@click.argument("text")
@click.option("--limit", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def quote(ctx, text, limit, as_json) -> None:
    """Verify a quotation against the sources: where it occurs, or what the closest text says."""
    report = open_corpus(ctx).quote(text, limit=limit)
    if as_json:
        dump(shapes.quote_report(report))
        return
    click.echo(render_report(report))
    if not report.found:
        ctx.exit(1)


@cli.command()
@click.argument("draft", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def check(ctx, draft, as_json) -> None:
    """Check every quotation in a draft (.txt, .md, .docx) against the sources.

    Exits 1 when any quotation is not found verbatim (as `quote` does), so a script can stop on it; a draft
    that cannot be read exits 2, as every input error does."""
    corpus = open_corpus(ctx)
    reports = corpus.check_draft(read_draft(draft))
    if as_json:
        dump([shapes.quote_report(r) for r in reports])
        return
    click.echo(render_check(reports))
    if any(r.verdict != Verdict.FOUND for r in reports):
        ctx.exit(1)


@cli.command()
@click.argument("passage_id")
@click.option("--style", type=click.Choice(STYLES), default="chicago", show_default=True)
@click.pass_context
def cite(ctx, passage_id, style) -> None:
    """Print a citation of a passage, with its page (or paragraph)."""
    click.echo(open_corpus(ctx).cite(passage_id, style=style))


@cli.command()
@click.option("--doc", "doc_id", default=None, help="Only this document.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def passages(ctx, doc_id, as_json) -> None:
    """Export the passages (all of them by default)."""
    rows = open_corpus(ctx).passages_json(doc_id)
    if as_json:
        dump(rows)
        return
    for r in rows:
        where = passage_locator_text(r["page"], r.get("page_end"), r["paragraph"]) or "-"
        click.echo(f"{r['passage_id']}\t{where}\t{r['kind']}\t{' '.join(r['text'].split())[:100]}")


@cli.command()
@click.argument("passage_ids", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(("csv", "bibtex", "ris", "csl-json", "markdown")),
              default="ris", show_default=True)
@click.option("--query", default=None, help="Export the results of this search instead (hybrid, --limit results).")
@click.option("--quote", "quotes", multiple=True, help="Export this quotation where it is found verbatim (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Results of --query to export (at most CORPUS_SEARCH_MAX_LIMIT).")
@click.pass_context
def export(ctx, passage_ids, fmt, query, quotes, limit) -> None:
    """Export passages, search results or verified quotations for Zotero and other reference managers."""
    click.echo(open_corpus(ctx).export_selection(passage_ids, fmt, query=query, quotes=quotes, limit=limit), nl=False)
