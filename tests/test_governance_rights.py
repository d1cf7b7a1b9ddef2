"""Rights requests (find, erase, rectify, journalism exemption), spent convictions, distribution."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from courtarchive.governance import holds, rights, spent
from courtarchive.governance.distribution import (DistributionError, check_processor, check_recipient,
                                                  export, verify_watermark, watermark)
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring
from courtarchive.store import governance as sg
from test_governance_support import NOW, person, plant, rows, viewers

KR = Keyring(bytes(range(32)))
D = dt.date


# --------------------------------------------------------------------------- rights
def test_find_everything_about_a_person_raw_and_pseudonymised(archive):
    from courtarchive.governance import retention

    plant(archive, date=D(2024, 1, 10))
    plant(archive, date=D(2025, 5, 1))
    plant(archive, date=D(2025, 5, 2), people=[person(dob=None)])          # same name, DOB unknown
    plant(archive, date=D(2025, 5, 3), people=[person(surname="OTHER")])
    retention.expire(archive, keyring=KR, as_of=D(2025, 6, 1))             # the 2024 mention is pseudonymised
    f = rights.find(archive, name="Zebedee Quixley", dob=D(1988, 7, 14), keyring=KR, actor="dpo")
    assert len(f["party_ids"]) == 2 and len(f["possible_party_ids"]) == 1
    assert f["counts"]["party"] == 2 and f["counts"]["offence"] == 2 and f["counts"]["party_coarse"] == 1
    ev = rows(archive, "audit_event", action="rights_find")[0]
    assert "quixley" not in str(ev).lower() and ev["details"]["subject_token"] == f["subject_token"]


def test_find_a_token_made_by_the_earlier_name_normalisation(archive):
    """Until 2026-11-27 a title hyphenated to a name was dropped ("Lord-Knowles" was *knowles*).
    Tokens are never recomputed, so a request by name also asks for the earlier form's token."""
    import sqlalchemy as sa

    from courtarchive.governance import retention
    from courtarchive.governance.pseudonym import normalise_name, normalise_name_forms

    assert normalise_name_forms("Lord-Knowles") == ("knowles lord", "knowles")
    assert normalise_name_forms("Zebedee Quixley") == (normalise_name("Zebedee Quixley"),)
    plant(archive, date=D(2024, 1, 10), people=[person(forenames=None, surname="LORD-KNOWLES")])
    plant(archive, date=D(2024, 1, 11), people=[person(forenames=None, surname="LORD-KNOWLES")])
    retention.expire(archive, keyring=KR, as_of=D(2025, 6, 1))       # both pseudonymised (today's form)
    with archive.engine.begin() as c:                                # one as the earlier code tokenised it
        pc = sg.T["party_coarse"]
        first = min(r[0] for r in c.execute(sa.select(pc.c.party_id)))
        c.execute(pc.update().where(pc.c.party_id == first).values(token=KR.token("person", "knowles|1988-07-14")))
    f = rights.find(archive, name="Lord-Knowles", dob=D(1988, 7, 14), keyring=KR, actor="dpo")
    assert len(f["party_ids"]) == 2
    # (the earlier form was also plain "Knowles": a request for that name still sees the old token)
    assert rights.find(archive, name="Knowles", dob=D(1988, 7, 14), keyring=KR, actor="dpo")["party_ids"] == [first]


def test_journalism_exemption_needs_all_limbs_and_reasons(archive):
    plant(archive)
    req = rights.open_request(archive, kind="erasure", name="Zebedee QUIXLEY", dob=D(1988, 7, 14), keyring=KR, actor="dpo")
    with pytest.raises(rights.RightsError):
        rights.decide(archive, req["id"], decision="refuse_exempt", reasons="public interest", actor="editor",
                      with_view_to_publication=True, public_interest_belief=True)
    with pytest.raises(rights.RightsError):
        rights.decide(archive, req["id"], decision="comply", reasons="", actor="editor")
    r = rights.decide(archive, req["id"], decision="refuse_exempt", actor="editor",
                      reasons="Ongoing investigation into the defendant's network; publication planned.",
                      with_view_to_publication=True, public_interest_belief=True, incompatible_with_journalism=True)
    assert r["exemption"].startswith("DPA 2018 Sch 2") and "Ongoing investigation" in r["reasons"]
    assert r["decided_by"] == "editor" and r["status"] == "decided"
    with pytest.raises(rights.RightsError):      # refused: nothing may be erased under this request
        rights.erase(archive, req["party_ids"], keyring=KR, actor="dpo", request_id=req["id"])


