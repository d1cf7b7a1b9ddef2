"""`courtarchive screen`: bulk name screening from the command line (mirrors `link.screen.screen_archive`)."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Optional

import orjson
import typer
from rich.console import Console

from ..clikit import REFUSED, purpose_option
from .screen_defaults import DEFAULT_THRESHOLD, DEFAULT_TOP

app = typer.Typer(add_completion=False)
console = Console(stderr=True)


@app.command()
def screen(path: Path = typer.Argument(..., help="CSV or XLSX: a 'name' column (or 'forenames' and 'surname'); "
                                                 "optional date_of_birth, town, postcode"),
           as_user: Optional[str] = typer.Option(None, "--as", help="account to screen as (default $COURTARCHIVE_USER, "
                                                                    "else your login name)"),
           purpose: Optional[str] = purpose_option("purpose recorded in the audit log (default: the role's own: "
                                                   "journalism for verified media, administration for admins)"),
           threshold: float = typer.Option(DEFAULT_THRESHOLD, min=0.0, max=1.0,
                                           help="lowest match probability listed (0-1)"),
           top: int = typer.Option(DEFAULT_TOP, min=1, max=100, help="candidate persons per row (ties with the last are kept)"),
           fmt: str = typer.Option("csv", "--format", help="csv | xlsx"),
           db: Optional[str] = typer.Option(None, "--db", help="database URL (default: $COURTARCHIVE_DB)"),
           as_json: bool = typer.Option(False, "--json", help="print the summary as JSON")) -> None:
    """Screen a spreadsheet of names against the archive's linked persons; writes the candidates
    (with match probabilities) to your exports folder, disclosed for your role and audited."""
    from ..config import settings
    from ..governance import accounts
    from ..governance.profile import load as load_profile
    from ..governance.pseudonym import Keyring
    from ..store import Archive
    from .screen import ScreeningError, read_names, screen_archive

    s = settings()
    a = Archive.open(db or s.db_url)
    a.require_initialised()
    user = as_user or os.environ.get("COURTARCHIVE_USER") or getpass.getuser()
    viewer = accounts.viewer(a, user)
    if purpose is None:
        from ..serve.export import default_purpose

        purpose = default_purpose(viewer)
    try:
        rows = read_names(path)
        res = screen_archive(a, rows, viewer, purpose=purpose, keyring=Keyring.from_settings(s),
                             profile=load_profile(home=s.home), home=s.home, threshold=threshold, top=top, fmt=fmt)
    except ScreeningError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2)
    except PermissionError as e:          # the role may not screen, or may not receive exports
        from ..governance import audit

        audit.refusal(a, viewer, reason=str(e), command="screen")
        console.print(f"[red]refused:[/red] {e}")
        raise typer.Exit(REFUSED)
    summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in res.items() if k != "flags"}
    summary["restriction_flags"] = len(res["flags"])
    if as_json:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
        return
    console.print(f"screened {res['rows']:,} rows: {res['rows_with_matches']:,} with candidates "
                  f"({res['matches']:,} candidate persons); written to {res['path']}")
