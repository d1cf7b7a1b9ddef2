"""Subject access (UK GDPR Art 15): `rights copy` answers an access request with the subject's own data
and the information Art 15(1) lists -- and nothing of anyone else's (Art 15(4))."""

from __future__ import annotations

import datetime as dt
import stat

import orjson
import pytest
import sqlalchemy as sa

from courtarchive.governance import access, retention, rights
from courtarchive.governance.pseudonym import Keyring
from courtarchive.ingest import gate
from courtarchive.model import Hearing, Offence, ParsedList, Party, PublicationMeta
from courtarchive.store import governance as sg
from test_governance_cli import cli  # noqa: F401  (the fixture: the CLI over an initialised archive)
from test_governance_compliance import cli_env  # noqa: F401
from test_governance_support import person, plant, rows

KR = Keyring(bytes(range(32)))
D = dt.date
SUBJECT = dict(name="Zebedee Quixley", dob=D(1988, 7, 14))


def _request(archive, kind="access", decision="comply", **who) -> dict:
    req = rights.open_request(archive, kind=kind, keyring=KR, actor="dpo", **(who or SUBJECT))
    if decision:
        rights.decide(archive, req["id"], decision=decision, reasons="identity checked", actor="dpo")
    return req


def _gated_list(archive, *, date, defendant=("Ambrose", "PELLINGHAM"), wording, urn="06ZZ7777777"):
    """A list whose offence wording names a complainant, through the intake gate (as ingest does)."""
    p = ParsedList(meta=PublicationMeta(list_type="MAGISTRATES_STANDARD_LIST", sensitivity="CLASSIFIED",
                                        court_name="Preston Magistrates' Court", content_date=date, version="1",
                                        published_at=dt.datetime.combine(date, dt.time(8)),
                                        source_name=f"gated-{urn}.json"))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name="Preston Magistrates' Court", sitting_date=date,
                              case_urn=urn, case_name=f"R v {defendant[0]} {defendant[1]}"))
    p.parties.append(Party(json_path="$.h[0].p[0]", hearing_ref=0, role="DEFENDANT", forenames=defendant[0],
                           surname=defendant[1], name_as_listed=f"{defendant[1]}, {defendant[0]}"))
    p.offences.append(Offence(json_path="$.h[0].p[0].o[0]", party_ref=0, seq=1, code="SX03001", title="Sexual assault",
                              wording=wording))
    gate.apply(p, KR)
    return archive.write(p, content_hash=f"gated-{urn}")


def test_the_complainant_token_kind_is_the_gates():
    assert rights.COMPLAINANT_TOKEN == gate.TOKEN_KIND