@pytest.mark.parametrize("mode", ["pseudonymise", "delete"])
def test_erasure_canary_and_hold(archive, mode):
    plant(archive, date=D(2025, 5, 1), wording="stole from 17 Marigold Crescent")
    plant(archive, date=D(2025, 5, 2), people=[person(surname="KEEPME", dob=D(1950, 1, 1), address="2 Elm Row")])
    req = rights.open_request(archive, kind="erasure", name="Zebedee Quixley", dob=D(1988, 7, 14), keyring=KR,
                              actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="no public interest in keeping it", actor="dpo")
    # a hold on the case pauses erasure too
    cid = rows(archive, "party", id=req["party_ids"][0])[0]["case_id"]
    hid = holds.add(archive, scope="case", ref=str(cid), reason="litigation", authority="court order", actor="dpo")
    out = rights.erase(archive, req["party_ids"], keyring=KR, actor="dpo", mode=mode, request_id=req["id"])
    assert out["parties"] == 0 and out["held"] == {str(hid): 3} and out["held_parties"] == {str(hid): 1}
    assert out["complete"] is False and out["pending_party_ids"] == req["party_ids"]
    holds.release(archive, hid, actor="dpo")
    out = rights.erase(archive, keyring=KR, actor="dpo", mode=mode, request_id=req["id"])   # the same request
    assert out["parties"] == 1 and out["complete"] is True
    if archive.sqlite:
        data = Path(archive.engine.url.database).read_bytes().lower()
        assert b"quixley" not in data and b"marigold" not in data and b"1988-07-14" not in data
        assert b"keepme" in data
    else:
        assert not [v for _, _, v in sg.all_text_values(archive) if "QUIXLEY" in v.upper() or "Marigold" in v]
    [p] = rows(archive, "party", id=req["party_ids"][0])
    assert (p["surname"] or "").startswith("~p:") == (mode == "pseudonymise")


def _decided(archive, kind, decision="comply", name="Zebedee Quixley", dob=D(1988, 7, 14)):
    req = rights.open_request(archive, kind=kind, name=name, dob=dob, keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision=decision, reasons="checked against the subject's evidence", actor="dpo")
    return req


def _raw_party(archive):
    return next(p for p in rows(archive, "party") if p["surname"] == "QUIXLEY")


def test_erase_needs_a_decided_erasure_request(archive):
    """`rights erase --party N` with no request erased at once (the decision was only checked when
    a request id was given)."""
    plant(archive, date=D(2025, 5, 1))
    pid = _raw_party(archive)["id"]
    with pytest.raises(rights.RightsError, match="needs a decided erasure request"):
        rights.erase(archive, [pid], keyring=KR, actor="dpo")
    undecided = rights.open_request(archive, kind="erasure", name="Zebedee Quixley", keyring=KR, actor="dpo")
    with pytest.raises(rights.RightsError, match="only after a decision to comply"):
        rights.erase(archive, [pid], keyring=KR, actor="dpo", request_id=undecided["id"])
    with pytest.raises(rights.RightsError, match="no rights request"):
        rights.erase(archive, [pid], keyring=KR, actor="dpo", request_id=999)
    assert rows(archive, "party", id=pid)[0]["surname"] == "QUIXLEY"
    assert rows(archive, "retention_run") == [] and rows(archive, "audit_event", action="erase") == []


def test_an_upheld_objection_is_carried_out_by_erasure(archive):
    """Art 21(1) then Art 17(1)(c): an objection decided comply was a dead end -- no command acted on
    it.  It now authorises the erasure of what it found, as an erasure request would."""
    plant(archive, date=D(2025, 5, 1))
    req = _decided(archive, "objection")
    res = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])
    [party] = rows(archive, "party", id=req["party_ids"][0])
    assert res["complete"] and party["pseudonymised"] and party["surname"].startswith("~p:")
    assert sg.get_rights_request(archive, req["id"])["status"] == "done"


