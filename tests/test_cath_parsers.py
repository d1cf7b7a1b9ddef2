"""CaTH JSON parsers: the official examples, field-level mapping of every criminal list type,
detection, rejections, complainant routing and the shipped schemas."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import orjson
import pytest
from jsonschema import validators

from courtarchive.ingest import cath
from courtarchive.ingest.cath import LIST_TYPES, detect_list_type, parse_document
from courtarchive.ingest.errors import Rejected
from courtarchive.model import ParsedList

CATH = Path(__file__).resolve().parents[2] / "shared" / "cath"
EXAMPLES = CATH / "examples"
needs_examples = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"CaTH examples not found at {EXAMPLES}")

#: example folder -> the x-list-type CaTH would send with its files
FOLDER_LIST_TYPE = {
    "civil-and-family-cause-list": "CIVIL_AND_FAMILY_DAILY_CAUSE_LIST",
    "civil-daily-cause-list": "CIVIL_DAILY_CAUSE_LIST",
    "cop-daily-cause-list": "COP_DAILY_CAUSE_LIST",
    "crown-daily-pdda-list": "CROWN_DAILY_PDDA_LIST",
    "crown-firm-pdda-list": "CROWN_FIRM_PDDA_LIST",
    "crown-warned-pdda-list": "CROWN_WARNED_PDDA_LIST",
    "et-daily-list": "ET_DAILY_LIST",
    "et-fortnightly-press-list": "ET_FORTNIGHTLY_PRESS_LIST",
    "family-daily-cause-list": "FAMILY_DAILY_CAUSE_LIST",
    "iac-daily-list": "IAC_DAILY_LIST",
    "magistrates-adult-court-list": "MAGISTRATES_ADULT_COURT_LIST_DAILY",
    "magistrates-public-adult-court-list": "MAGISTRATES_PUBLIC_ADULT_COURT_LIST_DAILY",
    "magistrates-public-list": "MAGISTRATES_PUBLIC_LIST",
    "magistrates-standard-list": "MAGISTRATES_STANDARD_LIST",
    "sjp-press-list": "SJP_PRESS_LIST",
    "sjp-public-list": "SJP_PUBLIC_LIST",
    "sscs-daily-list": "SSCS_DAILY_LIST",
    "non-strategic/administrative-court-daily-cause-list": "BIRMINGHAM_ADMINISTRATIVE_COURT_DAILY_CAUSE_LIST",
    "non-strategic/admiralty-court-kb-daily-cause-list": "ADMIRALTY_COURT_KB_DAILY_CAUSE_LIST",
    "non-strategic/ast-daily-hearing-list": "AST_DAILY_HEARING_LIST",
    "non-strategic/business-list-chd-daily-cause-list": "BUSINESS_LIST_CHD_DAILY_CAUSE_LIST",
    "non-strategic/chancery-appeals-chd-daily-cause-list": "CHANCERY_APPEALS_CHD_DAILY_CAUSE_LIST",
    "non-strategic/cic-weekly-hearing-list": "CIC_WEEKLY_HEARING_LIST",
    "non-strategic/civil-courts-rcj-daily-cause-list": "CIVIL_COURTS_RCJ_DAILY_CAUSE_LIST",
    "non-strategic/commercial-court-kb-daily-cause-list": "COMMERCIAL_COURT_KB_DAILY_CAUSE_LIST",
    "non-strategic/companies-winding-up-chd-daily-cause-list": "COMPANIES_WINDING_UP_CHD_DAILY_CAUSE_LIST",
    "non-strategic/competition-list-chd-daily-cause-list": "COMPETITION_LIST_CHD_DAILY_CAUSE_LIST",
    "non-strategic/county-court-london-civil-daily-cause-list": "COUNTY_COURT_LONDON_CIVIL_DAILY_CAUSE_LIST",
    "non-strategic/court-of-appeal-civil-daily-cause-list": "COURT_OF_APPEAL_CIVIL_DAILY_CAUSE_LIST",
    "non-strategic/court-of-appeal-criminal-daily-cause-list": "COURT_OF_APPEAL_CRIMINAL_DAILY_CAUSE_LIST",
    "non-strategic/cst-weekly-hearing-list": "CST_WEEKLY_HEARING_LIST",
    "non-strategic/family-division-high-court-daily-cause-list": "FAMILY_DIVISION_HIGH_COURT_DAILY_CAUSE_LIST",
    "non-strategic/financial-list-chd-kb-daily-cause-list": "FINANCIAL_LIST_CHD_KB_DAILY_CAUSE_LIST",
    "non-strategic/ftt-land-registry-tribunal-weekly-hearing-list": "FTT_LR_WEEKLY_HEARING_LIST",
    "non-strategic/ftt-residential-property-tribunal-weekly-hearing-list": "RPT_LONDON_WEEKLY_HEARING_LIST",
    "non-strategic/ftt-tax-tribunal-weekly-hearing-list": "FTT_TAX_WEEKLY_HEARING_LIST",
    "non-strategic/grc-weekly-hearing-list": "GRC_WEEKLY_HEARING_LIST",
    "non-strategic/insolvency-and-companies-court-chd-daily-cause-list": "INSOLVENCY_AND_COMPANIES_COURT_CHD_DAILY_CAUSE_LIST",
    "non-strategic/intellectual-property-and-enterprise-court-daily-cause-list": "INTELLECTUAL_PROPERTY_AND_ENTERPRISE_COURT_DAILY_CAUSE_LIST",
    "non-strategic/intellectual-property-list-chd-daily-cause-list": "INTELLECTUAL_PROPERTY_LIST_CHD_DAILY_CAUSE_LIST",
    "non-strategic/interim-applications-chd-daily-cause-list": "INTERIM_APPLICATIONS_CHD_DAILY_CAUSE_LIST",
    "non-strategic/kings-bench-division-daily-cause-list": "KINGS_BENCH_DIVISION_DAILY_CAUSE_LIST",
    "non-strategic/kings-bench-masters-daily-cause-list": "KINGS_BENCH_MASTERS_DAILY_CAUSE_LIST",
    "non-strategic/london-administrative-court-daily-cause-list": "LONDON_ADMINISTRATIVE_COURT_DAILY_CAUSE_LIST",
    "non-strategic/london-circuit-commercial-court-kb-daily-cause-list": "LONDON_CIRCUIT_COMMERCIAL_COURT_KB_DAILY_CAUSE_LIST",
    "non-strategic/mayor-and-city-civil-daily-cause-list": "MAYOR_AND_CITY_CIVIL_DAILY_CAUSE_LIST",
    "non-strategic/patents-court-chd-daily-cause-list": "PATENTS_COURT_CHD_DAILY_CAUSE_LIST",
    "non-strategic/pensions-list-chd-daily-cause-list": "PENSIONS_LIST_CHD_DAILY_CAUSE_LIST",
    "non-strategic/pht-weekly-hearing-list": "PHT_WEEKLY_HEARING_LIST",
    "non-strategic/property-trusts-probate-list-chd-daily-cause-list": "PROPERTY_TRUSTS_PROBATE_LIST_CHD_DAILY_CAUSE_LIST",
    "non-strategic/revenue-list-chd-daily-cause-list": "REVENUE_LIST_CHD_DAILY_CAUSE_LIST",
    "non-strategic/send-daily-hearing-list": "SEND_DAILY_HEARING_LIST",
    "non-strategic/senior-courts-costs-office-daily-cause-list": "SENIOR_COURTS_COSTS_OFFICE_DAILY_CAUSE_LIST",
    "non-strategic/siac-weekly-hearing-list": "SIAC_WEEKLY_HEARING_LIST",
    "non-strategic/sscs-daily-hearing-list": "SSCS_LONDON_DAILY_HEARING_LIST",
    "non-strategic/technology-and-construction-court-kb-daily-cause-list": "TECHNOLOGY_AND_CONSTRUCTION_COURT_KB_DAILY_CAUSE_LIST",
    "non-strategic/ut-administrative-appeals-chamber-daily-hearing-list": "UT_AAC_DAILY_HEARING_LIST",
    "non-strategic/ut-iac-judicial-review-daily-hearing-list": "UT_IAC_JR_LEEDS_DAILY_HEARING_LIST",
    "non-strategic/ut-iac-judicial-review-london-daily-hearing-list": "UT_IAC_JR_LONDON_DAILY_HEARING_LIST",
    "non-strategic/ut-iac-statutory-appeals-daily-hearing-list": "UT_IAC_STATUTORY_APPEALS_DAILY_HEARING_LIST",
    "non-strategic/ut-lands-chamber-daily-hearing-list": "UT_LC_DAILY_HEARING_LIST",
    "non-strategic/ut-tax-and-chancery-chamber-daily-hearing-list": "UT_T_AND_CC_DAILY_HEARING_LIST",
    "non-strategic/wpafcc-weekly-hearing-list": "WPAFCC_WEEKLY_HEARING_LIST",
}
#: top-level example files that are API fixtures, not lists: refused without a list type
NOT_LISTS = {"artefact.json", "badJsonPayload.json", "caseNumberSearchValues.json",
             "caseUrnSearchValues.json", "jsonPayload.json", "jsonPayloadWithParties.json"}
#: what content detection answers for each criminal example folder
CRIMINAL_DETECTED = {
    "magistrates-standard-list": "MAGISTRATES_STANDARD_LIST",
    "magistrates-public-list": "MAGISTRATES_PUBLIC_LIST",
    "magistrates-adult-court-list": "MAGISTRATES_ADULT_COURT_LIST",
    "magistrates-public-adult-court-list": "MAGISTRATES_PUBLIC_ADULT_COURT_LIST",
    "crown-daily-pdda-list": "CROWN_DAILY_PDDA_LIST",
    "crown-firm-pdda-list": "CROWN_FIRM_PDDA_LIST",
    "crown-warned-pdda-list": "CROWN_WARNED_PDDA_LIST",
    "sjp-press-list": "SJP_PRESS_LIST",
    "sjp-public-list": "SJP_PUBLIC_LIST",
}


def _list_examples() -> list[tuple[str, Path]]:
    if not EXAMPLES.is_dir():
        return []
    return sorted((f.parent.relative_to(EXAMPLES).as_posix(), f) for f in EXAMPLES.rglob("*.json")
                  if f.parent != EXAMPLES)


LIST_EXAMPLES = _list_examples()
VALID = [(folder, f) for folder, f in LIST_EXAMPLES if "Invalid" not in f.name]
INVALID = [(folder, f) for folder, f in LIST_EXAMPLES if "Invalid" in f.name]


def _id(item) -> str:
    return f"{item[0]}/{item[1].name}"


def _parse_example(rel: str, **kw) -> ParsedList:
    f = EXAMPLES / rel
    return parse_document(f.read_bytes(), source_name=f.name, **kw)


def load(rel: str) -> dict:
    return json.loads((EXAMPLES / rel).read_text())


# ------------------------------------------------------------------ the table and the schemas
def test_every_list_type_has_a_shipped_schema_and_a_parser():
    assert len(LIST_TYPES) >= 90
    for name, lt in LIST_TYPES.items():
        assert name == lt.name and name.isupper()
        assert lt.sensitivity in {"PUBLIC", "PRIVATE", "CLASSIFIED"}
        assert callable(lt.parser)
        assert cath._schema(lt.schema)["$schema"].startswith("https://json-schema.org/")
    criminal = {n for n, lt in LIST_TYPES.items() if lt.criminal}
    assert {"MAGISTRATES_STANDARD_LIST", "MAGISTRATES_PUBLIC_LIST", "MAGISTRATES_ADULT_COURT_LIST",
            "MAGISTRATES_PUBLIC_ADULT_COURT_LIST", "CROWN_DAILY_PDDA_LIST", "CROWN_FIRM_PDDA_LIST",
            "CROWN_WARNED_PDDA_LIST", "SJP_PUBLIC_LIST", "SJP_PRESS_LIST"} <= criminal
    assert not LIST_TYPES["CIVIL_DAILY_CAUSE_LIST"].criminal
    # press lists are not public by default, public lists are
    assert LIST_TYPES["MAGISTRATES_STANDARD_LIST"].sensitivity == "CLASSIFIED"
    assert LIST_TYPES["SJP_PRESS_LIST"].sensitivity == "CLASSIFIED"
    assert LIST_TYPES["MAGISTRATES_PUBLIC_LIST"].sensitivity == "PUBLIC"
    assert LIST_TYPES["SJP_PUBLIC_LIST"].sensitivity == "PUBLIC"


def test_schemas_ship_inside_the_package_and_validators_are_cached():
    from importlib import resources

    folder = resources.files("courtarchive.ingest").joinpath("schemas")
    names = {p.name for p in folder.iterdir()}
    assert {"LICENSE-pip-data-management", "PROVENANCE.md", "master_schema.json", "non-strategic"} <= names
    assert len([p for p in folder.joinpath("non-strategic").iterdir() if p.name.endswith(".json")]) == 24
    v1 = cath._validator("magistrates_standard_list.json")
    assert cath._validator("magistrates_standard_list.json") is v1
    assert type(v1).__name__ == "Draft202012Validator"


@needs_examples
def test_every_example_folder_is_paired_with_a_list_type():
    folders = {folder for folder, _ in LIST_EXAMPLES}
    assert folders == set(FOLDER_LIST_TYPE)      # (other-test-files holds only .xlsx)
    assert set(FOLDER_LIST_TYPE.values()) <= set(LIST_TYPES)
    assert {f.name for f in EXAMPLES.glob("*.json")} == NOT_LISTS


@needs_examples
@pytest.mark.parametrize("item", VALID, ids=_id)
def test_valid_example_validates_against_its_schema(item):
    folder, f = item
    schema = cath._schema(LIST_TYPES[FOLDER_LIST_TYPE[folder]].schema)
    validator = validators.validator_for(schema)(schema)
    errors = list(validator.iter_errors(json.loads(f.read_text())))
    assert not errors, [e.message for e in errors[:3]]


@needs_examples
@pytest.mark.parametrize("item", VALID, ids=_id)
def test_valid_example_is_accepted(item):
    folder, f = item
    pl = parse_document(f.read_bytes(), source_name=f.name, headers={"x-list-type": FOLDER_LIST_TYPE[folder]})
    assert isinstance(pl, ParsedList)
    assert pl.meta.list_type == FOLDER_LIST_TYPE[folder] and pl.meta.source_format == "cath-json"
    assert pl.hearings, "every list yields hearing entries"
    for rec in pl.hearings + pl.parties + pl.offences:
        assert rec.json_path.startswith("$")
    assert all(0 <= p.hearing_ref < len(pl.hearings) for p in pl.parties)
    assert all(0 <= o.party_ref < len(pl.parties) for o in pl.offences)


@needs_examples
@pytest.mark.parametrize("item", INVALID, ids=_id)
def test_invalid_example_is_rejected_with_a_reason(item):
    folder, f = item
    with pytest.raises(Rejected) as e:
        parse_document(f.read_bytes(), source_name=f.name, headers={"x-list-type": FOLDER_LIST_TYPE[folder]})
    assert e.value.reason and e.value.json_path and e.value.source_name == f.name
    assert str(e.value).startswith(f"{f.name}: $")
    # without headers too: detection must not rescue an invalid list
    with pytest.raises(Rejected):
        parse_document(f.read_bytes(), source_name=f.name)


@needs_examples
@pytest.mark.parametrize("name", sorted(NOT_LISTS))
def test_api_fixtures_are_not_lists(name):
    """Top-level example files are API payloads (search values, a bare artefact): refused as
    not a known / not an identifiable list type."""
    with pytest.raises(Rejected) as e:
        parse_document((EXAMPLES / name).read_bytes(), source_name=name)
    assert "list type" in e.value.reason or "not a valid" in e.value.reason


# ------------------------------------------------------------------ detection
@needs_examples
@pytest.mark.parametrize("folder", sorted(CRIMINAL_DETECTED))
def test_criminal_examples_detected_without_headers(folder):
    for f in sorted((EXAMPLES / folder).glob("*.json")):
        if "Invalid" in f.name:
            continue
        doc = json.loads(f.read_text())
        assert detect_list_type(doc) == CRIMINAL_DETECTED[folder], f.name
        pl = parse_document(f.read_bytes(), source_name=f.name)
        assert pl.meta.list_type == CRIMINAL_DETECTED[folder]
        assert any("detected from the content" in w for w in pl.warnings)


@needs_examples
def test_detection_press_versus_public_twin():
    std = load("magistrates-standard-list/magistratesStandardList.json")
    assert detect_list_type(std) == "MAGISTRATES_STANDARD_LIST"
    # strip every press-only field: what is left is a public list
    for cl in std["courtLists"]:
        for room in cl["courtHouse"]["courtRoom"]:
            for sitting in room["session"][0]["sittings"]:
                for hearing in sitting["hearing"]:
                    hearing.pop("application", None)
                    for case in hearing["case"]:
                        case.pop("caseSequenceIndicator", None)
                        for party in case["party"]:
                            ind = party.get("individualDetails")
                            if ind:
                                party["individualDetails"] = {k: ind[k] for k in ("individualForenames", "individualSurname") if k in ind}
                            party.pop("offence", None)
    assert detect_list_type(std) == "MAGISTRATES_PUBLIC_LIST"


def test_detection_refuses_what_it_cannot_tell():
    with pytest.raises(Rejected, match="not a known list type"):
        detect_list_type({"hello": "world"})
    with pytest.raises(Rejected, match="not a known list type"):
        detect_list_type([])
    rows = [{"date": "10/12/2024", "caseName": "A v B", "hearingLength": "1 hour", "hearingType": "mda",
             "venue": "Venue", "additionalInformation": ""}]
    with pytest.raises(Rejected, match="CST_WEEKLY_HEARING_LIST, PHT_WEEKLY_HEARING_LIST"):
        detect_list_type(rows)      # the CST and PHT formats are identical
    sscs = [{"venue": "V", "appealReferenceNumber": "1", "hearingType": "D", "appellant": "A", "courtroom": "1",
             "hearingTime": "10am", "tribunal": "T", "fta/respondent": "R", "additionalInformation": ""}]
    with pytest.raises(Rejected, match="SSCS_LONDON_DAILY_HEARING_LIST"):
        detect_list_type(sscs)      # regional variants share one format
    assert parse_document(orjson.dumps(sscs), source_name="s.json",
                          headers={"list-type": "SSCS_LONDON_DAILY_HEARING_LIST"}).hearings


# ------------------------------------------------------------------ field-level mapping
@needs_examples
def test_magistrates_standard_list_fields():
    pl = _parse_example("magistrates-standard-list/magistratesStandardList.json",
                        headers={"X-List-Type": "MAGISTRATES_STANDARD_LIST", "x-court-id": "1479819"})
    m = pl.meta
    assert (m.list_type, m.sensitivity, m.court_name, m.court_code, m.court_postcode) == (
        "MAGISTRATES_STANDARD_LIST", "CLASSIFIED", "PRESTON", "1479819", "AA1 AA1")
    assert m.content_date == dt.date(2023, 12, 1)
    assert m.published_at == dt.datetime(2023, 12, 1, 23, 30, 52, 123000) and m.published_at.tzinfo is None
    assert len(pl.hearings) == 5          # 3 cases + 2 applications
    h = pl.hearings[0]
    assert h.json_path == "$.courtLists[0].courtHouse.courtRoom[0].session[0].sittings[0].hearing[0].case[0]"
    assert (h.court_name, h.room, h.sitting_date, h.sitting_time) == ("PRESTON", "Courtroom 1", dt.date(2023, 12, 13), "13:30")
    assert (h.case_urn, h.case_sequence, h.hearing_type, h.panel, h.channel) == (
        "45684548", "2 of 3", "Hearing Type A", "ADULT", "VIDEO HEARING A")
    assert h.reporting_restriction is True and h.judiciary == "Test Name (presiding), Test Name"
    assert h.prosecuting_authority == "Prosecuting Authority Name <this is valid text>"
    roles = [p.role for p in pl.parties if p.hearing_ref == 0]
    assert roles == ["RESPONDENT", "DEFENDANT", "PROSECUTING_AUTHORITY"]
    d = pl.parties[1]
    assert (d.forenames, d.middle_names, d.surname, d.name_as_listed) == (
        "Forename A", "MiddleName A", "Surname A", "Forename A MiddleName A Surname A")
    assert (d.date_of_birth, d.age, d.gender, d.asn, d.pnc_id) == (dt.date(1950, 1, 1), 20, "male", "ABC1234", "PNC12345")
    assert (d.address, d.town, d.county, d.postcode) == ("Address Line 1A, Address Line 2A", "Town A", "County A", "AA1 AA1")
    offences = [o for o in pl.offences if o.party_ref == 1]
    assert [o.seq for o in offences] == [1, 2]
    o = offences[0]
    assert (o.code, o.title, o.plea, o.max_penalty, o.legislation) == (
        "dd01-01", "drink driving", "NOT_GUILTY", "100yrs", "This is a legislation")
    assert o.wording == "driving whilst under the influence of alcohol <this is valid text>"  # as listed
    assert (o.plea_date, o.conviction_date, o.adjourned_date) == (
        dt.date(2026, 1, 27), dt.date(2026, 5, 1), dt.date(2026, 5, 2))
    app = pl.hearings[1]
    assert app.json_path.endswith(".hearing[0].application[0]")
    assert (app.case_number, app.hearing_type, app.prosecuting_authority) == ("AppRefA", "Application Type 1", "Prosecuting Authority Name")
    applicant = next(p for p in pl.parties if p.hearing_ref == 1 and p.role == "APPLICANT")
    assert applicant.in_custody is True and applicant.name_as_listed == "Forename B Surname B"
    org = next(p for p in pl.parties if p.hearing_ref == 2 and p.role == "APPLICANT")
    assert org.organisation_name == "This is an organisation" and org.town == "Town E"
    assert [h.court_name for h in pl.hearings[3:]] == ["Manchester", "Manchester"]
    assert pl.raw_complainants == []


@needs_examples
def test_magistrates_public_list_fields():
    pl = _parse_example("magistrates-public-list/magistratesPublicList.json")
    assert pl.meta.list_type == "MAGISTRATES_PUBLIC_LIST" and pl.meta.sensitivity == "PUBLIC"
    h = pl.hearings[0]
    assert (h.case_urn, h.hearing_type, h.sitting_date, h.sitting_time) == ("12341234", "Directions", dt.date(2022, 7, 27), "10:40")
    assert h.judiciary == "Judge KnownAs, Judge KnownAs 2" and h.reporting_restriction is True
    defendant = next(p for p in pl.parties if p.hearing_ref == 0 and p.role == "DEFENDANT")
    assert (defendant.forenames, defendant.surname, defendant.date_of_birth) == ("Forename 2", "Surname 2", None)
    assert [o.title for o in pl.offences if o.party_ref == pl.parties.index(defendant)] == ["Test offence 1"]


@needs_examples
def test_magistrates_adult_court_list_fields():
    pl = _parse_example("magistrates-adult-court-list/magistratesAdultCourtList.json")
    m = pl.meta
    assert (m.list_type, m.sensitivity, m.content_date, m.court_name) == (
        "MAGISTRATES_ADULT_COURT_LIST", "CLASSIFIED", dt.date(2025, 7, 31), "North Shields Magistrates' Court")
    assert len(pl.hearings) == 6      # sessions without blocks / cases contribute nothing
    h = pl.hearings[0]
    assert h.json_path == "$.document.data.job.sessions.session[0].blocks.block[0].cases.case[0]"
    assert (h.case_number, h.room, h.sitting_time, h.sitting_date, h.prosecuting_authority) == (
        "1000000000", "1", "09:00", dt.date(2025, 7, 31), "POL01")
    assert pl.hearings[3].sitting_time == "14:00"      # the block's start, not the session's
    p = pl.parties[0]
    assert (p.role, p.title, p.forenames, p.surname, p.name_as_listed) == ("DEFENDANT", "Mr", "Test", "User", "Mr Test User")
    assert (p.date_of_birth, p.age, p.address, p.town, p.postcode) == (
        dt.date(1975, 11, 6), 50, "1 High Street, London", "London", "SW1A 1AA")
    o = pl.offences[0]
    assert (o.party_ref, o.code, o.title, o.wording) == (0, "TH68001", "Offence title 1", "Offence summary 1")
    assert len([o for o in pl.offences if o.party_ref == 2]) == 2
    # the x-content-date header is the day the list is for (future lists are printed earlier)
    later = _parse_example("magistrates-adult-court-list/magistratesAdultCourtList.json",
                           headers={"x-list-type": "MAGISTRATES_ADULT_COURT_LIST_FUTURE", "x-content-date": "2025-08-04"})
    assert later.meta.list_type == "MAGISTRATES_ADULT_COURT_LIST_FUTURE"
    assert {h.sitting_date for h in later.hearings} == {dt.date(2025, 8, 4)}


@needs_examples
def test_magistrates_public_adult_court_list_fields():
    pl = _parse_example("magistrates-public-adult-court-list/magistratesPublicAdultCourtList.json")
    assert pl.meta.list_type == "MAGISTRATES_PUBLIC_ADULT_COURT_LIST" and pl.meta.sensitivity == "PUBLIC"
    assert [(h.case_number, h.sitting_time) for h in pl.hearings] == [
        ("1000000000", "09:00"), ("1000000001", "09:00"), ("1000000002", "10:00"), ("1000000003", "14:00")]
    assert [(p.title, p.surname) for p in pl.parties][:2] == [("Mr", "User"), ("Mrs", "User")]
    assert not pl.offences


@needs_examples
def test_crown_daily_pdda_list_fields():
    pl = _parse_example("crown-daily-pdda-list/crownDailyPddaList.json")
    m = pl.meta
    assert (m.list_type, m.court_name, m.court_code, m.court_postcode, m.version) == (
        "CROWN_DAILY_PDDA_LIST", "TestCourtHouseName", "1234", "A1 1AA", "1.0")
    assert (m.content_date, m.content_date_end, m.published_at) == (
        dt.date(2025, 9, 10), dt.date(2025, 9, 11), dt.datetime(2025, 9, 9, 10, 0))
    assert len(pl.hearings) == 3
    h = pl.hearings[0]
    assert h.json_path == "$.DailyList.CourtLists[0].Sittings[0].Hearings[0]"
    assert (h.case_number, h.case_urn, h.room, h.sitting_time, h.sitting_date) == (
        "T00112233", "TestURN", "1", "10:00", dt.date(2025, 9, 10))
    assert (h.hearing_type, h.originating_court, h.prosecuting_authority) == (
        "TestHearingDescription", "TestOriginName", "Crown Prosecution Service")
    assert h.judiciary == "TestJudgeRequested; Ms TestJusticeForename TestJusticeSurname Sr"
    assert h.list_note == "TestListNote; TestTimeMarkingNote; TestSittingNote"
    parties = [p for p in pl.parties if p.hearing_ref == 0]
    assert [p.role for p in parties] == ["PROSECUTING_AUTHORITY", "DEFENDANT", "DEFENDANT", "RESPONDENT"]
    masked = parties[1]
    assert masked.is_masked is True and masked.name_as_listed == "TestMaskedName"   # shown masked
    assert (masked.title, masked.forenames, masked.surname) == ("Mr", "TestDefendantForename", "TestDefendantSurname")
    assert (masked.date_of_birth, masked.age, masked.gender, masked.nationality) == (
        dt.date(2000, 1, 1), 24, "male", "TestNationality")
    assert (masked.address, masked.postcode) == ("TestDefendantAddress", "TestDefendantPostcode")
    assert parties[2].is_masked is False
    assert parties[2].name_as_listed == "Mr TestDefendantForename TestDefendantSurname TestDefendantSuffix"
    charge = pl.offences[0]
    assert (charge.party_ref, charge.seq, charge.code, charge.title) == (
        pl.parties.index(masked), 1, "TestCJSCode", "TestOffenceStatement")
    assert pl.hearings[2].case_urn is None and pl.hearings[2].sitting_time == "15:00"


@needs_examples
def test_crown_firm_pdda_list_fields():
    pl = _parse_example("crown-firm-pdda-list/crownFirmPddaList.json")
    assert pl.meta.list_type == "CROWN_FIRM_PDDA_LIST" and pl.meta.sensitivity == "CLASSIFIED"
    days = [h.sitting_date for h in pl.hearings]
    assert days[:3] == [dt.date(2025, 9, 10), dt.date(2025, 9, 11), dt.date(2025, 9, 11)]
    reserve = pl.hearings[-1]
    assert reserve.json_path == "$.FirmList.ReserveList[0]"
    assert (reserve.case_number, reserve.case_urn, reserve.sitting_date, reserve.originating_court) == (
        "T00112244", "TestReserveURN", dt.date(2025, 9, 11), "TestReserveOriginName")
    assert reserve.list_note.startswith("reserve list")
    # counsel and solicitors are representatives, not parties
    assert not any("Solicitor" in p.json_path or "Counsel" in p.json_path for p in pl.parties)


@needs_examples
def test_crown_warned_pdda_list_fields():
    pl = _parse_example("crown-warned-pdda-list/crownWarnedPddaList.json")
    assert pl.meta.list_type == "CROWN_WARNED_PDDA_LIST"
    fixed, floating = pl.hearings
    assert fixed.json_path == "$.WarnedList.CourtLists[0].WithFixedDate[0].Fixture[0].Cases[0]"
    assert (fixed.case_number, fixed.case_urn, fixed.sitting_date, fixed.hearing_type) == (
        "T00112233", "TestURN", dt.date(2024, 1, 1), "TestHearingDescription")
    assert (fixed.originating_court, fixed.linked_case_numbers) == ("TestOriginName", "TestLinkedCaseNumber")
    assert floating.originating_court is None and "no fixed date" in floating.list_note
    defendants = [p for p in pl.parties if p.role == "DEFENDANT"]
    assert [(p.in_custody, p.is_masked) for p in defendants] == [(False, False), (True, True)]
    assert [o.seq for o in pl.offences] == [1, 2]


@needs_examples
def test_sjp_press_list_fields():
    pl = _parse_example("sjp-press-list/sjpPressList.json", headers={"x-content-date": "2024-01-15"})
    assert pl.meta.list_type == "SJP_PRESS_LIST" and pl.meta.sensitivity == "CLASSIFIED"
    assert pl.meta.version == "This is a version" and pl.meta.content_date == dt.date(2024, 1, 15)
    assert [h.case_urn for h in pl.hearings] == ["ABC12345", "ABC12346"]
    assert all(h.sitting_date == dt.date(2024, 1, 15) and h.sitting_time is None for h in pl.hearings)
    accused = pl.parties[0]
    assert (accused.role, accused.title, accused.surname, accused.date_of_birth, accused.age) == (
        "DEFENDANT", "This is a title", "This is a surname", dt.date(1800, 1, 1), 50)
    assert pl.parties[1].role == "PROSECUTING_AUTHORITY"
    o = pl.offences[0]
    assert (o.party_ref, o.title, o.wording, o.reporting_restriction) == (
        0, "This is an offence title", "This is offence wording", True)
    assert pl.hearings[0].prosecuting_authority == "This is an organisation"


@needs_examples
def test_sjp_public_list_fields():
    pl = _parse_example("sjp-public-list/sjpPublicList.json")
    assert pl.meta.list_type == "SJP_PUBLIC_LIST" and pl.meta.content_date == dt.date(2023, 9, 1)
    [h] = pl.hearings
    assert h.sitting_date == dt.date(2023, 9, 1) and h.case_urn is None
    accused = pl.parties[0]
    assert (accused.forenames, accused.surname, accused.postcode) == ("A", "This is a surname", "AA")
    assert [o.party_ref for o in pl.offences] == [0, 0]


@needs_examples
def test_non_strategic_rows():
    pl = _parse_example("non-strategic/sscs-daily-hearing-list/sscsDailyHearingList.json",
                        headers={"x-list-type": "SSCS_LONDON_DAILY_HEARING_LIST", "x-content-date": "2024-12-10"})
    h = pl.hearings[0]
    assert h.json_path == "$[0]"
    assert (h.case_number, h.room, h.court_name, h.sitting_time, h.sitting_date) == (
        "1234567", "Courtroom 1", "Venue 1", "10:00", dt.date(2024, 12, 10))
    assert h.judiciary == "Tribunal member 1, Tribunal member 2, Tribunal member 3"
    assert [p.role for p in pl.parties if p.hearing_ref == 0] == ["APPELLANT", "RESPONDENT"]
    assert pl.parties[1].json_path == "$[0]['fta/respondent']"
    coa = _parse_example("non-strategic/court-of-appeal-civil-daily-cause-list/courtOfAppealCivilDailyCauseList.json")
    assert coa.meta.list_type == "COURT_OF_APPEAL_CIVIL_DAILY_CAUSE_LIST"
    assert {h.json_path.split("[")[0] for h in coa.hearings} == {"$.hearingList", "$.futureJudgments"}
    cst = _parse_example("non-strategic/cst-weekly-hearing-list/cstWeeklyHearingList.json",
                         headers={"x-list-type": "CST_WEEKLY_HEARING_LIST"})
    assert cst.meta.content_date == dt.date(2024, 12, 10) and cst.meta.content_date_end == dt.date(2024, 12, 11)
    assert cst.hearings[0].case_name == "This is a case name"


@needs_examples
def test_civil_list_yields_hearings_and_named_parties():
    pl = _parse_example("civil-daily-cause-list/civilDailyCauseList.json", headers={"x-list-type": "CIVIL_DAILY_CAUSE_LIST"})
    assert pl.meta.list_type == "CIVIL_DAILY_CAUSE_LIST"
    h = pl.hearings[0]
    assert (h.case_number, h.case_name, h.hearing_type, h.room) == ("45684548", "This is a case name", "Hearing Type", "1")
    assert h.sitting_date == dt.date(2023, 5, 15) and h.sitting_time == "17:00"   # 16:00Z in BST
    assert pl.hearings[-1].judiciary == "District Judge Test Name"
    assert {p.role for p in pl.parties} >= {"APPLICANT"}


# ------------------------------------------------------------------ complainants
def _standard_doc(parties: list[dict]) -> dict:
    return {
        "document": {"publicationDate": "2024-07-01T08:00:00Z"},
        "venue": {"venueAddress": {"line": ["1 Court St"], "postCode": "AA1 1AA"}},
        "courtLists": [{"courtHouse": {"courtHouseName": "TESTVILLE", "courtRoom": [{
            "courtRoomName": "Court 1", "session": [{"sittings": [{
                "sittingStart": "2024-07-01T09:30:00Z",
                "hearing": [{"hearingType": "Trial", "case": [{"caseUrn": "01XX0000001", "party": parties}]}],
            }]}]}]}}],
    }


DEFENDANT = {"partyRole": "DEFENDANT", "individualDetails": {
    "individualForenames": "Dee", "individualSurname": "Fendant", "dateOfBirth": "1990-01-02"},
    "offence": [{"offenceTitle": "Assault", "offenceWording": "Assaulted Vic Tim"}]}


@pytest.mark.parametrize("role", ["COMPLAINANT", "VICTIM", "complainant", "Alleged_Victim", "INJURED_PARTY"])
def test_complainants_never_become_parties(role):
    victim = {"partyRole": role, "individualDetails": {"individualForenames": "Vic", "individualSurname": "Tim",
                                                       "dateOfBirth": "2010-03-04"}}
    pl = parse_document(orjson.dumps(_standard_doc([DEFENDANT, victim])), source_name="v.json",
                        list_type="MAGISTRATES_STANDARD_LIST")
    assert [p.role for p in pl.parties] == ["DEFENDANT"]
    assert not any("Tim" in (p.surname or "") or "Tim" in (p.name_as_listed or "") for p in pl.parties)
    [c] = pl.raw_complainants
    assert (c.hearing_ref, c.name, c.date_of_birth) == (0, "Vic Tim", dt.date(2010, 3, 4))
    assert c.json_path.endswith(".case[0].party[1]")
    assert pl.offences[0].wording == "Assaulted Vic Tim"     # redaction is the intake gate's job


def test_complainant_representative_and_offences_are_not_kept():
    rep = {"partyRole": "COMPLAINANT_REPRESENTATIVE", "organisationDetails": {"organisationName": "Parent of V"}}
    odd = {"partyRole": "VICTIM", "organisationDetails": {"organisationName": "Shop Ltd"},
           "offence": [{"offenceTitle": "x"}]}
    pl = parse_document(orjson.dumps(_standard_doc([DEFENDANT, rep, odd])), source_name="v.json",
                        list_type="MAGISTRATES_STANDARD_LIST")
    assert [p.role for p in pl.parties] == ["DEFENDANT"]
    assert [c.name for c in pl.raw_complainants] == ["Shop Ltd"]
    assert len(pl.offences) == 1
    assert any("COMPLAINANT_REPRESENTATIVE not kept" in w for w in pl.warnings)
    assert any("offences listed against a complainant" in w for w in pl.warnings)


def test_roles_normalised():
    assert cath.normalise_role("ACCUSED") == ("DEFENDANT", "party")
    assert cath.normalise_role("\r\nAPPLICANT_PETITIONER") == ("APPLICANT", "party")
    assert cath.normalise_role("Prosecutor") == ("PROSECUTING_AUTHORITY", "party")
    assert cath.normalise_role("respondent representative") == ("RESPONDENT_REPRESENTATIVE", "party")
    assert cath.normalise_role(None) == ("UNKNOWN", "party")
    assert cath.normalise_role("Victim")[1] == "complainant"
    assert cath.normalise_role("victim's solicitor")[1] == "complainant_proxy"


# ------------------------------------------------------------------ rejections
def _reject(data, **kw) -> Rejected:
    with pytest.raises(Rejected) as e:
        parse_document(data, source_name="in.json", **kw)
    assert e.value.reason and e.value.source_name == "in.json"
    return e.value


def test_rejects_bytes_level_faults():
    assert _reject(b"").reason == "empty input"
    assert _reject(b" \n\t").reason == "empty input"
    assert "limit" in _reject(b'{"a": 1}', max_bytes=3).reason
    r = _reject('{"name": "Ren\xe9"}'.encode("latin-1"))
    assert "byte offset 13" in r.reason and "0xe9" in r.reason
    assert "UTF-16" in _reject('{"a": 1}'.encode("utf-16")).reason
    r = _reject(b'{"document": {')
    assert r.reason.startswith("malformed JSON") and "line 1, column" in r.reason
    assert _reject(b"42").json_path == "$" and "integer" in _reject(b"42").reason
    assert "string" in _reject(b'"just a string"').reason
    assert "malformed JSON" in _reject(b"[" * 5000 + b"]" * 5000).reason      # nesting limit


def test_utf8_bom_is_accepted():
    doc = _standard_doc([DEFENDANT])
    pl = parse_document(b"\xef\xbb\xbf" + orjson.dumps(doc), source_name="bom.json")
    assert pl.meta.list_type == "MAGISTRATES_STANDARD_LIST"


def test_headers_any_case_with_or_without_prefix():
    doc = orjson.dumps(_standard_doc([DEFENDANT]))
    pl = parse_document(doc, source_name="h.json", headers={
        "List-Type": "magistrates_public_list", "X-SENSITIVITY": "private", "content_date": "2024-07-02",
        "x-court-id": "Preston-Magistrates-Court", "Display-From": "2024-07-01T00:00:00+01:00", "x_display_to": "2024-07-03",
        "language": "bi-lingual", "x-provenance": "COMMON_PLATFORM", "sourceArtefactId": "abc-1", "x-type": "LIST"})
    m = pl.meta
    assert (m.list_type, m.sensitivity, m.content_date, m.court_code, m.language, m.provenance, m.source_artefact_id) == (
        "MAGISTRATES_PUBLIC_LIST", "PRIVATE", dt.date(2024, 7, 2), "preston-magistrates-court", "BI_LINGUAL",
        "COMMON_PLATFORM", "abc-1")
    assert m.display_from == dt.datetime(2024, 6, 30, 23, 0) and m.display_to == dt.datetime(2024, 7, 3)
    # the explicit argument beats the header
    assert parse_document(doc, source_name="h.json", headers={"x-list-type": "MAGISTRATES_PUBLIC_LIST"},
                          list_type="MAGISTRATES_STANDARD_LIST").meta.list_type == "MAGISTRATES_STANDARD_LIST"


@pytest.mark.parametrize("headers, where", [
    ({"x-list-type": "NO_SUCH_LIST"}, "header x-list-type"),
    ({"x-sensitivity": "SECRET"}, "header x-sensitivity"),
    ({"x-language": "KLINGON"}, "header x-language"),
    ({"x-content-date": "yesterday"}, "header x-content-date"),
    ({"x-display-from": "soon"}, "header x-display-from"),
    ({"x-type": "GENERAL_PUBLICATION"}, "header x-type"),
])
def test_bad_header_values_rejected(headers, where):
    assert _reject(orjson.dumps(_standard_doc([DEFENDANT])), headers=headers).json_path == where


def test_schema_error_names_first_path_without_quoting_the_value():
    doc = _standard_doc([DEFENDANT])
    doc["courtLists"][0]["courtHouse"]["courtRoom"][0]["session"][0]["sittings"][0]["sittingStart"] = "Tuesday Secret Name"
    r = _reject(orjson.dumps(doc), list_type="MAGISTRATES_STANDARD_LIST")
    assert r.json_path == "$.courtLists[0].courtHouse.courtRoom[0].session[0].sittings[0].sittingStart"
    assert "Secret Name" not in r.reason and "MAGISTRATES_STANDARD_LIST" in r.reason
    del doc["venue"]
    assert "'venue' is a required property" in _reject(orjson.dumps(doc), list_type="MAGISTRATES_STANDARD_LIST").reason


@pytest.mark.parametrize("value", [
    "<script>alert(1)</script>", "<b>bold</b>", "x <img src=x onerror=alert(1)>", "a<br/>b",
    "&lt;/b&gt;", "<!-- c -->", "<B>", "<i>"])
def test_html_rejected_where_the_schema_does_not_look(value):
    """Crown PDDA schemas have no patterns at all: the markup check still refuses HTML."""
    if not EXAMPLES.is_dir():
        pytest.skip("needs the Crown example")
    doc = load("crown-daily-pdda-list/crownDailyPddaList.json")
    doc["DailyList"]["CourtLists"][0]["Sittings"][0]["Hearings"][0]["ListNote"] = value
    r = _reject(orjson.dumps(doc))
    assert r.json_path == "$.DailyList.CourtLists[0].Sittings[0].Hearings[0].ListNote"
    assert "HTML" in r.reason and (len(value) <= 4 or value not in r.reason)   # names a tag, never quotes


def test_nul_characters_rejected():
    doc = _standard_doc([DEFENDANT])
    doc["courtLists"][0]["courtHouse"]["courtHouseName"] = "Court\x00One"
    r = _reject(orjson.dumps(doc))
    assert r.json_path == "$.courtLists[0].courtHouse.courtHouseName" and "NUL" in r.reason


@pytest.mark.parametrize("value", ["<this is valid text>", "1 < 2 and 3 > 2", "<time estimate>", "a <-> b", "AT&T"])
def test_angle_brackets_in_prose_are_not_markup(value):
    assert cath.markup_in(value) is None


@pytest.mark.parametrize("list_type", ["MAGISTRATES_STANDARD_LIST", None], ids=["given", "detected"])
def test_unclosed_angle_flood_refused_before_the_schema_regexes_run(monkeypatch, list_type):
    """(The schemas' patterns would take minutes over it: no schema is even looked up.)"""
    doc = _standard_doc([DEFENDANT])
    doc["courtLists"][0]["courtHouse"]["courtHouseName"] = "<" * 200_000
    for name in ("_validator", "_fast_validator"):
        monkeypatch.setattr(cath, name, lambda *a: pytest.fail("the flood reached a schema"))
    r = _reject(orjson.dumps(doc), list_type=list_type)
    assert "unclosed" in r.reason
    assert r.json_path == "$.courtLists[0].courtHouse.courtHouseName"


def test_rejected_str_and_pickle():
    import pickle

    e = Rejected("bad thing", "$.a[0].b", "f.json")
    assert str(e) == "f.json: $.a[0].b: bad thing"
    assert str(Rejected("bad")) == "-: -: bad"
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.reason, e2.json_path, e2.source_name) == ("bad thing", "$.a[0].b", "f.json")


