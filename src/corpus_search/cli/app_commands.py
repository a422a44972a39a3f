"""`app` and `app-password`: the Streamlit front end, and the password that guards it on an open address."""

from __future__ import annotations

import os
import sys

import click

from corpus_search.cli.group import cli
from corpus_search.errors import UsageError
from corpus_search.server import app_launch, hash_password


@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--address", default=None,
              help="Address to listen on (default: the app_address setting, localhost). Any address other "
                   "machines can reach needs a password: see `corpus-search app-password`.")
@click.pass_context
def app(ctx, port, address) -> None:
    """Start the Streamlit front end (on localhost unless --address says otherwise)."""
    launch = app_launch(ctx.obj["index"], ctx.obj["corpus"], port, address)
    click.echo(f"corpus-search app on {launch.url}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # The server takes this process over, so a SIGTERM or Ctrl-C sent to `corpus-search app` stops it.
    os.execve(sys.executable, launch.command, launch.env)


@cli.command("app-password")
def app_password() -> None:
    """Print the hash of a password for CORPUS_SEARCH_APP_PASSWORD_HASH (asked for, or one line on stdin)."""
    if sys.stdin.isatty():
        password = click.prompt("Password for the app", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise UsageError("the password needs at least 8 characters")
    click.echo(hash_password(password))