@pytest.mark.parametrize("kind", ["access", "rectification"])
def test_only_an_erasure_request_leads_to_erasing(archive, kind):
    plant(archive, date=D(2025, 5, 1))
    req = _decided(archive, kind)
    with pytest.raises(rights.RightsError, match=f"is an? {kind} request"):
        rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])
    with pytest.raises(rights.RightsError):
        rights.erase(archive, req["party_ids"], keyring=KR, actor="dpo", request_id=req["id"])
    assert not _raw_party(archive)["pseudonymised"] and _raw_party(archive)["surname"] == "QUIXLEY"
    assert rows(archive, "retention_run") == []


def test_erase_stays_within_the_request(archive):
    plant(archive, date=D(2025, 5, 1))
    plant(archive, date=D(2025, 5, 2))
    plant(archive, date=D(2025, 5, 3), people=[person(surname="OTHER")])
    other = next(p["id"] for p in rows(archive, "party") if p["surname"] == "OTHER")
    req = _decided(archive, "erasure")
    first, second = req["party_ids"]
    with pytest.raises(rights.RightsError, match="not among those request"):
        rights.erase(archive, [first, other], keyring=KR, actor="dpo", request_id=req["id"])
    assert rows(archive, "party", id=first)[0]["surname"] == "QUIXLEY"
    # comply, narrowed: the request stays pending until everything it covers is erased
    out = rights.erase(archive, [first], keyring=KR, actor="dpo", request_id=req["id"])
    assert out["parties"] == 1 and out["complete"] is False and out["not_yet_erased"] == [second]
    assert sg.get_rights_request(archive, req["id"])["status"] == "decided"
    out = rights.erase(archive, [second], keyring=KR, actor="dpo", request_id=req["id"])
    r = sg.get_rights_request(archive, req["id"])
    assert out["complete"] is True and r["status"] == "done" and r["completed_at"] is not None
    assert r["found"]["erasure"]["erased_party_ids"] == [first, second]
    with pytest.raises(rights.RightsError, match="was completed"):
        rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])
    assert rows(archive, "party", id=other)[0]["surname"] == "OTHER"
    # a partial decision names what it erases
    part = _decided(archive, "erasure", decision="partial", name="Zebedee Other")
    with pytest.raises(rights.RightsError, match="partial: name the mentions"):
        rights.erase(archive, keyring=KR, actor="dpo", request_id=part["id"])
    assert rights.erase(archive, [other], keyring=KR, actor="dpo", request_id=part["id"])["complete"] is True


def test_erasure_kept_by_a_hold_stays_pending_then_completes(archive, caplog):
    """A held erasure was marked done (no warning) and could not be run again after the release."""
    plant(archive, date=D(2025, 5, 1))
    plant(archive, date=D(2025, 5, 2))
    req = _decided(archive, "erasure")
    first, second = req["party_ids"]
    hid = holds.add(archive, scope="person", ref=f"party:{first}", reason="claim", authority="court order", actor="dpo")
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])
    assert out["parties"] == 1 and out["held_parties"] == {str(hid): 1} and out["complete"] is False
    assert out["pending_party_ids"] == [first]
    assert f"kept under legal hold {hid}" in caplog.text and "WARNING" in caplog.text
    r = sg.get_rights_request(archive, req["id"])
    assert r["status"] == "decided" and r["completed_at"] is None
    assert r["found"]["erasure"]["pending"] == {str(first): hid} and r["found"]["erasure"]["erased_party_ids"] == [second]
    assert rows(archive, "party", id=first)[0]["surname"] == "QUIXLEY"
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])      # still held: still pending
    assert out["complete"] is False and out["parties"] == 0
    holds.release(archive, hid, actor="dpo")
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"])
    assert out["complete"] is True and out["parties"] == 1 and out["held_parties"] == {}
    r = sg.get_rights_request(archive, req["id"])
    assert r["status"] == "done" and r["found"]["erasure"]["pending"] == {}
    assert rows(archive, "party", id=first)[0]["surname"].startswith("~p:")


