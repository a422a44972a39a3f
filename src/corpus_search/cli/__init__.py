"""The command line (`corpus-search`, `python -m corpus_search`): parse, call the library, render.

group.py holds the click group, its global options and what the commands share; each
`*_commands.py` registers one task's commands on it. No search logic lives here, and every
`--json` object comes from shapes.py. `main` is the console script: any error is one line.
"""

from __future__ import annotations

import os
import sys

import click

from corpus_search.cli import (annotation_commands, app_commands, entity_commands, index_commands, quote_commands,
                               search_commands, source_commands)
from corpus_search.cli.group import cli
from corpus_search import shown
from corpus_search.errors import CorpusSearchError

__all__ = ["cli", "main"]

# Importing a commands module registers its commands on the group; a new task's commands go in one more.
COMMAND_MODULES = (search_commands, quote_commands, entity_commands, annotation_commands, source_commands,
                   index_commands, app_commands)


def _error_line(message: str, most: int = 600) -> str:
    """One short line: an error that quotes its input (a 100 KB passage id, say) shows its ends, not all of it."""
    line = shown.path(" ".join(str(message).split()))  # a file name's escapes never reach the terminal
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
