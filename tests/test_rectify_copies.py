"""A rectification (UK GDPR Art 16) follows the name into the copies ingest made of it: the case
name of the mention's hearing, the case key made from names, the link stage's persons.  Before,
only the party row and the search index changed: "R v Zebedee QUIXLEY" kept the wrong name, the
case key held it unsaid, and an incremental link run kept the mention in the person its wrong name
had linked it to."""

from __future__ import annotations

import datetime as dt

from courtarchive.governance import holds, rights
from courtarchive.governance.pseudonym import Keyring
from courtarchive.link import run as link
from test_governance_cli import cli  # noqa: F401  (the fixture: the real app on an archive)
from test_governance_compliance import cli_env  # noqa: F401
from test_governance_support import person, plant, rows

KR = Keyring(bytes(range(32)))
D = dt.date


def _request(archive):
    req = rights.open_request(archive, kind="rectification", name="Zebedee Quixley", dob=D(1988, 7, 14),
                              keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="checked against the subject's passport", actor="dpo")
    return req


def _party(archive, hearing_id, surname="QUIXLEY"):
    return next(p for p in rows(archive, "party", hearing_id=hearing_id) if p["surname"] == surname)


def test_the_case_name_follows_the_name_when_that_is_sure(archive, tmp_path):
    one = plant(archive, date=D(2025, 5, 1), case_name="R v Zebedee QUIXLEY")
    two = plant(archive, date=D(2025, 5, 2), case_name="Police v Zebedee Quixley")
    [h1] = rows(archive, "hearing", publication_id=one.publication_id)
    [h2] = rows(archive, "hearing", publication_id=two.publication_id)
    req = _request(archive)
    out = rights.rectify(archive, req["party_ids"], field="surname", value="Abernathy", actor="dpo",
                         request_id=req["id"], home=tmp_path)
    # in the quote's case: a list printing surnames in capitals keeps printing them so
    assert rows(archive, "hearing", id=h1["id"])[0]["case_name"] == "R v Zebedee ABERNATHY"
    assert rows(archive, "hearing", id=h2["id"])[0]["case_name"] == "Police v Zebedee Abernathy"
    assert out["case_name_corrected"] == [h1["id"], h2["id"]] and out["case_name_unchanged"] == []
    ev = rows(archive, "audit_event", action="rectify")[-1]
    assert ev["details"]["case_names_corrected"] == 2 and "abernathy" not in str(ev).lower()
    assert f"hearing:{h1['id']},{h2['id']}" in ev["object"]


def test_a_case_name_not_surely_the_mentions_is_reported_not_rewritten(archive, tmp_path):
    # two defendants of one name at one hearing: whose "QUIXLEY" the case name quotes, nothing says
    both = plant(archive, date=D(2025, 5, 1), case_name="R v QUIXLEY and QUIXLEY",
                 people=[person(), person(forenames="Amos", dob=D(1990, 1, 2))])
    shared = plant(archive, date=D(2025, 5, 2), case_name="R v Zebedee and Amos QUIXLEY",
                   people=[person(), person(forenames="Amos", dob=D(1990, 1, 2))])
    alone = plant(archive, date=D(2025, 5, 3), case_name="R v Zebedee QUIXLEY")
    hs = [rows(archive, "hearing", publication_id=r.publication_id)[0] for r in (both, shared, alone)]
    req = _request(archive)
    zeb = sorted(p["id"] for p in rows(archive, "party") if p["forenames"] == "Zebedee")
    out = rights.rectify(archive, zeb, field="surname", clear=True, actor="dpo", request_id=req["id"], home=tmp_path)
    # cleared: nothing sure to write in its place, so every case name quoting it is reported
    assert out["case_name_corrected"] == [] and out["case_name_unchanged"] == [h["id"] for h in hs]
    assert [rows(archive, "hearing", id=h["id"])[0]["case_name"] for h in hs] == [h["case_name"] for h in hs]
    # a value given: the hearing of one Quixley is corrected, the shared ones are not
    rights.rectify(archive, zeb, field="surname", value="QUIXLEY", actor="dpo", request_id=req["id"], home=tmp_path)
    out = rights.rectify(archive, zeb, field="surname", value="ABERNATHY", actor="dpo", request_id=req["id"],
                         home=tmp_path)
    assert out["case_name_corrected"] == [hs[2]["id"]] and out["case_name_unchanged"] == [hs[0]["id"], hs[1]["id"]]
    assert [rows(archive, "hearing", id=h["id"])[0]["case_name"] for h in hs] == [
        "R v QUIXLEY and QUIXLEY", "R v Zebedee and Amos QUIXLEY", "R v Zebedee ABERNATHY"]
    # a field no case name quotes: nothing said
    out = rights.rectify(archive, zeb, field="town", value="Leyland", actor="dpo", request_id=req["id"], home=tmp_path)
    assert out["case_name_corrected"] == out["case_name_unchanged"] == out["case_key_unchanged"] == []


def test_a_case_key_made_from_the_name_is_reported(archive, tmp_path):
    """A case listed without a URN is keyed by its number and defendant's name: the key (never
    shown) matches the court's later lists, so it is kept -- and said, not left unsaid."""
    keyed = plant(archive, date=D(2025, 5, 1), no_urn=True)
    plant(archive, date=D(2025, 5, 2))                                   # keyed by its URN
    [h] = rows(archive, "hearing", publication_id=keyed.publication_id)
    [case] = rows(archive, "case", id=h["case_id"])
    assert case["case_key"].startswith("cn:") and "quixley" in case["case_key"]
    req = _request(archive)
    out = rights.rectify(archive, req["party_ids"], field="surname", value="ABERNATHY", actor="dpo",
                         request_id=req["id"], home=tmp_path)
    assert out["case_key_unchanged"] == [case["id"]]
    assert rows(archive, "case", id=case["id"])[0]["case_key"] == case["case_key"]
    # the name as listed rectified too: it is what the key's name came from; the key still says so
    out = rights.rectify(archive, req["party_ids"], field="name_as_listed", value="ABERNATHY, Zebedee", actor="dpo",
                         request_id=req["id"], home=tmp_path)
    assert out["case_key_unchanged"] == [case["id"]] and out["name_as_listed_unchanged"] == []


