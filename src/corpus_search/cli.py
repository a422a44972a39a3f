"""The command line: parse, call the library, render. No search logic lives here."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from corpus_search import shapes
from corpus_search.errors import CorpusSearchError, UsageError
from corpus_search.locators import locator_of, locator_text, passage_locator_text
from corpus_search.models import Status

MODES = ("hybrid", "keyword", "semantic")
STYLES = ("chicago", "chicago-bib", "apa", "mla", "bibtex", "ris", "csl-json")


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
        click.echo(message, err=True)

    def _end_line(self) -> None:
        if self.tty and self.name:
            click.echo("", err=True)
            self.name = ""


def _open(ctx: click.Context):
    from corpus_search.api import Corpus

    corpus = Corpus.open(ctx.obj["index"], ctx.obj.get("corpus_given"))
    for warning in corpus.warnings:
        click.echo(f"warning: {warning}", err=True)
    return corpus


def _dump(data) -> None:
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
    from corpus_search import config

    ctx.ensure_object(dict)
    ctx.obj["corpus"] = corpus_dir or Path(config.get("corpus"))
    ctx.obj["corpus_given"] = corpus_dir  # None: curation comes from the folder the index was built from
    ctx.obj["index"] = index_dir or Path(config.get("index"))


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
        _dump(report.to_json())
        return
    for src in report.sources:
        click.echo(src.line())
    state = "built" if report.changed else "unchanged, nothing to do"
    skipped = sum(1 for s in report.sources if s.status == Status.SKIPPED)  # files no extractor reads
    also = f" ({skipped} other file{'' if skipped == 1 else 's'} skipped)" if skipped else ""
    sources = len(report.sources) - skipped
    click.echo(f"{report.passages} passage{'' if report.passages == 1 else 's'} from {sources} "
               f"source{'' if sources == 1 else 's'}{also}, {state} "
               f"({report.generation}, {report.seconds:.1f}s)")
    for line in report.retries:
        click.echo(line)
    if report.annotations:
        from corpus_search.annotations import summary_line

        click.echo(summary_line(report.annotations))


def _search_options(f):
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
    f = click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)(f)
    return f


@cli.command()
@click.argument("query")
@_search_options
@click.option("--explain", is_flag=True,
              help="Show each hit's keyword score and rank, semantic score and rank, fused score and kind weight.")
@click.pass_context
def search(ctx, query, mode, entities, rollup, labels, doc_ids, kinds, langs, limit, as_json, explain) -> None:
    """Search passages: hybrid (default), keyword or semantic."""
    from corpus_search.render import explain_line

    corpus = _open(ctx)
    result = corpus.search(query, mode=mode, entities=entities, labels=labels, doc_ids=doc_ids, kinds=kinds,
                           limit=limit, rollup=rollup, lang=langs)
    if as_json:
        _dump(corpus.result_json(result, explain=explain))
        return
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{result.total} passages match; showing {len(result.hits)} ({result.seconds * 1000:.0f} ms)")
    for hit in result.hits:
        _print_hit(corpus, hit)
        if explain:
            click.echo(f"     {explain_line(hit)}")


def _where(p) -> str:
    return locator_of(p)


def _print_hit(corpus, hit) -> None:
    p = hit.passage
    record = corpus.record(p.doc_id)
    head = f"{hit.rank:>3}. {record.title[:60]} | {_where(p)} | {p.kind}"
    click.echo(click.style(head, bold=True))
    if p.section:
        click.echo(f"     {p.section}")
    text = p.text if len(p.text) <= 400 else p.text[:400] + "…"
    click.echo(f"     {text}")
    if hit.evidence is not None and (hit.evidence[0] > 0 or hit.evidence[1] < len(p.text)):
        page = corpus.evidence_page(hit)
        click.echo("     evidence" + (f" (p. {page})" if page is not None else "") + ": "
                   + click.style(p.text[hit.evidence[0]:hit.evidence[1]], underline=True))
    click.echo(f"     [{p.passage_id}] score {hit.score:.4f}")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_search_options
@click.pass_context
def batch(ctx, file, mode, entities, rollup, labels, doc_ids, kinds, langs, limit, as_json) -> None:
    """Run many searches in one process: one query per line, or JSON lines."""
    lines = _read_batch(file)  # before the index opens: a bad file fails at once
    corpus = _open(ctx)
    for n, line in lines:
        spec = _batch_spec(file, n, line)  # malformed JSON stops the run: the rest is probably wrong too
        try:
            _check_batch_spec(file, n, spec)
        except UsageError as exc:
            _batch_error(as_json, spec["query"], exc)
            continue
        ents = spec.get("entity", entities)
        ents = [ents] if isinstance(ents, str) else list(ents or [])
        try:
            result = corpus.search(
                spec["query"], mode=spec.get("mode", mode), entities=ents, labels=spec.get("label", labels) or (),
                doc_ids=spec.get("doc", doc_ids) or (), kinds=kinds, limit=spec.get("limit", limit),
                rollup=bool(spec.get("rollup", rollup)), lang=spec.get("lang", langs) or (),
            )
        except CorpusSearchError as exc:
            _batch_error(as_json, spec["query"], exc)
            continue
        if as_json:
            _dump(corpus.result_json(result))
        else:
            for hit in result.hits:
                p = hit.passage
                snippet = " ".join(p.text.split())[:80]
                click.echo(f"{result.query[:40]}\t{hit.rank}\t{p.doc_id}\t{_where(p)}\t{snippet}")


def _batch_error(as_json: bool, query: str, exc: Exception) -> None:
    if as_json:
        _dump(shapes.search_error(query, str(exc)))
    else:
        click.echo(f"{query[:40]}\terror: {exc}")


def _read_batch(file: Path) -> list[tuple[int, str]]:
    """(line number, line) of each query in a batch file, read under the size and count caps.

    The file may be anything the user names (/dev/zero, a 50 MB log), so at most the cap plus one
    byte is read: past it, one line says so before any work is done.
    """
    from corpus_search import config

    max_mb, max_queries = config.get_int("max_batch_mb"), config.get_int("max_batch_queries")
    cap = max_mb * 1024 * 1024
    try:
        with open(file, "rb") as f:
            raw = f.read(cap + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    if len(raw) > cap:
        raise UsageError(f"{file} is larger than {max_mb} MiB, the most `batch` reads "
                         "(split it, or set CORPUS_SEARCH_MAX_BATCH_MB)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{file} is not UTF-8 text") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) > max_queries:
        raise UsageError(f"{file} holds {len(lines):,} queries; the most one `batch` runs is {max_queries:,} "
                         "(split it, or set CORPUS_SEARCH_MAX_BATCH_QUERIES)")
    return lines


def _batch_spec(file: Path, n: int, line: str) -> dict:
    """One batch line as a search: {"query": ...} plus what a JSON line sets, each of the right type."""
    if not line.lstrip().startswith("{"):
        return {"query": line.strip()}
    try:
        spec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{file}:{n}: not valid JSON ({exc.msg})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("query"), str):
        raise UsageError(f"{file}:{n}: a JSON line needs a \"query\" string")
    return spec


def _check_batch_spec(file: Path, n: int, spec: dict) -> None:
    """A JSON line's options are of the right type (strings, lists of strings, a whole-number limit)."""
    limit = spec.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise UsageError(f"{file}:{n}: \"limit\" must be a whole number, not {json.dumps(limit)[:40]}")
    for key in ("entity", "label", "doc", "lang"):
        value = spec.get(key)
        if value is not None and not isinstance(value, str) and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise UsageError(f"{file}:{n}: \"{key}\" must be a string or a list of strings")
    for key in ("label", "doc"):
        if isinstance(spec.get(key), str):
            spec[key] = [spec[key]]
    if "mode" in spec and not isinstance(spec["mode"], str):
        raise UsageError(f"{file}:{n}: \"mode\" must be one of {', '.join(MODES)}")


