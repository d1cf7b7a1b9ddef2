"""Derived-store hooks that did not finish are retried, and what the retry finishes is recorded.

An erasure or expiry interrupted (Ctrl-C) while its hooks ran left nothing saying they had not
finished: no later `expire` retried them, and the stores after the interrupted one kept their
copies of the names.  An erasure request kept pending by a failed hook stayed ``decided`` (overdue,
in the compliance report's "decided, not done") after `expire` retried the hook and purged the
store.  A rectification's failed hooks were retried only by running the same rectification again.
"""

from __future__ import annotations

import datetime as dt
import sys

import orjson
import pytest

from courtarchive.governance import compliance, holds, retention, rights
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring
from courtarchive.store import governance as sg
from test_governance_cli import _request, cli  # noqa: F401  (the fixture: the real app on an archive)
from test_governance_compliance import cli_env  # noqa: F401
from test_governance_support import person, plant, rows
from test_hooks_always import _copies
from test_hooks_failures import _failed_lines, _purged

KR = Keyring(bytes(range(32)))
D = dt.date
AS_OF = D(2025, 6, 1)
MOD = "stores_under_test"
#: two stores of the profile's own, listed before the built-ins: one interrupted (Ctrl-C) while
#: STORE_INTERRUPTED is set, one that raises while STORE_DOWN is set
STORES = '''import os

calls = []


def interrupted(ev):
    calls.append(("interrupted", ev.run_id, ev.kind, sorted(ev.party_ids)))
    if ev.touched and os.environ.get("STORE_INTERRUPTED"):
        raise KeyboardInterrupt
    return {}


def failing(ev):
    calls.append(("failing", ev.run_id, ev.kind, sorted(ev.party_ids)))
    if ev.touched and os.environ.get("STORE_DOWN"):
        raise RuntimeError("store down")
    return {}
'''
INTERRUPTED, FAILING = f"{MOD}:interrupted", f"{MOD}:failing"


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / f"{MOD}.py").write_text(STORES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MOD, raising=False)
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    for var in ("STORE_INTERRUPTED", "STORE_DOWN"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "profile.toml").write_text(f'[derived_stores]\nhooks = ["{INTERRUPTED}", "{FAILING}"]\n', "utf-8")
    return home


def _calls(hook: str) -> list[tuple]:
    import stores_under_test

    return [c[1:] for c in stores_under_test.calls if c[0] == hook.partition(":")[2]]


def _erasure(archive, **kw) -> dict:
    req = rights.open_request(archive, kind="erasure", name="Zebedee Quixley", dob=D(1988, 7, 14), keyring=KR,
                              actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="no public interest in keeping it", actor="dpo")
    return req


# --------------------------------------------------------------------------- 1: interrupted hooks
def _interrupted_expiry(archive, home, monkeypatch):
    """An expiry stopped (Ctrl-C) in its derived-store hooks: (profile, held copies, its run)."""
    prof = load(home=home)
    held = _copies(archive, home)
    monkeypatch.setenv("STORE_INTERRUPTED", "1")
    with pytest.raises(KeyboardInterrupt):
        retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, home=home)
    [run] = sg.runs(archive)
    return prof, held, run


def test_an_expiry_interrupted_in_its_hooks_is_retried_by_the_next(archive, home, monkeypatch):
    prof, held, run = _interrupted_expiry(archive, home, monkeypatch)
    assert run["status"] == "failed" and run["counts"]["hooks_failed"][FAILING] == retention.UNFINISHED
    assert set(run["counts"]["hooks_failed"]) >= {INTERRUPTED, FAILING}
    touched = run["counts"]["hooks_retry"]["party_ids"]
    assert set(held["parties"]) <= set(touched)
    assert all(f.exists() for f in held["files"]) and _calls(FAILING) == []     # the later stores never ran

    monkeypatch.delenv("STORE_INTERRUPTED")
    again = retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, home=home)
    assert again["parties_pseudonymised"] == 0 and again["earlier_hooks_failed"] == {}
    assert (run["id"], "expire", touched) in _calls(FAILING)
    _purged(archive, held)
    run = sg.get_run(archive, run["id"])
    assert run["status"] == "done" and "hooks_failed" not in run["counts"]
    assert run["counts"]["hooks_retried"][INTERRUPTED] == again["run_id"]
    assert sg.runs_with_failed_hooks(archive) == []


def test_an_expiry_killed_in_its_hooks_is_retried_by_the_next(archive, home, monkeypatch):
    """Killed outright (SIGKILL, power): no handler marks the run failed; the next expiry marks it
    interrupted and retries the hooks it had listed as not finished."""
    prof, held, run = _interrupted_expiry(archive, home, monkeypatch)
    sg.update_run(archive, run["id"], status="running")         # as a kill leaves it: no handler ran
    monkeypatch.delenv("STORE_INTERRUPTED")
    again = retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, home=home)
    assert again["earlier_hooks_failed"] == {}
    assert (run["id"], "expire", run["counts"]["hooks_retry"]["party_ids"]) in _calls(FAILING)
    _purged(archive, held)
    run = sg.get_run(archive, run["id"])
    assert "hooks_failed" not in run["counts"] and run["counts"]["hooks_retried"][INTERRUPTED] == again["run_id"]
    assert sg.runs_with_failed_hooks(archive) == []