# ------------------------------------------------------------------ values
def test_sitting_start_converted_to_london_time():
    doc = _standard_doc([DEFENDANT])
    sitting = doc["courtLists"][0]["courtHouse"]["courtRoom"][0]["session"][0]["sittings"][0]
    sitting["sittingStart"] = "2024-03-30T23:30:00Z"       # BST starts 31 March: still GMT
    assert parse_document(orjson.dumps(doc), source_name="t").hearings[0].sitting_time == "23:30"
    sitting["sittingStart"] = "2024-07-31T23:30:00Z"       # BST: next day, 00:30
    h = parse_document(orjson.dumps(doc), source_name="t").hearings[0]
    assert (h.sitting_date, h.sitting_time) == (dt.date(2024, 8, 1), "00:30")


def test_value_parsers():
    assert cath.parse_time("10.30am") == "10:30" and cath.parse_time("9pm") == "21:00"
    assert cath.parse_time("12am") == "00:00" and cath.parse_time("10:00:00") == "10:00"
    assert cath.parse_time("25:00") is None and cath.parse_time("soon") is None
    assert cath.parse_date("31/07/2025") == dt.date(2025, 7, 31) and cath.parse_date("2025-02-30") is None
    assert cath.split_display_name("SMITH, Mr John Paul") == ("Mr", "John Paul", "SMITH")
    assert cath.split_display_name("Mrs Jane Doe") == ("Mrs", "Jane", "Doe")
    assert cath.json_path(["courtLists", 0, "venue/platform"]) == "$.courtLists[0]['venue/platform']"


