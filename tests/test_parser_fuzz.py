"""Property tests: whatever the input -- mutated lists, random bytes, truncated JSON, wrong
encodings, deep nesting, HTML -- a parser returns a consistent ParsedList or raises Rejected with
a reason. Never any other exception."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courtarchive.ingest import cath
from courtarchive.ingest.cath import LIST_TYPES, detect_list_type, parse_document
from courtarchive.ingest.csv_register import parse_csv
from courtarchive.ingest.errors import Rejected
from courtarchive.model import ParsedList

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "cath" / "examples"
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ------------------------------------------------------------------ seed documents (synthetic)
_PARTY = {"partyRole": "DEFENDANT", "individualDetails": {
    "individualForenames": "Alex", "individualSurname": "Example", "dateOfBirth": "1990-01-01", "age": 34,
    "address": {"line": ["1 Sample St"], "town": "Preston", "postCode": "PR1 0XX"}},
    "offence": [{"offenceCode": "CJ1", "offenceTitle": "Theft", "offenceWording": "Stole a thing",
                 "plea": "GUILTY", "pleaDate": "2024-01-01T10:00:00Z", "reportingRestriction": True}]}
_VICTIM = {"partyRole": "COMPLAINANT", "individualDetails": {"individualForenames": "Vic", "individualSurname": "Tim"}}
_TREE = {"courtLists": [{"courtHouse": {"courtHouseName": "PRESTON", "courtRoom": [{
    "courtRoomName": "Court 1", "session": [{"judiciary": [{"johKnownAs": "J", "isPresiding": True}], "sittings": [{
        "sittingStart": "2024-06-03T09:00:00Z", "hearing": [{
            "hearingType": "Trial", "channel": ["VIDEO"], "case": [{"caseUrn": "01AB1", "party": [
                _PARTY, _VICTIM, {"partyRole": "PROSECUTING_AUTHORITY", "organisationDetails": {"organisationName": "CPS"}}]}],
            "application": [{"applicationReference": "APP1", "party": [_PARTY]}]}]}]}]}]}}]}
SEEDS: dict[str, object] = {
    "MAGISTRATES_STANDARD_LIST": {"document": {"publicationDate": "2024-06-01T08:00:00Z"},
                                  "venue": {"venueAddress": {"line": ["x"], "postCode": "AA1 1AA"}}, **_TREE},
    "SJP_PRESS_LIST": {"document": {"publicationDate": "2024-06-01T08:00:00Z"}, "courtLists": [{"courtHouse": {
        "courtRoom": [{"session": [{"sittings": [{"hearing": [{
            "party": [dict(_PARTY, partyRole="ACCUSED"), {"partyRole": "PROSECUTOR", "organisationDetails": {"organisationName": "TVL"}}],
            "offence": [{"offenceTitle": "No licence", "reportingRestriction": False}],
            "case": [{"caseUrn": "SJP1"}]}]}]}]}]}}]},
    "MAGISTRATES_ADULT_COURT_LIST": {"document": {"data": {"job": {"printdate": "03/06/2024", "sessions": {"session": [{
        "lja": "L", "court": "C", "room": 1, "sstart": "09:00", "blocks": {"block": [{"bstart": "10:00", "cases": {"case": [{
            "caseno": "1000000001", "def_name": "Mr Alex Example", "def_dob": "01/01/1990", "def_age": 34,
            "def_addr": {"line1": "1 St", "line5": "Town", "pcode": "PR1"},
            "offences": {"offence": [{"code": "X", "title": "T", "sum": "S"}]}}]}}]}}]}}}}},
    "CROWN_DAILY_PDDA_LIST": {"DailyList": {
        "DocumentID": {"UniqueID": "u", "DocumentType": "d"},
        "ListHeader": {"StartDate": "2024-06-03", "Version": "1", "PublishedTime": "2024-06-02T10:00:00Z"},
        "CrownCourt": {"CourtHouseType": "Crown Court", "CourtHouseCode": 1, "CourtHouseName": "C"},
        "CourtLists": [{"CourtHouse": {"CourtHouseType": "Crown Court", "CourtHouseCode": 1, "CourtHouseName": "C"},
                        "Sittings": [{"CourtRoomNumber": 1, "SittingAt": "10:00:00",
                                      "Judiciary": {"Judge": {"CitizenNameSurname": "J"}},
                                      "Hearings": [{"HearingSequenceNumber": 1,
                                                    "HearingDetails": {"HearingDescription": "Trial"},
                                                    "CaseNumber": "T1", "CaseNumberCaTH": "T1",
                                                    "Prosecution": {"ProsecutingAuthority": "Crown Prosecution Service"},
                                                    "Defendants": [{"PersonalDetails": {
                                                        "Name": {"CitizenNameForename": ["A"], "CitizenNameSurname": "B"},
                                                        "IsMasked": "no"}, "URN": "U1",
                                                        "Charges": [{"OffenceStatement": "Theft", "IndictmentCountNumber": 1}]}]}]}]}]}},
    "CROWN_WARNED_PDDA_LIST": {"WarnedList": {
        "DocumentID": {"UniqueID": "u", "DocumentType": "d"},
        "ListHeader": {"StartDate": "2024-06-03", "Version": "1", "PublishedTime": "2024-06-02T10:00:00Z"},
        "CrownCourt": {"CourtHouseType": "Crown Court", "CourtHouseCode": 1, "CourtHouseName": "C"},
        "CourtLists": [{"CourtHouse": {"CourtHouseType": "Crown Court", "CourtHouseCode": 1, "CourtHouseName": "C"},
                        "WithFixedDate": [{"Fixture": [{"FixedDate": "2024-06-10", "Cases": [{
                            "CaseNumber": "T2", "CaseNumberCaTH": "T2",
                            "Defendants": [{"PersonalDetails": {"Name": {"CitizenNameSurname": "B"}, "IsMasked": "yes"},
                                            "CustodyStatus": "On remand"}]}]}]}]}]}},
    "AST_DAILY_HEARING_LIST": [{"appellant": "A", "appealReferenceNumber": "1", "caseType": "C", "hearingType": "H",
                                "hearingTime": "10.30am", "additionalInformation": ""}],
}


def _seeds() -> list[tuple[str | None, object]]:
    seeds: list[tuple[str | None, object]] = list(SEEDS.items())
    if EXAMPLES.is_dir():      # the official examples too, when the shared folder is there
        for f in sorted(EXAMPLES.rglob("*.json"))[::3]:
            seeds.append((None, json.loads(f.read_text())))
    return seeds


SEED_DOCS = _seeds()
LIST_TYPE_NAMES = sorted(LIST_TYPES)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
nasty_text = st.sampled_from([
    "<script>alert(1)</script>", "</b>", "<img src=x onerror=1>", "&lt;/i&gt;", "<!-- -->", "<" * 50,
    "x\x00y", "\r\n", "   ", "", "2024-02-30", "31/02/2024", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "10:99", "12pm", "COMPLAINANT", "victim", "\ud800"]) | st.text(max_size=30)


def _slots(doc) -> list[tuple[object, object]]:
    """Every (container, key) in a document, iteratively."""
    out, stack = [], [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out.append((node, k))
            if isinstance(v, (dict, list)):
                stack.append(v)
    return out


@st.composite
def mutated(draw):
    list_type, seed = draw(st.sampled_from(SEED_DOCS))
    doc = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 4))):
        slots = _slots(doc)
        if not slots:
            break
        container, key = slots[draw(st.integers(0, len(slots) - 1))]
        op = draw(st.sampled_from(["delete", "retype", "text", "nest", "duplicate"]))
        if op == "delete":
            del container[key]
        elif op == "retype":
            container[key] = draw(json_values)
        elif op == "text":
            container[key] = draw(nasty_text)
        elif op == "nest":
            value = container[key]
            for _ in range(draw(st.integers(1, 60))):
                value = [value] if draw(st.booleans()) else {"k": value}
            container[key] = value
        elif op == "duplicate" and isinstance(container, list):
            container.append(copy.deepcopy(container[key]))
    header = draw(st.sampled_from(["none", "own", "random"]))
    headers = {} if header == "none" or (header == "own" and not list_type) else {
        "x-list-type": list_type if header == "own" else draw(st.sampled_from(LIST_TYPE_NAMES))}
    return doc, headers


def _encode(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def check(data: bytes, **kw) -> None:
    try:
        pl = parse_document(data, source_name="fuzz.json", **kw)
    except Rejected as e:
        assert isinstance(e.reason, str) and e.reason.strip()
        assert e.source_name == "fuzz.json"
        return
    assert isinstance(pl, ParsedList) and pl.meta.list_type in LIST_TYPES
    assert all(0 <= p.hearing_ref < len(pl.hearings) for p in pl.parties)
    assert all(0 <= o.party_ref < len(pl.parties) for o in pl.offences)
    assert all(0 <= c.hearing_ref < len(pl.hearings) for c in pl.raw_complainants)
    assert all(r.json_path.startswith("$") for r in pl.hearings + pl.parties + pl.offences)
    assert not any(p.role in ("COMPLAINANT", "VICTIM") for p in pl.parties)
    msgspec.json.encode([pl.meta, pl.hearings, pl.parties, pl.offences])   # every value is a model type


@FUZZ
@given(mutated())
def test_mutated_documents(case):
    doc, headers = case
    check(_encode(doc), headers=headers)


FAMILIES = {lt.family.name: lt.family for lt in LIST_TYPES.values()}


@FUZZ
@given(mutated())
def test_every_parser_survives_unvalidated_documents(case):
    """Schemas leave much unconstrained (and master_schema almost everything): each family's
    reader must cope with any shape, even without validation in front of it."""
    doc, _ = case
    for family in FAMILIES.values():
        facts = family.meta(doc)
        b = cath._Builder(facts.get("content_date"), facts.get("court_name"), facts.get("court_code"))
        family.parse(doc, b)
        assert all(0 <= p.hearing_ref < len(b.hearings) for p in b.parties)
        assert all(0 <= o.party_ref < len(b.parties) for o in b.offences)
    try:
        assert detect_list_type(doc) in LIST_TYPES
    except Rejected as e:
        assert e.reason


WRONG_TYPES = (None, True, 7, 2**80, 1.5, "", " ", "x<y", [], {}, ["a"], {"a": 1})


def test_every_slot_of_every_seed_with_every_wrong_type():
    """Exhaustive single mutations: each value of each synthetic seed replaced by each of a few
    values of the wrong type, through every family's reader and through parse_document."""
    for list_type, seed in SEEDS.items():
        for index in range(len(_slots(seed))):
            for wrong in WRONG_TYPES:
                doc = copy.deepcopy(seed)
                container, key = _slots(doc)[index]
                container[key] = copy.deepcopy(wrong)
                for family in FAMILIES.values():
                    family.parse(doc, cath._Builder(None, None, None))
                    family.meta(doc)
                check(_encode(doc), headers={"x-list-type": list_type})


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data):
    check(data)
    check(data, list_type="MAGISTRATES_STANDARD_LIST")