@cli.command()
@click.argument("text")
@click.option("--limit", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def quote(ctx, text, limit, as_json) -> None:
    """Verify a quotation against the sources: where it occurs, or what the closest text says."""
    corpus = _open(ctx)
    report = corpus.quote(text, limit=limit)
    if as_json:
        _dump(report.to_json())
        return
    from corpus_search.quote import render_report

    click.echo(render_report(report))
    if not report.found:
        ctx.exit(1)


@cli.command()
@click.argument("passage_id")
@click.option("--style", type=click.Choice(STYLES), default="chicago", show_default=True)
@click.pass_context
def cite(ctx, passage_id, style) -> None:
    """Print a citation of a passage, with its page (or paragraph)."""
    corpus = _open(ctx)
    click.echo(corpus.cite(passage_id, style=style))


@cli.command()
@click.option("--doc", "doc_id", default=None, help="Only this document.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def passages(ctx, doc_id, as_json) -> None:
    """Export the passages (all of them by default)."""
    corpus = _open(ctx)
    rows = corpus.passages_json(doc_id)
    if as_json:
        _dump(rows)
        return
    for r in rows:
        where = passage_locator_text(r["page"], r.get("page_end"), r["paragraph"]) or "-"
        click.echo(f"{r['passage_id']}\t{where}\t{r['kind']}\t{' '.join(r['text'].split())[:100]}")


@cli.command()
@click.option("--label", default=None, help="Only entities of this type (PERSON, ORG, GPE, ...).")
@click.option("--limit", type=click.IntRange(1, 100000), default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def entities(ctx, label, limit, as_json) -> None:
    """List entities with their labels, aliases and passage counts."""
    corpus = _open(ctx)
    rows = corpus.entities(label=label, limit=limit)
    if as_json:
        _dump([shapes.entity(e) for e in rows])
        return
    for e in rows:
        aliases = f"  (also: {', '.join(e.aliases[:5])})" if e.aliases else ""
        click.echo(f"{e.passages:>5}  {e.label:<8} {e.name}{aliases}")


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
    corpus = _open(ctx)
    ids = list(passage_ids)
    if query:
        ids += [h.passage.passage_id for h in corpus.search(query, limit=limit).hits]
    matches = []
    for text in quotes:
        report = corpus.quote(text)
        if not report.found:
            raise UsageError(f"quotation not found verbatim, so not exported: {text[:60]!r} (see `corpus-search quote`)")
        matches += [m for m in report.matches if m.exact][:1]
    if not ids and not matches:
        raise UsageError("nothing to export: give passage ids, --query or --quote")
    click.echo(corpus.export(ids, fmt, quotes=matches), nl=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def documents(ctx, as_json) -> None:
    """List the sources with their records and build status."""
    corpus = _open(ctx)
    docs = corpus.documents()
    if as_json:
        _dump(corpus.documents_json())
        return
    for d in docs:
        msg = f": {d.message}" if d.message else ""
        inside = f"\t(in {d.parent}: {d.attachment})" if d.parent else ""
        click.echo(f"{d.doc_id}\t{d.status}{msg}\t{d.passages} passages\t{d.record.title}{inside}")
    for u in corpus.unindexed():  # files that are no document: named, never silently left out
        click.echo(f"-\t{u['status']}: {u['message']}\t0 passages\t{u['path']}")


@cli.command()
@click.argument("draft", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def check(ctx, draft, as_json) -> None:
    """Check every quotation in a draft (.txt, .md, .docx) against the sources."""
    from corpus_search.check import read_draft, render_check

    corpus = _open(ctx)
    reports = corpus.check_draft(read_draft(draft))
    if as_json:
        _dump([r.to_json() for r in reports])
        return
    click.echo(render_check(reports))


@cli.command("remove")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def remove_cmd(ctx, path, as_json) -> None:
    """Move a source (PATH from the corpus folder) and its record to the corpus trash."""
    from corpus_search.trash import remove

    item = remove(ctx.obj["corpus"], path)
    if as_json:
        _dump(item.to_json())
        return
    click.echo(f"moved {item.path} to the trash as {item.id} (`corpus-search restore {item.id}` puts it back); "
               "`corpus-search build` drops it from the index")


@cli.command("trash")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def trash_cmd(ctx, as_json) -> None:
    """List what is in the corpus trash, most recently removed first."""
    from corpus_search.trash import list_trash

    items = list_trash(ctx.obj["corpus"])
    if as_json:
        _dump([i.to_json() for i in items])
        return
    if not items:
        click.echo("the trash is empty")
    for i in items:
        click.echo(f"{i.id}\t{i.removed_at}\t{i.path}\t{', '.join(f.path for f in i.files)}")


@cli.command("restore")
@click.argument("key", metavar="ID|PATH")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def restore_cmd(ctx, key, as_json) -> None:
    """Put a trashed source back where it was (by trash id, or by path: the latest removal)."""
    from corpus_search.trash import restore

    item = restore(ctx.obj["corpus"], key)
    if as_json:
        _dump(item.to_json())
        return
    click.echo(f"restored {', '.join(f.path for f in item.files)}; `corpus-search build` indexes it again")


@cli.command("purge")
@click.argument("key", metavar="PATH|ID")
@click.option("--yes", is_flag=True, help="Really delete: without it, only say what would be deleted.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def purge_cmd(ctx, key, yes, as_json) -> None:
    """Delete a source for good: from the corpus, the trash and every index generation."""
    from corpus_search.trash import plan_purge, purge

    if not yes:
        plan = plan_purge(ctx.obj["corpus"], ctx.obj["index"], key)
        raise UsageError(f"purge would delete {plan.describe()}, then rewrite the index without it and delete "
                         "every older index generation; add --yes to do it")
    progress = CliProgress()
    plan = purge(ctx.obj["corpus"], ctx.obj["index"], key, progress=progress)
    progress.log("")
    if as_json:
        _dump(dict(plan.to_json(), purged=True))
        return
    click.echo(f"purged: deleted {plan.describe()}; the index holds nothing of it, in any generation")


@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--address", default=None,
              help="Address to listen on (default: the app_address setting, localhost). Any address other "
                   "machines can reach needs a password: see `corpus-search app-password`.")
@click.pass_context
def app(ctx, port, address) -> None:
    """Start the Streamlit front end (on localhost unless --address says otherwise)."""
    from corpus_search import config
    from corpus_search.server import check_can_serve, is_loopback

    # The app ships inside the package, so an installed wheel serves it as a checkout does.
    app_dir = Path(__file__).resolve().parent / "app"
    script = app_dir / "serve.py"
    if not script.exists():
        raise UsageError(f"the app is not where it should be ({script}); reinstall corpus-search")
    address = (address or config.get("app_address")).strip()
    check_can_serve(address, script_dir=app_dir)
    env = dict(os.environ, CORPUS_SEARCH_INDEX=str(Path(ctx.obj["index"]).resolve()),
               CORPUS_SEARCH_CORPUS=str(Path(ctx.obj["corpus"]).resolve()), HF_HUB_OFFLINE="1",
               CORPUS_SEARCH_APP_ADDRESS=address)
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
           "--server.address", address, "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--client.toolbarMode", "minimal"]
    shown = "localhost" if is_loopback(address) else address
    click.echo(f"corpus-search app on http://{shown}:{port}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # The server takes this process over, so a SIGTERM or Ctrl-C sent to `corpus-search app` stops it.
    os.execve(sys.executable, cmd, env)


@cli.command("app-password")
def app_password() -> None:
    """Print the hash of a password for CORPUS_SEARCH_APP_PASSWORD_HASH (asked for, or one line on stdin)."""
    from corpus_search.server import hash_password

    if sys.stdin.isatty():
        password = click.prompt("Password for the app", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise UsageError("the password needs at least 8 characters")
    click.echo(hash_password(password))


@cli.command()
@click.argument("index", required=False, type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Trust without asking (for scripts).")
@click.pass_context
def trust(ctx, index, yes) -> None:
    """Accept an index built elsewhere: re-key its checksums with this installation's key."""
    from corpus_search.generations import Generations, secret_path

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


def _error_line(message: str, most: int = 600) -> str:
    """One short line: an error that quotes its input (a 100 KB passage id, say) shows its ends, not all of it."""
    line = " ".join(str(message).split())
    return line if len(line) <= most else f"{line[:most // 2]} … {line[-most // 2:]}"


def main() -> None:
    """Entry point: every error is one line on stderr and a non-zero exit, never a traceback."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        rv = cli.main(standalone_mode=False, prog_name="corpus-search")
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {_error_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except CorpusSearchError as exc:
        click.echo(f"error: {_error_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug: still one line, with a way to see more
        if os.environ.get("CORPUS_SEARCH_DEBUG"):
            raise
        click.echo(f"error: internal error ({type(exc).__name__}: {_error_line(str(exc), 300)}); "
                   "set CORPUS_SEARCH_DEBUG=1 for the traceback", err=True)
        sys.exit(70)
    except SystemExit:
        raise


# -- annotations (issue 15): highlights, notes, tags and collections kept apart from the index --------

def _annotation_store(ctx, create: bool = True):
    """The store beside the index; commands that only read get an empty one rather than create it."""
    from corpus_search.annotations import AnnotationStore, FILENAME, store_dir

    folder = store_dir(ctx.obj["index"])
    if not create and not (folder / FILENAME).exists():
        return AnnotationStore(Path(":memory:"))
    return AnnotationStore.open(folder)


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
    from corpus_search.annotations import annotate as run_annotate

    corpus = _open(ctx)
    store = _annotation_store(ctx)
    a = run_annotate(corpus, passage_id, store, quote=quote, note=note, tags=tags, collections=collections,
                     offset=offset)
    if as_json:
        _dump(a.to_json())
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
    found = _annotation_store(ctx, create=False).list(tag=tag, collection=collection, doc_id=doc_id, search=search)
    if orphans:
        found = [a for a in found if a.orphan]
    if as_json:
        _dump([a.to_json() for a in found])
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
    a = _annotation_store(ctx).update(annotation_id, version, note=note, tags=tags or None)
    if as_json:
        _dump(a.to_json())
        return
    click.echo(_annotation_line(a))


@annotations_group.command("delete")
@click.argument("annotation_id")
@click.pass_context
def annotations_delete(ctx, annotation_id) -> None:
    """Delete one annotation."""
    _annotation_store(ctx).delete(annotation_id)


@annotations_group.command("collections")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def annotations_collections(ctx, as_json) -> None:
    """The collections, in order, with how many annotations each holds."""
    rows = _annotation_store(ctx, create=False).collections()
    if as_json:
        _dump([{"name": n, "annotations": c} for n, c in rows])
        return
    for name, count in rows:
        click.echo(f"{name}\t{count}")


@annotations_group.command("export")
@click.option("--format", "fmt", type=click.Choice(("w3c", "csv", "bibtex", "ris", "csl-json", "markdown")),
              default="w3c", show_default=True)
@click.option("--collection", default=None, help="Only this collection, in its order.")
@click.option("--tag", default=None, help="Only annotations with this tag.")
@click.option("--doc", "doc_id", default=None, help="Only this document.")
@click.pass_context
def annotations_export(ctx, fmt, collection, tag, doc_id) -> None:
    """Export annotations as W3C Web Annotation JSON-LD or a reference-manager format."""
    from corpus_search.annotations import export as run_export

    found = _annotation_store(ctx, create=False).list(tag=tag, collection=collection, doc_id=doc_id)
    corpus = None if fmt == "w3c" else _open(ctx)
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
    from corpus_search.annotations import import_text
    from corpus_search.errors import IndexMissingError

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {file}: {exc}") from None
    try:
        corpus = _open(ctx)
    except IndexMissingError as exc:
        click.echo(f"warning: {exc}; annotations are imported without being anchored", err=True)
        corpus = None
    counts = import_text(text, _annotation_store(ctx), corpus.store if corpus else None)
    if as_json:
        _dump(counts)
        return
    click.echo(f"{counts['imported']} imported from {counts['format']} ({counts['anchored']} anchored, "
               f"{counts['orphaned']} orphans kept with their quotes), {counts['skipped']} already there")


# -- entity curation and names-list screening ---------------------------------------------
@cli.group("curate")
def curate_group() -> None:
    """Curate entities: merge, rename, relabel, reject, add or remove aliases, undo.

    Changes are kept in corpus/_entities/curation.toml and apply at once to entity lists,
    filters and exports; the next build keeps them without running NER again.
    """


def _curate(ctx, op: str, name: str, value: str = "") -> None:
    change = _open(ctx).curate(op, name, value)
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
    change = _open(ctx).curation().undo()
    click.echo(f"undone: {change.describe()}")


@curate_group.command("history")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def curate_history(ctx, as_json) -> None:
    """The curation changes in force, oldest first."""
    cur = _open(ctx).curation()
    if as_json:
        _dump({"changes": [c.to_toml() for c in cur.changes], "undone": [c.to_toml() for c in cur.undone]})
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
    from corpus_search.screen import read_names, screen as run_screen, to_csv

    names = read_names(names_csv)
    results = run_screen(_open(ctx), names, fuzzy)
    if as_json:
        _dump({"names": len(results), "found": sum(r.found for r in results),
               "not_found": [r.name.name for r in results if not r.found],
               "results": [r.to_json() for r in results]})
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
            page = f"p. {m.page}" if m.page is not None else "no page"
            click.echo(f"  {m.doc_id} {page}  {m.matched!r}  ({m.via})  {m.passage_id}")


# -- sharded search (issue 13) ------------------------------------------------------------------------

@cli.command()
@click.option("--shards", "n", type=int, default=None,
              help="Shards to split the index into by document (default: the CORPUS_SEARCH_SHARDS setting).")
@click.pass_context
def shard(ctx, n) -> None:
    """Split the current index into shards for cluster search (a new generation; rewritten when N changes)."""
    from corpus_search import config, shards

    n = config.get_int("shards") if n is None else n
    gen, counts = shards.publish(ctx.obj["index"], shards.check_count(n))
    if counts is None:
        click.echo(f"{gen.name} is already split into {n} shards; nothing to do")
    else:
        click.echo(f"{sum(counts)} passages in {n} shards ({', '.join(str(c) for c in counts)}), {gen.name}")
