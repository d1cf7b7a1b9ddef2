"""Governance commands, mounted on `courtarchive` (serve.cli STAGE_CLIS, "commands" mode).

    courtarchive hold add --scope archive|court|case|person [--ref REF] --reason ... --authority ...
    courtarchive hold list [--all] | hold release ID [--reason ...]
    courtarchive expire [--dry-run] [--now DATE] [--batch-size N] [--profile FILE]
    courtarchive retention status [--now DATE]
    courtarchive audit verify [--anchor FILE] | audit anchor --out FILE | audit tail [-n N]
    courtarchive compliance report --out DIR [--now DATE]
    courtarchive rights find|open|decide|extend|copy|erase|rectify|list ...
    courtarchive restrictions sync|list|add|lift ...
    courtarchive account add|update|verify|list ... ; courtarchive domain approve|list ...

Each group is one command whose first argument is the action (so the stage mounts as plain
commands).  The operator at the console acts as ``admin``; ``--actor`` names the person (default
$USER) and every action is audited.  Bad input (a date that is not one, a profile that cannot be
read, an unknown action ...) is one line on stderr and exit code 2, with nothing written; `rights`
says 1 for a request or mention that does not exist (or nothing to act on) and 3 for a refusal.
`expire`, `rights erase` and `rights rectify` say 1, one line per hook, when a derived store's
hook failed (the others ran; the next `expire`, or the same erasure or rectification, retries it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from collections import Counter
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..clikit import REFUSED, DbOpt, JsonOpt, open_archive as _archive, print_json as _json, actor_name as _actor

app = typer.Typer(add_completion=False, no_args_is_help=True, help="governance: holds, expiry, audit, compliance, rights")
console = Console(stderr=True, soft_wrap=True)   # messages: one line each, never wrapped
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
    """The licence profile (``--profile``, else $COURTARCHIVE_PROFILE, <home>/profile.toml or the
    built-in one); one that cannot be read or is not valid is a clear error, not a traceback."""
    from .profile import ProfileError, load

    try:
        return load(path, home=_home())
    except ProfileError as e:                        # unreadable, not TOML, not valid: the message names the file
        # (worded as every command words a bad setting: `clikit.open_archive`, README)
        typer.echo(f"bad configuration: {e}", err=True)
        raise typer.Exit(2) from None


def _date(s: str | None, opt: str = "--now") -> dt.date | None:
    """A YYYY-MM-DD option value (``opt`` names it in the error)."""
    if s is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s.strip()):
            raise ValueError(s)
        return dt.date.fromisoformat(s.strip())
    except ValueError:
        _fail(f"{opt} must be a date YYYY-MM-DD, not {s!r}")


def _fail(msg: str, code: int = 2) -> None:
    console.print(f"[red]error[/red]: {escape(msg)}", soft_wrap=True)
    raise typer.Exit(code)


def _given(ctx: typer.Context | None, param: str, value, default) -> bool:
    """Whether option ``param`` of the running command (``ctx``, typer's context: this module's
    `account` or `serve.web_cli.account`, which passes its own) was given on the command line, not
    left at its default -- `account update` changes only those.  Where no context tells (a Python
    call), a value equal to the default counts as not given.  The source is compared by name: typer
    brings its own copy of click, whose ``ParameterSource`` is not click's."""
    src = ctx.get_parameter_source(param) if ctx is not None else None
    if src is None:
        return value != default
    return src.name != "DEFAULT"


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
            rows = _hold_targets(a, holds.listing(a, active_only=not all_))
            _json(rows) if as_json else _table(rows, ["id", "scope", "target", "reason", "authority", "created_by",
                                                      "created_at", "released_at"], "legal holds")
        elif action == "release":
            if hold_id is None:
                _fail("hold release needs the hold ID")
            ok = holds.release(a, hold_id, actor=_actor(actor), reason=reason)
            if not ok:          # nothing found (README: exit 1), as for a rights request that does not exist
                _fail(f"no active hold {hold_id}", 1)
            _json({"released": hold_id}) if as_json else console.print(f"hold {hold_id} released")
        else:
            _fail("action must be add, list or release")
    except holds.HoldError as e:
        _fail(str(e))


