"""Reporting-restriction rules: for every rule, the restricted fact is absent from every output for
every role (shared/LAW.md; governance.rules)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from courtarchive.governance import disclose
from courtarchive.governance.gate import SHAREABLE_OUTPUTS
from courtarchive.governance.pseudonym import Keyring
from courtarchive.governance.rules import RULES, classify_offence, parse_detail
from courtarchive.store.tables import TABLES
from test_governance_support import NOW, PURPOSE, case_records, person, plant, rows, text_of, viewers

OUTPUTS = ("web", "api", "export", "alert", "search", "view")
KR = Keyring(bytes(range(32)))


def all_outputs(archive, records, now=NOW):
    """Disclose the same records to every role through every output."""
    for role, v in viewers(now).items():
        for out in OUTPUTS:
            yield role, out, disclose(records, v, purpose=PURPOSE[role],
                                      context={"archive": archive, "now": now, "output": out, "keyring": KR})


def assert_absent(archive, case_id, facts: list[str], now=NOW):
    recs = case_records(archive, case_id)
    for role, out, d in all_outputs(archive, recs, now):
        text = text_of(d).lower()
        for f in facts:
            assert f.lower() not in text, f"{f!r} leaked to {role} via {out}"


def the_case(archive, w) -> int:
    return rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]


# --------------------------------------------------------------------------- declarations
def test_every_rule_cites_its_law_and_source():
    for r in RULES.values():
        assert r.law and r.source and r.effects, r.id
        assert "LAW.md" in r.source


def test_classify_offence_table_and_text():
    assert classify_offence("SX03001")["so_aa_1992"]
    assert classify_offence("SX03025A")["so_aa_1992"]                      # attempt (declared table)
    assert not classify_offence("SX03064")["so_aa_1992"]                   # s.64: not in SO(A)A s.2
    assert classify_offence("MS15002")["so_aa_1992"]                       # MSA 2015 s.2
    assert classify_offence("FG03001")["fgm"]
    # no code: the legislation text decides (attempt of an s.3 offence; s.71 excluded)
    assert classify_offence(None, "Attempted sexual assault",
                            "Criminal Attempts Act 1981, s.1(1); Sexual Offences Act 2003, s.3(1)")["so_aa_1992"]
    assert not classify_offence(None, "Sexual activity in a public lavatory", "Sexual Offences Act 2003, s.71")["so_aa_1992"]
    assert classify_offence(None, "Trafficking", "Modern Slavery Act 2015, s.2(1)")["so_aa_1992"]
    assert not classify_offence(None, "Slavery", "Modern Slavery Act 2015, s.1(1)")["so_aa_1992"]


def test_parse_detail_start_and_end():
    [o] = parse_detail("Section 4(2) Contempt of Court Act 1981 made 01/02/2024 until 12 May 2027")
    assert o.rule == "cca_s4_2" and o.start == dt.date(2024, 2, 1) and o.end == dt.date(2027, 5, 12)
    assert [o.rule for o in parse_detail("s.45A YJCEA 1999")] == ["yjcea_s45a"]
    assert [o.rule for o in parse_detail("Section 45 of the Youth Justice and Criminal Evidence Act 1999")] == ["yjcea_s45"]
    assert [o.rule for o in parse_detail("Section 49 of the Children and Young Persons Act 1933")] == ["cypa_s49"]
    assert [o.rule for o in parse_detail("Section 11 Contempt of Court Act 1981")] == ["cca_s11"]
    assert [o.rule for o in parse_detail(None, flagged=True)] == ["list_flag"]


# --------------------------------------------------------------------------- SO(A)A 1992, FGM
@pytest.mark.parametrize("code,legislation", [
    ("SX03001", None),                                    # rape
    ("SX03025A", None),                                   # attempt (declared)
    (None, "Criminal Attempts Act 1981, s.1(1); Sexual Offences Act 2003, s.3(1)"),   # attempt (text)
    ("MS15002", None),                                    # trafficking, MSA 2015 s.2
    ("FG03001", None),                                    # FGM Act 2003 Sch 1
])
def test_complainant_identifying_matter_never_output(archive, code, legislation):
    w = plant(archive, code=code, legislation=legislation, title="Offence",
              wording="at St Winifred's Academy touched [complainant:0a1b2c3d] of 4 Larkspur Lane",
              list_note="complainant attends St Winifred's Academy")
    cid = the_case(archive, w)
    oid, hid = rows(archive, "offence")[0]["id"], rows(archive, "hearing")[0]["id"]
    with archive.engine.begin() as c:
        c.execute(sa.insert(TABLES["complainant"]).values(
            id=99, publication_id=w.publication_id, json_path="$", offence_id=oid,
            hearing_id=hid, case_id=cid, kind="named", token="0a1b2c3d" * 4,
            key_id="k", descriptor="girl under 16 from Cottam"))
    assert_absent(archive, cid, ["St Winifred", "Larkspur", "girl under 16", "Cottam"])
    # ... and the complainant's token only ever reaches analyst/admin (counts), never public/media
    recs = case_records(archive, cid)
    for role in ("public", "verified_media"):
        d = disclose(recs, viewers()[role], purpose=PURPOSE[role], context={"archive": archive, "now": NOW})
        assert "0a1b2c3d" not in text_of(d)


def test_not_covered_offence_keeps_wording_for_media(archive):
    w = plant(archive, code="TH68001", wording="stole a bicycle from Larkspur Lane")
    d = disclose(case_records(archive, the_case(archive, w)), viewers()["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": NOW})
    assert "Larkspur" in text_of(d)
    # ... but not to the public (policy: no wording) nor to media without a journalism purpose (rule 9)
    for v, purpose in ((viewers()["public"], "public_interest"), (viewers()["verified_media"], "marketing")):
        d = disclose(case_records(archive, the_case(archive, w)), v, purpose=purpose,
                     context={"archive": archive, "now": NOW})
        assert "Larkspur" not in text_of(d) and "QUIXLEY" not in text_of(d)


# --------------------------------------------------------------------------- Editors' Code cl.7
def test_relationship_never_stated_or_implied(archive):
    w = plant(archive, code="SX03025", title="Sexual activity with a child family member",
              legislation="Sexual Offences Act 2003, s.25(1)",
              wording="touched [complainant:0a1b2c3d], his stepdaughter", list_note="father of the complainant",
              case_name="R v QUIXLEY (incest)")
    assert_absent(archive, the_case(archive, w),
                  ["family member", "stepdaughter", "father", "incest", "s.25", "SX03025"])


# --------------------------------------------------------------------------- youth
def test_cypa_s49_youth_court_until_18(archive):
    kid = person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(2008, 9, 1), age=15,
                 address="9 Quillon Road", postcode="PR1 4XX")
    w = plant(archive, panel="YOUTH", people=[kid], date=dt.date(2024, 3, 4))
    cid = the_case(archive, w)
    assert_absent(archive, cid, ["WRENFIELD", "Ptolemy", "2008-09-01", "Quillon"])
    # from the 18th birthday the automatic restriction ends: accredited media see the name again
    later = dt.datetime(2026, 9, 2, 9, 0)
    d = disclose(case_records(archive, cid), viewers(later)["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": later})
    assert "WRENFIELD" in text_of(d)


def test_cl7_title_only_offence_on_a_public_list(archive):
    """A public list gives the offence's title alone (no code, no section): the declared offence of
    that title decides, so the same offence reads the same on every list of the case (cl.7)."""
    from courtarchive.governance.rules import GENERIC_CHILD_SEXUAL_TITLE

    assert classify_offence(None, "Sexual activity with a child")["child_sexual_abuse"]
    assert classify_offence(None, "sexual  activity with a CHILD.")["so_aa_1992"]
    assert not classify_offence(None, "Theft from a shop")["so_aa_1992"]
    w = plant(archive, code=None, title="Inciting a child family member to engage in sexual activity",
              legislation=None, wording=None, list_type="MAGISTRATES_PUBLIC_LIST")
    cid = the_case(archive, w)
    assert_absent(archive, cid, ["family member", "Inciting a child"])
    d = disclose(case_records(archive, cid), viewers()["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": NOW})
    assert GENERIC_CHILD_SEXUAL_TITLE in text_of(d)


def test_adult_panel_in_a_youth_court_building(archive):
    """A building named "... Youth Court" also hosts adult benches: an ADULT panel there is an
    adult court (no s.49; parties of unknown age are not presumed children), while a youth panel,
    or no panel at all, is a youth court sitting."""
    adult = person(forenames="Ptolemy", surname="WRENFIELD", dob=None, age=None)
    court = "Birmingham Youth Court"
    cid = the_case(archive, plant(archive, panel="ADULT", court=court, people=[adult]))
    d = disclose(case_records(archive, cid), viewers()["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": NOW})
    assert "WRENFIELD" in text_of(d) and not [f for f in d.flags if f.get("rule") == "cypa_s49"]
    for panel in ("YOUTH", None):
        cid = the_case(archive, plant(archive, panel=panel, court=court, people=[adult]))
        assert_absent(archive, cid, ["WRENFIELD"])


def test_s49_named_in_the_list_text_protects_the_children_until_18(archive):
    """s.49 named in a list's restriction text (not a youth panel) protects the case's under-18s,
    is one restriction with the automatic one, lapses when they are all 18, and no output states
    its end date -- the eighteenth birthday is the date of birth."""
    kid = person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(2008, 9, 1), age=15, address="9 Quillon Road")
    w = plant(archive, panel="YOUTH", people=[kid], date=dt.date(2024, 3, 4), sensitivity="PUBLIC",
              detail="Section 49 of the Children and Young Persons Act 1933 applies")
    cid = the_case(archive, w)
    assert_absent(archive, cid, ["WRENFIELD", "Ptolemy", "2026-09-01", "2008-09-01"])
    d = disclose(case_records(archive, cid), viewers()["public"], purpose="public_interest",
                 context={"archive": archive, "now": NOW})
    s49 = [f for f in d.flags if f.get("rule") == "cypa_s49"]
    assert len(s49) == 1 and s49[0]["until"] is None and "(until 18)" in s49[0]["summary"], d.flags
    later = dt.datetime(2026, 9, 2, 9, 0)           # he is 18: the text's s.49 has lapsed with the automatic one
    d = disclose(case_records(archive, cid), viewers(later)["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": later})
    assert "WRENFIELD" in text_of(d) and not [f for f in d.flags if f.get("rule") == "cypa_s49"], d.flags


def test_youth_court_unknown_age_is_protected(archive):
    kid = person(forenames="Ptolemy", surname="WRENFIELD", dob=None, age=None)
    w = plant(archive, list_type="YOUTH_COURT_LIST", people=[kid])
    assert_absent(archive, the_case(archive, w), ["WRENFIELD"])


def test_any_party_under_18_in_adult_court(archive):
    kid = person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(2008, 1, 1), age=16)
    w = plant(archive, people=[kid, person()])
    cid = the_case(archive, w)
    assert_absent(archive, cid, ["WRENFIELD", "Ptolemy", "2008-01-01"])
    d = disclose(case_records(archive, cid), viewers()["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": NOW})
    assert "QUIXLEY" in text_of(d)          # the adult co-defendant is not restricted


def test_yjcea_s45_until_18(archive):
    kid = person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(2007, 5, 1), age=17)
    w = plant(archive, people=[kid], detail="Section 45 of the Youth Justice and Criminal Evidence Act 1999",
              list_type="CROWN_DAILY_LIST", court="Preston Crown Court")
    cid = the_case(archive, w)
    assert_absent(archive, cid, ["WRENFIELD", "2007-05-01"], now=dt.datetime(2025, 4, 1))
    after = dt.datetime(2025, 5, 2)
    d = disclose(case_records(archive, cid), viewers(after)["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": after})
    assert "WRENFIELD" in text_of(d)


def test_yjcea_s45a_lifelong(archive):
    kid = person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(2007, 5, 1), age=17, role="WITNESS")
    w = plant(archive, people=[person(), kid], detail="s.45A YJCEA 1999 order",
              wording="assaulted Ptolemy Wrenfield at Quillon Park")
    cid = the_case(archive, w)
    for when in (dt.datetime(2025, 4, 1), dt.datetime(2060, 1, 1)):
        assert_absent(archive, cid, ["WRENFIELD", "Quillon"], now=when)


def test_yjcea_s46_adult_witness(archive):
    w = plant(archive, detail="Section 46 YJCEA 1999", wording="threatened witness Ottoline Brabazon-Kemp")
    assert_absent(archive, the_case(archive, w), ["Brabazon"])


# --------------------------------------------------------------------------- contempt
def test_cca_s4_2_withholds_case_until_a_person_lifts_it(archive):
    w = plant(archive, detail="Section 4(2) Contempt of Court Act 1981 until 1 Jan 2025")
    cid = the_case(archive, w)
    # the stated end date has passed (NOW is 2025): still withheld, a person must lift it
    for role, out, d in all_outputs(archive, case_records(archive, cid)):
        assert not [r for r in d.records if r["_entity"] in ("party", "offence", "hearing", "case")], (role, out)
        assert "QUIXLEY" not in text_of(d)
    from courtarchive.governance import restrictions

    [r] = [x for x in restrictions.sync(archive)["created"] if x["rule"] == "cca_s4_2"]
    restrictions.lift(archive, r["id"], actor="duty.lawyer", reason="trial concluded; order discharged")
    d = disclose(case_records(archive, cid), viewers()["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": NOW})
    assert "QUIXLEY" in text_of(d)
    with pytest.raises(ValueError):
        restrictions.lift(archive, r["id"], actor="", reason="x")


def test_no_flag_for_a_case_the_output_withholds(archive):
    """A withheld case gets no restriction flag beside what is shown (a person page listing "case
    N: s.4(2) order" says what withholding it keeps back), except the one case asked for, withheld
    whole by s.4(2): that one flag says why it is not shown."""
    open_case = the_case(archive, plant(archive, sensitivity="PUBLIC", urn="06ZZ7000001"))
    postponed = the_case(archive, plant(archive, sensitivity="PUBLIC", urn="06ZZ7000002",
                                        detail="Section 4(2) Contempt of Court Act 1981"))
    private = the_case(archive, plant(archive, sensitivity="PRIVATE", urn="06ZZ7000003", panel="YOUTH",
                                      people=[person(surname="WRENFIELD", dob=None, age=None)]))
    recs = [r for c in (open_case, postponed, private) for r in case_records(archive, c)]
    d = disclose(recs, viewers()["public"], purpose="public_interest", context={"archive": archive, "now": NOW})
    assert {r.get("case_id", r.get("id")) for r in d.records if r["_entity"] in ("case", "hearing")} == {open_case}
    assert not [f for f in d.flags if f.get("case_id") in (postponed, private)], d.flags
    d = disclose(case_records(archive, postponed), viewers()["public"], purpose="public_interest",
                 context={"archive": archive, "now": NOW, "subject_case_id": postponed})
    assert [f["rule"] for f in d.flags if f.get("flag") == "restriction"] == ["cca_s4_2"], d.flags


def test_a_token_in_a_name_field_is_a_pseudonym(archive):
    """An expired or erased mention holds keyed tokens in its name fields: shown as the role sees
    pseudonyms (media: not at all; analysts: their token), never as if it were a name; and an
    organisation's empty surname gets no token."""
    tok = "~p:" + "ab12" * 8
    cid = the_case(archive, plant(archive, sensitivity="PUBLIC",
                                  people=[person(forenames=tok, surname=tok, dob=None, address=None)]))
    recs = case_records(archive, cid)
    media = disclose(recs, viewers()["verified_media"], purpose="journalism", context={"archive": archive, "now": NOW})
    assert "~p:" not in text_of(media)
    [defendant] = [r for r in media.records if r["_entity"] == "party" and r.get("role") == "DEFENDANT"]
    assert defendant["surname"] is None and "surname" in defendant["_redacted"]
    an = disclose(recs, viewers()["analyst"], purpose="analysis", context={"archive": archive, "now": NOW, "keyring": KR})
    [cps] = [r for r in an.records if r["_entity"] == "party" and r.get("role") == "PROSECUTING_AUTHORITY"]
    assert cps.get("surname") is None and not str(cps.get("name_as_listed") or "").startswith("~p:"), cps
    [defendant] = [r for r in an.records if r["_entity"] == "party" and r.get("role") == "DEFENDANT"]
    assert defendant["surname"].startswith("~p:")


def test_cca_s11_withheld_matter(archive):
    w = plant(archive, detail="Section 11 Contempt of Court Act 1981", wording="blackmail re Ottoline")
    cid = the_case(archive, w)
    assert_absent(archive, cid, ["17 Marigold", "1988-07-14", "PR2 9ZQ", "Ottoline"])
    # an order naming a party withholds that party's identity too
    from courtarchive.governance import restrictions

    party = [p for p in rows(archive, "party", case_id=cid) if p["role"] == "DEFENDANT"][0]
    restrictions.add(archive, rule="cca_s11", case_id=cid, party_id=party["id"], actor="clerk",
                     start=dt.date(2024, 1, 1))
    assert_absent(archive, cid, ["QUIXLEY", "Zebedee"])


def _link(archive, person_id, party_ids):
    with archive.engine.begin() as c:
        c.execute(sa.insert(TABLES["person"]).values(id=person_id, kind="defendant", mentions=len(party_ids)))
        for i, pid in enumerate(party_ids):
            c.execute(sa.insert(TABLES["person_mention"]).values(id=person_id * 100 + i, person_id=person_id,
                                                                kind="defendant", party_id=pid))


def test_active_proceedings_contempt_flag(archive):
    w1 = plant(archive, hearing_type="Sentence", date=dt.date(2023, 1, 5))       # concluded case
    w2 = plant(archive, hearing_type="Trial", date=dt.date(2025, 5, 1))          # active trial
    c1, c2 = the_case(archive, w1), the_case(archive, w2)
    d1 = [p["id"] for p in rows(archive, "party", case_id=c1) if p["role"] == "DEFENDANT"]
    d2 = [p["id"] for p in rows(archive, "party", case_id=c2) if p["role"] == "DEFENDANT"]
    _link(archive, 7, d1 + d2)
    recs = case_records(archive, c2) + case_records(archive, c1)
    for role, out, d in all_outputs(archive, recs):
        [f] = d.flag("contempt_risk")
        assert f["active_cases"] == [c2] and sorted(f["cases"]) == sorted([c1, c2])
        # shareable outputs keep the subject (active) case only: the defendant's other case is not beside it
        if out in SHAREABLE_OUTPUTS or role == "public":
            assert not [r for r in d.records if r["_entity"] == "party" and r.get("case_id") == c1], (role, out)
    # a case last listed more than two years ago counts as concluded: no flag then
    later = dt.datetime(2027, 6, 1)
    d = disclose(recs, viewers(later)["admin"], purpose="administration", context={"archive": archive, "now": later})
    assert not d.flag("contempt_risk")
    # one case alone: no flag
    d = disclose(case_records(archive, c2), viewers()["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": NOW})
    assert not d.flag("contempt_risk")


def test_list_flag_without_detail_withholds_wording(archive):
    w = plant(archive, flagged=True, wording="assaulted Ottoline at her school")
    assert_absent(archive, the_case(archive, w), ["Ottoline"])


# --------------------------------------------------------------------------- aggregates, spent
def test_small_cells_suppressed_and_no_drill_down():
    sink = []
    recs = [{"_entity": "aggregate", "subject": "complainant", "count": 3, "court": "Preston"},
            {"_entity": "aggregate", "subject": "complainant", "count": 12, "court": "Blackburn"},
            {"_entity": "aggregate", "subject": "complainant", "count": 40, "court": "Lancaster"},
            {"_entity": "aggregate", "subject": "complainant", "count": 8, "court": "Burnley",
             "dims": {"age": 13, "year": 2024}, "school": "St Winifred's"}]
    for role, v in viewers().items():
        d = disclose(recs, v, purpose=PURPOSE[role], context={"audit_sink": sink, "now": NOW})
        counts = [r["count"] for r in d.records]
        assert counts[0] is None and d.records[0]["suppressed"] == "<5"
        assert None in counts[1:] and 40 in counts        # secondary suppression of the next smallest
        assert "St Winifred" not in text_of(d) and '"age"' not in text_of(d)
        assert d.flag("drill_down_refused")
    assert len(sink) == 4


def test_spent_conviction_hidden_from_public(archive):
    from courtarchive.governance import spent

    w = plant(archive, date=dt.date(2019, 1, 5), sensitivity="PUBLIC")
    cid = the_case(archive, w)
    party = [p for p in rows(archive, "party", case_id=cid) if p["role"] == "DEFENDANT"][0]
    spent.record_conviction(archive, party_id=party["id"], case_id=cid, conviction_date=dt.date(2019, 1, 5),
                            sentence_type="fine", under_18=False)
    recs = case_records(archive, cid)
    d = disclose(recs, viewers()["public"], purpose="public_interest", context={"archive": archive, "now": NOW})
    assert not [r for r in d.records if r["_entity"] == "party" and r["id"] == party["id"]]
    assert d.flag("spent_hidden")
    # verified media still see it (configurable), but never in alerts
    d = disclose(recs, viewers()["verified_media"], purpose="journalism", context={"archive": archive, "now": NOW})
    assert [r for r in d.records if r["_entity"] == "party" and r["id"] == party["id"]]
    d = disclose(recs, viewers()["verified_media"], purpose="journalism",
                 context={"archive": archive, "now": NOW, "output": "alert"})
    assert not [r for r in d.records if r["_entity"] == "party" and r["id"] == party["id"]]
