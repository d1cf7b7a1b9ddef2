"""`courtarchive beat ...`: the beats of the daily digest (mounted as a group; mirrors
`courtarchive.serve.digest` add_beat / list_beats / describe / remove_beat).

    courtarchive beat add NAME [--court C ...] [--town T ...] [--force F ...] [--centre TOWN|LAT,LON --radius-km K]
                               [--offence-group G ...] [--as USER]
    courtarchive beat list [--json]
    courtarchive beat show NAME [--json]
    courtarchive beat remove NAME [--as USER]
"""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..clikit import REFUSED, DbOpt, JsonOpt, open_archive as _archive, print_json as _json

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="beats for the daily digest: courts, towns, police force areas or a radius, plus offence groups")
console = Console(stderr=True)
out = Console()

AsOpt = typer.Option(None, "--as", help="the account to act as (default: $COURTARCHIVE_USER, else the OS user)")


@app.command()
def add(name: str = typer.Argument(..., help="the beat's name (unique)"),
        court: Optional[List[str]] = typer.Option(None, "--court", help="court id, FaCT id, slug or exact name (repeat)"),
        town: Optional[List[str]] = typer.Option(None, "--town", help="a court town (repeat)"),
        force: Optional[List[str]] = typer.Option(None, "--force", help="a police force area, e.g. 'Lancashire Constabulary'"),
        centre: Optional[str] = typer.Option(None, "--centre", help="the newsroom: a town or lat,lon (with --radius-km)"),
        radius_km: Optional[float] = typer.Option(None, "--radius-km", help="courts within this distance of the centre"),
        offence_group: Optional[List[str]] = typer.Option(None, "--offence-group", help="limit to offence groups (repeat)"),
        as_user: Optional[str] = AsOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Define a beat (shared by every account of the archive)."""
    from .digest import DigestError, add_beat
    from .export import operator

    from ..store import governance as sg

    a = _archive(db)
    viewer = operator(a, as_user)
    if sg.get_account(a, viewer.username) is None:
        # its maker removes it later: a beat is made by an account
        console.print(f"[red]refused[/red]: no account {viewer.username!r}: make beats as an account "
                      "(--as USER, or $COURTARCHIVE_USER; `courtarchive account add`)")
        raise typer.Exit(2)
    try:
        b = add_beat(a, name=name, courts=court or [], towns=town or [], forces=force or [], centre=centre,
                     radius_km=radius_km, offence_groups=offence_group or [], actor=viewer.username,
                     role=viewer.effective_role())
    except DigestError as e:
        console.print(f"[red]refused[/red]: {e}")
        raise typer.Exit(2)
    if as_json:
        _json(b)
        return
    console.print(f"beat {b['id']} {b['name']!r}: {b['court_count']} court(s)"
                  + (f", offence groups {', '.join(b['offence_groups'])}" if b["offence_groups"] else ""),
                  markup=False)
    # a --court given as a name is matched as a list names its court (core words): say which court
    # each became, so a near miss ("Preston Crown Court") is seen, not silently taken
    from ..store import serve as ss

    for cr in b["court_refs"]:
        c = ss.court(a, cr["id"]) or {}
        console.print(f"  --court {cr['ref']!r}: {c.get('name')} (id {cr['id']}{', ' + c['slug'] if c.get('slug') else ''})",
                      markup=False)


@app.command("list")
def list_(db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Every beat of the archive."""
    from .digest import list_beats

    rows = list_beats(_archive(db))
    if as_json:
        _json(rows)
        return
    t = Table("id", "name", "courts", "area", "offence groups", "made by", title="beats")
    for r in rows:
        area = "; ".join(x for x in ("towns: " + ", ".join(r["towns"]) if r["towns"] else "",
                                     "forces: " + ", ".join(r["police_force_areas"]) if r["police_force_areas"] else "",
                                     f"{r['radius_km']:g} km of {r['centre']}" if r["centre"] else "") if x)
        t.add_row(str(r["id"]), r["name"], str(r["court_count"]), area, ", ".join(r["offence_groups"] or []) or "all",
                  r["created_by"] or "")
    out.print(t)


@app.command()
def show(name: str = typer.Argument(...), db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """A beat and the courts it covers."""
    from .digest import DigestError, describe, get_beat

    a = _archive(db)
    try:
        b = describe(a, get_beat(a, name))
    except DigestError as e:
        console.print(f"[red]error[/red]: {e}")
        raise typer.Exit(1)
    if as_json:
        _json(b)
        return
    out.print(f"beat {b['id']} {b['name']!r} (made by {b['created_by'] or '-'}, {str(b['created_at'])[:19]})")
    if b["centre"]:
        out.print(f"  within {b['radius_km']:g} km of {b['centre']}")
    for k in ("towns", "police_force_areas", "offence_groups"):
        if b[k]:
            out.print(f"  {k.replace('_', ' ')}: {', '.join(b[k])}")
    out.print(f"  {b['court_count']} court(s): " + "; ".join(b["court_names"]))


@app.command()
def remove(name: str = typer.Argument(...), as_user: Optional[str] = AsOpt, db: Optional[str] = DbOpt) -> None:
    """Remove a beat (its owner or an admin); its digest subscriptions stop."""
    from .digest import DigestError, remove_beat
    from .export import operator

    a = _archive(db)
    viewer = operator(a, as_user)
    try:
        r = remove_beat(a, name, actor=viewer.username, role=viewer.effective_role())
    except DigestError as e:
        console.print(f"[red]error[/red]: {e}")
        raise typer.Exit(1)
    except PermissionError as e:
        console.print(f"[red]refused[/red]: {e}")
        raise typer.Exit(REFUSED)
    console.print(f"beat {r['id']} {r['name']!r} removed; {r['subscriptions_cancelled']} subscription(s) stopped")