@FUZZ
@given(st.sampled_from(SEED_DOCS), st.floats(0, 1))
def test_truncated_json(seed, at):
    data = orjson.dumps(seed[1])
    check(data[: int(len(data) * at)])


@FUZZ
@given(st.sampled_from(SEED_DOCS), st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"]),
       st.text(alphabet="éÑøßü€’", min_size=1, max_size=5))
def test_wrong_encodings(seed, encoding, accented):
    doc = copy.deepcopy(seed[1])
    slots = [(c, k) for c, k in _slots(doc) if isinstance(c[k], str)]
    if slots:
        c, k = slots[0]
        c[k] = c[k] + accented
    text = json.dumps(doc, ensure_ascii=False)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode(encoding, "replace")
    check(data)


@FUZZ
@given(st.integers(1, 3000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting(depth, opener):
    closer = "]" if opener == "[" else "}"
    check((opener * depth + "1" + closer * depth).encode())
    doc = copy.deepcopy(SEEDS["MAGISTRATES_STANDARD_LIST"])
    doc["courtLists"][0]["courtHouse"]["courtRoom"][0]["session"][0]["sittings"][0]["hearing"][0]["extra"] = "@@"
    nested = '{"k":' * depth + '"x"' + "}" * depth        # deeper than any serialiser would write
    check(orjson.dumps(doc).replace(b'"@@"', nested.encode()))
    check(orjson.dumps(doc).replace(b'"@@"', nested.encode()), list_type="MAGISTRATES_STANDARD_LIST")


def test_seeds_parse_and_route_complainants():
    pl = parse_document(orjson.dumps(SEEDS["MAGISTRATES_STANDARD_LIST"]), source_name="s.json")
    assert [c.name for c in pl.raw_complainants] == ["Vic Tim"]
    for name, seed in SEEDS.items():
        assert parse_document(orjson.dumps(seed), source_name="s", headers={"x-list-type": name}).hearings, name


# ------------------------------------------------------------------ CSV
CSV_HEADER = "court,sitting_date,sitting_time,urn,case_number,forenames,surname,dob,age,offence_title,plea,complainant"
cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["2024-01-02", "02/01/2024", "10:00", "URN1", "Smith", "30", "GUILTY", '"', ",", "\n", "<b>", "\x00"])


@FUZZ
@given(st.lists(st.lists(cells, min_size=0, max_size=14), max_size=6), st.booleans())
def test_csv_random_rows(rows, with_header):
    lines = ([CSV_HEADER] if with_header else []) + [",".join(r) for r in rows]
    _check_csv("\n".join(lines).encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.binary(max_size=400))
def test_csv_random_bytes(data):
    _check_csv(data)
    _check_csv(CSV_HEADER.encode() + b"\n" + data)


def _check_csv(data: bytes) -> None:
    try:
        pl = parse_csv(data, source_name="fuzz.csv")
    except Rejected as e:
        assert e.reason.strip() and e.source_name == "fuzz.csv"
        return
    assert pl.hearings and all(0 <= p.hearing_ref < len(pl.hearings) for p in pl.parties)
    assert all(0 <= o.party_ref < len(pl.parties) for o in pl.offences)
    assert all(c.offence_ref is None or 0 <= c.offence_ref < len(pl.offences) for c in pl.raw_complainants)
