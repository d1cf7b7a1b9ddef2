"""Web portal commands, mounted on `courtarchive` (serve.cli STAGE_CLIS, "commands" mode).

    courtarchive serve [--host 127.0.0.1] [--port 8000] [--db URL] [--reports DIR] [--secure-cookies]
    courtarchive account password USER [--password-stdin]
    courtarchive account add|verify|list ...        (governance's account actions, unchanged)
    courtarchive token create USER --name NAME [--days N] | token list [USER] | token revoke ID

`account` here is governance's `account` command plus the ``password`` action (mount this module
after ``courtarchive.governance.cli`` so its superset replaces the plain one).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..clikit import DbOpt, open_archive as _archive, actor_name as _actor

app = typer.Typer(add_completion=False, no_args_is_help=True, help="web portal and API")
console = Console(stderr=True)
out = Console()

ActorOpt = typer.Option(None, "--actor", help="the person acting (default: $USER)")


def _fail(msg: str) -> None:
    console.print(f"[red]{msg}[/red]")
    raise typer.Exit(2)


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="address to listen on"),
          port: int = typer.Option(8000, help="port"), db: Optional[str] = DbOpt,
          reports: Optional[Path] = typer.Option(None, help="folder of `courtarchive analyse` outputs "
                                                              "(default: $COURTARCHIVE_REPORTS or $COURTARCHIVE_HOME/analysis)"),
          secure_cookies: bool = typer.Option(False, "--secure-cookies",
                                              help="mark cookies Secure (when served over https)"),
          log_level: str = typer.Option("info", help="uvicorn log level"),
          workers: int = typer.Option(1, min=1, max=64,
                                      help="worker processes (uvicorn; on Linux each with its own listening socket, so the kernel "
                                           "spreads connections evenly); several use more than one core. "
                                           "SQLite: the portal's writes take turns across them")) -> None:
    """Run the web portal and the JSON API (uvicorn)."""
    import os

    import uvicorn

    from .app import create_app
    from .deps import WebSettings

    over = {}
    if reports:
        over["reports_dir"] = reports
    if secure_cookies:
        over["secure_cookies"] = True
    ws = WebSettings.from_env(**over)
    if db:
        ws.db_url = db
    _archive(ws.db_url)      # fail early, with the message, when the archive is not initialised
    from ..governance.gate import cache_rows

    cache_rows()             # (and when a setting the requests read is bad: not a 500 at each of them)
    if workers > 1:
        # each worker process builds its own app from the environment (`create_app` reads the
        # COURTARCHIVE_* settings): pass this command's options on that way.  The audit chain's
        # appends are writer transactions; the portal's other writes hold `Portal.writing`, a
        # file lock beside a SQLite archive, so the processes take turns.
        if ws.db_url:
            os.environ["COURTARCHIVE_DB"] = ws.db_url
        if reports:
            os.environ["COURTARCHIVE_REPORTS"] = str(reports)
        if secure_cookies:
            os.environ["COURTARCHIVE_SECURE_COOKIES"] = "1"
        console.print(f"courtarchive portal on http://{host}:{port}/  (API: http://{host}:{port}/api/v1/docs), "
                      f"{workers} worker processes")
        from . import workers as balanced

        if not balanced.available():       # (no SO_REUSEPORT: uvicorn's one shared socket)
            uvicorn.run("courtarchive.serve.app:create_app", factory=True, workers=workers, host=host, port=port,
                        log_level=log_level, proxy_headers=ws.trust_proxy)
            return
        try:
            balanced.run("courtarchive.serve.app:create_app", host=host, port=port, workers=workers,
                         log_level=log_level, proxy_headers=ws.trust_proxy)
        except OSError as e:
            _fail(f"cannot listen on {host}:{port}: {e.strerror or e}")
        return
    app_ = create_app(ws.db_url, settings=ws)
    console.print(f"courtarchive portal on http://{host}:{port}/  (API: http://{host}:{port}/api/v1/docs)")
    uvicorn.run(app_, host=host, port=port, log_level=log_level, proxy_headers=ws.trust_proxy)


@app.command()
def account(ctx: typer.Context, action: str = typer.Argument(..., help="add | update | verify | list | password"),
            username: Optional[str] = typer.Argument(None),
            role: str = typer.Option("public", help="public | verified_media | analyst | admin"),
            email: Optional[str] = typer.Option(None), organisation: Optional[str] = typer.Option(None),
            press_card: Optional[str] = typer.Option(None, help="verify: press card number"),
            issuer: Optional[str] = typer.Option(None, help="verify: press card issuer"),
            password_stdin: bool = typer.Option(False, "--password-stdin",
                                                help="password: read the password from standard input"),
            actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt,
            as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Accounts: add, verify (accredited media, 365 days), list; password sets a sign-in password."""
    if action != "password":
        from ..governance import cli as gcli

        return gcli.account(ctx, action=action, username=username, role=role, email=email, organisation=organisation,
                            press_card=press_card, issuer=issuer, actor=actor, db=db, as_json=as_json)
    from . import auth

    if not username:
        _fail("account password needs the USERNAME")
    if password_stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
    else:
        pw = getpass.getpass(f"new password for {username}: ")
        if pw != getpass.getpass("again: "):
            _fail("the two passwords differ")
    try:
        auth.set_password(_archive(db), username, pw, actor=_actor(actor))
    except ValueError as e:
        _fail(str(e))
    console.print(f"password set for {username} (argon2id); their sessions were signed out")


@app.command()
def token(action: str = typer.Argument(..., help="create | list | revoke"),
          arg: Optional[str] = typer.Argument(None, help="create: USERNAME; list: [USERNAME]; revoke: TOKEN_ID"),
          name: Optional[str] = typer.Option(None, help="create: what the token is for"),
          days: Optional[float] = typer.Option(None, help="create: expires after N days (default: never)"),
          actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt) -> None:
    """API tokens (Authorization: Bearer): shown once at creation, stored hashed, revocable."""
    from . import auth

    a = _archive(db)
    try:
        if action == "create":
            if not arg:
                _fail("token create needs the USERNAME")
            t = auth.create_token(a, arg, name=name or "", days=days, actor=_actor(actor))
            console.print(f"token {t['id']} for {arg} ({t['name']}); it is shown once:")
            sys.stdout.write(t["token"] + "\n")
        elif action == "list":
            rows = auth.list_tokens(a, arg)
            tbl = Table("id", "user", "name", "prefix", "created", "expires", "last used", "revoked", title="API tokens")
            for r in rows:
                tbl.add_row(*(str(x) if x is not None else "" for x in (
                    r["id"], r["username"], r["name"], r["prefix"], r["created_at"], r["expires_at"],
                    r["last_used_at"], r["revoked_at"])))
            out.print(tbl)
        elif action == "revoke":
            if not arg or not arg.isdigit():
                _fail("token revoke needs the TOKEN_ID (see token list)")
            if not auth.revoke_token(a, int(arg), actor=_actor(actor)):
                _fail(f"no active token {arg}")
            console.print(f"token {arg} revoked")
        else:
            _fail("action must be create, list or revoke")
    except ValueError as e:
        _fail(str(e))