@pytest.mark.parametrize("mode", ["pseudonymise", "delete"])
def test_erasure_runs_are_proven(archive, mode):
    """Erasure runs kept the all-zero proof (never verified) while the report said every proof was."""
    from courtarchive.governance import audit, compliance

    plant(archive, date=D(2025, 5, 1))
    req = _decided(archive, "erasure")
    out = rights.erase(archive, keyring=KR, actor="dpo", mode=mode, request_id=req["id"])
    [run] = rows(archive, "retention_run")
    assert run["kind"] == "erase" and run["proof_hash"] == out["proof_hash"] != sg.GENESIS and run["batches"] == 1
    [ev] = rows(archive, "audit_event", action="erase")
    assert ev["details"]["run_id"] == run["id"] and len(ev["details"]["digest"]) == 64
    rep = compliance.build(archive, as_of=D(2025, 6, 1))
    [d] = rep["deletions"]["runs"]
    assert d["proof_verified"] is True and rep["deletions"]["all_proofs_verified"] is True
    # a run's recorded proof that does not match its audited digest is reported
    sg.update_run(archive, run["id"], proof_hash="f" * 64)
    rep = compliance.build(archive, as_of=D(2025, 6, 1))
    assert rep["deletions"]["runs"][0]["proof_verified"] is False and rep["deletions"]["all_proofs_verified"] is False
    assert rep["deletions"]["runs_proof_mismatch"] == [run["id"]]
    sg.update_run(archive, run["id"], proof_hash=out["proof_hash"])
    # an erasure recorded before erasures were proven (audit event without a digest): not proven, said so
    old = sg.start_run(archive, kind="erase", as_of=D(2025, 1, 1), actor="dpo", profile={"mode": mode})
    audit.record(archive, actor="dpo", role="admin", action="erase", purpose="rights_request",
                 details={"mode": mode, "run_id": old, "parties": 1})
    sg.update_run(archive, old, status="done")
    rep = compliance.build(archive, as_of=D(2025, 6, 1))
    assert [d["proof_verified"] for d in rep["deletions"]["runs"]] == [True, None]
    assert rep["deletions"]["all_proofs_verified"] is False and rep["deletions"]["runs_unproven"] == [old]


def test_rectify_records_field_not_values(archive):
    plant(archive)
    req = _decided(archive, "rectification")
    pid = req["party_ids"][0]
    rights.rectify(archive, pid, field="address", value="1 New Road", actor="dpo", request_id=req["id"])
    assert rows(archive, "party", id=pid)[0]["address"] == "1 New Road"
    ev = rows(archive, "audit_event", action="rectify")[0]
    assert ev["details"] == {"field": "address"} and "New Road" not in str(ev)
    assert sg.get_rights_request(archive, req["id"])["status"] == "done"
    with pytest.raises(rights.RightsError):
        rights.rectify(archive, pid, field="case_id", value=1, actor="dpo", request_id=req["id"])
    # a request done by a first correction still covers the next field
    rights.rectify(archive, pid, field="town", value="Leyland", actor="dpo", request_id=req["id"])
    assert rows(archive, "party", id=pid)[0]["town"] == "Leyland"


def test_rectify_needs_a_decided_rectification_request(archive):
    plant(archive, date=D(2025, 5, 1))
    pid = _raw_party(archive)["id"]
    with pytest.raises(rights.RightsError, match="needs a decided rectification request"):
        rights.rectify(archive, pid, field="town", value="Leyland", actor="dpo")
    for kind in ("access", "erasure"):
        req = _decided(archive, kind)
        with pytest.raises(rights.RightsError, match=f"is an? {kind} request"):
            rights.rectify(archive, pid, field="town", value="Leyland", actor="dpo", request_id=req["id"])
    undecided = rights.open_request(archive, kind="rectification", name="Zebedee Quixley", keyring=KR, actor="dpo")
    with pytest.raises(rights.RightsError, match="only after a decision to comply"):
        rights.rectify(archive, pid, field="town", value="Leyland", actor="dpo", request_id=undecided["id"])
    assert _raw_party(archive)["town"] == "Preston" and rows(archive, "audit_event", action="rectify") == []


