"""The `courtarchive` command line. Each command mirrors a Python API function."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.markup import escape
from rich.table import Table

from ..clikit import REFUSED, open_archive, print_json, purpose_note, purpose_option, usage_error
from ..config import settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="courtarchive: archive, link and analyse England & Wales court lists, lawfully.")
console = Console(stderr=True)
out = Console()


DbOpt = typer.Option(None, "--db", help="database URL (default: $COURTARCHIVE_DB or a SQLite file in $COURTARCHIVE_HOME)")


@app.command()
def init(db: Optional[str] = DbOpt,
         reset: bool = typer.Option(False, help="drop every table first (destroys the archive)")) -> None:
    """Create (or upgrade) the archive and the pseudonym key."""
    from ..governance.pseudonym import Keyring
    from ..store import StoreError

    s = settings()
    a = open_archive(db, initialised=False)
    if reset:
        a.drop_all()
    try:
        info = a.init()
    except StoreError as e:             # (a bulk load running with the indexes off)
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    # never wrapped at the console's width (a pipe is 80 columns to Rich): the paths must copy whole
    if not s.key_hex and not s.key_file.exists():
        Keyring.create(s.key_file)
        console.print(f"created pseudonym key {escape(str(s.key_file))} (mode 0600) - keep it secret, back it up",
                      soft_wrap=True)
    console.print(f"archive ready at {escape(a.engine.url.render_as_string())} (schema {info['revision']}, "
                  f"{info['courts_loaded']} reference courts loaded)", soft_wrap=True)


@app.command()
def ingest(paths: List[Path] = typer.Argument(..., help="files or folders (recursive)"),
           db: Optional[str] = DbOpt,
           list_type: Optional[str] = typer.Option(None, "--list-type", help="override the detected CaTH list type"),
           sensitivity: Optional[str] = typer.Option(None, help="x-sensitivity: PUBLIC | PRIVATE | CLASSIFIED"),
           content_date: Optional[str] = typer.Option(None, help="x-content-date YYYY-MM-DD"),
           court_id: Optional[str] = typer.Option(None, help="x-court-id: FaCT court id or slug of a court in the "
                                                              "reference table, or the Crown Court or magistrates' "
                                                              "court code of one court (another is refused); 0: no court"),
           language: Optional[str] = typer.Option(None, help="x-language"),
           provenance: Optional[str] = typer.Option(None, help="x-provenance"),
           display_from: Optional[str] = typer.Option(None, help="x-display-from (ISO date-time)"),
           display_to: Optional[str] = typer.Option(None, help="x-display-to (ISO date-time)"),
           workers: int = typer.Option(min(2, os.cpu_count() or 1), help="parser processes"),
           bulk: bool = typer.Option(False, "--bulk", help="a first load or a backfill far larger than the archive: "
                                     "secondary indexes (PostgreSQL: and foreign keys) are built (checked) once at "
                                     "the end, not row by row; readers are slow meanwhile"),
           as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Ingest CaTH JSON lists, CSV registers and PDF/Excel lists. Exit code 1 when any file was rejected
    or a step after the ingest failed (the search index refresh, alerts: said, with the command to run it again)."""
    from ..governance.pseudonym import Keyring
    from ..ingest.errors import Rejected
    from ..ingest.pipeline import InputFiles, check_options, ingest as run
    from ..store import StoreError

    headers = {k: v for k, v in {"x-list-type": list_type, "x-sensitivity": sensitivity,
                                 "x-content-date": content_date, "x-court-id": court_id,
                                 "x-language": language, "x-provenance": provenance,
                                 "x-display-from": display_from, "x-display-to": display_to}.items() if v}
    with InputFiles(paths) as files:    # the one walk of the folders (an unnamed temporary file holds its list)
        try:                # a bad option is a usage error, before anything is read (a sidecar's is the file's rejection)
            check_options(headers, files.formats)
        except Rejected as e:
            usage_error(e.reason)
        s = settings()
        a = open_archive(db)
        keyring = Keyring.from_settings(s)
        with Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                      console=console, disable=as_json or not console.is_terminal) as progress:
            task = progress.add_task("ingesting", total=len(files))
            try:
                report = run(a, files, keyring=keyring, headers=headers, list_type=list_type, workers=workers,
                             max_bytes=s.max_file_bytes, on_file=lambda o: progress.advance(task), bulk=bulk)
            except StoreError as e:   # another bulk load running; an index or key that could not be put back
                progress.stop()
                typer.echo(f"error: {e}", err=True)
                raise typer.Exit(1) from None
    from .postingest import failures, run as after_ingest

    after = after_ingest(a, report) if report.accepted else {}
    failed = failures(after)        # a step that failed: the lists stay archived, the step is said (exit 1)
    d = report.as_dict()
    if as_json:
        print_json({**{k: d[k] for k in ("files", "accepted", "duplicates", "rejected", "hearings", "bulk") if k in d},
                    "after_ingest": after, "after_ingest_failed": list(failed)})
    else:
        # one line each, never wrapped at the console's width (a log or a pipe is 80 columns to Rich):
        # a file name or JSON path broken across lines cannot be searched for or copied
        console.print(f"{d['files']} files: {d['accepted']} accepted, {d['duplicates']} already archived, "
                      f"{len(d['rejected'])} rejected; {d['hearings']} hearing entries", soft_wrap=True)
        for r in d["rejected"]:
            where = f" at {r['json_path']}" if r["json_path"] else ""
            console.print(f"[red]rejected[/red] {escape(str(r['file']))}{escape(where)}: {escape(str(r['reason']))}",
                          soft_wrap=True)
        if b := d.get("bulk"):
            if "restored_interrupted" in b:
                r = b["restored_interrupted"]
                console.print(f"put back what an interrupted bulk load took off: {r['indexes']} indexes, "
                              f"{r['foreign_keys']} foreign keys", soft_wrap=True)
            else:
                console.print(f"bulk load: {b['indexes']} indexes and {b['foreign_keys']} foreign keys taken off "
                              f"while writing, put back in {b['restore_seconds']:.1f} s", soft_wrap=True)
    for line in failed.values():
        typer.echo(line, err=True)      # (not Rich: one line, unwrapped)
    raise typer.Exit(1 if d["rejected"] or failed else 0)


