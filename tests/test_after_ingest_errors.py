"""What follows an ingest (`serve.postingest`: the search index refresh, alerts and their digests)
failing: it printed a Python traceback (the step's `log.exception` through Python's last-resort
handler) and then the error again, SQL and all, over several lines -- and `ingest` exited 0; an
SMTP server that was down for the digests was not said at all.  Now each failed step is one line
``error: ...`` naming the step, its cause and the command that runs it again, the other steps still
run, the lists stay archived and the exit code is 1 (done in part); ``--json`` lists the failed
steps.  Synthetic data only (the documented example register, `test_alerts` helpers)."""

from __future__ import annotations

import json
import mailbox
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from courtarchive.serve import alerts, search
from test_alerts import free_port, media
from test_intake_mail import SENDERS, eml
from test_walk_cli_small import REGISTER, _stats
from test_walk_ingest import _cli, cli_home  # noqa: F401  (cli_home: a fixture)

SEARCH = "courtarchive.serve.search:refresh"
ALERTS = "courtarchive.serve.alerts:after_ingest"


def _errors(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [x for x in stderr.splitlines() if x.startswith("error: ")]


@pytest.fixture
def register(tmp_path) -> Path:
    p = tmp_path / "register.csv"
    p.write_text(REGISTER, encoding="utf-8")
    return p


def _db(env) -> Path:
    return Path(env["COURTARCHIVE_HOME"]) / "courtarchive.db"


# ------------------------------------------------------------------ real failures, the real command line
def test_missing_search_index_table_is_one_line_and_exit_1(cli_home, register, tmp_path):
    with sqlite3.connect(_db(cli_home)) as c:
        c.execute("DROP TABLE search_name")
    r = _cli(["ingest", register], cli_home)
    assert r.returncode == 1, r.stderr
    [line] = _errors(r.stderr)
    assert "step 'search index refresh' failed: OperationalError" in line and "no such table: search_name" in line
    assert "lists are archived" in line and line.endswith("run `courtarchive search-index refresh` to do it again")
    assert "[SQL:" not in r.stderr                         # (the statement's lines are not printed)
    assert _stats(cli_home)["publications"] == 1           # the ingest stays committed

    again = tmp_path / "again.csv"
    again.write_text(REGISTER.replace("Courtroom 1", "Courtroom 3"), encoding="utf-8")
    r = _cli(["ingest", again, "--json"], cli_home)
    assert r.returncode == 1 and len(_errors(r.stderr)) == 1
    out = json.loads(r.stdout)
    assert out["accepted"] == 1 and out["after_ingest_failed"] == [SEARCH]
    assert "error" in out["after_ingest"][SEARCH]
    assert "error" not in out["after_ingest"][ALERTS] and "subscriptions" in out["after_ingest"][ALERTS]  # still ran


def test_smtp_server_down_for_the_digest_is_said_and_the_matches_stay_queued(cli_home, register):
    from courtarchive.store import Archive

    from test_governance_support import rows

    a = Archive.open(f"sqlite:///{_db(cli_home)}")
    media(a)
    alerts.subscribe(a, username="reporter", kind="court", query="Preston Magistrates' Court")
    a.close()
    env = dict(cli_home, COURTARCHIVE_SMTP_HOST="127.0.0.1", COURTARCHIVE_SMTP_PORT=str(free_port()))
    r = _cli(["ingest", register, "--json"], env)
    assert r.returncode == 1, r.stderr
    [line] = _errors(r.stderr)
    assert line.startswith("error: after ingest, step 'alerts' failed: digests: SMTP 127.0.0.1:"), line
    assert line.endswith("run `courtarchive alerts run` to do it again")
    out = json.loads(r.stdout)
    assert out["after_ingest_failed"] == [ALERTS] and out["after_ingest"][ALERTS]["matches"] >= 1
    assert "error" not in out["after_ingest"][SEARCH]
    a = Archive.open(f"sqlite:///{_db(cli_home)}")
    try:
        queued = rows(a, "alert_match")
    finally:
        a.close()
    assert queued and all(m["sent_at"] is None for m in queued)     # `alerts run` / `alerts send` sends them
    assert _stats(cli_home)["publications"] == 1


# ------------------------------------------------------------------ a step raising, in process
def _boom(archive, report=None):
    raise RuntimeError("index locked\nwhile indexing QUIXLEY, Zebedee (1988-07-14)")   # a second line: data


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_KEY", "ab" * 32)
    for k in ("COURTARCHIVE_DB", "COURTARCHIVE_SMTP_HOST", "COURTARCHIVE_PROFILE", "COURTARCHIVE_USER"):
        monkeypatch.delenv(k, raising=False)
    ran = []
    monkeypatch.setattr(search, "refresh", _boom)
    real = alerts.after_ingest
    monkeypatch.setattr(alerts, "after_ingest", lambda a, rep=None: ran.append(rep) or real(a, rep))
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    from courtarchive.store import Archive

    Archive.open(db).init()
    return db, ran


def test_a_step_raising_is_one_line_and_the_next_step_still_runs(home, register):
    from courtarchive.serve.cli import app

    db, ran = home
    r = CliRunner().invoke(app, ["ingest", str(register), "--db", db])
    assert r.exit_code == 1, r.output
    [line] = _errors(r.output)
    assert line.startswith("error: after ingest, step 'search index refresh' failed: RuntimeError: index locked;")
    assert "QUIXLEY" not in r.output
    assert len(ran) == 1 and ran[0] is not None           # alerts ran after it, with the ingest's report
    r = CliRunner().invoke(app, ["ingest", str(register), "--db", db])
    assert r.exit_code == 0 and not _errors(r.output)     # nothing new accepted: no step runs


def test_mail_intake_says_a_failed_step_and_exits_1(home, tmp_path):
    from courtarchive.ingest.intake_cli import app

    db, ran = home
    md = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    md.add(eml("lists@justice.gov.uk", ["newsdesk@paper.example"], "Register",
               [("register.csv", REGISTER.encode(), "text/csv")]))
    prof = tmp_path / "profile.toml"
    prof.write_text(f"[intake]\nmail_senders = {json.dumps(SENDERS)}\n")
    r = CliRunner().invoke(app, ["maildir", str(tmp_path / "Maildir"), "--db", db, "--profile", str(prof), "--json"])
    assert r.exit_code == 1, r.output
    [line] = _errors(r.stderr)
    assert "step 'search index refresh' failed: RuntimeError: index locked;" in line
    out = json.loads(r.stdout)
    assert out["attachments"]["accepted"] == 1 and out["after_ingest_failed"] == [SEARCH] and len(ran) == 1
