"""Governance commands, mounted on `courtarchive` (serve.cli STAGE_CLIS, "commands" mode).

    courtarchive hold add --scope archive|court|case|person [--ref REF] --reason ... --authority ...
    courtarchive hold list [--all] | hold release ID [--reason ...]
    courtarchive expire [--dry-run] [--now DATE] [--batch-size N] [--profile FILE]
    courtarchive retention status [--now DATE]
    courtarchive audit verify [--anchor FILE] | audit anchor --out FILE | audit tail [-n N]
    courtarchive compliance report --out DIR [--now DATE]
    courtarchive rights find|open|decide|erase|rectify ...
    courtarchive restrictions sync|list|add|lift ...
    courtarchive account add|verify|list ... ; courtarchive domain approve|list ...

Each group is one command whose first argument is the action (so the stage mounts as plain
commands).  The operator at the console acts as ``admin``; ``--actor`` names the person (default
$USER) and every action is audited.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..clikit import DbOpt, JsonOpt, open_archive as _archive, print_json as _json, actor_name as _actor

app = typer.Typer(add_completion=False, no_args_is_help=True, help="governance: holds, expiry, audit, compliance, rights")
console = Console(stderr=True)
out = Console()

ActorOpt = typer.Option(None, "--actor", help="the person acting (default: $USER)")
NowOpt = typer.Option(None, "--now", help="act as if today were DATE (YYYY-MM-DD)")
ProfileOpt = typer.Option(None, "--profile", help="licence profile TOML (default: $COURTARCHIVE_PROFILE or built-in)")


def _keyring():
    from ..config import settings
    from .pseudonym import Keyring

    return Keyring.from_settings(settings())


def _home() -> Path:
    from ..config import settings

    return settings().home


def _profile(path):
    from .profile import load

    return load(path, home=_home())


def _date(s: str | None) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def _fail(msg: str) -> None:
    console.print(f"[red]{msg}[/red]")
    raise typer.Exit(2)


def _table(rows: list[dict], cols: list[str], title: str) -> None:
    t = Table(*cols, title=title)
    for r in rows:
        t.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in cols))
    out.print(t)


# --------------------------------------------------------------------------- holds
@app.command()
def hold(action: str = typer.Argument(..., help="add | list | release"),
         hold_id: Optional[int] = typer.Argument(None, help="hold id (release)"),
         scope: Optional[str] = typer.Option(None, help="archive | court | case | person"),
         ref: Optional[str] = typer.Option(None, help="court id/slug/name, case id/URN/number, person id or party:<id>"),
         reason: Optional[str] = typer.Option(None), authority: Optional[str] = typer.Option(None),
         all_: bool = typer.Option(False, "--all", help="list released holds too"),
         actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Legal holds ("pause deletion"): held data is skipped by expiry and erasure, and logged."""
    from . import holds

    a = _archive(db)
    try:
        if action == "add":
            if not scope:
                _fail("--scope is required")
            hid = holds.add(a, scope=scope, ref=ref, reason=reason or "", authority=authority or "", actor=_actor(actor))
            _json({"hold": hid}) if as_json else console.print(f"hold {hid} placed ({scope} {ref or ''})")
        elif action == "list":
            rows = holds.listing(a, active_only=not all_)
            _json(rows) if as_json else _table(rows, ["id", "scope", "ref", "reason", "authority", "created_by",
                                                      "created_at", "released_at"], "legal holds")
        elif action == "release":
            if hold_id is None:
                _fail("hold release needs the hold ID")
            ok = holds.release(a, hold_id, actor=_actor(actor), reason=reason)
            if not ok:
                _fail(f"no active hold {hold_id}")
            _json({"released": hold_id}) if as_json else console.print(f"hold {hold_id} released")
        else:
            _fail("action must be add, list or release")
    except holds.HoldError as e:
        _fail(str(e))


