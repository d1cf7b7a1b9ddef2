"""What every stage's command line shares: the archive it opens, JSON on stdout, the common options.

Each stage keeps its own Typer app (``STAGE_CLIS`` in `serve.cli` mounts them); these are the few
pieces they would otherwise each write again.
"""

from __future__ import annotations

import sys

import orjson
import typer

#: exit codes, the same for every command: 0 done; 1 done in part or nothing found (files rejected,
#: a case not in the archive or withheld whole, an erasure a hold keeps pending); 2 bad input or
#: settings (nothing done); REFUSED: the governance policy refuses this account the action (a
#: name search without identity rights, an export or screening by a role that may not receive one)
REFUSED = 3

DbOpt = typer.Option(None, "--db", help="database URL (default: $COURTARCHIVE_DB)")
JsonOpt = typer.Option(False, "--json", help="print JSON")


def open_archive(db: str | None = None, *, initialised: bool = True):
    """The archive at ``db`` (default ``$COURTARCHIVE_DB``); an uninitialised one is refused
    with the command to run (``courtarchive init``) unless ``initialised=False`` -- a one-line
    error and exit code 1, not a traceback, for every command that opens one.  A URL that cannot be
    used (no such backend, a server that does not answer or refuses, a schema missing or holding
    another application's tables: ``store.engine.DatabaseError``) and any other malformed setting
    are a ConfigError: one line, ``bad configuration: ...``, exit code 2 (as `serve.cli.main` says
    it for the commands that do not come through here)."""
    from .config import ConfigError, settings
    from .store import Archive, StoreError

    try:
        a = Archive.open(db or settings().db_url)
        if initialised:
            a.require_initialised()
    except ConfigError as e:
        typer.echo(f"bad configuration: {e}", err=True)
        raise typer.Exit(2) from None
    except StoreError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    return a


def usage_error(msg: str) -> None:
    """A usage error (a bad option or argument, nothing done): one line ``error: msg`` on stderr, exit 2."""
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2) from None


def _purpose(value: str | None) -> str | None:
    from .governance.policy import PURPOSES

    if value is not None and value not in PURPOSES:
        raise typer.BadParameter(f"unknown purpose {value!r}: one of {', '.join(sorted(PURPOSES))}")
    return value


def purpose_option(help: str = "why (default by role: journalism for verified media, administration for "
                                "admin, analysis for analysts)"):
    """``--purpose``, one of the purposes the governance policy knows (`policy.PURPOSES`)."""
    return typer.Option(None, "--purpose", callback=_purpose, help=help)


def purpose_note(viewer, purpose: str | None) -> str | None:
    """A warning when the stated purpose releases no names or personal data to the viewer's role
    while the role's own purpose would: said, not left to a silently emptier output."""
    from .governance.policy import DEFAULT_PURPOSE, ROLES, action_for

    role = viewer.effective_role()
    if purpose is None or action_for(role, "identity", purpose) == action_for(role, "identity", DEFAULT_PURPOSE[role]):
        return None
    own = ", ".join(sorted(ROLES[role].personal_purposes)) or "none"
    return (f"purpose {purpose!r}: the {role} role is given names and other personal data only for: {own} "
            "-- they are left out")


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