@app.command()
def stats(db: Optional[str] = DbOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Counts of publications, courts, cases, hearings, parties and offences (and, on stderr, a
    warning when a bulk load has the archive's indexes off)."""
    from ..store.bulk import pending

    a = open_archive(db)
    st = a.stats()
    if off := pending(a):
        n_fk = sum(o["kind"] == "foreign_key" for o in off)
        typer.echo(f"warning: {len(off) - n_fk} indexes and {n_fk} foreign keys are off: a bulk load (`ingest --bulk`) "
                   "is running, or was interrupted -- then `courtarchive init` puts them back", err=True)
    if as_json:
        print_json(st)
        return
    t = Table("what", "count", title="courtarchive")
    for k, v in st.items():
        t.add_row(k.replace("_", " "), f"{v:,}")
    out.print(t)


AsOpt = typer.Option(None, "--as", help="the account to act as (default: $COURTARCHIVE_USER, else the OS user; "
                                         "an unknown account is the public role)")
PurposeOpt = purpose_option()


@app.command()
def case(ref: str = typer.Argument(..., help="URN or case number (or the case id `search --case` shows)"), db: Optional[str] = DbOpt,
         as_json: bool = typer.Option(False, "--json"), as_user: Optional[str] = AsOpt,
         purpose: Optional[str] = PurposeOpt) -> None:
    """A case's timeline across hearings and courts, as the account may see it (audited)."""
    from ..governance import disclose
    from ..store import outputs
    from .export import default_purpose, operator

    a = open_archive(db)
    viewer = operator(a, as_user)
    if note := purpose_note(viewer, purpose):
        console.print(f"[yellow]{escape(note)}[/yellow]")
    purpose = purpose or default_purpose(viewer)
    # (read as the case page reads its route: URN, case number, else the case id `search --case`
    # prints; a case number several cases share is asked about, not answered with one of them)
    from . import views as V

    try:
        cid = V.the_case(V.Portal(a, home=Path(settings().home)), viewer, ref, output="view")
    except V.Ambiguous as e:
        console.print(f"[red]error[/red]: {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2)
    rec = outputs.case_record(a, cid) if cid is not None else None
    if rec is None:
        console.print(f"no case {escape(repr(ref))} in the archive")
        raise typer.Exit(1)
    keyring = None
    if viewer.effective_role() == "analyst":    # analysts get keyed pseudonyms instead of names
        from ..governance.pseudonym import Keyring, KeyringError

        try:
            keyring = Keyring.from_settings(settings())
        except KeyringError:
            keyring = None                       # without the key the names are simply dropped
    d = disclose([rec], viewer, purpose=purpose, context={"archive": a, "output": "view", "keyring": keyring})
    restrictions = [f for f in d.flags if f["flag"] == "restriction"]
    others = [f for f in d.flags if f["flag"] != "restriction"]
    if as_json:
        print_json({"case": d.records[0] if d.records else None, "viewer": {"username": viewer.username, "role": d.role},
               "purpose": purpose, "flags": d.flags, "withheld": d.withheld})
        raise typer.Exit(0 if d.records else 1)
    for f in restrictions:
        console.print(f"[bold red]reporting restriction[/bold red] {escape(str(f['summary']))}")   # the law and how long
    for f in others:
        console.print(f"[yellow]{escape(str(f['flag']))}[/yellow] "
                      + escape(", ".join(f"{k}: {v}" for k, v in f.items() if k != "flag")))
    if not d.records:
        console.print(f"case {escape(repr(ref))} is withheld from {escape(viewer.username)} ({d.role}): "
                      + ", ".join(f"{k} x{v}" for k, v in d.withheld.items()))
        raise typer.Exit(1)
    c = d.records[0]
    t = Table("date", "time", "court", "room", "hearing", "list", "parties",
              title=escape(f"case {c.get('urn') or c.get('case_number') or c.get('id')} (as {viewer.username}, {d.role})"))
    for h in c.get("hearings") or []:
        parties = []
        for p in h.get("parties") or []:
            offs = ", ".join(o.get("title") or o.get("code") or "" for o in p.get("offences") or [])
            who = p.get("name") or ("[withheld]" if "name" in p.get("_redacted", []) else "")
            parties.append(f"{(p.get('role') or '').lower()}: {who}" + (f" ({offs})" if offs else ""))
        flag = " (superseded)" if h.get("superseded_by_id") else ""
        # cells are data, not Rich markup: '[withheld]' (or a bracket in a listed name) must show as is
        t.add_row(*(escape(str(v)) for v in (
            h.get("sitting_date") or "", h.get("sitting_time") or "", h.get("court") or "",
            h.get("room") or "", h.get("hearing_type") or "", (h.get("list_type") or "") + flag,
            "; ".join(parties))))
    out.print(t)
    if d.withheld:
        console.print("withheld: " + ", ".join(f"{k} x{v}" for k, v in d.withheld.items()))


@app.command()
def export(what: str = typer.Option("hearing", help="table: hearing, party, offence, case, publication, court"),
           fmt: str = typer.Option("parquet", "--format", help="csv | parquet"),
           out_path: Path = typer.Option(..., "--out", help="file to write"),
           db: Optional[str] = DbOpt, as_user: Optional[str] = AsOpt, purpose: Optional[str] = PurposeOpt,
           all_versions: bool = typer.Option(False, "--all-versions", help="hearings, parties and offences of "
                                             "superseded lists too (default: the current version of each list, "
                                             "as `stats` counts them); a row's publication_id tells them apart")) -> None:
    """Export a table as CSV or Parquet through the governance gate: only to accounts that may
    receive exports; disclosed for the account's role, watermarked, audited, purged on expiry."""
    from ..governance.distribution import DistributionError
    from ..serve.export import ExportError, export_table, operator

    a = open_archive(db)
    viewer = operator(a, as_user)
    if out_path.is_dir():         # checked first: a failed write would leave an export recorded but not given
        console.print(f"[red]error[/red]: {escape(str(out_path))} is a folder: give a file name")
        raise typer.Exit(2)             # bad input, nothing done
    try:
        if note := purpose_note(viewer, purpose):
            console.print(f"[yellow]{escape(note)}[/yellow]")
        res = export_table(a, what, fmt, out_path, viewer=viewer, purpose=purpose, all_versions=all_versions)
    except (ExportError, DistributionError) as e:     # (before OSError: a DistributionError is a PermissionError)
        if not isinstance(e, DistributionError):     # a table or format we do not export: bad input
            console.print(f"[red]error[/red]: {escape(str(e))}", soft_wrap=True)
            raise typer.Exit(2)
        from ..governance import audit

        audit.refusal(a, viewer, reason=str(e), command="export")
        console.print(f"[red]export refused[/red]: {escape(str(e))}")
        raise typer.Exit(REFUSED)
    except OSError as e:
        console.print(f"[red]export failed[/red]: cannot write {escape(str(out_path))}: "
                      f"{escape(e.strerror or type(e).__name__)}")
        raise typer.Exit(1)
    console.print(escape(f"wrote {res['rows']:,} rows to {out_path} for {viewer.username} (export #{res['id']}, "
                         f"{res['watermark']})"))
    if res.get("withheld"):
        console.print(escape("withheld by the disclosure gate: " + ", ".join(
            f"{n:,} ({reason})" for reason, n in sorted(res["withheld"].items()))))
    for f in res["flags"]:
        if f["flag"] != "restriction":
            console.print(f"[yellow]{f['flag']}[/yellow] {f.get('law') or f.get('detail') or ''}")


#: commands contributed by other stages: (module, how to mount it)
#:   "commands": the module's `app` holds top-level commands (e.g. `courtarchive generate`)
#:   "group":    the module's `app` is mounted as a sub-command group (e.g. `courtarchive link ...`)
STAGE_CLIS = (
    ("courtarchive.generate.cli", "commands", None),
    ("courtarchive.link.cli", "group", "link"),
    ("courtarchive.link.screen_cli", "commands", None),
    ("courtarchive.analyse.cli", "commands", None),
    ("courtarchive.governance.cli", "commands", None),
    # after governance: its `account` adds the `password` action to governance's `account`
    ("courtarchive.serve.web_cli", "commands", None),
    ("courtarchive.ingest.intake_cli", "group", "intake"),
    ("courtarchive.serve.search_cli", "commands", None),
    ("courtarchive.serve.alerts_cli", "group", "alerts"),
    ("courtarchive.serve.beat_cli", "group", "beat"),
    ("courtarchive.serve.digest_cli", "group", "digest"),
)


def _register_stages() -> None:
    import importlib

    for module, how, name in STAGE_CLIS:
        try:
            sub = importlib.import_module(module).app
        except ModuleNotFoundError as e:
            if e.name == module:  # that stage has no CLI (yet)
                continue
            raise
        if how == "group":
            app.add_typer(sub, name=name)
        else:
            app.registered_commands.extend(sub.registered_commands)


_register_stages()


def main() -> None:
    from ..config import ConfigError
    from ..governance.pseudonym import KeyringError

    try:
        app()
    # a malformed setting, whichever command read it -- the pseudonym key (COURTARCHIVE_KEY, the
    # key file) among them: one line, not a traceback
    except (ConfigError, KeyringError) as e:
        typer.echo(f"bad configuration: {e}", err=True)     # (not Rich: it wraps at 80 columns off a terminal)
        sys.exit(2)
    # PostgreSQL refused the URL's role (SQLSTATE 42501, insufficient_privilege: `init` without
    # CREATE on the schema, say; `store.engine.probe` refuses a role not owning the archive's tables
    # up front): a setting, said in one line -- it was a 360-line driver traceback (the transaction
    # it broke is rolled back)
    except Exception as e:
        if getattr(getattr(e, "orig", None), "sqlstate", None) != "42501":
            raise
        typer.echo(f"bad configuration: the database refused the role of COURTARCHIVE_DB / --db: "
                   f"{e.orig.diag.message_primary} -- courtarchive runs as the role that owns the archive: `init` "
                   "needs CREATE on the schema and, the first time in a database, on the database (pg_trgm): "
                   "GRANT CREATE ON SCHEMA ... / ON DATABASE ... TO role, or the owner's role", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
