"""A derived-store hook that raises does not stop the others, and is retried.

`hooks.run` called each hook in turn and the first that raised stopped the loop: the later hooks
never ran, so after an expiry or an erasure the exports (names, dates of birth), the search index's
rows, reviewers' notes and the alert queue kept their copies; the run was marked failed and the
command printed a traceback.  And a later `expire` with nothing new to expire did not run the hooks
again (they return early when nothing was touched): the missed purge was never retried."""

from __future__ import annotations

import datetime as dt
import logging
import sys

import orjson
import pytest

from courtarchive.governance import hooks, retention, rights
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring
from courtarchive.store import governance as sg
from test_governance_cli import _request, cli  # noqa: F401  (the fixture: the real app on an archive)
from test_governance_compliance import cli_env  # noqa: F401
from test_governance_support import person, plant, rows
from test_hooks_always import _copies, _indexed

KR = Keyring(bytes(range(32)))
D = dt.date
HOOK = "failing_store"
#: a store of the profile's own, listed first, that raises while it is down (FAILING_STORE_DOWN) --
#: with a message quoting a name, which must not reach the run, the audit log or the output
FAILING = '''import os

calls = []


def governance_hook(ev):
    calls.append((ev.run_id, ev.kind, sorted(ev.party_ids)))
    if ev.touched and os.environ.get("FAILING_STORE_DOWN"):
        raise RuntimeError("store down while purging QUIXLEY, Zebedee")
    return {"seen": len(ev.party_ids)}
'''


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / f"{HOOK}.py").write_text(FAILING)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, HOOK, raising=False)      # (its calls: this test's)
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    monkeypatch.setenv("FAILING_STORE_DOWN", "1")
    home = tmp_path / "home"
    home.mkdir()
    (home / "profile.toml").write_text(f'[derived_stores]\nhooks = ["{HOOK}"]\n', "utf-8")
    return home


def _purged(archive, held) -> None:
    """Every built-in purge happened."""
    assert not any(f.exists() for f in held["files"])
    assert sg.get_export(archive, held["export_id"])["purged_at"] is not None
    assert _indexed(archive, held["parties"][:1]) == 0
    assert [r["note"] for r in rows(archive, "review_decision")] == [None]


def _no_value(archive, caplog) -> None:
    text = caplog.text + "".join(orjson.dumps(e["details"]).decode() for e in rows(archive, "audit_event"))
    text += "".join(orjson.dumps(r["counts"]).decode() for r in sg.runs(archive))
    assert "QUIXLEY" not in text and "Zebedee" not in text and "store down" not in text


def test_expiry_runs_every_hook_past_a_failing_one_and_the_next_expiry_retries_it(archive, home, monkeypatch,
                                                                                  caplog):
    caplog.set_level(logging.INFO, "courtarchive")
    prof = load(home=home)
    held = _copies(archive, home)
    rep = retention.expire(archive, keyring=KR, profile=prof, as_of=D(2025, 6, 1), home=home)
    assert rep["hooks_failed"] == {HOOK: "RuntimeError"} and set(hooks.BUILT_IN) <= set(rep["derived_stores"])
    _purged(archive, held)
    assert rows(archive, "alert_match") == []
    run = sg.get_run(archive, rep["run_id"])
    assert run["status"] == "failed" and run["counts"]["hooks_failed"] == {HOOK: "RuntimeError"}
    touched = run["counts"]["hooks_retry"]["party_ids"]
    assert set(held["parties"]) < set(touched) and set(run["counts"]["hooks_retry"]) <= set(hooks.EVENT_IDS)
    [ev] = rows(archive, "audit_event", action="expire")
    assert ev["details"]["hooks_failed"] == {HOOK: "RuntimeError"}
    [ev] = rows(archive, "audit_event", action="derived_stores_failed")
    assert ev["details"] == {"kind": "expire", "hooks_failed": {HOOK: "RuntimeError"}}

    # nothing new to expire, the store still down: retried, still failing, said so
    again = retention.expire(archive, keyring=KR, profile=prof, as_of=D(2025, 6, 1), home=home)
    assert again["parties_pseudonymised"] == 0 and again["hooks_failed"] == {}
    assert again["earlier_hooks_failed"] == {str(rep["run_id"]): {HOOK: "RuntimeError"}}
    assert sg.get_run(archive, rep["run_id"])["status"] == "failed"
    assert sg.get_run(archive, again["run_id"])["status"] == "done"

    # the store back: the next expiry purges the first run's rows from it and clears the failure
    import failing_store

    monkeypatch.delenv("FAILING_STORE_DOWN")
    third = retention.expire(archive, keyring=KR, profile=prof, as_of=D(2025, 6, 1), home=home)
    assert third["earlier_hooks_failed"] == {}
    assert (rep["run_id"], "expire", touched) in failing_store.calls
    run = sg.get_run(archive, rep["run_id"])
    assert run["status"] == "done" and run["counts"]["hooks_retried"] == {HOOK: third["run_id"]}
    assert "hooks_failed" not in run["counts"] and "hooks_retry" not in run["counts"]
    assert sg.runs_with_failed_hooks(archive) == []
    [retry, _] = rows(archive, "audit_event", action="derived_stores_retry")
    assert retry["details"] == {"by_run": again["run_id"], "still_failed": {str(rep["run_id"]): {HOOK: "RuntimeError"}}}
    _no_value(archive, caplog)