def test_copy_gives_the_subjects_data_and_nobody_elses(archive, tmp_path):
    # the subject with a co-defendant, in a case whose name and wording name others
    plant(archive, date=D(2024, 1, 10), case_name="R v QUIXLEY and TRUMBLEWICK",
          wording="Assaulted Henrietta VOSSBERG by beating her at Preston",
          people=[person(), person(forenames="Cuthbert", surname="TRUMBLEWICK", dob=D(1990, 2, 2),
                               address="3 Larch Row, Ashton")])
    plant(archive, date=D(2025, 5, 1), list_note="QUIXLEY to be produced by TRUMBLEWICK's escort")
    retention.expire(archive, keyring=KR, as_of=D(2025, 6, 1))            # the 2024 mention is pseudonymised
    req = _request(archive)
    res = access.write(archive, req["id"], out=tmp_path / "sar", actor="dpo")

    js_path, html_path = (tmp_path / "sar" / f"access-{req['id']}.{x}" for x in ("json", "html"))
    assert res["files"] == [str(js_path), str(html_path)] and res["mentions"] == 2 and res["pseudonymised"] == 1
    for f in (js_path, html_path):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "sar").stat().st_mode) == 0o700
    copy = orjson.loads(js_path.read_bytes())
    raw, old = sorted(copy["mentions"], key=lambda m: m["identity_pseudonymised"])
    # the subject's own data in clear where it is held so, and what expiry kept where it is not
    assert raw["as_held"]["surname"] == "QUIXLEY" and raw["as_held"]["date_of_birth"] == "1988-07-14"
    assert raw["as_held"]["address"] == "17 Marigold Crescent, Fulwood"
    assert raw["pseudonymised_from"] == {"identity": "2025-11-01", "personal": "2025-11-01"}
    assert old["identity_pseudonymised"] and old["as_held"]["surname"] == access.PSEUDONYMISED
    assert old["kept_after_pseudonymisation"]["outward_postcode"] == "PR2"
    assert raw["charges"][0]["code"] == "TH68001" and raw["list"]["court"] == "Preston Magistrates' Court"
    # Art 15(1): purposes, categories, recipients, retention, source, rights
    assert copy["purposes"] and copy["recipients"] and "months" in copy["retention"]["text"]
    assert "name" in copy["categories"] and any("Art 10" in c for c in copy["categories"])
    assert "CaTH" in copy["source"] and any("Information Commissioner" in r for r in copy["your_rights"])
    assert copy["request"]["respond_by"] == rights.due(sg.get_rights_request(archive, req["id"])).isoformat()
    # Art 15(4): no one else -- not the co-defendant, not a case name, not a list note
    for text in (js_path.read_text(), html_path.read_text()):
        for other in ("TRUMBLEWICK", "Cuthbert", "Larch Row", "escort"):
            assert other not in text
    # done, audited by id and fingerprint, never by value
    got = sg.get_rights_request(archive, req["id"])
    assert got["status"] == "done" and got["completed_at"] is not None
    assert got["found"]["access"][0]["sha256"] == res["sha256"]
    [ev] = rows(archive, "audit_event", action="rights_access")
    assert ev["details"]["sha256"] == res["sha256"] and "quixley" not in str(ev).lower()
    # a further copy (Art 15(3)) is made and audited again
    assert access.write(archive, req["id"], out=tmp_path / "sar", actor="dpo")["copies"] == 2
    assert len(rows(archive, "audit_event", action="rights_access")) == 2


def test_wording_naming_a_complainant_is_redacted_in_a_defendants_copy(archive, tmp_path):
    _gated_list(archive, date=D(2025, 5, 1), defendant=("Zebedee", "QUIXLEY"),
                wording="On 01/03/2025 at Preston assaulted Henrietta VOSSBERG by beating her.")
    req = _request(archive, name="Zebedee Quixley", dob=None)
    copy = access.build(archive, req["id"])
    [m] = copy["mentions"]
    assert "[a complainant]" in m["charges"][0]["wording"] and "[complainant:" not in m["charges"][0]["wording"]
    assert "VOSSBERG" not in orjson.dumps(copy, default=str).decode()


def test_a_complainant_gets_their_mentions_only_when_named(archive, tmp_path):
    _gated_list(archive, date=D(2025, 5, 1),
                wording="On 01/03/2025 at Preston assaulted Henrietta VOSSBERG by beating her.")
    req = _request(archive, name="Henrietta Vossberg", dob=None)
    assert req["party_ids"] == [] and len(req["complainant_ids"]) == 1
    # (found by a name only: a namesake's would match too, so never given unless named)
    with pytest.raises(access.AccessError, match="found no mention"):
        access.build(archive, req["id"])
    with pytest.raises(rights.Refused, match="not among those request"):
        access.build(archive, req["id"], complainant_ids=[req["complainant_ids"][0] + 99])
    copy = access.build(archive, req["id"], complainant_ids=req["complainant_ids"])
    [c] = copy["complainant_mentions"]
    assert c["offence"]["wording"] == "On 01/03/2025 at Preston assaulted [you] by beating her."
    assert c["offence"]["title"] == "Sexual assault" and c["hearing"]["date"] == D(2025, 5, 1)
    text = orjson.dumps(copy, default=str).decode()
    assert "PELLINGHAM" not in text and "Ambrose" not in text            # the defendant is another person
    assert "VOSSBERG" not in text                                        # (never stored in clear anyway)


