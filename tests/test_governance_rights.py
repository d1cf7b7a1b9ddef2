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
    assert out["parties"] == 0 and out["held"] == {str(hid): 3}
    holds.release(archive, hid, actor="dpo")
    out = rights.erase(archive, req["party_ids"], keyring=KR, actor="dpo", mode=mode)
    assert out["parties"] == 1
    if archive.sqlite:
        data = Path(archive.engine.url.database).read_bytes().lower()
        assert b"quixley" not in data and b"marigold" not in data and b"1988-07-14" not in data
        assert b"keepme" in data
    else:
        assert not [v for _, _, v in sg.all_text_values(archive) if "QUIXLEY" in v.upper() or "Marigold" in v]
    [p] = rows(archive, "party", id=req["party_ids"][0])
    assert (p["surname"] or "").startswith("~p:") == (mode == "pseudonymise")


def test_rectify_records_field_not_values(archive):
    plant(archive)
    pid = rows(archive, "party")[0]["id"]
    rights.rectify(archive, pid, field="address", value="1 New Road", actor="dpo")
    assert rows(archive, "party", id=pid)[0]["address"] == "1 New Road"
    ev = rows(archive, "audit_event", action="rectify")[0]
    assert ev["details"] == {"field": "address"} and "New Road" not in str(ev)
    with pytest.raises(rights.RightsError):
        rights.rectify(archive, pid, field="case_id", value=1, actor="dpo")


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