def test_an_erasure_interrupted_in_its_hooks_is_retried_by_erasing_again(archive, home, monkeypatch):
    prof = load(home=home)
    held = _copies(archive, home)
    req = _erasure(archive)
    monkeypatch.setenv("STORE_INTERRUPTED", "1")
    with pytest.raises(KeyboardInterrupt):
        rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)
    [run] = sg.runs(archive)
    assert run["status"] == "failed" and FAILING in run["counts"]["hooks_failed"]
    assert sg.get_rights_request(archive, req["id"])["status"] == "decided"
    assert all(f.exists() for f in held["files"])

    monkeypatch.delenv("STORE_INTERRUPTED")
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)
    assert out["complete"] and out["earlier_hooks_failed"] == {}
    assert (run["id"], "erase", held["parties"][:1]) in _calls(FAILING)
    _purged(archive, held)
    assert sg.get_run(archive, run["id"])["status"] == "done"
    assert sg.get_rights_request(archive, req["id"])["status"] == "done"


# --------------------------------------------------------------------------- 2: the request done on retry
def test_expiry_retrying_an_erasures_failed_hook_completes_the_request(archive, home, monkeypatch):
    prof = load(home=home)
    plant(archive, date=D(2025, 5, 1))                 # (not due for expiry on AS_OF)
    req = _erasure(archive)
    received = dt.datetime(2025, 3, 1)
    sg.save_rights_request(archive, {"id": req["id"], "received_at": received})
    monkeypatch.setenv("STORE_DOWN", "1")
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)
    assert out["hooks_failed"] == {FAILING: "RuntimeError"} and not out["complete"]
    r = sg.get_rights_request(archive, req["id"])
    assert r["status"] == "decided" and rights.overdue(r, AS_OF)
    report = compliance.build(archive, profile=prof, as_of=AS_OF)["rights_requests"]
    assert report["decided_not_done"] == 1 and report["overdue"] == 1

    monkeypatch.delenv("STORE_DOWN")
    rep = retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, home=home)
    assert rep["earlier_hooks_failed"] == {} and (out["run_id"], "erase", req["party_ids"]) in _calls(FAILING)
    r = sg.get_rights_request(archive, req["id"])
    assert r["status"] == "done" and r["completed_at"] is not None and not rights.overdue(r, AS_OF)
    report = compliance.build(archive, profile=prof, as_of=AS_OF)["rights_requests"]
    assert report["decided_not_done"] == 0 and report["overdue"] == 0
    [ev] = rows(archive, "audit_event", action="rights_done")
    assert ev["details"] == {"kind": "erase", "by_run": rep["run_id"]}
    assert ev["object"] == f"retention_run:{rep['run_id']};rights_request:{req['id']}"
    with pytest.raises(rights.Refused, match="was completed"):
        rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)


def test_a_retry_does_not_complete_a_request_a_hold_keeps_pending(archive, home, monkeypatch):
    prof = load(home=home)
    plant(archive, date=D(2025, 5, 1))
    plant(archive, date=D(2025, 5, 2))
    req = _erasure(archive)
    first, _ = req["party_ids"]
    hid = holds.add(archive, scope="person", ref=f"party:{first}", reason="claim", authority="court order", actor="dpo")
    monkeypatch.setenv("STORE_DOWN", "1")
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)
    assert out["hooks_failed"] and out["pending_party_ids"] == [first]
    monkeypatch.delenv("STORE_DOWN")
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, home=home)
    assert sg.get_run(archive, out["run_id"])["status"] == "done"
    assert sg.get_rights_request(archive, req["id"])["status"] == "decided"       # the held mention: still to go
    assert rows(archive, "audit_event", action="rights_done") == []
    holds.release(archive, hid, actor="dpo")
    assert rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)["complete"]


# --------------------------------------------------------------------------- 3: a rectification's hooks
def _rectification(archive) -> dict:
    plant(archive, date=D(2025, 5, 2), people=[person(forenames="Ottoline", surname="GRISEDALE")])
    req = rights.open_request(archive, kind="rectification", name="Ottoline Grisedale", dob=D(1988, 7, 14),
                              keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="the town is wrong", actor="dpo")
    return req


