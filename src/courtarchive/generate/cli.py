"""``courtarchive generate``: write a synthetic CaTH corpus with planted truth (issue 4)."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


app = typer.Typer(help="Synthetic CaTH court lists with planted truth.", add_completion=False)


@app.command("generate")
def generate(
    cases: int = typer.Option(..., "--cases", min=1, help="number of prosecution cases"),
    seed: int = typer.Option(..., "--seed", help="random seed (same seed: byte-identical output)"),
    out: Path = typer.Option(..., "--out", help="output folder (lists/, truth/, truth.json)"),
    start: str = typer.Option("2019-01-01", "--start", help="first day of the period (YYYY-MM-DD)"),
    years: float = typer.Option(5.0, "--years", min=0.2, help="length of the period in years"),
    hotspot: Optional[list[str]] = typer.Option(None, "--hotspot", help="hotspot town (repeat; first comes out on top)"),
    config: Optional[Path] = typer.Option(None, "--config", help="JSON file of generator settings"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, max=1,
                                          help="render lists in this process (0) or one child process (1); "
                                               "default: by CPUs and size (same bytes either way)"),
    formats: str = typer.Option("json", "--formats",
                                help="comma-separated output formats: json (always written), pdf, xlsx - "
                                     "PDF / Excel copies in CaTH's column layouts under OUT/pdf, OUT/xlsx"),
) -> None:
    """Generate --cases cases of CaTH lists with --seed into --out."""
    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter("--start must be YYYY-MM-DD") from None
    settings = json.loads(config.read_text("utf-8")) if config else None
    fmts = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    bad = sorted(set(fmts) - {"json", "pdf", "xlsx"})
    if bad:
        raise typer.BadParameter(f"--formats: unknown format(s) {', '.join(bad)} (json, pdf, xlsx)")
    console = Console(stderr=True)
    t0 = time.perf_counter()
    with Progress(TextColumn("[bold]generate"), BarColumn(), MofNCompleteColumn(), TextColumn("cases"),
                  TimeElapsedColumn(), console=console, transient=as_json, disable=as_json) as bar:
        task = bar.add_task("cases", total=cases)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done)

        from .driver import DEFAULT_HOTSPOTS, generate as _generate

        summary = _generate(out, cases=cases, seed=seed, start=first, years=years,
                            hotspots=tuple(hotspot) if hotspot else DEFAULT_HOTSPOTS,
                            config=settings, progress=progress, workers=workers, formats=fmts)
    secs = time.perf_counter() - t0
    if as_json:
        typer.echo(json.dumps({**summary, "seconds": round(secs, 2)}, indent=2, default=str))
        return
    f = summary["findings"]["child-sexual-abuse"]
    top = f["multi_defendant_cases_by_location"][:1]
    console.print(f"[green]wrote[/] {summary['files']} lists ({summary['entries']} entries, "
                  f"{summary['hearings']} hearings) for {summary['cases']} cases to {out} in {secs:.1f} s")
    console.print(f"child-sexual-abuse: {f['cases']} cases; {f['victims_linked_to_2plus_defendants']} "
                  f"complainants linked to >= 2 defendants; networks >= 3: {f['cases_with_network_3plus']} "
                  f"cases, >= 5: {f['cases_with_network_5plus']}"
                  + (f"; top town {top[0]['town']} ({top[0]['multi_defendant_cases']})" if top else ""))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
