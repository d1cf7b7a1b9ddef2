"""Search commands, mounted on `courtarchive` (serve.cli STAGE_CLIS, "commands" mode).

    courtarchive search "name" [--court ID|SLUG|NAME] [--from DATE] [--to DATE] [--offence-group G]
                               [--role ROLE] [--all] [--limit N] [--offset N] [--json]
    courtarchive search --case "URN / case number / offence words" [...]
    courtarchive search-index refresh|rebuild|status [--json]

A search runs as an account (``--as``), through the portal's own view (`serve.views.search`): a
name search is use of identity, so only roles the policy shows identity to may run one (verified
media, admin); every hit passes the disclosure gate (a restricted case or a youth's is withheld)
and the search is audited.  The console shows ids, dates, scores and public facts (case URN,
court, date) of the disclosed hits, never names.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..clikit import REFUSED, DbOpt, open_archive as _archive, print_json as _json

app = typer.Typer(add_completion=False, no_args_is_help=True, help="search: fuzzy names, cases, the index")
console = Console(stderr=True)
out = Console()


def _court(a, ref: str | None) -> int | None:
    if ref is None:
        return None
    from ..store import governance as sg

    cid = sg.resolve_court(a, ref)
    if cid is None:
        console.print(f"[red]unknown court[/red] {ref!r}: give its id, FaCT slug or name")
        raise typer.Exit(2)
    return cid


def _count(total: int, exact: bool, case: bool) -> str:
    """The count as the web page gives it: a floor ("more than N") when the search checked only some
    of the matches (``total_exact`` false), and no "more than 0" (every match checked was withheld)."""
    what = ("case" if case else "person") if total == 1 else ("cases" if case else "people")
    if exact:
        return f"{total} {what}"
    return f"more than {total} {what}" if total else f"no {'cases' if case else 'people'} among the matches checked"


def _natural_width(t: Table) -> int:
    """The width a table takes with no cell wrapped or cut (for output that is not a terminal)."""
    from rich.measure import Measurement

    return Measurement.get(out, out.options.update(max_width=10_000), t).maximum


@app.command("search")
def search(q: str = typer.Argument(..., help="a person's name (fuzzy), or with --case a URN / case number / offence words"),
           case: bool = typer.Option(False, "--case", help="search cases (URN, case number, offence words)"),
           court: Optional[str] = typer.Option(None, "--court", help="court id, FaCT slug or name"),
           date_from: Optional[str] = typer.Option(None, "--from", help="sitting date from (YYYY-MM-DD)"),
           date_to: Optional[str] = typer.Option(None, "--to", help="sitting date to (YYYY-MM-DD)"),
           offence_group: Optional[str] = typer.Option(None, "--offence-group", help="e.g. theft, violence, sexual"),
           role: Optional[str] = typer.Option(None, "--role", help="party role, e.g. DEFENDANT"),
           exhaustive: bool = typer.Option(False, "--all", help="run the typo passes even when close matches exist"),
           limit: int = typer.Option(20, "--limit", min=1, max=100), offset: int = typer.Option(0, "--offset", min=0),
           as_json: bool = typer.Option(False, "--json", help="print JSON"),
           as_user: Optional[str] = typer.Option(None, "--as", help="the account to act as (default: "
                                                 "$COURTARCHIVE_USER, else the OS user; an unknown account is "
                                                 "the public role, which may search cases, not names)"),
           db: Optional[str] = DbOpt) -> None:
    """Search the index as an account (gated, audited): ids, URN, court, date and score of the best
    disclosed mention per person."""
    from pathlib import Path

    from ..config import settings
    from ..store import search as ss
    from . import views as V
    from .export import operator

    a = _archive(db)
    viewer = operator(a, as_user)
    portal = V.Portal(a, home=Path(settings().home))
    try:
        res = V.search(portal, viewer, q, mode="case" if case else "name", court_id=_court(a, court),
                       date_from=date_from, date_to=date_to, offence_group=offence_group, role=role,
                       limit=limit, offset=offset, output="search", exhaustive=exhaustive)
    except V.Forbidden as e:
        from ..governance import audit

        audit.refusal(a, viewer, reason=str(e), command="search")
        console.print(f"[red]refused[/red] {viewer.username}: {e}")
        raise typer.Exit(REFUSED)
    except ValueError as e:                       # (search.SearchError is one)
        console.print(f"[red]error[/red]: {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2)
    hits = []
    for h in res["hits"]:
        c, hh, pa = h.get("case") or {}, h.get("hearing") or {}, h.get("party") or {}
        hits.append({"person_id": h.get("person_id"), "party_id": pa.get("id"), "case_id": c.get("id"),
                     "urn": c.get("urn"), "case_number": c.get("case_number"), "court_id": hh.get("court_id"),
                     "court": hh.get("court"), "sitting_date": hh.get("sitting_date"), "hearings": h.get("hearings"),
                     "mentions": h.get("mentions"), "score": h.get("score"), "matched_on": h.get("matched_on")})
    exact = res.get("total_exact", True) is not False
    if as_json:
        _json({"q": q, "mode": res["mode"], "viewer": {"username": viewer.username, "role": res["role"]},
               "total": res["total"], "total_exact": exact, "hits": hits, "facets": res.get("facets", {}),
               "withheld": res["withheld"]})
        return
    t = Table(title=escape(f"{_count(res['total'], exact, case)} for {q!r} (as {viewer.username}, {res['role']})"))
    cols = (["case_id", "urn", "case_number", "court", "sitting_date", "hearings", "score", "matched_on"] if case else
            ["person_id", "party_id", "case_id", "urn", "court", "sitting_date", "mentions", "score", "matched_on"])
    for c in cols:
        # a value is never cut short ("33GR00…"): folded onto a second line in a narrow terminal, and
        # printed whole off one (a pipe is 80 columns to Rich)
        t.add_column(c, overflow="fold")
    for h in hits:
        t.add_row(*("" if h.get(c) is None else escape(str(h.get(c))) for c in cols))
    if not out.is_terminal:
        out.width = max(out.width, _natural_width(t))
    out.print(t)
    if not exact:
        # (as the web page says it: the count is a floor, the hits the best of the matches checked)
        out.print(("the best matches; n" if res["total"] else "N") +
                  "arrow by --court, --from/--to or --offence-group for the rest")
    if res["withheld"]:
        out.print("withheld by the disclosure gate: " + ", ".join(f"{k} x{v}" for k, v in res["withheld"].items()))
    fac = res.get("facets") or {}
    if not case and hits and fac:
        names = ss.court_names(a, list(fac.get("court", {})))
        out.print("courts: " + ", ".join(f"{names.get(k, k)} {v}" for k, v in list(fac["court"].items())[:8]))
        out.print("years: " + ", ".join(f"{k} {v}" for k, v in sorted(fac.get("year", {}).items())))
        out.print("offence groups: " + ", ".join(f"{k} {v}" for k, v in fac.get("offence_group", {}).items()))


@app.command("search-index")
def search_index(action: str = typer.Argument(..., help="refresh | rebuild | status"),
                 as_json: bool = typer.Option(False, "--json", help="print JSON"),
                 db: Optional[str] = DbOpt) -> None:
    """Maintain the name search index (refresh also runs after every ingest)."""
    from . import search as S

    fns = {"refresh": lambda a: S.refresh(a), "rebuild": S.rebuild, "status": S.status}
    if action not in fns:
        console.print(f"[red]error[/red]: unknown action {escape(repr(action))}: refresh, rebuild or status",
                      soft_wrap=True)
        raise typer.Exit(2)
    res = fns[action](_archive(db))
    if as_json:
        _json(res)
    else:
        for k, v in res.items():
            out.print(f"{k}: {v}")