def test_bad_dates_are_warnings_not_crashes():
    doc = _standard_doc([{"partyRole": "DEFENDANT", "individualDetails": {
        "individualSurname": "X", "age": 999}}])
    pl = parse_document(orjson.dumps(doc), source_name="t", list_type="MAGISTRATES_STANDARD_LIST")
    assert pl.parties[0].age is None and any("age" in w for w in pl.warnings)


# ------------------------------------------------------------------ a large list (its speed: bench/parse_speed.py)
def _synthetic_standard_list(n: int) -> bytes:
    hearing = {"hearingType": "First appearance", "panel": "ADULT", "case": [{
        "caseUrn": "", "reportingRestriction": False, "party": [
            {"partyRole": "DEFENDANT", "individualDetails": {
                "individualForenames": "Alex", "individualSurname": "Example", "dateOfBirth": "1990-01-01", "age": 34,
                "address": {"line": ["1 Sample St"], "town": "Preston", "postCode": "PR1 0XX"}, "gender": "male"},
             "offence": [{"offenceCode": "CJ88116", "offenceTitle": "Assault by beating",
                          "offenceWording": "On 1 June assaulted a person", "plea": "NOT_GUILTY",
                          "pleaDate": "2024-06-01T10:00:00Z"}]},
            {"partyRole": "PROSECUTING_AUTHORITY", "organisationDetails": {"organisationName": "CPS"}}]}]}
    hearings = []
    for i in range(n):
        h = copy.deepcopy(hearing)
        h["case"][0]["caseUrn"] = f"URN{i:08d}"
        hearings.append(h)
    sittings = [{"sittingStart": "2024-06-03T09:00:00Z", "hearing": hearings[i:i + 100]} for i in range(0, n, 100)]
    doc = _standard_doc([])
    doc["courtLists"][0]["courtHouse"]["courtRoom"][0]["session"][0]["sittings"] = sittings
    return orjson.dumps(doc)