def _hold_targets(a, rows: list[dict]) -> list[dict]:
    """Each hold with ``target``: what it holds as people know it -- a case by its URN (else its
    case number), a court by its name, a person or a mention by id (``ref`` stays the stored id)."""
    from ..store import search as ss

    def ids(scope):
        return [int(r["ref"]) for r in rows if r["scope"] == scope and (r["ref"] or "").isdigit()]

    cases, courts = ss.case_urns(a, ids("case")), ss.court_names(a, ids("court"))
    for r in rows:
        ref = r["ref"]
        if r["scope"] == "archive":
            t = "the whole archive"
        elif r["scope"] == "case" and ref and ref.isdigit() and int(ref) in cases:
            c = cases[int(ref)]
            t = f"{c['urn'] or c['case_number'] or 'case'} (case {ref})"
        elif r["scope"] == "court" and ref and ref.isdigit() and int(ref) in courts:
            t = f"{courts[int(ref)]} (court {ref})"
        elif r["scope"] == "person" and ref:
            t = f"mention {ref[6:]}" if ref.startswith("party:") else f"person {ref}"
        else:
            t = ref
        r["target"] = t
    return rows


# --------------------------------------------------------------------------- expiry
@app.command()
def expire(dry_run: bool = typer.Option(False, "--dry-run", help="show what would go; change nothing"),
           now: Optional[str] = NowOpt,
           batch_size: Optional[int] = typer.Option(None, min=1, help="publications per batch (at least 1; "
                                                                       "default: the profile's)"),
           profile: Optional[Path] = ProfileOpt, actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt,
           as_json: bool = JsonOpt) -> None:
    """Pseudonymise raw identities older than the licence term (resumable, idempotent, batched)."""
    from . import retention

    as_of, prof = _date(now), _profile(profile)
    a = _archive(db)
    rep = retention.expire(a, keyring=_keyring(), profile=prof, as_of=as_of, dry_run=dry_run,
                           actor=_actor(actor), batch_size=batch_size, home=_home())
    if as_json:
        _json(rep)
    else:
        verb = "would pseudonymise" if dry_run else "pseudonymised"
        cutoffs = ", ".join(f"{cls} {d}" for cls, d in sorted((rep.get("cutoffs") or {}).items())) or "none"
        console.print(f"{'DRY RUN: ' if dry_run else ''}{rep['publications']} publication(s) due (cut-offs: "
                      f"{cutoffs}); {verb} {rep['persons_pseudonymised']} person(s) "
                      f"(besides {rep['organisations_pseudonymised']} organisation part(y/ies): no personal data); "
                      f"{rep['publications_expired']} publication(s) fully expired; held rows: "
                      f"{sum(rep['held'].values())}")
        _table([{"field": k, "values": v} for k, v in sorted(rep["fields"].items())], ["field", "values"],
               "fields " + ("that would change" if dry_run else "changed"))
        if rep["held"]:
            _table([{"hold": k, "rows skipped": v} for k, v in rep["held"].items()], ["hold", "rows skipped"], "held")
    _hooks_failed(rep, "the next `courtarchive expire`")


