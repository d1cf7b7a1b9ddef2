"""Search commands, mounted on `courtarchive` (serve.cli STAGE_CLIS, "commands" mode).

    courtarchive search "name" [--court ID|SLUG|NAME] [--from DATE] [--to DATE] [--offence-group G]
                               [--role ROLE] [--all] [--limit N] [--offset N] [--json]
    courtarchive search --case "URN / case number / offence words" [...]
    courtarchive search-index refresh|rebuild|status [--json]

Output is ids, dates, scores and public facts (case URN, court, date) only: names go out
through the disclosure gate, which the web and API layers apply; the console shows none.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..clikit import DbOpt, open_archive as _archive, print_json as _json

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


@app.command("search")
def search(q: str = typer.Argument(..., help="a person's name (fuzzy), or with --case a URN / case number / offence words"),
           case: bool = typer.Option(False, "--case", help="search cases (URN, case number, offence words)"),
           court: Optional[str] = typer.Option(None, "--court", help="court id, FaCT slug or name"),
           date_from: Optional[str] = typer.Option(None, "--from", help="sitting date from (YYYY-MM-DD)"),
           date_to: Optional[str] = typer.Option(None, "--to", help="sitting date to (YYYY-MM-DD)"),
           offence_group: Optional[str] = typer.Option(None, "--offence-group", help="e.g. theft, violence, sexual"),
           role: Optional[str] = typer.Option(None, "--role", help="party role, e.g. DEFENDANT"),
           exhaustive: bool = typer.Option(False, "--all", help="run the typo passes even when close matches exist"),
           limit: int = typer.Option(20, "--limit"), offset: int = typer.Option(0, "--offset"),
           as_json: bool = typer.Option(False, "--json", help="print JSON"),
           db: Optional[str] = DbOpt) -> None:
    """Search the index: ids, URN, court, date and score of the best mention per person."""
    from ..store import search as ss
    from .search import SearchError, search_cases, search_names

    a = _archive(db)
    try:
        if case:
            res = search_cases(a, q, court_id=_court(a, court), date_from=date_from, date_to=date_to,
                               limit=limit, offset=offset)
        else:
            res = search_names(a, q, court_id=_court(a, court), date_from=date_from, date_to=date_to,
                               offence_group=offence_group, role=role, limit=limit, offset=offset,
                               exhaustive=exhaustive)
    except SearchError as e:
        console.print(f"[red]error[/red] {e}")
        raise typer.Exit(2)
    hits = res["hits"]
    courts = ss.court_names(a, [h["court_id"] for h in hits])
    if not case:
        refs = ss.case_urns(a, [h["case_id"] for h in hits])
        for h in hits:
            h["urn"] = refs.get(h["case_id"], {}).get("urn")
            h["case_number"] = refs.get(h["case_id"], {}).get("case_number")
    for h in hits:
        h["court"] = courts.get(h["court_id"])
    if as_json:
        _json(res)
        return
    t = Table(title=f"{res['total']} {'cases' if case else 'people'} for {q!r}" +
              ("" if res.get("total_exact", True) else " (at least)"))
    cols = (["case_id", "urn", "case_number", "court", "sitting_date", "hearings", "score", "matched_on"] if case else
            ["person_id", "party_id", "case_id", "urn", "court", "sitting_date", "mentions", "score", "matched_on"])
    for c in cols:
        t.add_column(c)
    for h in hits:
        t.add_row(*("" if h.get(c) is None else str(h.get(c)) for c in cols))
    out.print(t)
    if not case and res["hits"]:
        fac = res["facets"]
        out.print("courts: " + ", ".join(f"{courts.get(k, k)} {v}" for k, v in list(fac["court"].items())[:8]))
        out.print("years: " + ", ".join(f"{k} {v}" for k, v in sorted(fac["year"].items())))
        out.print("offence groups: " + ", ".join(f"{k} {v}" for k, v in fac["offence_group"].items()))


@app.command("search-index")
def search_index(action: str = typer.Argument(..., help="refresh | rebuild | status"),
                 as_json: bool = typer.Option(False, "--json", help="print JSON"),
                 db: Optional[str] = DbOpt) -> None:
    """Maintain the name search index (refresh also runs after every ingest)."""
    from . import search as S

    fns = {"refresh": lambda a: S.refresh(a), "rebuild": S.rebuild, "status": S.status}
    if action not in fns:
        console.print(f"[red]error[/red] unknown action {action!r}: refresh, rebuild or status")
        raise typer.Exit(2)
    res = fns[action](_archive(db))
    if as_json:
        _json(res)
    else:
        for k, v in res.items():
            out.print(f"{k}: {v}")