@pytest.mark.slow
def test_a_list_of_50k_entries_parses_every_entry():
    """Every hearing and offence of a 50,000-entry list comes out, and it validates.  (How fast:
    `bench/parse_speed.py`, which times this same list; a timed assertion here failed on a slow
    day's VM, and speed is measured by the benchmarks, not asserted by the tests.)"""
    n = 50_000
    doc = orjson.loads(_synthetic_standard_list(n))
    lt = LIST_TYPES["MAGISTRATES_STANDARD_LIST"]
    b = cath._Builder(None, None, None)
    lt.parser(doc, b)
    cath.validate(doc, lt.name)
    assert len(b.hearings) == n and len(b.offences) == n
    assert len({h.case_urn for h in b.hearings}) == n


def test_fast_and_reference_validators_agree_on_every_example(shared_cath):
    """jsonschema-rs decides at ingest (speed); python-jsonschema is the reference: same verdicts."""
    from courtarchive.ingest import cath

    checked = 0
    for lt in cath.LIST_TYPES.values():
        if not lt.schema:
            continue
        for f in sorted((shared_cath / "examples").rglob("*.json")):
            doc = json.loads(f.read_bytes())
            assert cath._fast_validator(lt.schema).is_valid(doc) == cath._validator(lt.schema).is_valid(doc), (lt.name, f.name)
            checked += 1
    assert checked > 1000
