"""Alerts: subscriptions, matching new listings after an ingest, e-mail digests through a REAL SMTP
server (aiosmtpd on a free port), governance of what is sent and to whom."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket

import pytest

from test_governance_support import person, plant, rows

from courtarchive.governance import accounts
from courtarchive.governance.pseudonym import Keyring
from courtarchive.serve import alerts

NOW = dt.datetime.now()
KEY = Keyring(bytes(range(32)))
MEDIA_EMAIL = "reporter@lancashirepost.co.uk"


# --------------------------------------------------------------------------- fixtures
class Sink:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.messages[-1].envelope_to = list(envelope.rcpt_tos)
        return "250 OK"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    sink.port = port
    try:
        yield sink
    finally:
        ctl.stop()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COURTARCHIVE_SMTP_HOST", raising=False)
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    return tmp_path


def media(archive, username="reporter", email_=MEDIA_EMAIL, verified_days_ago=10):
    accounts.add(archive, username=username, role="verified_media", actor="admin", email=email_,
                 organisation="Lancashire Post")
    if verified_days_ago is not None:
        accounts.verify(archive, username=username, press_card="UKPC-1", verified_by="desk.editor",
                        when=NOW - dt.timedelta(days=verified_days_ago))


def run(archive, smtp=None, **kw):
    if smtp is None:
        return alerts.after_ingest(archive, None, send=False, **kw)
    return alerts.after_ingest(archive, None, smtp_host="127.0.0.1", smtp_port=smtp.port, keyring=KEY, **kw)


def body(msg) -> str:
    parts = [p.get_content() for p in msg.walk() if p.get_content_type() in ("text/plain", "text/html")]
    return "\n".join(parts) + "\n" + "\n".join(f"{k}: {v}" for k, v in msg.items())


def day(n: int) -> dt.date:
    return dt.date(2024, 3, 1) + dt.timedelta(days=n)


# --------------------------------------------------------------------------- the main flow
def test_name_alert_digest_unsubscribe_and_no_double_send(archive, env, smtp):
    media(archive)
    sub = alerts.subscribe(archive, username="reporter", kind="name", query="Jon Smyth")
    assert sub["deliverable"] and sub["unsubscribe_path"] == f"/alerts/unsubscribe/{sub['unsubscribe_token']}"
    plant(archive, date=day(1), urn="06AB1111111", people=[person(forenames="John", surname="SMITH")])
    plant(archive, date=day(2), urn="06AB2222222", people=[person(forenames="Jane", surname="SMITHSON",
                                                                  address="3 Elsewhere Row")])
    res = run(archive, smtp)
    assert res["matches"] == 1 and res["by_event"] == {"listed": 1}
    assert res["digests"]["messages"] == 1 and len(smtp.messages) == 1
    msg = smtp.messages[0]
    text = body(msg)
    assert msg["To"] == MEDIA_EMAIL and smtp.messages[0].envelope_to == [MEDIA_EMAIL]
    assert "06AB1111111" in text and "SMITH" in text and "Stole a bicycle" in text      # media see wording
    assert "06AB2222222" not in text and "SMITHSON" not in text and "Elsewhere" not in text
    assert sub["unsubscribe_token"] in msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"      # RFC 8058: one alert, one link
    assert f"http://localhost:8000/alerts/unsubscribe/{sub['unsubscribe_token']}" in msg.get_body(("plain",)).get_content()
    # recorded: export record of kind digest, watermarked, and an audit event for it
    [rec] = rows(archive, "export_record")
    assert rec["kind"] == "digest" and rec["recipient"] == MEDIA_EMAIL and rec["rows"] == 1
    assert rec["watermark"] in text.replace("=\n", "")
    assert [e for e in rows(archive, "audit_event") if e["action"] == "digest" and e["actor"] == "reporter"]
    [m] = rows(archive, "alert_match")
    assert m["sent_at"] is not None and m["export_record_id"] == rec["id"]

    # a re-run sends nothing again
    res2 = run(archive, smtp)
    assert res2["matches"] == 0 and res2["digests"]["messages"] == 0 and len(smtp.messages) == 1

    # unsubscribe by the link's token: no more mail for that name
    assert alerts.unsubscribe(archive, sub["unsubscribe_token"]) is True
    assert alerts.unsubscribe(archive, sub["unsubscribe_token"]) is False
    assert alerts.unsubscribe(archive, "no-such-token") is False
    plant(archive, date=day(3), urn="06AB3333333", people=[person(forenames="John", surname="SMITH")])
    res3 = run(archive, smtp)
    assert res3["matches"] == 0 and len(smtp.messages) == 1
    assert [e for e in rows(archive, "audit_event") if e["action"] == "alert_cancel"]
    # the cancelled name alert no longer holds the name
    [gone] = rows(archive, "subscription")
    assert gone["active"] is False and gone["query"] is None and gone["label"] is None


def test_html_part_is_escaped():
    text, html = alerts.render_digest(
        username="u", flags=[], watermark="wm", base_url="http://x",
        sections=[{"label": "<script>alert(1)</script>", "kind": "name", "unsubscribe_url": "http://x/u", "entries": []}])
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_events_across_a_case(archive, env):
    media(archive)
    alerts.subscribe(archive, username="reporter", kind="urn", query="06 CD 4444444")
    plant(archive, date=day(1), urn="06CD4444444")
    assert run(archive)["by_event"] == {"listed": 1}
    plant(archive, date=day(8), urn="06CD4444444")
    assert run(archive)["by_event"] == {"adjourned": 1}
    plant(archive, date=day(30), urn="06CD4444444", court="Preston Crown Court", list_type="CROWN_DAILY_LIST")
    assert run(archive)["by_event"] == {"court_changed": 1}
    plant(archive, date=day(60), urn="06CD4444444", court="Preston Crown Court", list_type="CROWN_DAILY_LIST",
          hearing_type="Sentence")
    assert run(archive)["by_event"] == {"outcome": 1}
    ms = rows(archive, "alert_match")
    assert [m["event"] for m in ms] == ["listed", "adjourned", "court_changed", "outcome"]
    assert len({m["case_id"] for m in ms}) == 1


def test_kinds_match_only_their_listings(archive, env):
    media(archive)
    court = alerts.subscribe(archive, username="reporter", kind="court", query="Preston Crown Court")
    group = alerts.subscribe(archive, username="reporter", kind="offence_group", query="sexual")
    search = alerts.subscribe(archive, username="reporter", kind="search", query="Zebedee Quixley",
                              params={"court": "Preston Magistrates' Court"})
    w1 = plant(archive, date=day(1), court="Preston Crown Court", list_type="CROWN_DAILY_LIST")
    w2 = plant(archive, date=day(2), code="SX03001", title="Rape", legislation="Sexual Offences Act 2003, s.1(1)")
    w3 = plant(archive, date=day(3), people=[person(forenames="Zebedee", surname="QUIXLEY")])
    run(archive)
    got = {}
    for m in rows(archive, "alert_match"):
        got.setdefault(m["subscription_id"], set()).add(m["case_id"])
    case_of = {w.publication_id: rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]
               for w in (w1, w2, w3)}
    assert got[court["id"]] == {case_of[w1.publication_id]}
    assert got[group["id"]] == {case_of[w2.publication_id]}
    # the saved search is limited to the magistrates' court: the Crown Court listing of the same name is not in it
    assert got[search["id"]] == {case_of[w2.publication_id], case_of[w3.publication_id]}


def test_person_follow_matches_new_mentions_by_name_and_dob(archive, env):
    from courtarchive.store.tables import TABLES

    media(archive)
    w = plant(archive, date=day(1), people=[person(forenames="Zebedee", surname="QUIXLEY", dob=dt.date(1988, 7, 14))])
    party = [p for p in rows(archive, "party", publication_id=w.publication_id) if p["role"] == "DEFENDANT"][0]
    with archive.engine.begin() as c:       # what a linkage run leaves behind
        c.execute(TABLES["person"].insert().values(id=77, kind="defendant", mentions=1))
        c.execute(TABLES["person_mention"].insert().values(id=1, person_id=77, kind="defendant", party_id=party["id"]))
    sub = alerts.subscribe(archive, username="reporter", kind="person", query="77")
    plant(archive, date=day(5), people=[person(forenames="Zebedee", surname="QUIXLEY", dob=dt.date(1988, 7, 14))])
    plant(archive, date=day(6), people=[person(forenames="Zebedee", surname="QUIXLEY", dob=dt.date(1990, 1, 1))])
    res = run(archive)
    assert res["matches"] == 1
    [m] = rows(archive, "alert_match")
    assert m["subscription_id"] == sub["id"]
    with pytest.raises(alerts.AlertError):
        alerts.subscribe(archive, username="reporter", kind="person", query="78")


# --------------------------------------------------------------------------- governance
def test_only_verified_recipients_get_mail(archive, env, smtp):
    media(archive, "lapsed", "lapsed@lancashirepost.co.uk", verified_days_ago=400)
    media(archive, "unverified", "unverified@lancashirepost.co.uk", verified_days_ago=None)
    accounts.add(archive, username="analyst1", role="analyst", actor="admin", email="a@uni.ac.uk")
    accounts.add(archive, username="anon", role="public", actor="admin", email="anon@lancashirepost.co.uk")
    media(archive, "webmail", "someone@gmail.com")
    subs = {u: alerts.subscribe(archive, username=u, kind="court", query="Preston Magistrates' Court")
            for u in ("lapsed", "unverified", "analyst1", "anon", "webmail")}
    assert not any(s["deliverable"] for s in subs.values())
    assert "gmail.com" in subs["webmail"]["deliverable_reason"]
    plant(archive, date=day(1))
    res = run(archive, smtp)
    assert res["matches"] == 5
    d = res["digests"]
    assert d["messages"] == 0 and smtp.messages == []
    assert set(d["undeliverable"]) == set(subs) and all(u["matches"] == 1 for u in d["undeliverable"].values())
    assert all(m["sent_at"] is None for m in rows(archive, "alert_match"))     # still queued
    assert not rows(archive, "export_record")


def test_restricted_data_never_mailed(archive, env, smtp):
    media(archive)
    alerts.subscribe(archive, username="reporter", kind="court", query="Preston Magistrates' Court")
    kid = alerts.subscribe(archive, username="reporter", kind="name", query="Ptolemy Wrenfield")
    # SOAA 1992: complainant named in the wording; the offence wording never goes out
    plant(archive, date=day(1), urn="06EF5555555", code="SX03001", title="Rape of a woman 16 years of age or over",
          legislation="Sexual Offences Act 2003, s.1(1)",
          wording="raped Tabitha Marchbanks at 4 Rowan Close, Fulwood")
    # s.4(2) postponement order: the whole case is withheld, so is the alert
    plant(archive, date=day(2), urn="06EF6666666", detail="Section 4(2) Contempt of Court Act 1981",
          people=[person(forenames="Octavian", surname="PELLINGHAM")])
    # a youth (CYPA 1933 s.49): the name alert would identify him, it stays queued
    youth = person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(NOW.year - 15, 1, 1), age=15,
                   address="9 Quillon Road")
    plant(archive, date=day(3), urn="06EF7777777", panel="YOUTH", people=[youth])
    res = run(archive, smtp)
    assert res["matches"] == 4           # court x3 + the youth's name
    assert len(smtp.messages) == 1
    text = body(smtp.messages[0])
    assert "06EF5555555" in text and "QUIXLEY" in text
    for forbidden in ("Tabitha", "Marchbanks", "Rowan Close", "06EF6666666", "PELLINGHAM", "Octavian",
                      "WRENFIELD", "Ptolemy", "Quillon"):
        assert forbidden not in text, forbidden
    assert "Sexual Offences (Amendment) Act 1992" in text and "REPORTING RESTRICTION" in text
    # each restriction once, its law once (the summary names it: "<law> (lifelong)")
    for line in (ln for ln in text.splitlines() if "REPORTING RESTRICTION" in ln):
        assert line.count("Sexual Offences (Amendment) Act 1992") <= 1, line
    assert "wording withheld" in text
    d = res["digests"]
    assert d["matches_sent"] == 2 and d["withheld"] == 2      # s.4(2) case and the youth's name alert
    pending = [m for m in rows(archive, "alert_match") if m["sent_at"] is None]
    assert len(pending) == 2 and kid["id"] in {m["subscription_id"] for m in pending}
    # the court alert shows the youth case without his identity
    assert "06EF7777777" in text


def test_mail_failure_keeps_matches_for_the_next_run(archive, env, smtp):
    media(archive)
    alerts.subscribe(archive, username="reporter", kind="court", query="Preston Magistrates' Court")
    plant(archive, date=day(1))
    dead = free_port()
    res = alerts.after_ingest(archive, None, smtp_host="127.0.0.1", smtp_port=dead, keyring=KEY)
    assert res["matches"] == 1 and res["digests"]["messages"] == 0 and res["digests"]["failed"]
    assert [m["sent_at"] for m in rows(archive, "alert_match")] == [None]
    res2 = alerts.send_digests(archive, smtp_host="127.0.0.1", smtp_port=smtp.port, keyring=KEY)
    assert res2["messages"] == 1 and len(smtp.messages) == 1
    assert alerts.send_digests(archive, smtp_host="127.0.0.1", smtp_port=smtp.port, keyring=KEY)["messages"] == 0


def test_smtp_rejection_releases_claimed_matches(archive, env):
    """The server accepts the connection but refuses the message: the matches go back to the queue."""
    from aiosmtpd.controller import Controller

    class Refuse:
        async def handle_DATA(self, server, session, envelope):
            return "554 refused"

    port = free_port()
    ctl = Controller(Refuse(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        media(archive)
        alerts.subscribe(archive, username="reporter", kind="court", query="Preston Magistrates' Court")
        plant(archive, date=day(1))
        res = alerts.after_ingest(archive, None, smtp_host="127.0.0.1", smtp_port=port, keyring=KEY)
    finally:
        ctl.stop()
    assert res["digests"]["failed"] and res["digests"]["messages"] == 0
    assert [m["sent_at"] for m in rows(archive, "alert_match")] == [None]
    [rec] = rows(archive, "export_record")
    assert rec["purged_at"] is not None          # the undelivered digest left no copy behind
    assert [e for e in rows(archive, "audit_event") if e["action"] == "alert_failed"]


# --------------------------------------------------------------------------- validation and CLI
def test_subscribe_validates_the_query(archive, env):
    media(archive)
    bad = [("name", "Smith", None), ("court", "No Such Court", None), ("offence_group", "piracy", None),
           ("case", "06ZZ9999999", None), ("network", "5", None), ("urn", "!!", None), ("urn", "notaurn", None), ("teleport", "x", None),
           ("name", "Jane Smith", {"threshold": 0.2}), ("name", "Jane Smith", {"colour": "red"}),
           ("name", "Jane Smith", {"date_of_birth": "yesterday"})]
    for kind, q, params in bad:
        with pytest.raises(alerts.AlertError):
            alerts.subscribe(archive, username="reporter", kind=kind, query=q, params=params)
    with pytest.raises(alerts.AlertError):
        alerts.subscribe(archive, username="nobody", kind="urn", query="06ZZ1234567")
    # following a name is use of identity: refused to roles that do not see identities, from the
    # command line as from the web
    accounts.add(archive, username="anon", role="public", actor="admin", email="anon@lancashirepost.co.uk")
    for kind, q in (("name", "Jane Smith"), ("search", "Jane Smith"), ("person", "1"), ("network", "1")):
        with pytest.raises(alerts.AlertError, match="needs a verified media account"):
            alerts.subscribe(archive, username="anon", kind=kind, query=q)
    assert rows(archive, "subscription") == []
    w = plant(archive, date=day(1), urn="06GH8888888")
    s = alerts.subscribe(archive, username="reporter", kind="case", query="06gh 8888888", label="my trial")
    assert s["params"]["case_id"] == rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]
    assert s["label"] == "my trial"
    assert [x["id"] for x in alerts.list_subscriptions(archive, "reporter")] == [s["id"]]
    assert alerts.cancel(archive, username="reporter", subscription_id=s["id"]) is True
    assert alerts.cancel(archive, username="reporter", subscription_id=s["id"]) is False
    # the audit log never carries the followed name
    alerts.subscribe(archive, username="reporter", kind="name", query="Ottoline Brabazon")
    assert "Brabazon" not in str(rows(archive, "audit_event"))


def test_cli(archive, env, monkeypatch):
    from typer.testing import CliRunner

    from courtarchive.serve.alerts_cli import app

    monkeypatch.setenv("COURTARCHIVE_DB", archive.url)
    media(archive)
    r = CliRunner().invoke(app, ["subscribe", "reporter", "urn", "06JK1231231", "--label", "watch", "--json"])
    assert r.exit_code == 0, r.output
    sid = __import__("json").loads(r.stdout)["id"]
    r = CliRunner().invoke(app, ["subscribe", "reporter", "court", "Atlantis Magistrates"])
    assert r.exit_code == 2 and "no court" in r.output            # (bad input)
    r = CliRunner().invoke(app, ["list", "reporter", "--json"])
    assert r.exit_code == 0 and [x["label"] for x in __import__("json").loads(r.stdout)] == ["watch"]
    plant(archive, date=day(1), urn="06JK1231231")
    r = CliRunner().invoke(app, ["run", "--json"])
    assert r.exit_code == 0 and __import__("json").loads(r.stdout)["matches"] == 1
    r = CliRunner().invoke(app, ["send"])
    assert r.exit_code == 2 and "COURTARCHIVE_SMTP_HOST" in r.output   # (a setting missing: nothing sent)
    r = CliRunner().invoke(app, ["cancel", "reporter", str(sid)])
    assert r.exit_code == 0
    r = CliRunner().invoke(app, ["cancel", "reporter", str(sid)])
    assert r.exit_code == 1
    # the unsubscribe link printed is the one a mail carries (COURTARCHIVE_BASE_URL)
    monkeypatch.setenv("COURTARCHIVE_BASE_URL", "https://archive.example.org/")
    r = CliRunner().invoke(app, ["subscribe", "reporter", "court", "Preston Magistrates' Court"])
    assert r.exit_code == 0 and "unsubscribe: https://archive.example.org/alerts/unsubscribe/" in " ".join(
        r.output.split()), r.output


def test_governance_hook_drops_queued_matches(archive, env):
    from courtarchive.governance.hooks import ExpiryEvent

    media(archive)
    alerts.subscribe(archive, username="reporter", kind="court", query="Preston Magistrates' Court")
    w = plant(archive, date=day(1))
    run(archive)
    assert len(rows(archive, "alert_match")) == 1
    ev = ExpiryEvent(archive, None, "expire", dt.datetime.now(), publication_ids=[w.publication_id], dry_run=True)
    assert alerts.governance_hook(ev) == {"unsent_matches_dropped": 0}
    ev.dry_run = False
    assert alerts.governance_hook(ev) == {"unsent_matches_dropped": 1}
    assert rows(archive, "alert_match") == []


def test_name_matching_tolerates_typos_and_variants():
    parties = [{"id": 1, "forenames": "Muhammad", "surname": "AL-HASSAN", "date_of_birth": None},
               {"id": 2, "forenames": "Catherine", "surname": "O'NEILL", "date_of_birth": dt.date(1990, 2, 3)},
               {"id": 3, "forenames": "Jane", "surname": "SMITHSON", "date_of_birth": None},
               {"id": 4, "surname": "SMIHT", "forenames": "Jane", "middle_names": "Mary", "date_of_birth": None},
               {"id": 5, "forenames": "Zebedee", "surname": "QUIXLEY", "pseudonymised": True}]
    q = [{"qid": 1, "name": "Mohammed Al Hassan"}, {"qid": 2, "name": "Kathryn ONeill", "date_of_birth": "1990-02-03"},
         {"qid": 3, "name": "Jane Smith"}, {"qid": 4, "name": "Catherine O'Neill", "date_of_birth": "1991-01-01"},
         {"qid": 5, "name": "Zebedee Quixley"}]
    got = {(a, b) for a, b, _ in alerts.name_matches(q, parties)}
    assert got == {(1, 1), (2, 2), (3, 4)}


def test_one_alert_per_sitting_whatever_the_lists(archive, env):
    """The day's public and standard lists (and a later version of a list) are several listings of
    one sitting: one match per subscription and sitting, and the standard list's plea -- which the
    public list never gives -- is no "plea entered" when the public list was read first."""
    media(archive)
    alerts.subscribe(archive, username="reporter", kind="urn", query="06EF5555555")
    plant(archive, date=day(1), urn="06EF5555555", list_type="MAGISTRATES_PUBLIC_LIST", sensitivity="PUBLIC")
    assert run(archive)["by_event"] == {"listed": 1}
    plant(archive, date=day(1), urn="06EF5555555", plea="NOT_GUILTY")          # the standard list, later
    assert run(archive)["matches"] == 0
    # both lists of the next sitting in one run: one alert, and it is an adjournment
    plant(archive, date=day(8), urn="06EF5555555", list_type="MAGISTRATES_PUBLIC_LIST", sensitivity="PUBLIC")
    plant(archive, date=day(8), urn="06EF5555555", plea="NOT_GUILTY")
    assert run(archive)["by_event"] == {"adjourned": 1}
    # a plea recorded at an earlier sitting's standard list is not news at the next one
    plant(archive, date=day(15), urn="06EF5555555", list_type="MAGISTRATES_PUBLIC_LIST", sensitivity="PUBLIC")
    plant(archive, date=day(15), urn="06EF5555555", plea="NOT_GUILTY")
    assert run(archive)["by_event"] == {"adjourned": 1}
    # a changed plea is
    plant(archive, date=day(22), urn="06EF5555555", plea="GUILTY")
    assert run(archive)["by_event"] == {"plea": 1}
    assert [m["event"] for m in rows(archive, "alert_match")] == ["listed", "adjourned", "adjourned", "plea"]
