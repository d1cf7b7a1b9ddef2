"""Mail intake and a Crown court code several courts share (406, 409, 448, 769 in courts.csv); the
intake commands' archive.  Synthetic data only (the generator's lists, placeholder names).

1. A Crown list arriving by e-mail goes through the same rule as a file given to ``ingest``
   (`cath.settle_court_codes`, run by `pipeline.parse_file`): filed at the court its name settles,
   or rejected -- quarantined with the reason, nothing written -- when nothing says which court.
2. ``intake maildir|imap`` against an archive not initialised: a Python traceback (exit 1); now one
   line, ``error: ... run `courtarchive init` first``, exit 1 (as every command opening an archive).
"""

from __future__ import annotations

import mailbox
import os

import pytest

from courtarchive.ingest.mail import intake_maildir

from test_ingest_walk2 import PRESTON_COMBINED, PRESTON_SESSIONS, _crown_list, _fact_ids, lists  # noqa: F401  (lists: a fixture)
from test_intake_mail import SENDERS, eml, msgid
from test_walk_cli_small import _one_line
from test_walk_ingest import _cli


def _deliver(tmp_path, *raws: bytes):
    md = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for raw in raws:
        md.add(raw)
    return tmp_path / "Maildir"


def _mail(f) -> bytes:
    return eml("HMCTS Lists <lists@justice.gov.uk>", ["newsdesk@paper.example"], "Crown list",
               [(f.name, f.read_bytes(), "application/json")])


@pytest.mark.parametrize("name, meant", [
    ("Preston Crown Court and Family Court (Sessions House)", PRESTON_SESSIONS),     # the table's name
    ("PRESTON COMBINED COURT CENTRE", PRESTON_COMBINED),
])
def test_a_mailed_crown_list_with_a_shared_code_is_the_court_it_names(archive, keyring, lists, tmp_path,
                                                                     name, meant):
    raw = _mail(_crown_list(lists, tmp_path / "in", 448, name))
    report = intake_maildir(archive, _deliver(tmp_path, raw), keyring=keyring, senders=SENDERS)
    assert report.ingest.accepted == 1 and not report.failed, report.as_dict()
    assert _fact_ids(archive) == ({meant}, {meant})
    assert archive.quarantined() == []


def test_a_mailed_crown_list_with_a_shared_code_nothing_settles_is_rejected(archive, keyring, lists, tmp_path):
    f = _crown_list(lists, tmp_path / "in", 448, "Preston Crown Court")
    raw = _mail(f)
    root = _deliver(tmp_path, raw)
    report = intake_maildir(archive, root, keyring=keyring, senders=SENDERS)
    [att] = report.messages[0].attachments
    assert att.status == "rejected" and report.failed and report.ingest.accepted == 0
    assert att.reason.startswith("court code 448 is the Crown Court code of 2 courts (")
    for fact_id, slug in ((PRESTON_COMBINED, "preston-combined-court-centre"),
                          (PRESTON_SESSIONS, "preston-crown-court-and-family-court-sessions-house")):
        assert f"{fact_id} or {slug}" in att.reason
    assert "x-court-id" in att.reason
    # quarantined as mail's other rejections are: the attachment's source name, the reason
    [q] = archive.quarantined()
    assert (q["source_name"], q["reason"]) == (f"mail:{msgid(raw)}/{f.name}", att.reason)
    st = archive.stats()
    assert (st["publications"], st["hearings"]) == (0, 0)
    # handled: marked Seen, not read again
    assert os.listdir(root / "new") == [] and intake_maildir(archive, root, keyring=keyring,
                                                             senders=SENDERS).messages == []


@pytest.mark.parametrize("command", [["maildir", "{root}"],
                                     ["imap", "--host", "127.0.0.1", "--port", "1", "--user", "u"]])
def test_intake_on_an_archive_not_initialised_is_one_line(tmp_path, command):
    root = _deliver(tmp_path)
    env = dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "home"), COLUMNS="250",
               COURTARCHIVE_IMAP_PASSWORD="secret")
    env.pop("COURTARCHIVE_DB", None)
    r = _cli(["intake", *(a.format(root=root) for a in command)], env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    line = _one_line(r.stderr)
    assert line.startswith("error: the archive at ") and line.endswith("is not initialised: run `courtarchive init` first")


@pytest.mark.parametrize("how", ["maildir", "imap"])
def test_intake_failures_before_reading_are_one_error_line(tmp_path, monkeypatch, how):
    """A Maildir that cannot be read, an IMAP password not set: one ``error:`` line, exit 2."""
    from typer.testing import CliRunner

    from courtarchive.ingest.intake_cli import app

    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURTARCHIVE_IMAP_PASSWORD", raising=False)
    monkeypatch.delenv("COURTARCHIVE_DB", raising=False)
    from courtarchive.serve.cli import app as main

    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    args = (["maildir", str(tmp_path / "no-such-maildir")] if how == "maildir"
            else ["imap", "--host", "127.0.0.1", "--user", "u"])
    r = CliRunner().invoke(app, args)
    lines = [x for x in r.output.strip().splitlines() if x.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert ("cannot read the Maildir" if how == "maildir" else "no password") in lines[0]