# --------------------------------------------------------------------------- expiry
@app.command()
def expire(dry_run: bool = typer.Option(False, "--dry-run", help="show what would go; change nothing"),
           now: Optional[str] = NowOpt, batch_size: Optional[int] = typer.Option(None, help="publications per batch"),
           profile: Optional[Path] = ProfileOpt, actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt,
           as_json: bool = JsonOpt) -> None:
    """Pseudonymise raw identities older than the licence term (resumable, idempotent, batched)."""
    from . import retention

    a = _archive(db)
    rep = retention.expire(a, keyring=_keyring(), profile=_profile(profile), as_of=_date(now), dry_run=dry_run,
                           actor=_actor(actor), batch_size=batch_size, home=_home())
    if as_json:
        _json(rep)
        return
    verb = "would pseudonymise" if dry_run else "pseudonymised"
    console.print(f"{'DRY RUN: ' if dry_run else ''}{rep['publications']} publication(s) due before "
                  f"{rep['cutoffs']}; {verb} {rep['parties_pseudonymised']} part(y/ies); "
                  f"{rep['publications_expired']} publication(s) fully expired; held rows: {sum(rep['held'].values())}")
    _table([{"field": k, "values": v} for k, v in sorted(rep["fields"].items())], ["field", "values"],
           "fields " + ("that would change" if dry_run else "changed"))
    if rep["held"]:
        _table([{"hold": k, "rows skipped": v} for k, v in rep["held"].items()], ["hold", "rows skipped"], "held")


