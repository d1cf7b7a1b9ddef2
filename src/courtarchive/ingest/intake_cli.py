"""``courtarchive intake maildir PATH`` and ``courtarchive intake imap --host --user``: lists that
arrive by e-mail (`courtarchive.ingest.mail`).  Mounted by the main CLI as the ``intake`` group.

Exit code 1 when any message was quarantined or any attachment rejected; 2 when the mailbox
cannot be read (no such Maildir, IMAP connection or login failure) or an option is bad (a
``--list-type`` CaTH does not define: refused before the archive is opened and before any
message is read or marked Seen).
"""

from __future__ import annotations

import imaplib
import os
import sys
from pathlib import Path
from typing import Optional

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from ..clikit import open_archive, usage_error

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Take in lists that arrive by e-mail (Maildir or IMAP).")
console = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="database URL (default: $COURTARCHIVE_DB or a SQLite file in $COURTARCHIVE_HOME)")
ProfileOpt = typer.Option(None, "--profile", help="licence profile TOML (default: $COURTARCHIVE_PROFILE, "
                                                  "<home>/profile.toml, built-in); its [intake] mail_senders apply")


def _setup(db: str | None, profile: Path | None, list_type: str | None):
    from ..config import settings
    from ..governance.profile import load
    from ..governance.pseudonym import Keyring
    from .errors import Rejected
    from .mail import check_list_type, mail_senders

    try:
        check_list_type(list_type)      # a bad option: refused before the archive is opened (or created, migrated)
    except Rejected as e:
        _bad_option(e)
    s = settings()
    a = open_archive(db)        # uninitialised or unusable: one line, not a traceback
    senders = mail_senders(load(profile, home=s.home))
    return s, a, Keyring.from_settings(s), senders


def _bad_option(e) -> None:
    """A usage error, as `courtarchive ingest` words one: one line, exit 2."""
    usage_error(e.reason)


def _finish(a, report, as_json: bool) -> None:
    from ..serve.postingest import failures, run as after_ingest

    after = after_ingest(a, report.ingest) if report.ingest.accepted else {}
    failed = failures(after)        # as `courtarchive ingest`: one line each, exit 1
    d = report.as_dict()
    if as_json:
        d.pop("detail")
        d["after_ingest"] = after
        d["after_ingest_failed"] = list(failed)
        sys.stdout.write(orjson.dumps(d, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    else:
        att = d["attachments"]
        # one line each, never wrapped at the console's width (as `courtarchive ingest`'s)
        console.print(f"{d['messages']} messages ({', '.join(f'{v} {k}' for k, v in d['by_status'].items()) or 'none'}); "
                      f"attachments: {att['accepted']} accepted, {att['duplicates']} already archived, "
                      f"{len(att['rejected'])} rejected; {att['hearings']} hearing entries", soft_wrap=True)
        for q in d["quarantined"]:
            console.print(f"[red]quarantined[/red] message {escape(str(q['message_id'] or q['ref']))}: "
                          f"{escape(str(q['reason']))}", soft_wrap=True)
        for r in att["rejected"]:
            where = f" at {r['json_path']}" if r["json_path"] else ""
            console.print(f"[red]rejected[/red] {escape(str(r['file']))}{escape(where)}: {escape(str(r['reason']))}",
                          soft_wrap=True)
    for line in failed.values():
        typer.echo(line, err=True)
    raise typer.Exit(1 if report.failed or failed else 0)


@app.command("maildir")
def maildir(path: Path = typer.Argument(..., help="the Maildir (with new/, cur/, tmp/)"),
            db: Optional[str] = DbOpt, profile: Optional[Path] = ProfileOpt,
            list_type: Optional[str] = typer.Option(None, "--list-type", help="override the list type of every attachment"),
            reread: bool = typer.Option(False, "--reread", help="also messages already marked Seen (idempotent by hash)"),
            as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Ingest the list attachments of the Maildir's unread messages; processed messages move to cur/ (Seen)."""
    from .errors import Rejected
    from .mail import intake_maildir

    s, a, keyring, senders = _setup(db, profile, list_type)
    try:
        report = intake_maildir(a, path, keyring=keyring, senders=senders, list_type=list_type,
                                max_bytes=s.max_file_bytes, reread=reread)
    except Rejected as e:
        _bad_option(e)
    except (FileNotFoundError, OSError) as e:
        usage_error(f"cannot read the Maildir {path}: {e}")
    _finish(a, report, as_json)


@app.command("imap")
def imap(host: str = typer.Option(..., "--host", help="IMAP server"),
         user: str = typer.Option(..., "--user", help="login name"),
         password_env: str = typer.Option("COURTARCHIVE_IMAP_PASSWORD", "--password-env",
                                          help="environment variable holding the password (never a command-line argument)"),
         folder: str = typer.Option("INBOX", "--folder", help="folder to read (its UNSEEN messages)"),
         processed_folder: Optional[str] = typer.Option(None, "--processed-folder",
                                                        help="move handled messages here (default: only flag them Seen)"),
         port: Optional[int] = typer.Option(None, "--port", help="default 993 (IMAPS) or 143 (--no-ssl)"),
         ssl: bool = typer.Option(True, "--ssl/--no-ssl", help="IMAPS (default) or plain IMAP"),
         starttls: bool = typer.Option(False, "--starttls", help="with --no-ssl: upgrade with STARTTLS"),
         db: Optional[str] = DbOpt, profile: Optional[Path] = ProfileOpt,
         list_type: Optional[str] = typer.Option(None, "--list-type", help="override the list type of every attachment"),
         as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Poll an IMAP folder once: ingest the list attachments of its unseen messages."""
    from .errors import Rejected
    from .mail import poll_imap

    password = os.environ.get(password_env)
    if password is None:
        usage_error(f"no password: set the environment variable {password_env}")
    s, a, keyring, senders = _setup(db, profile, list_type)
    try:
        report = poll_imap(a, host, user, password, keyring=keyring, folder=folder, port=port, ssl=ssl,
                           starttls=starttls, senders=senders, processed_folder=processed_folder,
                           list_type=list_type, max_bytes=s.max_file_bytes)
    except Rejected as e:
        _bad_option(e)
    except (imaplib.IMAP4.error, OSError) as e:
        usage_error(f"IMAP failed: {host}: {e}")
    _finish(a, report, as_json)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
