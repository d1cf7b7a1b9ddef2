"""What every stage's command line shares: the archive it opens, JSON on stdout, the common options.

Each stage keeps its own Typer app (``STAGE_CLIS`` in `serve.cli` mounts them); these are the few
pieces they would otherwise each write again.
"""

from __future__ import annotations

import sys

import orjson
import typer

DbOpt = typer.Option(None, "--db", help="database URL (default: $COURTARCHIVE_DB)")
JsonOpt = typer.Option(False, "--json", help="print JSON")


def open_archive(db: str | None = None, *, initialised: bool = True):
    """The archive at ``db`` (default ``$COURTARCHIVE_DB``); an uninitialised one is refused
    with the command to run (``courtarchive init``) unless ``initialised=False`` -- a one-line
    error and exit code 1, not a traceback, for every command that opens one."""
    from .config import settings
    from .store import Archive, StoreError

    try:
        a = Archive.open(db or settings().db_url)
        if initialised:
            a.require_initialised()
    except StoreError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    return a


def print_json(obj) -> None:
    """Indented JSON on stdout (dates and other objects as strings)."""
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode() + "\n")


def actor_name(actor: str | None = None) -> str:
    """Who is acting, for the audit log: ``--actor`` if given, else the OS user."""
    if actor:
        return actor
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database (some containers)
        return "admin"