def _hooks_failed(res: dict, again: str) -> None:
    """One line per derived-store hook that failed (the run's, then those of earlier runs a retry
    did not clear), then exit 1: the purge is done in part -- the other hooks ran, and that store's
    copies stay until ``again`` retries it."""
    failed = [(res.get("run_id"), h, e) for h, e in (res.get("hooks_failed") or {}).items()]
    failed += [(r, h, e) for r, hs in (res.get("earlier_hooks_failed") or {}).items() for h, e in hs.items()]
    for run_id, hook, err in failed:
        console.print(f"[red]error[/red]: derived store {escape(hook)} failed ({escape(err)}) in run {run_id}: its "
                      f"copies stay until {again} retries it", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def retention(action: str = typer.Argument("status", help="status"), now: Optional[str] = NowOpt,
              profile: Optional[Path] = ProfileOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Retention status: the oldest raw record against the limit and, per data class, the oldest list
    holding it un-expired (not held) against its cut-off; active holds, last runs."""
    from . import retention as r

    if action != "status":
        _fail(f"unknown action {action!r}: retention status is the only one")
    as_of, prof = _date(now), _profile(profile)
    st = r.status(_archive(db), profile=prof, as_of=as_of)
    if as_json:
        _json(st)
        return
    o, pc = st["oldest_raw"] or {}, st["parties"] or {}
    console.print(f"limit {st['limit_months']} months (cut-off {st['cutoff']}); oldest raw record "
                  f"{o.get('content_date')}; "
                  f"{'OVERDUE: ' + ', '.join(c for c, x in st['classes'].items() if x['overdue']) if st['overdue'] else 'within limit'}; "
                  f"{len(st['holds'])} active hold(s); people named {pc.get('people')} ({pc.get('pseudonymised')} "
                  f"pseudonymised, {pc.get('raw')} raw; besides {pc.get('organisations')} organisation parties)",
                  markup=False, soft_wrap=True)
    for cls, c in st["classes"].items():
        state = (f"OVERDUE: {c['overdue_publications']} list(s) past the cut-off" if c["overdue"]
                 else "within limit")
        console.print(f"  {cls}: limit {c['limit_months']} months (cut-off {c['cutoff']}); oldest list holding it "
                      f"un-expired {c['oldest'] or 'none'} ({state}"
                      f"{'; ' + str(c['held_publications']) + ' past it under legal hold' if c['held_publications'] else ''})",
                      markup=False, soft_wrap=True)


# --------------------------------------------------------------------------- audit
@app.command("audit")
def audit_cmd(action: str = typer.Argument(..., help="verify | anchor | tail"),
              anchor: Optional[Path] = typer.Option(None, help="verify: a head anchor file written by `audit anchor`"),
              out_: Optional[Path] = typer.Option(None, "--out", help="anchor: file to write"),
              n: int = typer.Option(20, "-n", help="tail: events"), db: Optional[str] = DbOpt,
              as_json: bool = JsonOpt) -> None:
    """Verify the hash-chained audit log (exit 1 on any edit, gap or reorder), anchor its head, or show it."""
    from . import audit

    if action not in ("verify", "anchor", "tail"):
        _fail("action must be verify, anchor or tail")
    a = _archive(db)
    if action == "verify":
        try:
            head = audit.read_anchor(anchor) if anchor else None
        except OSError as e:
            _fail(f"cannot read the anchor {anchor}: {e.strerror or e}")
        except ValueError as e:
            _fail(f"{anchor} is not an anchor written by `audit anchor`: {e}")
        if head is not None and not (isinstance(head, dict) and {"seq", "hash"} <= set(head)):
            _fail(f"{anchor} is not an anchor written by `audit anchor` (no seq and hash)")
        res = audit.verify(a, anchor=head)
        if as_json:
            _json(res.as_dict())
        elif res.ok:
            head = f"head seq {res.head['seq']} hash {res.head['hash']}" if res.head else "empty"
            console.print(f"[green]audit chain intact[/green]: {res.events} events, {head}", soft_wrap=True)
        else:
            console.print(f"[red]audit chain BROKEN[/red]: {len(res.problems)} problem(s)")
            for p in res.problems:
                console.print(f"  seq {p['seq']}: {p['problem']} - {p['detail']}")
        raise typer.Exit(0 if res.ok else 1)
    if action == "anchor":
        if out_ is None:
            _fail("audit anchor needs --out FILE")
        try:
            h = audit.write_anchor(a, out_)
        except OSError as e:
            _fail(f"cannot write the anchor {out_}: {e.strerror or e}")
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
    as_of, prof = _date(now), _profile(profile)
    if out_.exists() and not out_.is_dir():
        _fail(f"--out {out_} is a file: give a folder for compliance.json and compliance.html")
    a = _archive(db)
    try:
        rep = c.write(a, out_, profile=prof, as_of=as_of, actor=_actor(actor))
    except OSError as e:
        _fail(f"cannot write the report to {out_}: {e.strerror or e}")
    console.print(f"compliance report written to {out_}/compliance.html and compliance.json "
                  f"(audit chain {'intact' if rep['audit']['ok'] else 'BROKEN'}; oldest raw "
                  f"{rep['retention_status']['oldest_raw_content_date']})")


# --------------------------------------------------------------------------- rights
@app.command()
def rights(action: str = typer.Argument(..., help="find | open | decide | extend | copy | erase | rectify | list"),
           request_id: Optional[int] = typer.Argument(None, help="request id (decide, extend, copy, erase, rectify)"),
           name: Optional[str] = typer.Option(None, help="the data subject's name (find, open)"),
           dob: Optional[str] = typer.Option(None, help="date of birth YYYY-MM-DD"),
           kind: str = typer.Option("access", help="open: access | erasure | rectification | objection"),
           decision: Optional[str] = typer.Option(None, help="decide: comply | partial | refuse_exempt"),
           reasons: Optional[str] = typer.Option(None, help="decide, extend: the reasons (recorded)"),
           months: int = typer.Option(2, "--months", help="extend: further months to answer, 1 or 2 (UK GDPR Art 12(3))"),
           view_to_publication: bool = typer.Option(False, help="para 26: processing with a view to publication"),
           public_interest: bool = typer.Option(False, help="para 26: reasonable belief publication is in the public interest"),
           incompatible: bool = typer.Option(False, help="para 26: compliance incompatible with journalism"),
           party: Optional[List[int]] = typer.Option(None, help="copy, erase: only these of the request's mentions "
                                                                 "(possible matches only when named); rectify: the "
                                                                 "mention(s) to correct"),
           complainant: Optional[List[int]] = typer.Option(None, help="copy, erase: complainant mentions the request "
                                                                       "found (by name only) that are the subject's"),
           out_dir: Optional[Path] = typer.Option(None, "--out", help="copy: folder for access-N.json and .html"),
           mode: str = typer.Option("pseudonymise", help="erase: pseudonymise | delete"),
           field: Optional[str] = typer.Option(None, help="rectify: field"),
           value: Optional[str] = typer.Option(None, help="rectify: the correct value"),
           clear: bool = typer.Option(False, "--clear", help="rectify: remove the field's value (instead of --value)"),
           actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Data subjects' rights: find everything about a person, record requests and decisions (incl. the
    journalism exemption, DPA 2018 Sch 2 para 26, with reasons), extend the date to answer (Art 12(3)),
    make the subject's copy (access), erase and rectify -- each only under a request of that kind
    decided comply or partial.  Exit 1: no such request or mention, nothing to act on (or an erasure a
    hold keeps pending); 2: bad input; 3: refused (no decision to comply, outside the request, done)."""
    from ..store import governance as sg
    from . import rights as R

    from . import access as A

    actions = ("find", "open", "decide", "extend", "copy", "erase", "rectify", "list")
    if action not in actions:
        _fail("action must be find, open, decide, extend, copy, erase, rectify or list")
    born = _date(dob, "--dob")
    a = _archive(db)
    who = _actor(actor)
    try:
        if action == "find":
            f = R.find(a, name=name or "", dob=born, keyring=_keyring(), actor=who)
            f = {k: v for k, v in f.items() if k != "rows"}
            if as_json:
                _json(f)
            else:
                def ids(xs: list) -> str:
                    return (", ".join(map(str, xs[:20])) + (f" ... ({len(xs)})" if len(xs) > 20 else "")) or "none"

                for line in (f"subject token {f['subject_token']}",
                             f"mentions matched: {ids(f['party_ids'])}",
                             f"linked to them (same person): {ids(f['linked_party_ids'])}",
                             f"possible (name only, no date of birth to tell): {ids(f['possible_party_ids'])}",
                             f"persons: {ids(f['person_ids'])}",
                             f"complainant mentions (by name only: check before `copy`/`erase --complainant`): "
                             f"{ids(f['complainant_ids'])}",
                             "records held: " + (", ".join(f"{t} {n}" for t, n in sorted(f["counts"].items())) or "none")):
                    console.print(line, markup=False)
        elif action == "open":
            req = R.open_request(a, kind=kind, name=name or "", dob=born, keyring=_keyring(), actor=who)
            if as_json:
                _json(req)
            else:
                n = len(req["party_ids"]) + len(req["linked_party_ids"])
                console.print(f"{kind} request {req['id']} opened: {n} mention(s) found, "
                              f"{len(req['possible_party_ids'])} possible (same name, no date of birth), "
                              f"{len(req['complainant_ids'])} complainant mention(s) by name; respond by "
                              f"{R.due(sg.get_rights_request(a, req['id']))}; next: rights decide {req['id']} "
                              "--decision comply|partial|refuse_exempt --reasons ...", soft_wrap=True, markup=False)
        elif action == "decide":
            if request_id is None:
                _fail("rights decide needs the request id")
            got = R.decide(a, request_id, decision=decision or "", reasons=reasons or "", actor=who,
                           with_view_to_publication=view_to_publication, public_interest_belief=public_interest,
                           incompatible_with_journalism=incompatible)
            if as_json:
                _json(got)
            else:
                nxt = {"access": f"rights copy {request_id} --out DIR", "erasure": f"rights erase {request_id}",
                       "objection": f"rights erase {request_id} (an upheld objection is carried out by erasure)",
                       "rectification": f"rights rectify {request_id} --party ID --field F --value V"}.get(got["kind"])
                console.print(f"request {request_id} ({got['kind']}) decided {got['decision']}"
                              + (f" under {got['exemption']}" if got["exemption"] else "")
                              + (f"; next: {nxt}" if nxt and got["decision"] != "refuse_exempt" else ""),
                              soft_wrap=True, markup=False)
        elif action == "extend":
            if request_id is None:
                _fail("rights extend needs the request id")
            got = R.extend(a, request_id, reasons=reasons or "", actor=who, months=months)
            if as_json:
                _json(got)
            else:
                console.print(f"request {request_id}: the date to answer is extended by {months} month(s) to "
                              f"{R.due(got)} (UK GDPR Art 12(3)); tell the subject within the first month, with the "
                              "reasons", soft_wrap=True, markup=False)
        elif action == "copy":
            if request_id is None:
                _fail("rights copy needs the id of an access request decided comply or partial "
                      "(rights open --kind access ..., rights decide N ...)")
            if out_dir is None:
                _fail("rights copy needs --out DIR (the folder for the subject's copy)")
            res = A.write(a, request_id, out=out_dir, actor=who, party_ids=list(party or []) or None,
                          complainant_ids=list(complainant or []) or None, profile=_profile(None), home=_home())
            if as_json:
                _json(res)
            else:
                since = res["linked_since_request"]
                console.print(f"subject access copy {res['copies']} for request {request_id}: {res['mentions']} "
                              f"mention(s) ({res['pseudonymised']} pseudonymised"
                              + (f", {len(since)} linked since the request" if since else "")
                              + f"), {res['complainant_mentions']} complainant mention(s); written to "
                              + " and ".join(res["files"]) + f" (sha256 {res['sha256'][:16]}...); request done",
                              soft_wrap=True, markup=False)
        elif action == "erase":
            if request_id is None:
                _fail("rights erase needs the id of an erasure request decided comply or partial "
                      "(rights open --kind erasure ..., rights decide N ...); --party narrows it to some of its mentions")
            with _said_by_the_command("hold_kept"):
                res = R.erase(a, list(party or []) or None, complainant_ids=list(complainant or []) or None,
                              keyring=_keyring(), actor=who, mode=mode, request_id=request_id,
                              profile=_profile(None), home=_home())
            if as_json:
                _json(res)
            _erase_outcome(res)
        elif action == "rectify":
            if request_id is None:
                _fail("rights rectify needs the id of a rectification request decided comply or partial "
                      "(rights open --kind rectification ..., rights decide N ...)")
            if not complainant and (not party or not field):
                _fail("rectify needs --party and --field, and --value (or --clear)")
            res = R.rectify(a, list(party or []), field=field or "", value=value, clear=clear, actor=who,
                            request_id=request_id, profile=_profile(None), home=_home(),
                            complainant_ids=list(complainant or []), keyring=_keyring())
            if as_json:
                _json(res)
            n = len(res["party_ids"])
            console.print(f"{'cleared' if clear else 'rectified'} {field} of {n} mention(s) under request "
                          f"{request_id}" + ("" if res["hooks_failed"] else "; search index and other derived "
                                             "stores updated"))
            form = (R.COARSE_FORM.get(field or "") or "coarse form").replace("_", " ")
            for key, msg in _RECTIFIED:
                if res.get(key):
                    console.print(msg.format(ids=", ".join(map(str, res[key])), field=field, form=form))
            _hooks_failed(res, "the next `courtarchive expire` (or this `rights rectify` run again)")
        else:
            rows = sg.rights_requests(a)
            for r in rows:
                er = (r.get("found") or {}).get("erasure") or {}
                pend = Counter([*(er.get("pending") or {}).values(), *(er.get("pending_complainants") or {}).values()])
                r["pending"] = "; ".join(f"hold {h}: {n} mention(s)" for h, n in sorted(pend.items())) if pend else None
                r["respond_by"] = R.due(r)
                r["extended"] = (R.extension(r) or {}).get("months")
                r["overdue"] = R.overdue(r, dt.date.today())
            if as_json:
                _json(rows)
            else:       # (refuse_exempt says the exemption; --json gives received_at and the months extended)
                _table([{**r, "overdue": "OVERDUE" if r["overdue"] else None} for r in rows],
                       ["id", "kind", "respond_by", "overdue", "status", "decision", "decided_by", "pending"],
                       "rights requests")
    except R.RightsError as e:
        _fail(str(e), 1 if isinstance(e, R.NotFound) else REFUSED if isinstance(e, R.Refused) else 2)


#: what `rights rectify` says of each list of ids its result holds, in this order (rich markup;
#: ``{ids}``: the ids, ``{field}``: the field rectified, ``{form}``: the coarse form it is kept as)
_RECTIFIED = (
    ("name_as_listed_unchanged", "[yellow]name_as_listed of mention(s) {ids} still holds the old {field}[/yellow]: "
                                 "rectify --field name_as_listed too if it is wrong"),
    ("case_name_corrected", "case name of hearing(s) {ids} corrected"),
    ("case_name_unchanged", "[yellow]case name of hearing(s) {ids} still quotes the old {field}[/yellow]: not surely "
                            "this mention's (quoted more than once, or another party of the hearing bears it), left "
                            "as listed"),
    ("case_key_unchanged", "case(s) {ids}: the internal case key made from the name is kept (never shown; the "
                           "court's later lists of the case are matched by it)"),
    ("unlinked", "mention(s) {ids} left their linked persons: the next `courtarchive link run` scores them again "
                 "on the corrected value"),
    ("links_kept_held", "[yellow]mention(s) {ids} keep their persons under a legal hold[/yellow]: `courtarchive "
                        "link run --full` scores them again"),
    ("expired_kept_coarse", "mention(s) {ids}: their {field} expired with their personal fields, so the correction "
                            "is kept only as the archive keeps it now (the {form}), never in clear"),
    ("coarse_attribute_updated", "the coarse {form} of mention(s) {ids} follows the correction"),
    ("coarse_token_remade", "the keyed person token of mention(s) {ids} is made again from the corrected value"),
    ("coarse_token_dropped", "the keyed person token of mention(s) {ids} is dropped (it cannot be made again "
                             "correctly); the identity's expiry makes it from what they hold"),
)


@contextlib.contextmanager
def _said_by_the_command(tag: str):
    """Drop the governance log records tagged ``tag`` (``extra={tag: True}``) while the block runs:
    what the command's own message says (`_erase_outcome`: the mentions a legal hold keeps) -- a
    warning reaches stderr through logging's last resort, and was said twice."""
    class _Drop(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return not getattr(record, tag, False)

    logger, f = logging.getLogger("courtarchive.governance"), _Drop()
    logger.addFilter(f)
    try:
        yield
    finally:
        logger.removeFilter(f)


def _erase_outcome(res: dict) -> None:
    """Say what an erasure did and what it could not; exit 1 when a hold kept mentions or a derived
    store's hook failed (the request stays pending; a narrowed erasure that leaves the rest for later
    says so and exits 0)."""
    rid = res["request_id"]
    held = {"mention(s)": res.get("held_parties") or {}, "complainant mention(s)": res.get("held_complainants") or {}}
    kept = "; ".join(f"{n} {what} kept under legal hold {h}" for what, by in held.items()
                     for h, n in sorted(by.items()))
    holds = sorted({h for by in held.values() for h in by})
    parts = [f"{res['complainants']} complainant mention(s)"] if res.get("complainants") else []
    if res["parties"] or not parts:
        parts.insert(0, f"{res['parties']} mention(s)")
    erased = " and ".join(parts)
    if res["complete"]:
        console.print(f"erased {erased}; request {rid} done (run {res['run_id']}, proof "
                      f"{res['proof_hash'][:16]}...)", soft_wrap=True)
        return
    what = "nothing erased" if not res["parties"] and not res.get("complainants") else f"erased {erased}"
    todo = []
    if holds:
        todo.append(f"after `hold release {', '.join(holds)}` run `rights erase {rid}`")
    if res.get("not_yet_erased"):
        todo.append(f"mention(s) {', '.join(map(str, res['not_yet_erased']))} not erased yet")
    if res.get("hooks_failed") or res.get("earlier_hooks_failed"):
        todo.append("derived stores still to purge")
    console.print(f"[yellow]{escape(what + (': ' + kept if kept else ''))}[/yellow]; request {rid} stays pending "
                  f"({'; '.join(todo)})", soft_wrap=True)
    _hooks_failed(res, f"`rights erase {rid}` (same options) or `courtarchive expire`")
    if holds:
        raise typer.Exit(1)


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
    try:
        case_id = sg.resolve_case(a, case) if case else None
    except sg.AmbiguousCase as e:
        _fail(str(e))
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
            rid = Rs.add(a, rule=rule, case_id=case_id, party_id=party, start=_date(start, "--start"),
                         end=_date(end, "--end"),
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
def account(ctx: typer.Context, action: str = typer.Argument(..., help="add | update | verify | list"),
            username: Optional[str] = typer.Argument(None),
            role: str = typer.Option("public", help="public | verified_media | analyst | admin"),
            email: Optional[str] = typer.Option(None), organisation: Optional[str] = typer.Option(None),
            press_card: Optional[str] = typer.Option(None, help="verify: press card number"),
            issuer: Optional[str] = typer.Option(None, help="verify: press card issuer"),
            actor: Optional[str] = ActorOpt, db: Optional[str] = DbOpt, as_json: bool = JsonOpt) -> None:
    """Accounts and the verification record of accredited media (re-verified every 365 days).
    `add` creates an account (an existing one is refused); `update` changes the options given."""
    from . import accounts

    a = _archive(db)
    try:
        if action == "add":
            accounts.add(a, username=username or "", role=role, email=email, organisation=organisation,
                         actor=_actor(actor), if_exists="error")
            console.print(f"account {username} ({role}) created")
        elif action == "update":
            # only the options given change (`serve.web_cli.account` passes role="public" by default)
            ch = accounts.update(a, username=username or "", actor=_actor(actor),
                                 role=role if _given(ctx, "role", role, "public") else None,
                                 email=email if _given(ctx, "email", email, None) else None,
                                 organisation=organisation if _given(ctx, "organisation", organisation, None) else None)
            b, f = ch["before"], ch["after"]
            changed = ", ".join(f"{k} {b.get(k)} -> {f.get(k)}" for k in ("role", "email", "organisation")
                                if b.get(k) != f.get(k))
            console.print(f"account {username} updated: {changed}" if changed else f"account {username} unchanged")
        elif action == "verify":
            v = accounts.verify(a, username=username or "", press_card=press_card or "", employer=organisation,
                                issuer=issuer, verified_by=_actor(actor))
            console.print(f"{username} verified until {v['verification_expires']}")
        elif action == "list":
            rows = accounts.listing(a)
            _json(rows) if as_json else _table(rows, ["username", "role", "organisation", "email", "verified_by",
                                                      "verification_expires", "active"], "accounts")
        else:
            _fail("action must be add, update, verify, list or password")
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