def test_copy_is_refused_without_a_decision_to_comply(archive, tmp_path):
    plant(archive, date=D(2025, 5, 1))
    plant(archive, date=D(2025, 5, 2), people=[person(dob=None)])        # a possible match
    undecided = _request(archive, decision=None)
    with pytest.raises(rights.RightsError, match="only after a decision to comply"):
        access.write(archive, undecided["id"], out=tmp_path / "x", actor="dpo")
    erasure = _request(archive, kind="erasure")
    with pytest.raises(rights.RightsError, match="is an erasure request: only access requests"):
        access.write(archive, erasure["id"], out=tmp_path / "x", actor="dpo")
    refused = rights.open_request(archive, kind="access", keyring=KR, actor="dpo", **SUBJECT)
    rights.decide(archive, refused["id"], decision="refuse_exempt", reasons="investigation", actor="dpo",
                  with_view_to_publication=True, public_interest_belief=True, incompatible_with_journalism=True)
    with pytest.raises(rights.RightsError, match="only after a decision to comply"):
        access.write(archive, refused["id"], out=tmp_path / "x", actor="dpo")
    partial = _request(archive, decision="partial")
    with pytest.raises(access.AccessError, match="name the mentions"):
        access.write(archive, partial["id"], out=tmp_path / "x", actor="dpo")
    assert not (tmp_path / "x").exists()
    # a possible match is given only when named
    comply = _request(archive)
    assert [m["mention_id"] for m in access.build(archive, comply["id"])["mentions"]] == comply["party_ids"]
    named = access.build(archive, comply["id"], party_ids=comply["possible_party_ids"])
    assert [m["mention_id"] for m in named["mentions"]] == comply["possible_party_ids"]
    with pytest.raises(rights.Refused, match="not among those request"):
        access.build(archive, comply["id"], party_ids=[max(comply["party_ids"]) + 1000])
    assert rows(archive, "audit_event", action="rights_access") == []


def test_mentions_linked_since_the_request_are_added_and_marked(archive, tmp_path):
    first = plant(archive, date=D(2025, 4, 1))
    req = _request(archive)
    later = plant(archive, date=D(2025, 5, 20), people=[person(address="9 New Road, Preston")])
    pa = sg.T["party"]
    with archive.engine.begin() as c:              # the link stage put both mentions in one person
        ids = [r[0] for r in c.execute(sa.select(pa.c.id).where(pa.c.role == "DEFENDANT").order_by(pa.c.id))]
        c.execute(sa.insert(sg.T["person"]).values(id=1, kind="defendant", mentions=2))
        c.execute(sa.insert(sg.T["person_mention"]), [dict(id=i + 1, person_id=1, kind="defendant", party_id=p)
                                                      for i, p in enumerate(ids)])
    assert first and later and len(ids) == 2 and req["party_ids"] == ids[:1]
    res = access.write(archive, req["id"], out=tmp_path, actor="dpo")
    assert res["mentions"] == 2 and res["linked_since_request"] == ids[1:]
    assert "linked to you since your request" in (tmp_path / f"access-{req['id']}.html").read_text()


def test_overdue_requests(archive):
    req = _request(archive, decision=None)
    got = sg.get_rights_request(archive, req["id"])
    today = got["received_at"].date()
    assert not rights.overdue(got, today) and rights.overdue(got, rights.due(got) + dt.timedelta(days=1))
    rights.decide(archive, req["id"], decision="refuse_exempt", reasons="investigation", actor="dpo",
                  with_view_to_publication=True, public_interest_belief=True, incompatible_with_journalism=True)
    got = sg.get_rights_request(archive, req["id"])        # a refusal is an answer
    assert not rights.overdue(got, rights.due(got) + dt.timedelta(days=1))
    assert rights.due({"received_at": dt.datetime(2025, 1, 31, 9)}) == D(2025, 2, 28)


