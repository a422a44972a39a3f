"""`search` and `batch`: passages for a query, or for every query of a file."""

from __future__ import annotations

from pathlib import Path

import click

from corpus_search import batch as batching, shapes
from corpus_search.cli.group import cli, dump, open_corpus
from corpus_search.locators import locator_of, locator_text
from corpus_search.models import SEARCH_MODES
from corpus_search.render import copies_line, explain_line, search_summary


def search_options(f):
    """The filters and output options `search` and `batch` share."""
    f = click.option("--json", "as_json", is_flag=True, help="Print JSON (see CONTRACT.md).")(f)
    f = click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
                     help="Results to show (at most CORPUS_SEARCH_MAX_LIMIT, 1000 by default).")(f)
    f = click.option("--lang", "langs", multiple=True,
                     help="Only passages in this language (ISO 639-1 code: en, de, fr; repeatable = any of them).")(f)
    f = click.option("--kind", "kinds", multiple=True,
                     help="Only passages of this kind (body, heading, footnote, caption, box, quote).")(f)
    f = click.option("--doc", "doc_ids", multiple=True, help="Only this document (repeatable).")(f)
    f = click.option("--label", "labels", multiple=True, help="Only passages mentioning an entity of this type.")(f)
    f = click.option("--rollup", is_flag=True,
                     help="An --entity place also matches places within it (Moscow within Russia).")(f)
    f = click.option("--entity", "entities", multiple=True,
                     help="Only passages mentioning this entity (name or alias; repeat = all of them).")(f)
    f = click.option("--mode", type=click.Choice(SEARCH_MODES), default="hybrid", show_default=True)(f)
    return f


@cli.command()
@click.argument("query")
@search_options
@click.option("--explain", is_flag=True,
              help="Show each hit's keyword score and rank, semantic score and rank, fused score and kind weight.")
@click.pass_context
def search(ctx, query, mode, entities, rollup, labels, doc_ids, kinds, langs, limit, as_json, explain) -> None:
    """Search passages: hybrid (default), keyword or semantic."""
    corpus = open_corpus(ctx)
    result = corpus.search(query, mode=mode, entities=entities, labels=labels, doc_ids=doc_ids, kinds=kinds,
                           limit=limit, rollup=rollup, lang=langs)
    if as_json:
        dump(corpus.result_json(result, explain=explain))
        return
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{search_summary(result)} ({result.seconds * 1000:.0f} ms)")
    for hit in result.hits:
        _print_hit(corpus, hit)
        if explain:
            click.echo(f"     {explain_line(hit)}")


def _print_hit(corpus, hit) -> None:
    p = hit.passage
    record = corpus.record(p.doc_id)
    # A text file has no page to name: no empty field then. A long title is cut at a word, and says so.
    title = record.title if len(record.title) <= 60 else record.title[:60].rsplit(" ", 1)[0].rstrip(" :,;") + "…"
    head = f"{hit.rank:>3}. " + " | ".join(x for x in (title, locator_of(p), p.kind) if x)
    click.echo(click.style(head, bold=True))
    if p.section:
        click.echo(f"     {p.section}")
    text = p.text if len(p.text) <= 400 else p.text[:400] + "…"
    click.echo(f"     {text}")
    if hit.evidence is not None and (hit.evidence[0] > 0 or hit.evidence[1] < len(p.text)):
        page = corpus.evidence_page(hit)
        click.echo("     evidence" + (f" ({locator_text('page', page)})" if page is not None else "") + ": "
                   + click.style(p.text[hit.evidence[0]:hit.evidence[1]], underline=True))
    if hit.copies:
        click.echo(f"     {copies_line(hit.copies, lambda doc_id: corpus.record(doc_id).title)}")
    click.echo(f"     [{p.passage_id}] score {hit.score:.4f}")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@search_options
@click.pass_context
def batch(ctx, file, mode, entities, rollup, labels, doc_ids, kinds, langs, limit, as_json) -> None:
    """Run many searches in one process: one query per line, or JSON lines."""
    lines = batching.read_lines(file)  # before the index opens: a bad file fails at once
    batching.parse_lines(file, lines)  # ...and so does a line that is not JSON, before any search runs
    # Importing ONNX Runtime or torch (~1 s) pays for itself after about 250 queries (4-8 ms each saved; query_encoder.py).
    corpus = open_corpus(ctx, few_queries=len(lines) < 250)
    defaults = batching.Defaults(mode=mode, entities=entities, labels=labels, doc_ids=doc_ids, kinds=kinds,
                                 langs=langs, limit=limit, rollup=rollup)
    for outcome in batching.run(corpus, file, lines, defaults):
        if outcome.result is None:
            if as_json:
                dump(shapes.search_error(outcome.query, outcome.error))
            else:
                click.echo(f"{outcome.query[:40]}\terror: {outcome.error}")
        elif as_json:
            dump(corpus.result_json(outcome.result))
        else:
            result = outcome.result
            for warning in result.warnings:
                click.echo(f"{result.query[:40]}\twarning: {warning}", err=True)
            for hit in result.hits:
                p = hit.passage
                snippet = " ".join(p.text.split())[:80]
                click.echo(f"{result.query[:40]}\t{hit.rank}\t{p.doc_id}\t{locator_of(p)}\t{snippet}")
