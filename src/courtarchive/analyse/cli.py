"""`courtarchive analyse`: findings.json + report.html (merged into the top-level CLI)."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..clikit import purpose_option

app = typer.Typer(add_completion=False)

#: the files a run writes into --out
OUTPUTS = ("findings.json", "report.html")


def _date(s: str | None, name: str) -> dt.date | None:
    if not s:
        return None
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise typer.BadParameter(f"{name}: expected YYYY-MM-DD, got {s!r}")


def _check_oracle(oracle: Path) -> None:
    """``--oracle``: the generator's truth.json (or its folder), with ``truth/*_mentions.parquet`` beside it."""
    from ..generate.corpus import TruthError, require_truth

    try:
        require_truth(oracle)
    except TruthError as e:
        raise typer.BadParameter(str(e), param_hint="--oracle") from None


def _check_out(out: Path) -> None:
    """``--out`` can be written, checked before anything is computed or disclosed (audited).

    Permission bits do not say it (root passes every ``os.access`` check; a read-only or virtual file
    system such as /proc refuses anyway): a folder is made and removed where ``--out`` is, or would be
    created, and nothing is left behind."""
    import os
    import tempfile

    if out.exists() and not out.is_dir():
        raise typer.BadParameter(f"{out} exists and is not a folder", param_hint="--out")
    p = out.absolute()
    while not p.exists():
        p = p.parent
    if not p.is_dir() or not os.access(p, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"cannot create {out}: {p} is not a writable folder", param_hint="--out")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".courtarchive-", dir=p))
    except OSError as e:
        raise typer.BadParameter(f"cannot write to {out}: {p} refuses a new folder ({e.strerror or e})",
                                 param_hint="--out") from None
    for name in OUTPUTS:
        if (out / name).is_dir():
            raise typer.BadParameter(f"{out / name} is a folder: cannot write {name} there", param_hint="--out")


def _check_scope(scope: str) -> None:
    """``--scope`` names a scope of `definitions` (checked before the archive is read)."""
    from . import definitions as D
    from .inputs import offences_frame

    groups = sorted(set(offences_frame()["offence_group"].to_list()))
    if scope not in (D.SCOPE_ALL, D.SCOPE_CSA, *groups):
        raise typer.BadParameter(f"unknown scope {scope!r}: {D.SCOPE_CSA}, {D.SCOPE_ALL} or an offence group "
                                 f"({', '.join(groups)})", param_hint="--scope")


def _write_outputs(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``out`` all or nothing (`config.write_files`); a failure is --out's."""
    from ..config import write_files

    try:
        write_files(out, files)
    except OSError as e:
        raise typer.BadParameter(f"cannot write {out}: {e.strerror or e}", param_hint="--out") from None


def _pid_alive(pid: int) -> bool:
    """Whether a process of this id runs (one of another account's counts: it may not be signalled)."""
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):    # (PermissionError: it runs, as someone else; else: assume it runs)
        return True
    return True


def _shred_abandoned(cache_dir: Path) -> int:
    """Shred the unfinished cache entries of analyses that are gone: `inputs._cache_write` writes an
    entry as ``inputs-<engine>-<fingerprint>.<pid>.tmp`` and renames it when done, or shreds it on an
    error -- but a killed ``courtarchive analyse`` (SIGKILL, a power cut) left it, derived inputs with
    defendants' names and dates of birth, until a retention hook purged the cache.  Only an entry
    whose writer's process is gone (its pid runs no process) is shredded: another analysis writing now
    keeps its own, and so does an entry of a pid since reused (this process's own too: until that
    process ends).  Returns the entries shredded."""
    from ..governance.hooks import shred_tree

    n = 0
    for p in sorted(Path(cache_dir).glob("inputs-*.tmp")):      # (none when the cache has no folder yet)
        pid = p.name[:-len(".tmp")].rpartition(".")[2]
        if not (p.is_dir() and pid.isdigit()):
            continue            # (not a writer's entry: left alone)
        if not _pid_alive(int(pid)):
            shred_tree(p)
            n += 1
    return n