def test_a_rectifications_failed_hook_is_retried_by_the_next_expiry(archive, home, monkeypatch):
    prof = load(home=home)
    req = _rectification(archive)
    ids = req["party_ids"]
    monkeypatch.setenv("STORE_DOWN", "1")
    out = rights.rectify(archive, ids, field="town", value="Lancaster", actor="dpo", request_id=req["id"],
                         profile=prof, home=home)
    assert out["hooks_failed"] == {FAILING: "RuntimeError"}
    run = sg.get_run(archive, out["run_id"])
    assert run["kind"] == "rectify" and run["status"] == "failed"
    assert run["counts"]["hooks_failed"] == {FAILING: "RuntimeError"}
    assert run["counts"]["hooks_retry"] == {"party_ids": ids}
    assert sg.runs_with_failed_hooks(archive) == [run]
    [ev] = rows(archive, "audit_event", action="derived_stores_failed")
    assert ev["details"] == {"kind": "rectify", "hooks_failed": {FAILING: "RuntimeError"}}

    monkeypatch.delenv("STORE_DOWN")
    rep = retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, home=home)
    assert rep["earlier_hooks_failed"] == {} and (run["id"], "rectify", ids) in _calls(FAILING)
    run = sg.get_run(archive, out["run_id"])
    assert run["status"] == "done" and run["counts"]["hooks_retried"] == {FAILING: rep["run_id"]}
    assert sg.get_rights_request(archive, req["id"])["status"] == "done"

    # interrupted: retried as well
    monkeypatch.setenv("STORE_INTERRUPTED", "1")
    with pytest.raises(KeyboardInterrupt):
        rights.rectify(archive, ids, field="town", value="Lancaster", actor="dpo", request_id=req["id"],
                       profile=prof, home=home)
    [run] = sg.runs_with_failed_hooks(archive)
    assert run["kind"] == "rectify" and run["counts"]["hooks_failed"][FAILING] == retention.UNFINISHED
    monkeypatch.delenv("STORE_INTERRUPTED")
    retention.expire(archive, keyring=KR, profile=prof, as_of=AS_OF, home=home)
    assert sg.runs_with_failed_hooks(archive) == [] and (run["id"], "rectify", ids) in _calls(FAILING)


def test_the_commands_say_who_retries_and_list_the_request_done(cli, home, monkeypatch):  # noqa: F811
    a = cli.archive
    plant(a, date=D(2025, 5, 2), people=[person(forenames="Ottoline", surname="GRISEDALE")])
    req = _request(cli, "rectification", name="Ottoline Grisedale")
    monkeypatch.setenv("STORE_DOWN", "1")
    r = cli("rights", "rectify", req["id"], "--party", req["party_ids"][0], "--field", "town", "--value",
            "Lancaster", "--actor", "dpo", code=1)
    run_id = sg.runs(a)[-1]["id"]
    assert _failed_lines(r) == [f"error: derived store {FAILING} failed (RuntimeError) in run {run_id}: its copies "
                                "stay until the next `courtarchive expire` (or this `rights rectify` run again) "
                                "retries it"]
    plant(a, date=D(2025, 5, 1))
    erasure = _request(cli, "erasure")
    cli("rights", "erase", erasure["id"], "--actor", "dpo", code=1)
    monkeypatch.delenv("STORE_DOWN")
    assert _failed_lines(cli("expire", "--now", "2025-06-01", "--actor", "dpo")) == []
    assert sg.get_run(a, run_id)["status"] == "done" and sg.runs_with_failed_hooks(a) == []
    listed = {r["id"]: r for r in orjson.loads(cli("rights", "list", "--json").stdout)}
    assert listed[erasure["id"]]["status"] == "done" and listed[erasure["id"]]["completed_at"]
    assert listed[erasure["id"]]["overdue"] is False


# --------------------------------------------------------------------------- 4: no redundant reads
def _reads(monkeypatch) -> list[str]:
    """The requests and runs read from the store from now on."""
    reads: list[str] = []
    get_request, get_run = sg.get_rights_request, sg.get_run
    monkeypatch.setattr(sg, "get_rights_request", lambda *a, **k: reads.append("request") or get_request(*a, **k))
    monkeypatch.setattr(sg, "get_run", lambda *a, **k: reads.append("run") or get_run(*a, **k))
    return reads


def test_extend_does_not_read_again_the_request_it_holds(archive, home, monkeypatch):
    req = _erasure(archive)
    get_request = sg.get_rights_request
    reads = _reads(monkeypatch)
    out = rights.extend(archive, req["id"], reasons="many requests at once", actor="dpo")
    assert reads == ["request"]
    assert out == get_request(archive, req["id"]) and rights.extension(out)["months"] == 2


def test_hook_failures_do_not_read_the_run_they_overwrite(archive, home, monkeypatch):
    prof = load(home=home)
    get_run = sg.get_run
    plant(archive, date=D(2025, 5, 1))
    req = _erasure(archive)
    monkeypatch.setenv("STORE_DOWN", "1")
    reads = _reads(monkeypatch)
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)
    assert "run" not in reads
    assert get_run(archive, out["run_id"])["counts"]["hooks_failed"] == {FAILING: "RuntimeError"}
