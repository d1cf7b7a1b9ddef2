"""`courtarchive digest ...`: the daily beat digest from the command line (mirrors
`courtarchive.serve.digest.digest`, `.subscribe` and `.send`).

    courtarchive digest --beat NAME --date D [--as USER] [--format text|json|csv|html] [--out FILE] [--top N]
    courtarchive digest subscribe USER BEAT [--actor NAME]   # the beat's digest by e-mail, every day it is sent
    courtarchive digest send [--date D]         # mail every beat subscriber the digest of the day
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Optional

import orjson
import typer
from rich.console import Console

from ..clikit import REFUSED, DbOpt, actor_name as _actor, open_archive as _archive
from .alerts_cli import ActorOpt, _link

app = typer.Typer(add_completion=False, invoke_without_command=True,
                  help="the daily beat digest: the day's listed cases of a beat ranked by newsworthiness")
console = Console(stderr=True)


def _day(s: str | None) -> dt.date:
    if not s:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise typer.BadParameter(f"--date: expected YYYY-MM-DD, got {s!r}") from None


@app.callback()
def digest(ctx: typer.Context,
           beat: Optional[str] = typer.Option(None, "--beat", help="the beat's name (courtarchive beat list)"),
           date: Optional[str] = typer.Option(None, "--date", help="the day (YYYY-MM-DD; default today)"),
           as_user: Optional[str] = typer.Option(None, "--as", help="the account to act as (default: $COURTARCHIVE_USER, "
                                                                  "else the OS user; unknown: the public role)"),
           fmt: str = typer.Option("text", "--format", help="text | json | csv | html"),
           out_path: Optional[Path] = typer.Option(None, "--out", help="write to this file instead of the terminal"),
           top: int = typer.Option(20, "--top", help="how many cases (1-200)"),
           db: Optional[str] = DbOpt) -> None:
    """The beat's listed cases of the day, ranked, with reporting restrictions and their statutory
    basis, as the account may see them (disclosed through the gate, audited)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..config import settings
    from ..governance.profile import load as load_profile
    from ..governance.pseudonym import Keyring, KeyringError
    from .digest import FORMATS, DigestError, digest as build, render
    from .export import operator

    if not beat:
        console.print("[red]error[/red]: give --beat NAME (courtarchive beat list), or a sub-command (send, subscribe)")
        raise typer.Exit(2)
    if fmt not in FORMATS:
        console.print(f"[red]error[/red]: unknown format {fmt!r}: one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    day = _day(date)
    if out_path is not None:
        _writable(out_path)         # before the digest is disclosed (and audited) to nobody
    a = _archive(db)
    s = settings()
    viewer = operator(a, as_user)
    try:
        keyring = Keyring.from_settings(s)
    except (KeyringError, OSError, ValueError):
        keyring = None
    try:
        res = build(a, beat, day, viewer, top=top, keyring=keyring, profile=load_profile(home=s.home))
        text = render(res, fmt, base_url=s.base_url or "")
    except DigestError as e:
        console.print(f"[red]error[/red]: {e}")
        raise typer.Exit(2)
    if out_path is None:
        sys.stdout.write(text)
    else:
        tmp = out_path.with_name(out_path.name + ".partial")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(out_path)
        except BaseException as e:
            tmp.unlink(missing_ok=True)
            if isinstance(e, OSError):
                console.print(f"[red]error[/red]: cannot write --out {out_path}: {e.strerror or e}", soft_wrap=True)
                raise typer.Exit(2) from None
            raise
        console.print(f"wrote the digest of {res['beat']['name']!r} for {day} ({len(res['rows'])} cases) to {out_path}")
    restricted = sum(1 for r in res["rows"] if r["restricted"])
    console.print(f"{len(res['rows'])} of {res['candidates']} listed cases shown to {viewer.username} ({res['role']}); "
                  f"{restricted} under reporting restrictions")


def _writable(path: Path) -> None:
    """Refuse an ``--out`` that cannot be written (a folder, a path under a file, no permission):
    one line, exit 2."""
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(path.name + ".partial")
        probe.touch()
        probe.unlink()
    except OSError as e:
        console.print(f"[red]error[/red]: cannot write --out {path}: {e.strerror or e}", soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
def subscribe(username: str = typer.Argument(..., help="the account that receives the digest"),
              beat: str = typer.Argument(..., help="the beat's name"),
              label: Optional[str] = typer.Option(None, "--label"), actor: Optional[str] = ActorOpt,
              db: Optional[str] = DbOpt) -> None:
    """Receive a beat's daily digest by e-mail (verified media and admins; `alerts list/cancel` manage it)."""
    from .alerts import AlertError
    from .digest import DigestError, subscribe as sub

    a = _archive(db)
    try:
        row = sub(a, username=username, beat_ref=beat, label=label, actor=_actor(actor))
    except (DigestError, AlertError) as e:
        from .alerts import AlertRefused

        console.print(f"[red]refused[/red]: {e}")
        raise typer.Exit(REFUSED if isinstance(e, AlertRefused) else 2)
    console.print(f"subscription {row['id']} ({row['label']}) for {username}; unsubscribe: {_link(row['unsubscribe_path'])}")
    if not row["deliverable"]:
        console.print(f"[yellow]note[/yellow]: digests cannot reach {username} now: {row['deliverable_reason']}")


@app.command()
def send(date: Optional[str] = typer.Option(None, "--date", help="the day (YYYY-MM-DD; default today)"),
         top: int = typer.Option(20, "--top"), resend: bool = typer.Option(False, "--resend",
                                                                             help="send again to those who had it"),
         db: Optional[str] = DbOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Mail every beat subscriber the digest of the day (COURTARCHIVE_SMTP_HOST/PORT/FROM)."""
    from .digest import DigestError, send as run

    a = _archive(db)
    try:
        res = run(a, _day(date), top=top, resend=resend)
    except DigestError as e:                 # (no SMTP server, no such beat: nothing sent)
        console.print(f"[red]error[/red]: {e}")
        raise typer.Exit(2)
    if as_json:
        sys.stdout.write(orjson.dumps(res, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    else:
        console.print(f"{res['messages']} digest(s) sent with {res['rows_sent']} cases; {res['skipped']} already done for the day (sent, or nothing to send), "
                      f"{res['empty']} with nothing listed")
        for user, u in res["undeliverable"].items():
            console.print(f"[yellow]not sent[/yellow] to {user}: {u['reason']}")
        for f in res["failed"]:
            console.print(f"[red]failed[/red] {f.get('username', '')}: {f['error']}")
    if res["failed"]:
        raise typer.Exit(1)