@app.command()
def retention(action: str = typer.Argument("status", help="status"), now: Optional[str] = NowOpt,
              profile: Optional[Path] = ProfileOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Retention status: the oldest raw record against the limit, active holds, last runs."""
    from . import retention as r

    st = r.status(_archive(db), profile=_profile(profile), as_of=_date(now))
    if as_json:
        _json(st)
        return
    o = st["oldest_raw"] or {}
    console.print(f"limit {st['limit_months']} months (cut-off {st['cutoff']}); oldest raw record "
                  f"{o.get('content_date')} ({'OVERDUE' if st['overdue'] else 'within limit'}); "
                  f"{len(st['holds'])} active hold(s); parties {st['parties']}")


# --------------------------------------------------------------------------- audit
@app.command("audit")
def audit_cmd(action: str = typer.Argument(..., help="verify | anchor | tail"),
              anchor: Optional[Path] = typer.Option(None, help="verify: a head anchor file written by `audit anchor`"),
              out_: Optional[Path] = typer.Option(None, "--out", help="anchor: file to write"),
              n: int = typer.Option(20, "-n", help="tail: events"), db: Optional[str] = DbOpt,
              as_json: bool = JsonOpt) -> None:
    """Verify the hash-chained audit log (exit 1 on any edit, gap or reorder), anchor its head, or show it."""
    from . import audit

    a = _archive(db)
    if action == "verify":
        res = audit.verify(a, anchor=audit.read_anchor(anchor) if anchor else None)
        if as_json:
            _json(res.as_dict())
        elif res.ok:
            console.print(f"[green]audit chain intact[/green]: {res.events} events, head {res.head}")
        else:
            console.print(f"[red]audit chain BROKEN[/red]: {len(res.problems)} problem(s)")
            for p in res.problems:
                console.print(f"  seq {p['seq']}: {p['problem']} - {p['detail']}")
        raise typer.Exit(0 if res.ok else 1)
    if action == "anchor":
        if out_ is None:
            _fail("audit anchor needs --out FILE")
        h = audit.write_anchor(a, out_)
        console.print(f"anchored head {h} in {out_} - keep it outside the archive")
    elif action == "tail":
        from ..store import governance as sg

        rows = list(reversed(sg.audit_events(a, limit=n)))
        _json(rows) if as_json else _table(rows, ["seq", "time", "actor", "role", "action", "purpose", "object"], "audit")
    else:
        _fail("action must be verify, anchor or tail")


# --------------------------------------------------------------------------- compliance
@app.command()
def compliance(action: str = typer.Argument("report", help="report"),
               out_: Path = typer.Option(Path("compliance"), "--out", help="folder for compliance.json/.html"),
               now: Optional[str] = NowOpt, profile: Optional[Path] = ProfileOpt, actor: Optional[str] = ActorOpt,
               db: Optional[str] = DbOpt) -> None:
    """Write the compliance report (HTML + JSON) from the store's figures."""
    from . import compliance as c

    if action != "report":
        _fail("action must be report")
    rep = c.write(_archive(db), out_, profile=_profile(profile), as_of=_date(now), actor=_actor(actor))
    console.print(f"compliance report written to {out_}/compliance.html and compliance.json "
                  f"(audit chain {'intact' if rep['audit']['ok'] else 'BROKEN'}; oldest raw "
                  f"{rep['retention_status']['oldest_raw_content_date']})")


# --------------------------------------------------------------------------- rights
@app.command()
def rights(action: str = typer.Argument(..., help="find | open | decide | erase | rectify | list"),
           request_id: Optional[int] = typer.Argument(None, help="request id (decide, erase)"),
           name: Optional[str] = typer.Option(None, help="the data subject's name (find, open)"),
           dob: Optional[str] = typer.Option(None, help="date of birth YYYY-MM-DD"),
           kind: str = typer.Option("access", help="open: access | erasure | rectification | objection"),
           decision: Optional[str] = typer.Option(None, help="decide: comply | partial | refuse_exempt"),
           reasons: Optional[str] = typer.Option(None, help="decide: the reasons (recorded)"),
           view_to_publication: bool = typer.Option(False, help="para 26: processing with a view to publication"),
           public_interest: bool = typer.Option(False, help="para 26: reasonable belief publication is in the public interest"),
           incompatible: bool = typer.Option(False, help="para 26: compliance incompatible with journalism"),
           party: Optional[List[int]] = typer.Option(None, help="erase/rectify: party id(s)"),
           mode: str = typer.Option("pseudonymise", help="erase: pseudonymise | delete"),
           field: Optional[str] = typer.Option(None, help="rectify: field"), value: Optional[str] = typer.Option(None),
           actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Data subjects' rights: find everything about a person, record requests and decisions (incl. the
    journalism exemption, DPA 2018 Sch 2 para 26, with reasons), erase, rectify."""
    from ..store import governance as sg
    from . import rights as R

    a = _archive(db)
    who = _actor(actor)
    try:
        if action == "find":
            f = R.find(a, name=name or "", dob=_date(dob), keyring=_keyring(), actor=who)
            f = {k: v for k, v in f.items() if k != "rows"}
            _json(f) if as_json else console.print(f)
        elif action == "open":
            _json(R.open_request(a, kind=kind, name=name or "", dob=_date(dob), keyring=_keyring(), actor=who))
        elif action == "decide":
            _json(R.decide(a, request_id, decision=decision or "", reasons=reasons or "", actor=who,
                           with_view_to_publication=view_to_publication, public_interest_belief=public_interest,
                           incompatible_with_journalism=incompatible))
        elif action == "erase":
            ids = list(party or [])
            if request_id is not None and not ids:
                req = sg.get_rights_request(a, request_id) or {}
                found = req.get("found") or {}
                ids = found.get("party_ids", []) + found.get("linked_party_ids", [])
            if not ids:
                _fail("nothing to erase: give a decided request id or --party")
            _json(R.erase(a, ids, keyring=_keyring(), actor=who, mode=mode, request_id=request_id, home=_home()))
        elif action == "rectify":
            if not party or not field:
                _fail("rectify needs --party and --field")
            v = _date(value) if field == "date_of_birth" and value else (int(value) if field == "age" and value else value)
            for pid in party:
                R.rectify(a, pid, field=field, value=v, actor=who, request_id=request_id)
            console.print(f"rectified {field} of {len(party)} mention(s)")
        elif action == "list":
            rows = sg.rights_requests(a)
            _json(rows) if as_json else _table(rows, ["id", "kind", "received_at", "status", "decision", "exemption",
                                                      "decided_by"], "rights requests")
        else:
            _fail("action must be find, open, decide, erase, rectify or list")
    except R.RightsError as e:
        _fail(str(e))


# --------------------------------------------------------------------------- restrictions
@app.command()
def restrictions(action: str = typer.Argument(..., help="sync | list | add | lift"),
                 restriction_id: Optional[int] = typer.Argument(None, help="lift: restriction id"),
                 case: Optional[str] = typer.Option(None, help="case id, URN or case number"),
                 rule: Optional[str] = typer.Option(None, help="add: rule id (e.g. yjcea_s45, cca_s4_2, cca_s11)"),
                 party: Optional[int] = typer.Option(None, help="add: the protected party id"),
                 start: Optional[str] = typer.Option(None), end: Optional[str] = typer.Option(None),
                 reason: Optional[str] = typer.Option(None, help="lift: why (the order was discharged ...)"),
                 active: bool = typer.Option(False, help="list: only orders in force"),
                 actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Reporting-restriction orders: sync from list flags/detail texts, list, add by hand, lift (a person)."""
    from ..store import governance as sg
    from . import restrictions as Rs

    a = _archive(db)
    case_id = sg.resolve_case(a, case) if case else None
    if case and case_id is None:
        _fail(f"no case {case!r}")
    try:
        if action == "sync":
            r = Rs.sync(a, actor=_actor(actor))
            console.print(f"{len(r['created'])} restriction(s) created, {r['existing']} already known")
        elif action == "list":
            rows = Rs.listing(a, case_id=case_id, active_only=active)
            _json(rows) if as_json else _table(rows, ["id", "rule", "case_id", "party_id", "start_date", "end_kind",
                                                      "end_date", "source", "lifted_by"], "restrictions")
        elif action == "add":
            if case_id is None or not rule:
                _fail("add needs --case and --rule")
            rid = Rs.add(a, rule=rule, case_id=case_id, party_id=party, start=_date(start), end=_date(end),
                         actor=_actor(actor))
            console.print(f"restriction {rid} recorded")
        elif action == "lift":
            if restriction_id is None:
                _fail("lift needs the restriction id")
            ok = Rs.lift(a, restriction_id, actor=_actor(actor), reason=reason or "")
            console.print(f"restriction {restriction_id} {'lifted' if ok else 'was not in force'}")
        else:
            _fail("action must be sync, list, add or lift")
    except ValueError as e:
        _fail(str(e))


# --------------------------------------------------------------------------- accounts and domains
@app.command()
def account(action: str = typer.Argument(..., help="add | verify | list"),
            username: Optional[str] = typer.Argument(None),
            role: str = typer.Option("public", help="public | verified_media | analyst | admin"),
            email: Optional[str] = typer.Option(None), organisation: Optional[str] = typer.Option(None),
            press_card: Optional[str] = typer.Option(None, help="verify: press card number"),
            issuer: Optional[str] = typer.Option(None, help="verify: press card issuer"),
            actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Accounts and the verification record of accredited media (re-verified every 365 days)."""
    from . import accounts

    a = _archive(db)
    try:
        if action == "add":
            accounts.add(a, username=username or "", role=role, email=email, organisation=organisation,
                         actor=_actor(actor))
            console.print(f"account {username} ({role}) saved")
        elif action == "verify":
            v = accounts.verify(a, username=username or "", press_card=press_card or "", employer=organisation,
                                issuer=issuer, verified_by=_actor(actor))
            console.print(f"{username} verified until {v['verification_expires']}")
        elif action == "list":
            rows = accounts.listing(a)
            _json(rows) if as_json else _table(rows, ["username", "role", "organisation", "email", "verified_by",
                                                      "verification_expires", "active"], "accounts")
        else:
            _fail("action must be add, verify or list")
    except ValueError as e:
        _fail(str(e))


@app.command()
def domain(action: str = typer.Argument(..., help="approve | list"), name: Optional[str] = typer.Argument(None),
           reason: Optional[str] = typer.Option(None), organisation: Optional[str] = typer.Option(None),
           actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Recipient domains an admin approved (free webmail is refused otherwise)."""
    from ..store import governance as sg
    from . import distribution

    a = _archive(db)
    if action == "approve":
        if not name or not reason:
            _fail("approve needs the domain and --reason")
        distribution.approve_domain(a, domain=name, actor=_actor(actor), reason=reason, organisation=organisation)
        console.print(f"{name} approved")
    elif action == "list":
        rows = sg.approved_domains(a)
        _json(rows) if as_json else _table(rows, ["domain", "organisation", "approved_by", "reason", "approved_at"], "domains")
    else:
        _fail("action must be approve or list")
