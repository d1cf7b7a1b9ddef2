"""The compliance report renders and its figures match the store; the governance CLI works end to end."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import orjson
import pytest
from typer.testing import CliRunner

from courtarchive.governance import compliance, disclose, distribution, holds, restrictions, retention, rights
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring
from courtarchive.governance.rules import RULES
from test_governance_support import NOW, PURPOSE, case_records, person, plant, rows, viewers

KR = Keyring(bytes(range(32)))
D = dt.date


def _activity(archive, tmp_path):
    plant(archive, date=D(2024, 1, 10))
    plant(archive, date=D(2024, 2, 10), detail="Section 45 of the Youth Justice and Criminal Evidence Act 1999")
    w = plant(archive, date=D(2024, 3, 10), people=[person(surname="HELD")])
    plant(archive, date=D(2025, 5, 1), people=[person(surname="RECENT")])
    held_case = rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]
    holds.add(archive, scope="case", ref=str(held_case), reason="claim", authority="letter before action", actor="dpo")
    restrictions.sync(archive)
    for role, v in viewers().items():
        disclose(case_records(archive, held_case), v, purpose=PURPOSE[role], context={"archive": archive, "now": NOW})
    distribution.export(archive, rows(archive, "party"), viewers()["verified_media"], purpose="journalism",
                        keyring=KR, profile=load(), home=tmp_path, now=NOW, recipient="desk@lancashirepost.co.uk")
    retention.expire(archive, keyring=KR, as_of=D(2025, 6, 1), home=tmp_path)
    rights.open_request(archive, kind="access", name="Recent Person", keyring=KR, actor="dpo")


def test_report_figures_match_the_store(archive, tmp_path):
    _activity(archive, tmp_path)
    audit_before = rows(archive, "audit_event")
    rep = compliance.write(archive, tmp_path / "report", as_of=D(2025, 6, 1))
    js = orjson.loads((tmp_path / "report" / "compliance.json").read_bytes())
    html = (tmp_path / "report" / "compliance.html").read_text()
    assert js["as_of"] == rep["as_of"] == "2025-06-01" and "<h1>Compliance report</h1>" in html

    pubs = rows(archive, "publication")
    raw = [p for p in pubs if p["raw_expired_at"] is None]
    rs = js["retention_status"]
    assert rs["raw_publications"] == len(raw) == 2                    # the held one and the recent one
    assert rs["oldest_raw_content_date"] == min(p["content_date"] for p in raw).isoformat() == "2024-03-10"
    assert rs["within_limit"] is False                               # ... because of the hold, which is listed
    assert rs["beyond_limit_unheld"] == []                          # nothing overdue that is not held
    assert [h["scope"] for h in rs["holds"]] == ["case"]
    parties = rows(archive, "party")
    people = [p for p in parties if p["surname"] is not None or p["organisation_name"] is None]
    assert 0 < len(people) < len(parties)                    # (each list's prosecuting authority)
    assert rs["parties"] == {"parties": len(parties), "organisations": len(parties) - len(people),
                             "people": len(people), "pseudonymised": sum(1 for p in people if p["pseudonymised"]),
                             "raw": sum(1 for p in people if not p["pseudonymised"])}
    # (an organisation is no person pseudonymised: the report counted the authority of every list)
    assert rs["parties"]["pseudonymised"] < sum(1 for p in parties if p["pseudonymised"])

    runs = rows(archive, "retention_run")
    assert [r["run_id"] for r in js["deletions"]["runs"]] == [r["id"] for r in runs]
    assert js["deletions"]["all_proofs_verified"] is True
    assert js["deletions"]["runs"][0]["counts"]["parties_pseudonymised"] == 4

    want = Counter((e["role"], e["action"]) for e in audit_before)
    got = Counter({(role, act): n for role, acts in js["access_by_role"].items() for act, n in acts.items()})
    assert got == want
    assert js["audit"]["ok"] and js["audit"]["events"] == len(audit_before)

    exports = rows(archive, "export_record")
    assert [(d["domain"], d["deliveries"], d["rows"]) for d in js["recipients"]["domains"]] == \
        [("lancashirepost.co.uk", 1, exports[0]["rows"])]
    assert js["processors"]["external_personal_data_processors"] == 0
    cov = {r["rule"]: r for r in js["rule_coverage"]}
    assert set(cov) == set(RULES)
    stored = Counter(r["rule"] for r in rows(archive, "restriction"))
    assert all(cov[k]["orders_stored"] == stored.get(k, 0) for k in RULES) and stored["yjcea_s45"] == 1
    assert js["rights_requests"]["total"] == 1
    lawful = " ".join(b["basis"] for b in js["record_of_processing"]["lawful_bases"])
    assert "Art 10" in lawful and "Sch 1 Part 2 para 13" in lawful and "para 26" in lawful
    # the report itself is audited, by hash
    assert rows(archive, "audit_event")[-1]["action"] == "compliance_report"


def test_report_shows_a_broken_chain(archive, tmp_path):
    _activity(archive, tmp_path)
    with archive.engine.begin() as c:
        if archive.sqlite:
            c.exec_driver_sql("DROP TRIGGER audit_event_no_update")
        else:
            c.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
        c.exec_driver_sql("UPDATE audit_event SET actor = 'nobody' WHERE seq = 2")
    rep = compliance.write(archive, tmp_path / "r2")
    assert rep["audit"]["ok"] is False and "BROKEN" in (tmp_path / "r2" / "compliance.html").read_text()


# --------------------------------------------------------------------------- the CLI
@pytest.fixture
def cli_env(tmp_path, db_url, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_DB", db_url)
    monkeypatch.setenv("COURTARCHIVE_KEY", bytes(range(32)).hex())
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    from courtarchive.serve.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    return runner, app


def test_cli_end_to_end(cli_env, tmp_path):
    from courtarchive.store import Archive

    runner, app = cli_env
    a = Archive.open()
    plant(a, date=D(2024, 1, 10))
    plant(a, date=D(2024, 1, 11), people=[person(surname="KEPT")])

    def run(*args, code=0):
        r = runner.invoke(app, list(args))
        assert r.exit_code == code, (args, r.output)
        return r.output

    run("hold", "add", "--scope", "case", "--ref", rows(a, "case")[1]["urn"], "--reason", "claim",
        "--authority", "court order", "--actor", "dpo")
    assert "claim" in run("hold", "list", "--json")
    out = run("expire", "--dry-run", "--now", "2025-06-01", "--json")
    assert orjson.loads(out)["parties_pseudonymised"] == 2 and "QUIXLEY" not in out
    assert rows(a, "party")[0]["surname"] == "QUIXLEY"
    run("expire", "--now", "2025-06-01", "--actor", "dpo")
    assert [p["surname"] for p in rows(a, "party") if p["role"] == "DEFENDANT"][1] == "KEPT"
    run("hold", "release", "1", "--actor", "dpo", "--reason", "settled")
    run("expire", "--now", "2025-06-01")
    assert all(p["pseudonymised"] for p in rows(a, "party"))
    # the plain (not --json) answers are sentences, not Python dicts
    st = run("retention", "status", "--now", "2025-06-01")
    assert "people named" in st and "organisation parties" in st and "pseudonymised" in st and "{" not in st
    run("account", "add", "reporter", "--role", "verified_media", "--email", "r@post.co.uk", "--organisation", "Post")
    run("account", "verify", "reporter", "--press-card", "UKPC-9", "--actor", "desk.editor")
    assert "reporter" in run("account", "list", "--json")
    run("domain", "approve", "gmail.com", "--reason", "freelancer checked", "--actor", "admin1")
    run("restrictions", "sync")
    assert "subject_token" in run("rights", "find", "--name", "Zebedee Quixley", "--dob", "1988-07-14", "--json")
    found = run("rights", "find", "--name", "Zebedee Quixley", "--dob", "1988-07-14")
    assert "mentions matched:" in found and "records held:" in found and "{" not in found
    run("audit", "verify")
    run("audit", "anchor", "--out", str(tmp_path / "anchor.json"))
    run("audit", "verify", "--anchor", str(tmp_path / "anchor.json"))
    run("compliance", "report", "--out", str(tmp_path / "rep"), "--now", "2025-06-01")
    assert (tmp_path / "rep" / "compliance.html").exists()
    with a.engine.begin() as c:
        if a.sqlite:
            c.exec_driver_sql("DROP TRIGGER audit_event_no_delete")
        else:
            c.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
        c.exec_driver_sql("DELETE FROM audit_event WHERE seq = 3")
    assert "gap" in run("audit", "verify", code=1)
    a.close()


def test_media_accounts_never_verified_are_not_counted_as_expired(archive, tmp_path):
    """`accounts.verified_media_expired` counted accounts whose press card was never checked with those
    whose check ran out; they are two figures now (both act as the public)."""
    from courtarchive.governance import accounts

    for name in ("checked", "lapsed", "never"):
        accounts.add(archive, username=name, role="verified_media", actor="dpo", email=f"{name}@paper.example")
    today = dt.datetime.now()          # (the report counts verifications as of now)
    accounts.verify(archive, username="checked", press_card="UKPC-1", verified_by="desk", employer="Paper", when=today - dt.timedelta(days=10))
    accounts.verify(archive, username="lapsed", press_card="UKPC-2", verified_by="desk", employer="Paper", when=today - dt.timedelta(days=900))
    compliance.write(archive, tmp_path / "report", as_of=D(2025, 6, 1))
    acc = orjson.loads((tmp_path / "report" / "compliance.json").read_bytes())["accounts"]
    assert acc["verified_media_expired"] == 1 and acc["verified_media_never_verified"] == 1