def test_rights_copy_from_the_command_line(cli, tmp_path):
    a = cli.archive
    plant(a, date=D(2025, 5, 1))
    r = cli("rights", "open", "--kind", "access", "--name", "Zebedee Quixley", "--dob", "1988-07-14", "--actor", "dpo")
    assert "access request 1 opened: 1 mention(s) found" in r.output and "respond by" in r.output
    r = cli("rights", "decide", "1", "--decision", "comply", "--reasons", "ID seen", "--actor", "dpo")
    assert "request 1 (access) decided comply; next: rights copy 1 --out DIR" in r.output
    assert "needs --out" in cli("rights", "copy", "1", code=2).output
    (tmp_path / "afile").write_text("x")
    assert "is not a folder" in cli("rights", "copy", "1", "--out", tmp_path / "afile", "--actor", "dpo", code=2).output
    assert sg.get_rights_request(a, 1)["status"] == "decided"             # nothing done
    r = cli("rights", "copy", "1", "--out", tmp_path / "sar", "--actor", "dpo")
    assert "subject access copy 1 for request 1: 1 mention(s)" in r.output and "request done" in r.output
    got = orjson.loads((tmp_path / "sar" / "access-1.json").read_bytes())
    assert got["mentions"][0]["as_held"]["surname"] == "QUIXLEY"
    assert orjson.loads(cli("rights", "list", "--json").output)[0]["status"] == "done"
    # a subject the archive does not hold: nothing found, exit 1 (not bad input)
    cli("rights", "open", "--kind", "access", "--name", "Nobody Atall", "--actor", "dpo")
    cli("rights", "decide", "2", "--decision", "comply", "--reasons", "ID seen", "--actor", "dpo")
    r = cli("rights", "copy", "2", "--out", tmp_path / "none", "--actor", "dpo", code=1)
    assert "found no mention of the subject" in r.output and not (tmp_path / "none").exists()


@pytest.mark.parametrize("when", ["before", "overdue", "held"])
def test_a_copy_tells_a_passed_pseudonymisation_date_as_passed(archive, when):
    """A raw mention's copy gives the dates its name and other details are due to be pseudonymised.
    Made after them, the copy said the name "is pseudonymised from" a day gone by; it now says
    the day has passed and why the data is still held: a legal hold, or the next retention run."""
    from courtarchive.governance import holds

    plant(archive, date=D(2025, 5, 1))                      # due 2025-11-01 (6 months)
    req = _request(archive)
    if when == "held":
        [p] = [p for p in rows(archive, "party") if p["surname"] == "QUIXLEY"]
        holds.add(archive, scope="person", ref=f"party:{p['id']}", reason="claim", authority="court order",
                  actor="dpo")
    made = dt.datetime(2025, 10, 1) if when == "before" else dt.datetime(2025, 12, 1)
    [m] = access.build(archive, req["id"], now=made)["mentions"]
    assert m["pseudonymised_from"] == {"identity": D(2025, 11, 1), "personal": D(2025, 11, 1)}
    want = {"before": None, "overdue": {"identity": "overdue", "personal": "overdue"},
            "held": {"identity": "held", "personal": "held"}}[when]
    assert m["past_due"] == want
    html = access._HTML.render(c=access.build(archive, req["id"], now=made), sha256="x")
    said = {"before": "Your name is pseudonymised from 2025-11-01.",
            "overdue": "Your name was due to be pseudonymised on 2025-11-01; this is done at the archive's next "
                       "retention run.",
            "held": "Your name was due to be pseudonymised on 2025-11-01; it is kept past that date while a legal "
                    "hold on this record lasts."}[when]
    assert said in html.replace("&#39;", "'")
    assert ("is pseudonymised from 2025-11-01" in html) is (when == "before")