def _empty_warning(f: dict, data) -> str | None:
    """Why a run found no case, when it found none (the outputs are still written)."""
    if f.get("cases"):
        return None
    if not data.inputs.cases.height:
        return "warning: the archive holds no cases: ingest lists first (`courtarchive ingest`)"
    filt = {k: v for k, v in (f.get("filters") or {}).items() if v}
    if filt:
        fh = data.inputs.cases["first_hearing_date"].drop_nulls()
        span = f" (first hearings in the archive run from {fh.min()} to {fh.max()})" if fh.len() else ""
        given = ", ".join(f"--{k} {v}" for k, v in filt.items())
        return f"warning: no case in scope {f['scope']} matches {given}{span}: the findings are all zero"
    return f"warning: no case in the archive is in scope {f['scope']}: the findings are all zero"


def headline(f: dict) -> str:
    """The findings in one sentence, in the shape of the inquiry's ("25,118 cases; ...")."""
    def n(v):
        return f"{v:,}" if isinstance(v, int) else str(v)
    scope = {"child-sexual-abuse": "victims of child abuse", "all": "complainants"}.get(f["scope"],
                                                                                     f"complainants ({f['scope']})")
    total = (f.get("data") or {}).get("cases_in_archive")
    filtered = any((f.get("filters") or {}).values())
    if f["scope"] == "all" and not filtered:
        first = f"{n(f['cases'])} cases"
    else:
        first = f"{n(f['cases'])} cases in scope {f['scope']}" + (f" (of {n(total)} in the archive)" if total else "")
    parts = [first,
             f"{n(f['victims_linked_to_2plus_defendants'])} {scope} linked to two or more defendants",
             f"in {n(f['cases_with_network_3plus'])} cases defendants were linked to three or more defendants, "
             f"{n(f['cases_with_network_5plus'])} to five or more"]
    locs = f.get("multi_defendant_cases_by_location") or []
    if locs:
        parts.append(f"{locs[0]['town']} the most frequent location of cases with two or more defendants "
                     f"({n(locs[0]['multi_defendant_cases'])})")
    return "; ".join(parts)