def test_erasure_runs_every_hook_past_a_failing_one_and_erasing_again_retries_it(archive, home, monkeypatch,
                                                                                 caplog):
    caplog.set_level(logging.INFO, "courtarchive")
    prof = load(home=home)
    held = _copies(archive, home)
    req = rights.open_request(archive, kind="erasure", name="Zebedee Quixley", dob=D(1988, 7, 14), keyring=KR,
                              actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="no public interest in keeping it", actor="dpo")
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)
    assert out["parties"] == 1 and out["hooks_failed"] == {HOOK: "RuntimeError"}
    assert set(hooks.BUILT_IN) <= set(out["derived_stores"])
    _purged(archive, held)
    # not done while a store holds a copy: the request stays pending, the run failed
    assert not out["complete"] and sg.get_rights_request(archive, req["id"])["status"] == "decided"
    assert sg.get_run(archive, out["run_id"])["status"] == "failed"
    [ev] = rows(archive, "audit_event", action="derived_stores_failed")
    assert ev["details"] == {"kind": "erase", "hooks_failed": {HOOK: "RuntimeError"}}

    import failing_store

    monkeypatch.delenv("FAILING_STORE_DOWN")
    again = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)
    assert again["complete"] and again["earlier_hooks_failed"] == {} and "hooks_failed" not in again
    assert (out["run_id"], "erase", held["parties"][:1]) in failing_store.calls
    assert sg.get_run(archive, out["run_id"])["status"] == "done"
    assert sg.get_rights_request(archive, req["id"])["status"] == "done"
    _no_value(archive, caplog)


def _failed_lines(r) -> list[str]:
    return [line for line in r.output.splitlines() if line.startswith("error: ")]


def test_the_commands_say_which_hook_failed_in_one_line_and_exit_1(cli, home, monkeypatch):  # noqa: F811
    a = cli.archive
    plant(a, date=D(2024, 1, 10))
    r = cli("expire", "--now", "2025-06-01", "--actor", "dpo", code=1)
    run_id = sg.runs(a)[-1]["id"]
    assert _failed_lines(r) == [f"error: derived store {HOOK} failed (RuntimeError) in run {run_id}: its copies "
                                "stay until the next `courtarchive expire` retries it"]
    assert "QUIXLEY" not in r.output and all(p["pseudonymised"] for p in rows(a, "party"))
    monkeypatch.delenv("FAILING_STORE_DOWN")
    assert _failed_lines(cli("expire", "--now", "2025-06-01", "--actor", "dpo")) == []
    assert sg.get_run(a, run_id)["status"] == "done"

    # an erasure: the request stays pending, erasing again retries the store
    plant(a, date=D(2025, 5, 1))
    req = _request(cli, "erasure")
    monkeypatch.setenv("FAILING_STORE_DOWN", "1")
    r = cli("rights", "erase", req["id"], "--actor", "dpo", code=1)
    run_id = sg.runs(a)[-1]["id"]
    assert _failed_lines(r) == [f"error: derived store {HOOK} failed (RuntimeError) in run {run_id}: its copies "
                                f"stay until `rights erase {req['id']}` (same options) or `courtarchive expire` "
                                "retries it"]
    assert "stays pending (derived stores still to purge)" in r.output and "QUIXLEY" not in r.output
    monkeypatch.delenv("FAILING_STORE_DOWN")
    assert f"request {req['id']} done" in cli("rights", "erase", req["id"], "--actor", "dpo").output

    # a rectification: a run of its own, retried by the next expiry or by running it again
    plant(a, date=D(2025, 5, 2), people=[person(forenames="Ottoline", surname="GRISEDALE")])
    req = _request(cli, "rectification", name="Ottoline Grisedale")
    monkeypatch.setenv("FAILING_STORE_DOWN", "1")
    fix = ("rights", "rectify", req["id"], "--party", req["party_ids"][0], "--field", "town", "--value",
           "Lancaster", "--actor", "dpo")
    r = cli(*fix, code=1)
    run_id = sg.runs(a)[-1]["id"]
    assert _failed_lines(r) == [f"error: derived store {HOOK} failed (RuntimeError) in run {run_id}: its copies "
                                "stay until the next `courtarchive expire` (or this `rights rectify` run again) "
                                "retries it"]
    assert "derived stores updated" not in r.output
    monkeypatch.delenv("FAILING_STORE_DOWN")
    assert "derived stores updated" in cli(*fix).output
