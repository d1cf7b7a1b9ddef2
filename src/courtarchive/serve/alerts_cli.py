"""`courtarchive alerts ...`: subscriptions and digests from the command line (mounted as a group).

    courtarchive alerts subscribe USER KIND QUERY [--label L] [--param key=value ...] [--actor NAME]
    courtarchive alerts list USER
    courtarchive alerts cancel USER ID [--actor NAME]
    courtarchive alerts run      # match everything ingested since the last run (catch up), send if SMTP set
    courtarchive alerts send     # send the queued digests now (COURTARCHIVE_SMTP_HOST must be set)

``--actor`` names the person at the console (default $USER) for the audit log: an event of
``subscribe`` or ``cancel`` names the actor and the account subscribed (`alerts.acting`).
"""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..clikit import REFUSED, DbOpt, JsonOpt, actor_name as _actor, open_archive as _archive, print_json as _json

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="alerts: follow names, URNs, courts, offence groups, searches, cases, persons, networks")
console = Console(stderr=True)
out = Console()

ActorOpt = typer.Option(None, "--actor", help="the person acting, for the audit log (default: $USER)")


def _link(path: str) -> str:
    """A portal path as the link a mail carries (COURTARCHIVE_BASE_URL, when set)."""
    from ..config import settings

    base = (settings().base_url or "").rstrip("/")
    return base + path


def _params(items: list[str] | None) -> dict:
    p = {}
    for it in items or []:
        k, sep, v = it.partition("=")
        if not sep or not k.strip():
            raise typer.BadParameter(f"--param: expected key=value, got {it!r}")
        p[k.strip()] = v.strip()
    return p


@app.command()
def subscribe(username: str = typer.Argument(..., help="the account that receives the alerts"),
              kind: str = typer.Argument(..., help="name | urn | court | offence_group | search | case | person | network"),
              query: str = typer.Argument(..., help="the name, URN, court (id/slug/name), group, search text, "
                                                    "case URN, person id or network id"),
              label: Optional[str] = typer.Option(None, "--label", help="how the alert is titled in the digest"),
              param: Optional[List[str]] = typer.Option(None, "--param", help="key=value: threshold, date_of_birth, "
                                                                               "court, role, offence_group"),
              actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Follow something: matches of newly ingested listings go out in the next digest."""
    from .alerts import AlertError, subscribe as sub

    a = _archive(db)
    try:
        row = sub(a, username=username, kind=kind, query=query, params=_params(param), label=label,
                  actor=_actor(actor))
    except AlertError as e:
        console.print(f"[red]refused[/red]: {e}")
        raise typer.Exit(_code(e))
    if as_json:
        _json(row)
        return
    console.print(f"{'already subscribed: ' if row.get('existing') else ''}subscription {row['id']} "
                  f"({row['kind']}: {row['label']}) for {username}; unsubscribe: {_link(row['unsubscribe_path'])}")
    if not row["deliverable"]:
        console.print(f"[yellow]note[/yellow]: digests cannot reach {username} now: {row['deliverable_reason']}")


@app.command("list")
def list_(username: str = typer.Argument(...), db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """A user's subscriptions."""
    from .alerts import AlertError, list_subscriptions

    a = _archive(db)
    try:
        rows = list_subscriptions(a, username)
    except AlertError as e:
        console.print(f"[red]error[/red]: {e}")
        raise typer.Exit(_code(e))
    if as_json:
        _json(rows)
        return
    t = Table("id", "kind", "label", "active", "created", "last run", title=f"alerts of {username}")
    for r in rows:
        t.add_row(str(r["id"]), r["kind"], r["label"] or "", "yes" if r["active"] else "no",
                  str(r["created_at"])[:19], str(r["last_run_at"] or "")[:19])
    out.print(t)


@app.command()
def cancel(username: str = typer.Argument(...), subscription_id: int = typer.Argument(...),
           actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt) -> None:
    """Stop a subscription (its queued, unsent matches are dropped)."""
    from .alerts import AlertError, cancel as stop

    a = _archive(db)
    try:
        ok = stop(a, username=username, subscription_id=subscription_id, actor=_actor(actor))
    except AlertError as e:
        console.print(f"[red]error[/red]: {e}")
        raise typer.Exit(_code(e))
    if not ok:
        console.print(f"no active subscription {subscription_id} of {username}")
        raise typer.Exit(1)
    console.print(f"subscription {subscription_id} cancelled")


@app.command()
def run(db: Optional[str] = DbOpt, send: Optional[bool] = typer.Option(None, "--send/--no-send",
                                                                        help="send digests (default: when SMTP is set)"),
        as_json: bool = JsonOpt) -> None:
    """Match the listings ingested since the last run against every active subscription (catch up)."""
    from .alerts import AlertError, after_ingest

    a = _archive(db)
    try:
        res = after_ingest(a, None, send=send)
    except AlertError as e:
        console.print(f"[red]error[/red]: {e}")
        raise typer.Exit(_code(e))
    if as_json:
        _json(res)
        return
    console.print(f"{res['subscriptions']} active subscriptions, {res['hearings_scanned']} new listings scanned, "
                  f"{res['matches']} new matches {res['by_event'] or ''}")
    _print_digests(res.get("digests"))


@app.command()
def send(db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Send the queued matches now: one digest per recipient (COURTARCHIVE_SMTP_HOST/PORT/FROM)."""
    from .alerts import AlertError, send_digests

    a = _archive(db)
    try:
        res = send_digests(a)
    except AlertError as e:
        console.print(f"[red]error[/red]: {e}")
        raise typer.Exit(_code(e))
    if as_json:
        _json(res)
    else:
        _print_digests(res)
    if res.get("failed"):
        raise typer.Exit(1)


def _code(e: Exception) -> int:
    """The exit code of an alert action that was not done: 3 when the policy refuses the account
    (`alerts.AlertRefused`), else 2 (bad input or settings: no account, no court, no SMTP server)."""
    from .alerts import AlertRefused

    return REFUSED if isinstance(e, AlertRefused) else 2


def _print_digests(res: dict | None) -> None:
    if not res:
        return
    if "skipped" in res:
        console.print(f"digests not sent: {res['skipped']}")
        return
    console.print(f"{res.get('messages', 0)} digest(s) sent with {res.get('matches_sent', 0)} matches; "
                  f"{res.get('withheld', 0)} matches held back by reporting restrictions")
    for user, u in (res.get("undeliverable") or {}).items():
        console.print(f"[yellow]not sent[/yellow] to {user} ({u['matches']} matches): {u['reason']}")
    for f in res.get("failed") or []:
        who = f.get("username")
        console.print(f"[red]failed[/red]{' ' + who if who else ''}: {f['error']}")