@app.command()
def analyse(
    out: Path = typer.Option(..., "--out", help="folder to write findings.json and report.html into"),
    scope: str = typer.Option("child-sexual-abuse", help="child-sexual-abuse | all | an offence group (data/offences.csv)"),
    date_from: Optional[str] = typer.Option(None, "--from", help="first hearing on or after (YYYY-MM-DD)"),
    date_to: Optional[str] = typer.Option(None, "--to", help="first hearing on or before (YYYY-MM-DD)"),
    area: Optional[str] = typer.Option(None, help="police force area or town the cases are located in"),
    location_by: str = typer.Option("chain", "--location-by", help="chain | offence | residence | court"),
    oracle: Optional[Path] = typer.Option(None, help="generator truth.json: person/victim ids from the truth (testing)"),
    engine: str = typer.Option("duckdb", help="duckdb | spark"),
    spark_master: Optional[str] = typer.Option(None, "--spark-master",
                                               help="Spark master URL for --engine spark (default "
                                                    "$COURTARCHIVE_SPARK_MASTER or local[2])"),
    as_json: bool = typer.Option(False, "--json", help="print findings.json to stdout"),
    db: Optional[str] = typer.Option(None, "--db", help="database URL (default: $COURTARCHIVE_DB)"),
    min_cell: int = typer.Option(5, "--min-cell", min=0, help="complainant counts below this are shown as '<N' (the "
                                 "licence profile's small_cell_threshold is enforced by the gate in any case)"),
    top: int = typer.Option(20, min=0, help="locations listed"),
    cache: bool = typer.Option(True, help="reuse derived inputs while the archive is unchanged"),
    report: bool = typer.Option(True, help="write report.html"),
    km: str = typer.Option("auto", "--km", help="Kaplan-Meier: auto (numpy, = lifelines) | numpy | lifelines"),
    as_user: Optional[str] = typer.Option(None, "--as", help="the account the outputs are for (default: "
                                          "$COURTARCHIVE_USER, else the OS user; unknown: public)"),
    purpose: Optional[str] = purpose_option("why (default by role)"),
) -> None:
    """Find the patterns: linked victims, networks, locations, delays, repeat and cross-boundary offending."""
    import orjson

    from ..clikit import open_archive
    from ..config import settings
    from ..governance.hooks import analysis_cache_dir
    from . import definitions as D
    from .inputs import OracleMismatch, from_archive
    from ..serve.export import default_purpose, operator
    from .run import check_area, compute, disclose_findings

    t0 = time.perf_counter()
    if location_by not in D.LOCATION_BY:
        raise typer.BadParameter(f"--location-by: one of {', '.join(D.LOCATION_BY)}")
    if engine not in ("duckdb", "spark"):
        raise typer.BadParameter("--engine: duckdb or spark")
    if spark_master:
        if engine != "spark":
            raise typer.BadParameter("--spark-master needs --engine spark")
        import os

        os.environ["COURTARCHIVE_SPARK_MASTER"] = spark_master
    _check_scope(scope)
    if oracle is not None:
        _check_oracle(oracle)
    d_from, d_to = _date(date_from, "--from"), _date(date_to, "--to")
    _check_out(out)
    s = settings()
    archive = open_archive(db)
    # (with --no-cache too: a killed run's unfinished entry holds names and dates of birth)
    _shred_abandoned(analysis_cache_dir(s.home))
    cache_dir = analysis_cache_dir(s.home) if cache else None
    try:
        data = from_archive(archive, oracle=oracle, engine=engine, cache_dir=cache_dir)
    except OracleMismatch as e:
        raise typer.BadParameter(str(e), param_hint="--oracle")
    try:
        if area is not None:
            check_area(data.inputs, area)
        f = compute(data, scope=scope, location_by=location_by, date_from=d_from,
                    date_to=d_to, area=area, top=top, min_cell=min_cell, km_method=km)
    except ValueError as e:
        raise typer.BadParameter(str(e))
    empty = _empty_warning(f, data)
    if empty:
        typer.echo(empty, err=True)
    if (data.linkage or {}).get("source") == "names" and data.inputs.cases.height:
        typer.echo("warning: no link run in this archive: person ids are exact name + date-of-birth keys, which "
                   "split one defendant listed under name variants and so overstate every count built on "
                   "defendants; run `courtarchive link run` first", err=True)
    # every output below (findings.json, report.html, the headline) is the gated view: one audit event
    viewer = operator(archive, as_user)
    f = disclose_findings(f, viewer, archive=archive, purpose=purpose or default_purpose(viewer))
    f["generated_at"] = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    files: dict[str, bytes] = {}
    if report:
        from .report import render

        t1 = time.perf_counter()
        files["report.html"] = render(f).encode("utf-8")
        f["timings"]["report_s"] = round(time.perf_counter() - t1, 3)
    f["timings"]["total_s"] = round(time.perf_counter() - t0, 3)
    blob = orjson.dumps(f, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)
    _write_outputs(out, {"findings.json": blob, **files})
    stale = out / "report.html"
    if not report and stale.is_file():
        # (an earlier run's report beside these findings would be read as theirs)
        stale.unlink()
        typer.echo(f"removed {stale}: it was an earlier run's (--no-report)", err=True)
    if as_json:
        sys.stdout.write(blob.decode() + "\n")
        return
    typer.echo(headline(f))
    typer.echo(f"wrote {out / 'findings.json'}" + (f" and {out / 'report.html'}" if report else "")
               + f" in {f['timings']['total_s']:.1f} s")