def test_the_next_link_run_scores_a_rectified_mention_again(archive, tmp_path):
    """An incremental link run scored only mentions never linked: the rectified one stayed in the
    person its wrong name had put it in, whatever its corrected name said."""
    a = plant(archive, date=D(2025, 5, 1))
    plant(archive, date=D(2025, 5, 2))
    plant(archive, date=D(2025, 5, 3), people=[person(forenames="Wilhelmina", surname="FOTHERGILL", dob=D(1970, 2, 3),
                                                      address="3 Oak Lane", postcode="LA1 1AA", town="Lancaster")])
    link.run(archive, full=True)
    [h] = rows(archive, "hearing", publication_id=a.publication_id)
    pid = _party(archive, h["id"])["id"]
    before = {m["party_id"]: m["person_id"] for m in rows(archive, "person_mention")}
    req = _request(archive)
    # a field the link stage does not score on: the link stays
    out = rights.rectify(archive, [pid], field="address", value="1 New Road", actor="dpo", request_id=req["id"],
                         home=tmp_path)
    assert out["unlinked"] == [] and rows(archive, "person_mention", party_id=pid)
    out = rights.rectify(archive, [pid], field="surname", value="FOTHERGILL", actor="dpo", request_id=req["id"],
                         home=tmp_path)
    assert out["unlinked"] == [pid] and out["links_kept_held"] == []
    assert rows(archive, "person_mention", party_id=pid) == []
    assert rows(archive, "audit_event", action="rectify")[-1]["details"]["unlinked"] == 1
    st = link.run(archive)
    assert st["defendants"]["mode"] == "incremental" and st["defendants"]["fresh"] == 1
    [m] = rows(archive, "person_mention", party_id=pid)
    others = {k: v for k, v in before.items() if k != pid}
    assert {x["party_id"]: x["person_id"] for x in rows(archive, "person_mention") if x["party_id"] != pid} == others


def test_a_mention_a_hold_reaches_keeps_its_person(archive, tmp_path):
    """A person hold reaches its mentions through their link: unlinked, the mention would fall
    out of the hold (an expiry could pseudonymise it) until the next link run."""
    a = plant(archive, date=D(2025, 5, 1))
    plant(archive, date=D(2025, 5, 2))
    link.run(archive, full=True)
    [h] = rows(archive, "hearing", publication_id=a.publication_id)
    pid = _party(archive, h["id"])["id"]
    [m] = rows(archive, "person_mention", party_id=pid)
    holds.add(archive, scope="person", ref=str(m["person_id"]), reason="litigation", authority="court order",
              actor="dpo")
    req = _request(archive)
    out = rights.rectify(archive, [pid], field="date_of_birth", value="1988-07-15", actor="dpo",
                         request_id=req["id"], home=tmp_path)
    assert out["unlinked"] == [] and out["links_kept_held"] == [pid]
    assert rows(archive, "person_mention", party_id=pid)[0]["person_id"] == m["person_id"]


def test_the_command_says_what_followed_the_name_and_what_did_not(cli):
    from test_governance_cli import _request as open_request

    a = cli.archive
    plant(a, date=D(2025, 5, 1), case_name="R v Zebedee QUIXLEY")
    plant(a, date=D(2025, 5, 2), case_name="R v QUIXLEY and QUIXLEY",
          people=[person(), person(forenames="Ottoline", dob=D(1990, 1, 2))])
    link.run(a, full=True)
    req = open_request(cli, "rectification")
    args = [x for p in req["party_ids"] for x in ("--party", p)]
    out = cli("rights", "rectify", req["id"], *args, "--field", "surname", "--value", "Abernathy", "--actor", "dpo").output
    text = " ".join(out.split())
    assert "corrected" in text and "still quotes the old surname" in text
    assert "scores them again on the corrected value" in text
    assert "abernathy" not in text.lower() and "quixley" not in text.lower()      # no values said


def test_the_compliance_report_lists_rectifications_apart_from_deletions(archive, tmp_path):
    """A rectification deletes nothing and has no proof: listed among the deletions it showed as
    'not proven' in red to a licensor reading the report."""
    from courtarchive.governance import compliance

    plant(archive, date=D(2025, 5, 1), case_name="R v Zebedee QUIXLEY")
    req = _request(archive)
    out = rights.rectify(archive, req["party_ids"], field="town", value="Lancaster", actor="dpo",
                         request_id=req["id"], home=tmp_path)
    rep = compliance.build(archive, as_of=D(2025, 6, 1))
    assert [d["kind"] for d in rep["deletions"]["runs"]] == []
    assert rep["deletions"]["runs_unproven"] == []
    assert [(x["run_id"], x["request_id"], x["hooks_failed"]) for x in rep["rectifications"]] == [
        (out["run_id"], req["id"], [])]
    compliance.write(archive, tmp_path / "report", as_of=D(2025, 6, 1))
    html = (tmp_path / "report" / "compliance.html").read_text()
    assert "Rectifications (UK GDPR Art 16" in html and "not proven" not in html