def test_rectify_refuses_bad_input_and_erased_rows(archive):
    from courtarchive.governance import retention

    plant(archive, date=D(2024, 1, 10))                            # expires below
    plant(archive, date=D(2025, 5, 1))
    plant(archive, date=D(2025, 5, 2), people=[person(surname="OTHER")])
    retention.expire(archive, keyring=KR, as_of=D(2025, 6, 1))
    req = _decided(archive, "rectification")
    expired = next(p["id"] for p in rows(archive, "party") if p["pseudonymised"] and p["role"] == "DEFENDANT")
    raw = _raw_party(archive)["id"]
    other = next(p["id"] for p in rows(archive, "party") if p["surname"] == "OTHER")
    assert set(req["party_ids"]) == {expired, raw}
    before = rows(archive, "party")

    def refused(pids, match, **kw):
        kw = {"field": "surname", "value": "QUICKLEY", **kw}
        with pytest.raises(rights.RightsError, match=match):
            rights.rectify(archive, pids, actor="dpo", request_id=req["id"], **kw)

    refused(expired, "pseudonymised")                              # would re-identify erased data
    refused([raw, expired], "pseudonymised")                       # all or nothing
    refused(99999999, "no party mention 99999999")
    refused(other, "not among those request")
    refused(raw, "needs the correct value", value=None)
    refused(raw, "needs the correct value", value="  ")
    refused(raw, "not both", clear=True)
    refused(raw, "must be a date", field="date_of_birth", value="1990-13-45")
    refused(raw, "must be a date", field="date_of_birth", value="14/07/1988")
    refused(raw, "not a possible date of birth", field="date_of_birth", value="2999-01-01")
    refused(raw, "whole number", field="age", value="old")
    refused(raw, "whole number", field="age", value="-3")
    refused(raw, "cannot be rectified", field="case_id", value="1")
    assert rows(archive, "party") == before and rows(archive, "audit_event", action="rectify") == []
    rights.rectify(archive, raw, field="date_of_birth", value="1988-07-15", actor="dpo", request_id=req["id"])
    rights.rectify(archive, raw, field="age", value="37", actor="dpo", request_id=req["id"])
    rights.rectify(archive, raw, field="postcode", clear=True, actor="dpo", request_id=req["id"])
    [p] = rows(archive, "party", id=raw)
    assert (p["date_of_birth"], p["age"], p["postcode"]) == (D(1988, 7, 15), 37, None)
    assert rows(archive, "audit_event", action="rectify")[-1]["details"] == {"field": "postcode", "cleared": True}


def test_rectification_reaches_the_search_index(archive, tmp_path):
    """The old name stayed in search_name after a rectification, even after `search-index refresh`."""
    from courtarchive.governance.profile import load as load_profile
    from courtarchive.serve import search as S

    plant(archive, date=D(2025, 5, 1))
    plant(archive, date=D(2025, 5, 2), people=[person(forenames="Wilhelmina", surname="FOTHERGILL")])
    S.refresh(archive)
    assert S.search_names(archive, "Zebedee Quixley")["total"] == 1
    req = _decided(archive, "rectification")
    out = rights.rectify(archive, req["party_ids"], field="surname", value="ABERNATHY", actor="dpo",
                         request_id=req["id"], profile=load_profile(home=tmp_path), home=tmp_path)
    assert out["name_as_listed_unchanged"] == req["party_ids"]        # "QUIXLEY, Zebedee": said, not changed
    hook = out["derived_stores"]["courtarchive.serve.search:governance_hook"]
    assert hook["removed"] == 1 and hook["reindexed"] == 1
    # a rectification changes a value: the purge-only built-ins (exports cache, review notes) are not run
    assert "courtarchive.governance.hooks:exports_cache" not in out["derived_stores"]
    assert S.search_names(archive, "Zebedee Quixley")["total"] == 0
    [hit] = S.search_names(archive, "Zebedee Abernathy")["hits"]
    assert hit["party_id"] == req["party_ids"][0]
    S.refresh(archive)
    assert S.search_names(archive, "Zebedee Quixley")["total"] == 0
    assert S.search_names(archive, "Wilhelmina Fothergill")["total"] == 1
    with archive.engine.connect() as c:
        assert "quixley" not in str(c.exec_driver_sql("SELECT name_norm, surname_norm FROM search_name").fetchall())


