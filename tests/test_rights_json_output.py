"""`rights erase` / `rights rectify` with ``--json``: stdout is exactly one JSON document (the
result), whatever the command then says on stderr -- and the exit code still says what the words
say: 1 when a legal hold keeps mentions pending or a derived store's hook failed, 0 when done."""

from __future__ import annotations

import datetime as dt

import orjson

from courtarchive.store import governance as sg
from test_governance_cli import _request, cli  # noqa: F401  (the fixture: the real app on an archive)
from test_governance_compliance import cli_env  # noqa: F401
from test_governance_support import person, plant, rows
from test_rights_hook_retry import FAILING, home  # noqa: F401  (a profile with a store that fails on STORE_DOWN)

D = dt.date


def _one_json(r) -> dict:
    """The result's stdout as one JSON document (orjson refuses anything after it)."""
    assert r.stdout.strip(), r.output
    doc = orjson.loads(r.stdout)
    assert isinstance(doc, dict)
    return doc


def test_erase_json_under_a_hold_exits_1_and_prints_one_document(cli):
    a = cli.archive
    plant(a, date=D(2025, 5, 1))
    req = _request(cli, "erasure")
    case = rows(a, "case")[0]["urn"]
    cli("hold", "add", "--scope", "case", "--ref", case, "--reason", "claim", "--authority", "court order",
        "--actor", "dpo")
    r = cli("rights", "erase", req["id"], "--actor", "dpo", "--json", code=1)
    doc = _one_json(r)
    assert doc["request_id"] == req["id"] and not doc["complete"] and doc["pending_party_ids"]
    assert "kept under legal hold" in r.stderr and "kept under legal hold" not in r.stdout
    [hold] = sg.holds(a, active_only=True)
    cli("hold", "release", hold["id"], "--reason", "settled", "--actor", "dpo")
    r = cli("rights", "erase", req["id"], "--actor", "dpo", "--json")              # done: 0
    doc = _one_json(r)
    assert doc["complete"] and doc["parties"] == len(req["party_ids"]) + len(req["linked_party_ids"])
    assert f"request {req['id']} done" in r.stderr


def test_rectify_and_erase_json_with_a_failed_hook_exit_1_and_print_one_document(cli, home, monkeypatch):  # noqa: F811
    a = cli.archive
    plant(a, date=D(2025, 5, 2), people=[person(forenames="Ottoline", surname="GRISEDALE")])
    req = _request(cli, "rectification", name="Ottoline Grisedale")
    monkeypatch.setenv("STORE_DOWN", "1")
    r = cli("rights", "rectify", req["id"], "--party", req["party_ids"][0], "--field", "town", "--value",
            "Lancaster", "--actor", "dpo", "--json", code=1)
    doc = _one_json(r)
    assert doc["hooks_failed"] == {FAILING: "RuntimeError"} and doc["party_ids"] == req["party_ids"][:1]
    assert "rectified town of 1 mention(s)" in r.stderr and f"derived store {FAILING} failed" in r.stderr
    plant(a, date=D(2025, 5, 1))
    erasure = _request(cli, "erasure")
    r = cli("rights", "erase", erasure["id"], "--actor", "dpo", "--json", code=1)
    doc = _one_json(r)
    assert doc["hooks_failed"] == {FAILING: "RuntimeError"} and not doc["complete"]
    assert "derived stores still to purge" in r.stderr
    monkeypatch.delenv("STORE_DOWN")
    r = cli("rights", "rectify", req["id"], "--party", req["party_ids"][0], "--field", "town", "--value",
            "Lancaster", "--actor", "dpo", "--json")
    assert _one_json(r)["hooks_failed"] == {} and _one_json(r)["earlier_hooks_failed"] == {}
