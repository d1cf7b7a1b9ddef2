"""`rights` commands' exit codes follow the convention (`clikit`): 1 no such request or mention, or
nothing to act on; 2 bad input; 3 refused by the policy -- every error one line, nothing done.  The
type of the error says which (not its wording).  And the Art 12(3) extension of the date to answer."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from courtarchive.governance import access, compliance, retention, rights
from courtarchive.governance.pseudonym import Keyring
from courtarchive.store import governance as sg
from test_governance_cli import _error, cli  # noqa: F401  (the fixture: the CLI over an initialised archive)
from test_governance_compliance import cli_env  # noqa: F401
from test_governance_support import plant, rows

KR = Keyring(bytes(range(32)))
D = dt.date


def _open(run, kind, decision="comply", name="Zebedee Quixley", dob="1988-07-14") -> int:
    req = orjson.loads(run("rights", "open", "--kind", kind, "--name", name, "--dob", dob, "--actor", "dpo",
                           "--json").stdout)
    if decision:
        run("rights", "decide", req["id"], "--decision", decision, "--reasons", "checked", "--actor", "dpo")
    return req["id"]


def test_rights_errors_exit_by_kind(cli, tmp_path):
    a = cli.archive
    plant(a, date=D(2024, 1, 10))                                    # expires below
    plant(a, date=D(2025, 5, 1))
    retention.expire(a, keyring=KR, as_of=D(2025, 6, 1))
    raw = next(p["id"] for p in rows(a, "party") if p["surname"] == "QUIXLEY")
    expired = next(p["id"] for p in rows(a, "party") if p["pseudonymised"] and p["role"] == "DEFENDANT")
    erasure, rect, acc = _open(cli, "erasure"), _open(cli, "rectification"), _open(cli, "access")
    undecided = _open(cli, "erasure", decision=None)
    nobody = _open(cli, "erasure", name="Nobody Atall")
    done = _open(cli, "erasure")
    cli("rights", "erase", done, "--actor", "dpo")
    cases = {
        1: [("decide", 99, "--decision", "comply", "--reasons", "x"),               # no such request
            ("erase", 99), ("copy", 99, "--out", tmp_path / "c"), ("extend", 99, "--reasons", "many lists"),
            ("rectify", 99, "--party", raw, "--field", "town", "--value", "X"),
            ("erase", nobody),                                                      # found nothing
            ("rectify", rect, "--party", 99999999, "--field", "town", "--value", "X")],
        2: [("open", "--kind", "frob", "--name", "Zebedee Quixley"), ("open", "--kind", "access"),
            ("find", "--name", "Zebedee Quixley", "--dob", "1988-13-01"),
            ("decide", undecided, "--decision", "maybe", "--reasons", "x"), ("decide", undecided, "--decision", "comply"),
            ("erase", erasure, "--mode", "shred"), ("erase", "--party", raw),
            ("rectify", rect, "--party", raw, "--field", "case_id", "--value", "1"),
            ("rectify", rect, "--party", raw, "--field", "town"),
            ("rectify", rect, "--party", raw, "--field", "age", "--value", "old"),
            ("extend", undecided, "--reasons", "many lists", "--months", "3"), ("extend", undecided)],
        3: [("decide", undecided, "--decision", "refuse_exempt", "--reasons", "x", "--view-to-publication"),
            ("erase", undecided), ("erase", acc), ("erase", erasure, "--party", raw + 1000), ("erase", done),
            ("rectify", rect, "--party", expired, "--field", "surname", "--value", "QUIXLEY"),
            ("rectify", rect, "--complainant", 1, "--field", "surname", "--value", "X"),
            ("copy", acc, "--out", tmp_path / "c", "--party", raw + 1000), ("extend", done, "--reasons", "many")],
    }
    before = (rows(a, "audit_event"), rows(a, "party"), rows(a, "rights_request"), rows(a, "retention_run"))
    for code, calls in cases.items():
        for args in calls:
            r = cli("rights", *args, "--actor", "dpo", code=code)
            assert _error(r).startswith("error: "), (args, r.output)
    assert (rows(a, "audit_event"), rows(a, "party"), rows(a, "rights_request"), rows(a, "retention_run")) == before
    assert not (tmp_path / "c").exists()


def test_the_error_type_says_the_kind_of_no(archive):
    """The command maps types, not messages: each error raised is one of three kinds."""
    plant(archive, date=D(2025, 5, 1))
    req = rights.open_request(archive, kind="access", name="Zebedee Quixley", keyring=KR, actor="dpo")
    with pytest.raises(rights.NotFound):
        rights.decide(archive, 99, decision="comply", reasons="x", actor="dpo")
    with pytest.raises(rights.Refused):
        rights.decide(archive, req["id"], decision="refuse_exempt", reasons="x", actor="dpo")
    with pytest.raises(rights.RightsError) as bad:
        rights.decide(archive, req["id"], decision="maybe", reasons="x", actor="dpo")
    assert not isinstance(bad.value, (rights.NotFound, rights.Refused))
    with pytest.raises(rights.Refused):
        access.build(archive, req["id"])                                # not decided
    nobody = rights.open_request(archive, kind="access", name="Nobody Atall", keyring=KR, actor="dpo")
    rights.decide(archive, nobody["id"], decision="comply", reasons="x", actor="dpo")
    with pytest.raises(rights.NotFound):
        access.build(archive, nobody["id"])
    assert issubclass(access.NothingHeld, rights.NotFound) and issubclass(access.NothingHeld, access.AccessError)


# --------------------------------------------------------------------------- Art 12(3) extension
def _received(archive, rid, when: dt.datetime) -> dict:
    sg.save_rights_request(archive, {"id": rid, "received_at": when})
    return sg.get_rights_request(archive, rid)


def test_a_request_is_extended_once_within_its_month(archive):
    req = rights.open_request(archive, kind="access", name="Zebedee Quixley", keyring=KR, actor="dpo")
    got = _received(archive, req["id"], dt.datetime(2025, 1, 31, 9))
    assert rights.due(got) == D(2025, 2, 28) and rights.overdue(got, D(2025, 3, 1))
    for bad in (3, 0, "2"):
        with pytest.raises(rights.RightsError, match="1 or 2 further months"):
            rights.extend(archive, req["id"], reasons="many lists", actor="dpo", months=bad, today=D(2025, 2, 10))
    with pytest.raises(rights.RightsError, match="records its reasons"):
        rights.extend(archive, req["id"], reasons=" ", actor="dpo", today=D(2025, 2, 10))
    with pytest.raises(rights.Refused, match="ended on 2025-02-28"):
        rights.extend(archive, req["id"], reasons="many lists", actor="dpo", today=D(2025, 3, 1))
    assert rows(archive, "audit_event", action="rights_extend") == []

    got = rights.extend(archive, req["id"], reasons="47 lists across 6 courts to search", actor="dpo",
                        today=D(2025, 2, 28))
    ext = got["found"]["extension"]
    assert (ext["months"], ext["reasons"], ext["by"]) == (2, "47 lists across 6 courts to search", "dpo") and ext["at"]
    assert rights.due(got) == D(2025, 4, 30)                        # three months from receipt
    assert not rights.overdue(got, D(2025, 4, 30)) and rights.overdue(got, D(2025, 5, 1))
    [ev] = rows(archive, "audit_event", action="rights_extend")
    assert ev["details"] == {"months": 2, "respond_by": "2025-04-30"} and "47 lists" not in str(ev)
    with pytest.raises(rights.Refused, match="extended already"):
        rights.extend(archive, req["id"], reasons="more", actor="dpo", months=1, today=D(2025, 2, 10))
    # the compliance report counts it and judges it overdue by the extended date
    rep = compliance.build(archive, as_of=D(2025, 4, 1))["rights_requests"]
    assert rep["extended"] == 1 and rep["overdue"] == 0
    assert compliance.build(archive, as_of=D(2025, 5, 1))["rights_requests"]["overdue"] == 1
    # an answered request has nothing to extend
    done = rights.open_request(archive, kind="access", name="Zebedee Quixley", keyring=KR, actor="dpo")
    rights.decide(archive, done["id"], decision="refuse_exempt", reasons="investigation", actor="dpo",
                  with_view_to_publication=True, public_interest_belief=True, incompatible_with_journalism=True)
    with pytest.raises(rights.Refused, match="has been answered"):
        rights.extend(archive, done["id"], reasons="many", actor="dpo")


def test_extend_from_the_command_line(cli):
    a = cli.archive
    plant(a, date=D(2025, 5, 1))
    rid = _open(cli, "access", decision=None)
    first = rights.due(sg.get_rights_request(a, rid))
    r = cli("rights", "extend", rid, "--reasons", "many lists", "--months", "1", "--actor", "dpo")
    later = rights.due(sg.get_rights_request(a, rid))
    assert f"extended by 1 month(s) to {later}" in r.stderr and later > first
    [listed] = orjson.loads(cli("rights", "list", "--json").stdout)
    assert listed["respond_by"] == later.isoformat() and listed["extended"] == 1
    assert "extended already" in _error(cli("rights", "extend", rid, "--reasons", "more", code=3))
    old = _open(cli, "access", decision=None)
    _received(a, old, dt.datetime(2020, 1, 1, 9))
    assert "ended on 2020-02-01" in _error(cli("rights", "extend", old, "--reasons", "many", code=3))