# --------------------------------------------------------------------------- spent convictions
@pytest.mark.parametrize("kw,spent_on,never", [
    (dict(sentence_type="custody", custody_months=6), D(2021, 7, 1), False),            # <=1y: end + 1y
    (dict(sentence_type="custody", custody_months=6, under_18=True), D(2021, 1, 1), False),
    (dict(sentence_type="custody", custody_months=24), D(2026, 1, 1), False),          # 1-4y: end + 4y
    (dict(sentence_type="custody", custody_months=24, under_18=True), D(2024, 1, 1), False),
    (dict(sentence_type="custody", custody_months=60), D(2032, 1, 1), False),          # >4y: end + 7y
    (dict(sentence_type="custody", custody_months=60, sch18=True), None, True),        # >4y Sch 18: never
    (dict(sentence_type="custody", custody_months=48, sch18=True), D(2028, 1, 1), False),
    (dict(sentence_type="life"), None, True), (dict(sentence_type="ipp"), None, True),
    (dict(sentence_type="extended"), None, True),
    (dict(sentence_type="fine"), D(2021, 1, 1), False),
    (dict(sentence_type="fine", under_18=True), D(2020, 7, 1), False),
    (dict(sentence_type="community", sentence_end=D(2021, 6, 30)), D(2021, 6, 30), False),
    (dict(sentence_type="conditional_discharge", sentence_end=D(2022, 1, 1)), D(2022, 1, 1), False),
    (dict(sentence_type="absolute_discharge"), D(2020, 1, 1), False),
])
def test_roa_periods(kw, spent_on, never):
    s = spent.compute(conviction_date=D(2020, 1, 1), **kw)
    assert (s.spent_on, s.never_spent) == (spent_on, never), s.basis


def test_drag_through_extends_earlier_conviction():
    a = {"conviction_date": D(2020, 1, 1), "spent_on": D(2021, 1, 1), "never_spent": False}
    b = {"conviction_date": D(2020, 6, 1), "spent_on": D(2025, 6, 1), "never_spent": False}
    spent.drag_through([a, b])
    assert a["spent_on"] == D(2025, 6, 1)
    c = {"conviction_date": D(2020, 1, 1), "spent_on": D(2021, 1, 1), "never_spent": False}
    d = {"conviction_date": D(2020, 6, 1), "spent_on": None, "never_spent": True}
    spent.drag_through([c, d])
    assert c["never_spent"]


# --------------------------------------------------------------------------- distribution
def test_recipient_policy(archive):
    prof = load()
    media = viewers()["verified_media"]
    assert check_recipient(archive, media, "desk@lancashirepost.co.uk", profile=prof, now=NOW) == "lancashirepost.co.uk"
    for bad in ("someone@gmail.com", "friend@othernews.com"):
        with pytest.raises(DistributionError):
            check_recipient(archive, media, bad, profile=prof, now=NOW)
    with pytest.raises(DistributionError):                     # not a verified account
        check_recipient(archive, viewers()["public"], "desk@lancashirepost.co.uk", profile=prof)
    from courtarchive.governance.distribution import approve_domain

    approve_domain(archive, domain="gmail.com", actor="admin1", reason="freelance court reporter, checked")
    assert check_recipient(archive, media, "someone@gmail.com", profile=prof, now=NOW) == "gmail.com"


def test_export_is_gated_watermarked_and_recorded(archive, tmp_path):
    plant(archive)
    recs = rows(archive, "party")
    out = export(archive, recs, viewers()["verified_media"], purpose="journalism", keyring=KR, profile=load(),
                 home=tmp_path, now=NOW, recipient="desk@lancashirepost.co.uk")
    assert out["path"].exists() and verify_watermark(KR, out["watermark"])
    assert not verify_watermark(KR, out["watermark"].replace("reporter", "someone"))
    [e] = rows(archive, "export_record")
    assert e["recipient_domain"] == "lancashirepost.co.uk" and e["rows"] == 2 and e["watermark"] == out["watermark"]
    with pytest.raises(DistributionError):
        export(archive, recs, viewers()["public"], purpose="x", keyring=KR, profile=load(), home=tmp_path)
    assert watermark(KR, export_id=1, viewer=viewers()["analyst"]).startswith("courtarchive export #1 for analyst1")


def test_no_external_processor_unless_named(archive, tmp_path):
    with pytest.raises(DistributionError):
        check_processor(archive, load(), name="HostedAI Ltd", data_classes=["identity"], actor="a", purpose="summary")
    f = tmp_path / "p.toml"
    f.write_text('[[processors.named]]\nname = "OCR Co"\npurpose = "OCR of registers"\ndata_classes = ["identity", "personal"]\n')
    prof = load(f)
    assert check_processor(archive, prof, name="OCR Co", data_classes=["identity"], actor="a", purpose="ocr")
    with pytest.raises(DistributionError):
        check_processor(archive, prof, name="OCR Co", data_classes=["wording"], actor="a", purpose="ocr")
    acts = [e["action"] for e in rows(archive, "audit_event")]
    assert acts.count("processor_refused") == 2 and acts.count("processor_use") == 1
