"""Small defects found walking the command line (ingest, alerts, accounts) as an operator would.
Each test failed on the code before its fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from courtarchive.ingest.cath import check_headers
from courtarchive.ingest.errors import Rejected
from courtarchive.ingest.pipeline import ingest

from test_governance_support import rows
from test_walk_ingest import _cli, cli_home, ingest_register_with_sidecar  # noqa: F401  (cli_home: a fixture)

REPO = Path(__file__).resolve().parents[1]
REGISTER = (REPO / "docs" / "examples" / "register.csv").read_text(encoding="utf-8")
PRESTON_MC = "1479819"               # Preston Magistrates' Court in data/courts.csv (FaCT id)


def _stats(env) -> dict:
    return json.loads(_cli(["stats", "--json"], env).stdout)


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def ingested_at(cli_home, tmp_path, court_id: str) -> tuple[dict, dict]:
    """`ingest` the example register with ``--court-id court_id`` (accepted) and return the stored
    (publication, court)."""
    from courtarchive.store import Archive

    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    r = _cli(["ingest", reg, "--court-id", court_id, "--json"], cli_home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["accepted"] == 1
    a = Archive.open(f"sqlite:///{Path(cli_home['COURTARCHIVE_HOME']) / 'courtarchive.db'}")
    try:
        [pub] = rows(a, "publication")
        [court] = rows(a, "court", id=pub["court_id"])
    finally:
        a.close()
    return pub, court


# ------------------------------------------------------------------ 1. court ids the reference table does not know
def test_unknown_court_id_option_is_a_usage_error_before_anything_is_read(cli_home, tmp_path):
    """`ingest --court-id X` stored the list without a word, its court guessed from the list's name."""
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    r = _cli(["ingest", reg, "--court-id", "preston magistrates"], cli_home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    line = _one_line(r.stderr)
    assert "--court-id 'preston magistrates' is not a known court" in line and "preston-magistrates-court" in line
    # nothing is read: not even a file that is not there
    r = _cli(["ingest", tmp_path / "missing.json", "--court-id", "99999999"], cli_home)
    assert r.returncode == 2 and "'99999999' is not a known court" in _one_line(r.stderr)
    st = _stats(cli_home)
    assert (st["publications"], st["quarantined"]) == (0, 0)


def test_known_court_id_option_by_fact_id_or_slug_in_any_case(cli_home, tmp_path):
    pub, court = ingested_at(cli_home, tmp_path, "Preston-Magistrates-Court")
    assert pub["court_code"] == "preston-magistrates-court"          # kept as the table spells it
    assert court["fact_court_id"] == int(PRESTON_MC) and court["source"] == "reference"


@pytest.mark.parametrize("value, canonical", [(PRESTON_MC, PRESTON_MC), (int(PRESTON_MC), PRESTON_MC),
                                              ("0" + PRESTON_MC, PRESTON_MC),
                                              (" PRESTON-magistrates-court ", "preston-magistrates-court"),
                                              ("0", "0"), (0, "0")])   # 0: a national list naming no court (SJP)
def test_header_court_id_is_a_reference_court(value, canonical):
    assert check_headers({"x-court-id": value})["court_id"] == canonical


@pytest.mark.parametrize("value, hint", [("123", None), ("presten-magistrates-court", "preston-magistrates-court"),
                                         ("Preston Magistrates' Court", "preston-magistrates-court")])
def test_unknown_header_court_id_is_rejected_at_the_header(value, hint):
    with pytest.raises(Rejected) as e:
        check_headers({"x-court-id": value})
    assert e.value.json_path == "header x-court-id" and "is not a known court" in e.value.reason
    assert (hint in e.value.reason) if hint else "did you mean" not in e.value.reason


def test_sidecar_with_unknown_court_id_is_quarantined(archive, keyring, tmp_path):
    """A sidecar's x-court-id that no court has was stored as the publication's court code, the
    court taken from the list's own name: now the file is rejected like any other bad header."""
    rep = ingest_register_with_sidecar(archive, keyring, tmp_path, {"x-court-id": "1234"})
    assert rep.accepted == 0 and len(rep.rejected) == 1
    assert rep.rejected[0]["json_path"] == "header x-court-id" and "'1234' is not a known court" in rep.rejected[0]["reason"]
    st = archive.stats()
    assert (st["publications"], st["quarantined"]) == (0, 1)
    rep = ingest_register_with_sidecar(archive, keyring, tmp_path, {"x-court-id": PRESTON_MC})
    assert rep.accepted == 1 and rows(archive, "publication")[0]["court_code"] == PRESTON_MC


# ------------------------------------------------------------------ 2. files named with a type ingest does not read
def _cath_json(shared_cath) -> bytes:
    return (shared_cath / "examples" / "magistrates-standard-list" / "magistratesStandardList.json").read_bytes()


def test_named_file_of_an_unsupported_type_is_rejected_as_such(archive, keyring, tmp_path, shared_cath):
    """`ingest list.txt` / `list.xls` was parsed as JSON: 'malformed JSON', or stored when it held JSON."""
    txt = tmp_path / "list.txt"
    txt.write_bytes(_cath_json(shared_cath))                   # JSON inside: it was stored
    xls = tmp_path / "list.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)   # an OLE2 (Excel 97-2003) header
    rep = ingest(archive, [txt, xls], keyring=keyring)
    assert rep.accepted == 0
    reasons = {Path(r["file"]).name: r["reason"] for r in rep.rejected}
    assert set(reasons) == {"list.txt", "list.xls"}
    assert reasons["list.txt"].startswith("unsupported file type .txt: ingest reads CaTH JSON (.json")
    assert "save it as .xlsx" in reasons["list.xls"] and "malformed" not in reasons["list.xls"]
    st = archive.stats()
    assert (st["publications"], st["quarantined"]) == (0, 2)


def test_extensionless_file_is_read_as_cath_json_and_says_so(archive, keyring, tmp_path, shared_cath):
    good = tmp_path / "artefact"
    good.write_bytes(_cath_json(shared_cath))
    bad = tmp_path / "notes"
    bad.write_text("not a list")
    upper = tmp_path / "LIST.JSON"
    upper.write_bytes(_cath_json(shared_cath).replace(b"PRESTON", b"BLACKPOOL"))
    rep = ingest(archive, [good, bad, upper], keyring=keyring)
    assert rep.accepted == 2
    [r] = rep.rejected
    assert r["file"].endswith("notes") and r["reason"].startswith("read as CaTH JSON (the file has no extension): ")


def test_folders_still_skip_other_files(archive, keyring, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "reg.csv").write_text(REGISTER, encoding="utf-8")
    (d / "readme.txt").write_text("notes")
    (d / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    rep = ingest(archive, [d], keyring=keyring)
    assert (rep.files, rep.accepted, rep.rejected) == (1, 1, [])


def test_cli_names_the_unsupported_file(cli_home, tmp_path):
    xls = tmp_path / "court list.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    r = _cli(["ingest", xls], cli_home)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    err = " ".join(r.stderr.split())
    assert "rejected" in err and "court list.xls" in err and "unsupported file type .xls" in err and ".xlsx" in err


# ------------------------------------------------------------------ 3. alerts subscribe --actor
@pytest.fixture
def alert_cli(archive, tmp_path, monkeypatch):
    from test_alerts import media

    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_DB", archive.url)
    monkeypatch.delenv("COURTARCHIVE_SMTP_HOST", raising=False)
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    media(archive)
    return archive


def _audit(archive, action):
    return [e for e in rows(archive, "audit_event") if e["action"] == action]


def test_alerts_subscribe_and_cancel_record_the_actor(alert_cli):
    """`alerts subscribe` had no --actor: the audit event said the journalist subscribed themselves,
    whoever typed the command."""
    from courtarchive.serve.alerts_cli import app
    from courtarchive.store import governance as sg

    a = alert_cli
    acc = sg.get_account(a, "reporter")
    r = CliRunner().invoke(app, ["subscribe", "reporter", "urn", "06JK1231231", "--actor", "desk.editor", "--json"])
    assert r.exit_code == 0, r.output
    sid = json.loads(r.stdout)["id"]
    [ev] = _audit(a, "alert_subscribe")
    assert (ev["actor"], ev["role"], ev["purpose"]) == ("desk.editor", "admin", "administration")
    assert f"subscription:{sid}" in ev["object"] and f"account:{acc['id']}" in ev["object"]
    r = CliRunner().invoke(app, ["cancel", "reporter", str(sid), "--actor", "desk.editor"])
    assert r.exit_code == 0, r.output
    [ev] = _audit(a, "alert_cancel")
    assert ev["actor"] == "desk.editor" and f"account:{acc['id']}" in ev["object"]
    # the journalist acting for themselves is recorded as before: their account, their role
    r = CliRunner().invoke(app, ["subscribe", "reporter", "urn", "06JK1231232", "--actor", "reporter"])
    assert r.exit_code == 0, r.output
    ev = _audit(a, "alert_subscribe")[-1]
    assert (ev["actor"], ev["role"], ev["purpose"]) == ("reporter", "verified_media", "journalism")


def test_alerts_subscribe_without_actor_is_the_login_name(alert_cli, monkeypatch):
    from courtarchive.serve.alerts_cli import app

    monkeypatch.setattr("getpass.getuser", lambda: "night.desk")
    r = CliRunner().invoke(app, ["subscribe", "reporter", "urn", "06JK1231231"])
    assert r.exit_code == 0, r.output
    assert _audit(alert_cli, "alert_subscribe")[0]["actor"] == "night.desk"


def test_alert_and_digest_exit_codes_follow_the_convention(alert_cli):
    """0 done, 2 bad input or settings, 3 refused by the policy (README): alerts and digests said 1
    for an unknown account, a missing SMTP server and a refusal alike."""
    from courtarchive.governance import accounts
    from courtarchive.serve import digest as D
    from courtarchive.serve.alerts_cli import app
    from courtarchive.serve.digest_cli import app as digest_app

    accounts.add(alert_cli, username="numbers", role="analyst", actor="desk", email="numbers@example.org")
    r = CliRunner().invoke(app, ["subscribe", "nobody-known", "urn", "06JK1231231"])
    assert r.exit_code == 2 and "no account 'nobody-known'" in r.output, r.output
    r = CliRunner().invoke(app, ["subscribe", "numbers", "name", "Zebedee Quixley"])
    assert r.exit_code == 3 and "refused" in r.output, r.output          # an analyst follows no names
    r = CliRunner().invoke(app, ["send"])
    assert r.exit_code == 2 and "COURTARCHIVE_SMTP_HOST" in r.output, r.output
    D.add_beat(alert_cli, name="Lancashire", forces=["Lancashire Constabulary"], actor="desk")
    r = CliRunner().invoke(digest_app, ["subscribe", "nobody-known", "Lancashire"])
    assert r.exit_code == 2 and "no account" in r.output, r.output
    r = CliRunner().invoke(digest_app, ["send", "--date", "2024-03-04"])
    assert r.exit_code == 2 and "SMTP" in r.output, r.output


def test_digest_subscribe_records_the_actor(alert_cli):
    from courtarchive.serve import digest as D
    from courtarchive.serve.digest_cli import app

    a = alert_cli
    D.add_beat(a, name="Lancashire", forces=["Lancashire Constabulary"], actor="desk")
    r = CliRunner().invoke(app, ["subscribe", "reporter", "Lancashire", "--actor", "desk.editor"])
    assert r.exit_code == 0, r.output
    [ev] = _audit(a, "alert_subscribe")
    assert ev["actor"] == "desk.editor" and "beat:" in ev["object"] and "account:" in ev["object"]


# ------------------------------------------------------------------ 4. account update without typer's private click
def test_no_module_imports_typers_private_click():
    """governance.cli imported `typer._click` (typer's vendored copy of click: private, gone or
    moved in any release)."""
    import courtarchive

    root = Path(courtarchive.__file__).parent
    hits = [str(p.relative_to(root)) for p in root.rglob("*.py")
            if re.search(r"\btyper\._click\b|from typer import _click", p.read_text(encoding="utf-8"))]
    assert hits == []


def test_account_update_on_the_governance_app_changes_only_what_is_given(tmp_path, monkeypatch):
    """`account update` as governance.cli mounts it on its own (not through serve.web_cli)."""
    from courtarchive.governance.cli import app
    from courtarchive.store import Archive
    from courtarchive.store import governance as sg

    db = f"sqlite:///{tmp_path / 'a.db'}"
    a = Archive.open(db)
    a.init()
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_DB", db)
    run = CliRunner().invoke
    assert run(app, ["account", "add", "desk", "--role", "admin", "--email", "desk@example.org"]).exit_code == 0
    r = run(app, ["account", "update", "desk", "--organisation", "Lancashire Post"])
    assert r.exit_code == 0, r.output
    acc = sg.get_account(a, "desk")
    assert (acc["role"], acc["email"], acc["organisation"]) == ("admin", "desk@example.org", "Lancashire Post")
    assert run(app, ["account", "update", "desk", "--role", "public"]).exit_code == 0   # the default, given
    assert sg.get_account(a, "desk")["role"] == "public"
    a.close()
