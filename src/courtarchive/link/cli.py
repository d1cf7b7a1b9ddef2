"""`courtarchive link ...`: run the linkage, explain a pair, review uncertain pairs, evaluate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..clikit import open_archive as _archive, print_json as _json, purpose_option

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Link people (defendants, complainants), cases and networks across lists.")
console = Console(stderr=True)
out = Console()

DbOpt = typer.Option(None, "--db", help="database URL (default: $COURTARCHIVE_DB or the home folder's SQLite file)")


def _interrupted(e: BaseException) -> bool:
    """Ctrl-C, also when a query engine turned it into its own error (DuckDB's "Query interrupted",
    which Splink wraps)."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt) or type(e).__name__ == "InterruptException" \
                or "Query interrupted" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


@app.command("run")
def run_cmd(db: Optional[str] = DbOpt,
            full: bool = typer.Option(False, "--full", help="retrain and re-link everything (ids stay stable)"),
            engine: str = typer.Option("duckdb", help="duckdb | spark"),
            spark_master: Optional[str] = typer.Option(None, "--spark-master",
                                                       help="Spark master URL (default $COURTARCHIVE_SPARK_MASTER or local[2])"),
            threshold: Optional[float] = typer.Option(None, help="match probability to link at (default: model's)"),
            complainant_rule: str = typer.Option(
                "episode", "--complainant-rule",
                help="when one complainant name in two cases is one person: episode (list evidence: a "
                     "shared defendant, place, ages, a rare name) | name (the name alone; for comparison)"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Link newly ingested mentions into existing persons (or everything, with --full). Exit code 1 when a
    step after the run failed (the search index refresh: said, with the command to run it again; the links
    stay written)."""
    from . import model as M
    from .run import run
    from .victims import CROSS_CASE_RULES

    if complainant_rule not in CROSS_CASE_RULES:
        raise typer.BadParameter(f"{complainant_rule!r}: choose {' | '.join(CROSS_CASE_RULES)}",
                                 param_hint="--complainant-rule")
    if spark_master:
        os.environ["COURTARCHIVE_SPARK_MASTER"] = spark_master
    if engine not in ("duckdb", "spark"):
        raise typer.BadParameter(f"{engine!r}: choose duckdb | spark", param_hint="--engine")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise typer.BadParameter(f"{threshold}: a match probability between 0 and 1", param_hint="--threshold")
    a = _archive(db)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ..store import linkage as store

    before = store.latest_run(a)
    try:
        with Progress(SpinnerColumn(), TextColumn("link run: {task.description}"), TimeElapsedColumn(),
                      console=console, transient=True, disable=as_json or not console.is_terminal) as progress:
            task = progress.add_task("starting", total=None)
            st = run(a, full=full, engine=engine,
                     threshold=threshold if threshold is not None else M.MATCH_THRESHOLD,
                     complainant_rule=complainant_rule,
                     progress=lambda text: progress.update(task, description=text))
    except store.LinkRunBusy as e:
        console.print(f"[red]link run refused[/red]: {e}; nothing was done", soft_wrap=True, markup=True,
                      highlight=False)
        raise typer.Exit(1)
    except (Exception, KeyboardInterrupt) as e:
        # the run wrote nothing (`link.run.run`: all or nothing); say so on one line
        kept = (f"the link state of run {before['id']} ({before['finished_at']:%Y-%m-%d %H:%M}) is unchanged"
                if before else "no link state was written")
        from rich.markup import escape

        interrupted = _interrupted(e)
        why = "interrupted" if interrupted else escape(f"{type(e).__name__}: {e}".splitlines()[0])
        console.print(f"[red]link run failed[/red] ({why}); {kept}", soft_wrap=True, markup=True,
                      highlight=False)
        raise typer.Exit(130 if interrupted else 1)
    from ..serve.postingest import AFTER_LINK, failures
    from ..serve.postingest import run as after

    st["after_link"] = after(a, steps=AFTER_LINK)     # the search index takes the new person ids
    # a step that failed: the links stay committed, the step is said on one line (exit 1), as `ingest` does
    failed = failures(st["after_link"], stage="link")
    if as_json:
        _json({**st, "after_link_failed": list(failed)})
    else:
        _summary(st)
    for line in failed.values():
        typer.echo(line, err=True)      # (not Rich: one line, unwrapped)
    if failed:
        raise typer.Exit(1)


def _summary(st: dict) -> None:
    """The run's summary lines (on stderr, beside its progress)."""
    d, c, n = st["defendants"], st["complainants"], st["networks"]
    console.print(f"run {st['run_id']} ({d['mode']}, {st['seconds']} s): {d['mentions']:,} defendant mentions -> "
                  f"{d['persons']:,} persons ({d['created']:,} new, {d['retired']:,} retired); "
                  f"{d['review_queue_added']:,} pairs queued for review"
                  + (f" (the most uncertain of {d['review_pairs_in_band']:,})"
                     if d.get("review_pairs_in_band", 0) > d["review_queue_added"] else ""))
    line = (f"complainants: {c['mentions']:,} mentions, {c['linkable']:,} linkable -> {c.get('persons', 0):,} "
            f"persons; {c['unlinkable']:,} not linkable (described only)")
    links = c.get("cross_case_links")
    if links is not None:
        basis = "on the name alone" if c.get("cross_case_rule") == "name" else "on list evidence"
        line += f"; {links:,} link{'' if links == 1 else 's'} across cases {basis}"
        if c.get("cross_court_links"):
            line += f", {c['cross_court_links']:,} of them across courts"
    if c.get("kept_from_previous_run"):
        n_kept = c["kept_from_previous_run"]
        line += (f"; {n_kept:,} mention{'' if n_kept == 1 else 's'} kept in the person the previous run gave "
                 f"{'it' if n_kept == 1 else 'them'} (linked while the evidence, since expired, was in clear)")
    if c.get("nothing_kept"):
        line += f"; no previous link kept: {c['nothing_kept']}"
    console.print(line)
    console.print(f"networks: {n['components']:,} components, {n['communities']:,} communities, "
                  f"largest {n['largest']:,} defendants")
    for step, res in st["after_link"].items():
        if "skipped" in res and "error" not in res:     # (a failed step: its one line, after these)
            console.print(f"[yellow]{step}[/yellow]: {res['skipped']}")
        elif "person_ids_updated" in res:
            console.print(f"search index: {res['person_ids_updated']:,} person ids updated")


@app.command()
def explain(a: int = typer.Argument(..., help="party id"), b: int = typer.Argument(..., help="party id"),
            db: Optional[str] = DbOpt, engine: str = typer.Option("duckdb"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Each comparison's level and match weight for two defendant mentions."""
    from .run import explain as ex

    res = ex(_archive(db), a, b, engine=engine)
    if as_json:
        _json(res)
        return
    t = Table("comparison", "level", "match weight", title=f"party {a} vs party {b}")
    for c in res["comparisons"]:
        if c["comparison"] == "TOTAL":
            t.add_row("TOTAL", f"probability {c['match_probability']:.4f}", f"{c['match_weight']:+.2f}")
        else:
            tf = f" (tf {c['tf_adjustment_weight']:+.2f})" if c.get("tf_adjustment_weight") else ""
            t.add_row(c["comparison"], str(c["level"]), f"{c['match_weight']:+.2f}{tf}")
    out.print(t)


@app.command()
def review(db: Optional[str] = DbOpt, limit: int = typer.Option(50, help="pairs to list (0: all)"),
           as_json: bool = typer.Option(False, "--json"),
           as_user: Optional[str] = typer.Option(None, "--as", help="the account to act as (default: "
                                                 "$COURTARCHIVE_USER, else the OS user; an unknown account is "
                                                 "the public role)"),
           purpose: Optional[str] = purpose_option("why (default by role)")) -> None:
    """Pairs whose match probability fell in the review band, most uncertain first, each with its
    two mentions as the account may see them: through the disclosure gate and audited, like every
    output -- deciding needs names and dates of birth, which an admin (administration) or verified
    media account sees; others see what their role may."""
    from ..governance import disclose
    from ..serve.export import default_purpose, operator
    from ..store import linkage as store

    a = _archive(db)
    viewer = operator(a, as_user)
    purpose = purpose or default_purpose(viewer)
    rows = store.review_queue(a, limit or None)
    ids = sorted({r["party_a"] for r in rows} | {r["party_b"] for r in rows})
    details = store.party_details(a, ids)
    d = disclose([{"_entity": "party", **details[p]} for p in ids if p in details], viewer, purpose=purpose,
                 context={"archive": a, "output": "view"})
    shown = {r.get("id"): r for r in d.records}
    fields = ("forenames", "middle_names", "surname", "date_of_birth", "age", "town", "postcode", "case_id",
              "sitting_date")

    def who(p: int) -> dict:
        r = shown.get(p)
        if r is None:
            return {"withheld": True}
        return {k: r.get(k) for k in fields} | ({"redacted": r["_redacted"]} if r.get("_redacted") else {})

    if as_json:
        _json({"viewer": {"username": viewer.username, "role": d.role}, "purpose": purpose,
               "pairs": [dict(r, a=who(r["party_a"]), b=who(r["party_b"])) for r in rows],
               "withheld": d.withheld})
        return
    t = Table("A", "B", "p", "A: name / dob / town", "B: name / dob / town",
              title=f"review queue (as {viewer.username}, {d.role})")

    def show(f: dict) -> str:
        if f.get("withheld"):
            return "\\[withheld]"           # (escaped: rich reads [...] as markup)
        name = " ".join(x for x in (f["forenames"], f["middle_names"], f["surname"]) if x) or "\\[withheld]"
        born = f["date_of_birth"] or ("age " + str(f["age"]) if f["age"] is not None else "-")
        return f"{name} / {born} / {f['town'] or '-'}"

    for r in rows:
        t.add_row(str(r["party_a"]), str(r["party_b"]), f"{r['match_probability']:.3f}",
                  show(who(r["party_a"])), show(who(r["party_b"])))
    out.print(t)
    console.print("decide with: courtarchive link decide A B same|different --as USER")


@app.command()
def decide(a: int = typer.Argument(...), b: int = typer.Argument(...),
           decision: str = typer.Argument(..., help="same | different"),
           as_user: Optional[str] = typer.Option(None, "--as", help="the reviewing account (default: "
                                                 "$COURTARCHIVE_USER, else the OS user)"),
           reviewer: Optional[str] = typer.Option(None, "--reviewer", hidden=True,
                                                  help="the same as --as (older spelling)"),
           note: Optional[str] = typer.Option(None, "--note"),
           db: Optional[str] = DbOpt) -> None:
    """Record a reviewer's decision on two defendant mentions; every later run respects it.

    The reviewer is an account, as for `link review` (``--as``, default $COURTARCHIVE_USER, else the
    OS user; ``--reviewer`` is the older spelling); the audit event carries that account's own role."""
    from ..governance import audit
    from ..governance.policy import sees_identity
    from ..serve.export import default_purpose, operator
    from ..store import linkage as store

    if as_user and reviewer and as_user != reviewer:
        raise typer.BadParameter("give the reviewer once: --as (or its older spelling --reviewer)")
    arc = _archive(db)
    viewer = operator(arc, as_user or reviewer)
    role = viewer.effective_role()
    if not sees_identity(viewer):
        # a decision joins or parts two people in every later output, and is made by comparing who
        # they are: only an account that sees identities makes one (the public sees no names to compare)
        why = (f"a link decision needs an account that sees identities (admin, or verified media with a "
               f"valid verification): {viewer.username!r} acts as {role}")
        audit.refusal(arc, viewer, reason=why, command="link decide")
        console.print(f"[red]{why}[/red]")
        raise typer.Exit(2)
    if decision not in ("same", "different"):
        console.print(f"[red]{decision!r}: the decision is same or different[/red]")
        raise typer.Exit(2)
    from ..governance.rights import ERASED

    # an erased mention (`rights erase --mode delete`) was taken out of its person for good: no
    # decision may tie it to anyone again (nor is there a name left to decide on)
    # (its names are gone: the listed name reads ERASED, or nothing when the list printed none)
    def erased(r: dict) -> bool:
        return r.get("name_as_listed") == ERASED or not (
            r.get("is_masked") or any(r.get(k) for k in ("forenames", "surname", "organisation_name", "name_as_listed")))

    gone = sorted(p for p, r in store.party_details(arc, [a, b]).items() if erased(r))
    if gone:
        console.print(f"[red]party {' and '.join(map(str, gone))} {'was' if len(gone) == 1 else 'were'} erased "
                      f"(or listed without a name): such a mention is linked to no one; no decision stored[/red]")
        raise typer.Exit(2)
    try:
        did = store.add_review_decision(arc, a, b, decision, viewer.username, note)
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2)
    # a decision changes who is linked to whom in every later output: it goes into the audit chain
    # (the note stays in review_decision: free text may name people)
    audit.record(arc, actor=viewer.username, role=role, action="link_decision", purpose=default_purpose(viewer),
                 objects={"party": sorted((a, b))}, details={"decision": decision, "decision_id": did})
    console.print(f"decision {did} stored: {a} and {b} are {decision}; applied at the next `courtarchive link run`")


@app.command()
def evaluate(truth: Path = typer.Option(..., "--truth", help="the generator's truth.json or its folder"),
             db: Optional[str] = DbOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Pairwise precision/recall/F1 and B-cubed against the generator's truth."""
    from .evaluate import EvaluateError, evaluate as ev

    if not truth.exists():
        raise typer.BadParameter(f"{truth} does not exist", param_hint="--truth")
    try:
        res = ev(_archive(db), truth)
    except EvaluateError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    if as_json:
        _json(res)
        return
    t = Table("who", "mentions", "pairwise P", "pairwise R", "pairwise F1", "B3 P", "B3 R", "B3 F1")
    for k in ("defendants", "complainants"):
        m = res[k]
        if not m.get("pairwise"):
            t.add_row(k, "0", *["-"] * 6)
            continue
        p, b = m["pairwise"], m["bcubed"]
        t.add_row(k, f"{m['mentions']:,}", *(f"{x:.4f}" for x in (p["precision"], p["recall"], p["f1"],
                                                                    b["precision"], b["recall"], b["f1"])))
    out.print(t)
