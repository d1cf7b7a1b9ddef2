"""The governance commands as an operator meets them: rights requests that authorise erasure and
rectification, holds that keep an erasure pending, bad input (one line, exit code 2, nothing
written), accounts.  Runs the real `courtarchive` app (governance's commands as mounted, with the
web stage's `account`), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from typer.testing import CliRunner

from courtarchive.store import governance as sg
from test_governance_compliance import cli_env  # noqa: F401  (the fixture: an initialised archive and the CLI)
from test_governance_support import person, plant, rows

D = dt.date


@pytest.fixture
def cli(cli_env):
    from courtarchive.store import Archive

    runner, app = cli_env
    a = Archive.open()

    def run(*args, code=0):
        r = runner.invoke(app, [str(x) for x in args])
        assert r.exit_code == code, (args, r.output, r.exception)
        assert "Traceback" not in r.output
        return r

    run.archive = a
    yield run
    a.close()


def _request(run, kind, decision="comply", name="Zebedee Quixley", dob="1988-07-14") -> dict:
    req = orjson.loads(run("rights", "open", "--kind", kind, "--name", name, "--dob", dob, "--actor", "dpo",
                           "--json").stdout)
    if decision:
        run("rights", "decide", req["id"], "--decision", decision, "--reasons", "checked", "--actor", "dpo")
    return req


def _error(r) -> str:
    """The one line an operator sees on bad input."""
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    return lines[0]


# --------------------------------------------------------------------------- erasure
def test_erase_needs_a_decided_erasure_request(cli):
    a = cli.archive
    plant(a, date=D(2025, 5, 1))
    pid = next(p["id"] for p in rows(a, "party") if p["surname"] == "QUIXLEY")
    assert "needs the id of an erasure request" in _error(cli("rights", "erase", "--party", pid, code=2))
    access = _request(cli, "access")                        # an access request decided comply
    assert "is an access request" in _error(cli("rights", "erase", access["id"], code=3))
    assert "is an access request" in _error(cli("rights", "erase", access["id"], "--party", pid, code=3))
    undecided = _request(cli, "erasure", decision=None)
    assert "only after a decision to comply" in _error(cli("rights", "erase", undecided["id"], code=3))
    assert rows(a, "party", id=pid)[0]["surname"] == "QUIXLEY"
    assert rows(a, "retention_run") == [] and rows(a, "audit_event", action="erase") == []


def test_erasure_under_a_hold_is_flagged_and_completes_after_release(cli):
    a = cli.archive
    plant(a, date=D(2025, 5, 1))
    req = _request(cli, "erasure")
    urn = rows(a, "case")[0]["urn"]
    cli("hold", "add", "--scope", "case", "--ref", urn, "--reason", "claim", "--authority", "court order",
        "--actor", "dpo")
    r = cli("rights", "erase", req["id"], "--actor", "dpo", code=1)
    assert "nothing erased: 1 mention(s) kept under legal hold 1" in r.stderr
    assert f"request {req['id']} stays pending" in r.stderr and f"rights erase {req['id']}" in r.stderr
    assert r.stdout == ""                        # (the run's figures with --json only)
    r = cli("rights", "erase", req["id"], "--actor", "dpo", "--json", code=1)
    assert orjson.loads(r.stdout)["complete"] is False
    got = sg.get_rights_request(a, req["id"])
    assert got["status"] == "decided" and got["completed_at"] is None
    listed = orjson.loads(cli("rights", "list", "--json").stdout)
    assert listed[0]["pending"] == "hold 1: 1 mention(s)"
    assert "pending" in cli("rights", "list").stdout
    cli("hold", "release", "1", "--actor", "dpo", "--reason", "settled")
    r = cli("rights", "erase", req["id"], "--actor", "dpo")
    assert f"erased 1 mention(s); request {req['id']} done" in r.stderr
    assert sg.get_rights_request(a, req["id"])["status"] == "done"
    assert rows(a, "party", id=req["party_ids"][0])[0]["surname"].startswith("~p:")
    assert "was completed" in _error(cli("rights", "erase", req["id"], code=3))


def test_compliance_report_verifies_erasure_proofs(cli, tmp_path):
    plant(cli.archive, date=D(2025, 5, 1))
    req = _request(cli, "erasure")
    cli("rights", "erase", req["id"], "--mode", "delete", "--actor", "dpo")
    cli("compliance", "report", "--out", tmp_path / "rep", "--now", "2025-06-01")
    js = orjson.loads((tmp_path / "rep" / "compliance.json").read_bytes())
    [run] = js["deletions"]["runs"]
    assert run["kind"] == "erase" and run["proof_hash"] != sg.GENESIS and run["proof_verified"] is True
    assert js["deletions"]["all_proofs_verified"] is True


# --------------------------------------------------------------------------- rectification
def test_rectify_refuses_what_it_must(cli):
    from courtarchive.governance import retention
    from courtarchive.governance.pseudonym import Keyring

    a = cli.archive
    plant(a, date=D(2024, 1, 10))
    plant(a, date=D(2025, 5, 1))
    retention.expire(a, keyring=Keyring(bytes(range(32))), as_of=D(2025, 6, 1))
    req = _request(cli, "rectification")
    expired = next(p["id"] for p in rows(a, "party") if p["pseudonymised"] and p["role"] == "DEFENDANT")
    raw = next(p["id"] for p in rows(a, "party") if p["surname"] == "QUIXLEY")
    before = rows(a, "party")

    def refused(*args, code=2):
        return _error(cli("rights", "rectify", *args, code=code))

    assert "needs the id of a rectification request" in refused("--party", raw, "--field", "town", "--value", "X")
    assert "pseudonymised" in refused(req["id"], "--party", expired, "--field", "surname", "--value", "QUIXLEY",
                                      code=3)
    assert "no party mention 99999999" in refused(req["id"], "--party", 99999999, "--field", "surname",
                                                  "--value", "SMITH", code=1)
    assert "--clear" in refused(req["id"], "--party", raw, "--field", "surname")
    assert "whole number" in refused(req["id"], "--party", raw, "--field", "age", "--value", "old")
    assert "must be a date" in refused(req["id"], "--party", raw, "--field", "date_of_birth", "--value", "1990-13-45")
    access = _request(cli, "access")
    assert "is an access request" in refused(access["id"], "--party", raw, "--field", "town", "--value", "X", code=3)
    assert rows(a, "party") == before and rows(a, "audit_event", action="rectify") == []
    r = cli("rights", "rectify", req["id"], "--party", raw, "--field", "town", "--value", "Leyland")
    assert "rectified town of 1 mention(s)" in r.stderr and rows(a, "party", id=raw)[0]["town"] == "Leyland"
    cli("rights", "rectify", req["id"], "--party", raw, "--field", "postcode", "--clear")
    assert rows(a, "party", id=raw)[0]["postcode"] is None


def test_rectified_name_leaves_the_search_index(cli):
    a = cli.archive
    plant(a, date=D(2025, 5, 1))
    cli("search-index", "refresh")
    req = _request(cli, "rectification")
    cli("rights", "rectify", req["id"], "--party", req["party_ids"][0], "--field", "surname", "--value", "ABERNATHY")
    cli("search-index", "refresh")
    with a.engine.connect() as c:
        names = [r[0] for r in c.exec_driver_sql("SELECT surname_norm FROM search_name")]
    assert names == ["abernathy"]


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("args,says", [
    (["expire", "--dry-run", "--now", "2021-02-30"], "--now must be a date YYYY-MM-DD, not '2021-02-30'"),
    (["expire", "--dry-run", "--now", "tomorrow"], "--now must be a date"),
    (["retention", "status", "--now", "2021/01/01"], "--now must be a date"),
    (["compliance", "report", "--now", "31-12-2021", "--out", "{tmp}/rep"], "--now must be a date"),
    (["rights", "find", "--name", "Zebedee Quixley", "--dob", "1990-13-45"], "--dob must be a date"),
    (["rights", "open", "--kind", "erasure", "--name", "Zebedee Quixley", "--dob", "14/07/1988"], "--dob must be a date"),
    (["expire", "--dry-run", "--profile", "/nonexistent.toml"], "cannot read the licence profile /nonexistent.toml"),
    (["retention", "status", "--profile", "{tmp}/bad.toml"], "not valid TOML"),
    (["compliance", "report", "--out", "{tmp}/afile"], "is a file"),
    (["retention", "frob"], "unknown action 'frob'"),
    (["audit", "verify", "--anchor", "/nonexistent.json"], "cannot read the anchor"),
    (["expire", "--dry-run", "--profile", "{tmp}/shoe.toml"], "unknown field 'party.shoe'"),   # (was a KeyError)
    (["expire", "--dry-run", "--profile", "{tmp}/six.toml"], "retention.raw_personal_months must be a whole number"),
    (["restrictions", "add", "--case", "1", "--rule", "cca_s11", "--start", "soon"], "--start must be a date"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, tmp_path, args, says):
    (tmp_path / "afile").write_text("keep me")
    (tmp_path / "bad.toml").write_text("[retention\nbatch_size = ")
    (tmp_path / "shoe.toml").write_text('[expiry.fields]\n"party.shoe" = "delete"\n')
    (tmp_path / "six.toml").write_text('[retention]\nraw_personal_months = "six"\n')
    plant(cli.archive, date=D(2024, 1, 10))
    events = len(rows(cli.archive, "audit_event"))
    r = cli(*[x.replace("{tmp}", str(tmp_path)) for x in args], code=2)
    assert says in _error(r)
    if "--profile" in args:          # a bad setting is worded as every command words one (README)
        assert _error(r).startswith("bad configuration: "), _error(r)
    assert len(rows(cli.archive, "audit_event")) == events                  # nothing done, nothing audited
    assert rows(cli.archive, "retention_run") == [] and rows(cli.archive, "party")[0]["surname"] == "QUIXLEY"
    assert (tmp_path / "afile").read_text() == "keep me" and not (tmp_path / "rep").exists()


def test_expire_and_audit_verify_speak_sentences(cli):
    """`expire --dry-run` printed its cut-offs and `audit verify` its head as Python dicts."""
    plant(cli.archive, date=D(2024, 1, 10))
    r = cli("expire", "--dry-run", "--now", "2025-06-01")
    assert "cut-offs: identity 2024-12-01" in r.output and "{" not in r.output, r.output
    r = cli("audit", "verify")
    assert "audit chain intact" in r.output and "head seq " in r.output and "{" not in r.output, r.output


@pytest.mark.parametrize("size", ["0", "-5"])
def test_expire_batch_size_below_one_is_refused(cli, size):
    plant(cli.archive, date=D(2024, 1, 10))
    r = cli("expire", "--now", "2025-06-01", "--batch-size", size, code=2)
    assert "--batch-size" in r.output and "Traceback" not in r.output
    assert rows(cli.archive, "retention_run") == [] and rows(cli.archive, "party")[0]["surname"] == "QUIXLEY"


# --------------------------------------------------------------------------- accounts and holds
def test_accounts_are_not_overwritten_and_are_validated(cli):
    a = cli.archive
    cli("account", "add", "desk", "--role", "admin", "--email", "desk@lancashirepost.co.uk")
    assert "account 'desk' exists" in _error(cli("account", "add", "desk", "--role", "public", "--email", "x@y.com",
                                                code=2))
    acc = sg.get_account(a, "desk")
    assert (acc["role"], acc["email"]) == ("admin", "desk@lancashirepost.co.uk")
    # update changes what is given, nothing else (the role is not reset to its default)
    r = cli("account", "update", "desk", "--email", "news@lancashirepost.co.uk")
    assert "email desk@lancashirepost.co.uk -> news@lancashirepost.co.uk" in r.stderr
    acc = sg.get_account(a, "desk")
    assert (acc["role"], acc["email"]) == ("admin", "news@lancashirepost.co.uk")
    cli("account", "update", "desk", "--role", "analyst")
    assert sg.get_account(a, "desk")["role"] == "analyst"
    assert "no account 'ghost'" in _error(cli("account", "update", "ghost", "--role", "admin", code=2))
    assert "not an e-mail address" in _error(cli("account", "add", "kim", "--email", "notanemail", code=2))
    assert "no spaces" in _error(cli("account", "add", "kim smith", "--role", "analyst", code=2))
    assert "not an e-mail address" in _error(cli("account", "update", "desk", "--email", "desk@", code=2))
    assert [x["username"] for x in sg.list_accounts(a)] == ["desk"]
    msg = _error(cli("account", "frob", code=2))
    assert "add, update, verify, list or password" in msg


def test_hold_list_shows_the_case_urn(cli):
    a = cli.archive
    plant(a, date=D(2025, 5, 1), urn="06ZZ7654321")
    plant(a, date=D(2025, 5, 2), people=[person(surname="OTHER")])
    case_id = rows(a, "case")[0]["id"]
    cli("hold", "add", "--scope", "case", "--ref", "06ZZ7654321", "--reason", "claim", "--authority", "court order",
        "--actor", "dpo")
    [h] = orjson.loads(cli("hold", "list", "--json").stdout)
    assert h["ref"] == str(case_id) and h["target"] == f"06ZZ7654321 (case {case_id})"
    assert "target" in cli("hold", "list").stdout          # the table's column (its width follows the terminal)


def test_narrowed_erasure_leaves_the_rest_pending(cli):
    a = cli.archive
    plant(a, date=D(2025, 5, 1))
    plant(a, date=D(2025, 5, 2))
    plant(a, date=D(2025, 5, 3), people=[person(surname="OTHER")])
    other = next(p["id"] for p in rows(a, "party") if p["surname"] == "OTHER")
    req = _request(cli, "erasure")
    first, second = req["party_ids"]
    assert "not among those request" in _error(cli("rights", "erase", req["id"], "--party", other, code=3))
    r = cli("rights", "erase", req["id"], "--party", first)                    # did what was asked: exit 0
    assert f"erased 1 mention(s); request {req['id']} stays pending (mention(s) {second} not erased yet)" in r.stderr
    r = cli("rights", "erase", req["id"], "--party", second)
    assert f"request {req['id']} done" in r.stderr
    assert rows(a, "party", id=other)[0]["surname"] == "OTHER"


def test_expire_counts_persons_apart_from_organisations(cli):
    """`expire` said "pseudonymised 4 part(y/ies)" for two people: each list's prosecuting
    authority (an organisation, its name kept) was counted among them."""
    plant(cli.archive, date=D(2024, 1, 10))
    plant(cli.archive, date=D(2024, 1, 11), people=[person(surname="KEPT")])
    dry = cli("expire", "--dry-run", "--now", "2025-06-01")
    assert "would pseudonymise 2 person(s) (besides 2 organisation part(y/ies)" in dry.output, dry.output
    rep = orjson.loads(cli("expire", "--now", "2025-06-01", "--json").stdout)
    assert (rep["persons_pseudonymised"], rep["organisations_pseudonymised"], rep["parties_pseudonymised"]) == (2, 2, 4)
    [run] = rows(cli.archive, "retention_run")
    assert run["counts"]["persons_pseudonymised"] == 2 and run["counts"]["organisations_pseudonymised"] == 2


def test_releasing_a_hold_that_does_not_exist_is_nothing_found(cli):
    """`hold release 99` (no such hold) exited 2 (bad input); the README's exit codes say 1 is
    nothing found.  One line, nothing audited, nothing released."""
    plant(cli.archive, date=D(2024, 1, 10))
    cli("hold", "add", "--scope", "archive", "--reason", "claim", "--authority", "court order", "--actor", "dpo")
    events = len(rows(cli.archive, "audit_event"))
    r = cli("hold", "release", "99", "--actor", "dpo", code=1)
    assert "no active hold 99" in _error(r)
    assert len(rows(cli.archive, "audit_event")) == events
    assert [h["released_at"] for h in rows(cli.archive, "hold")] == [None]
    cli("hold", "release", "1", "--actor", "dpo")
    r = cli("hold", "release", "1", "--actor", "dpo", code=1)       # released already: none active
    assert "no active hold 1" in _error(r)


def test_erasure_under_a_hold_says_the_hold_once(cli, caplog):
    """A legal hold keeping mentions was said twice on stderr: the command's message and the log
    warning (printed by logging's last resort when no handler is configured, as on the command
    line).  The command says it; the warning stays for whoever calls `rights.erase` itself."""
    import logging

    from courtarchive.governance import rights
    from courtarchive.governance.pseudonym import Keyring

    plant(cli.archive, date=D(2025, 5, 1))
    plant(cli.archive, date=D(2025, 5, 2))
    req = _request(cli, "erasure")
    cli("hold", "add", "--scope", "case", "--ref", rows(cli.archive, "case")[0]["urn"], "--reason", "claim",
        "--authority", "court order", "--actor", "dpo")
    with caplog.at_level(logging.DEBUG, logger="courtarchive.governance"):
        r = cli("rights", "erase", req["id"], "--actor", "dpo", code=1)
    assert r.stderr.count("legal hold 1") == 1, r.stderr
    assert not [x for x in caplog.records if "legal hold" in x.getMessage()]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="courtarchive.governance"):     # (the filter is gone)
        rights.erase(cli.archive, keyring=Keyring(bytes(range(32))), actor="dpo", request_id=req["id"])
    assert [x.levelno for x in caplog.records if "legal hold 1" in x.getMessage()] == [logging.WARNING]
