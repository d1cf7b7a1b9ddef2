"""Validation of the shipped reference tables (towns.csv, offences.csv) and their loaders."""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from importlib import resources

import pytest

from courtarchive.data import reference as ref

SOA = "Sexual Offences Act 2003"
MSA = "Modern Slavery Act 2015"
FGM = "Female Genital Mutilation Act 2003"
# the analysis scope "child-sexual-abuse": SOA 2003 ss.5-15A and 47-50 (and attempts/conspiracies)
CSA_SECTIONS = {str(n) for n in range(5, 16)} | {"15A"} | {"47", "48", "49", "50"}
# SO(A)A 1992 s.2: every offence in Part 1 of SOA 2003 (ss.1-79) except these
SOAA_EXCEPTED = {"64", "65", "69", "71"}
REQUIRED_SOA = ({str(n) for n in range(1, 20)} | {"15A", "25", "26", "47", "48", "49", "50", "52", "53",
                                                  "61", "62", "63", "64", "65", "66", "67", "69", "71"})
BOUNDS = dict(lat=(49.9, 55.9), lon=(-6.4, 1.8))
MAX_KM_TO_COURT = 65.0   # "~60 km"; Lowestoft (62 km from Ipswich) is the furthest
NAMED_TOWNS = {
    "Rochdale": "Greater Manchester Police", "Oldham": "Greater Manchester Police",
    "Heywood": "Greater Manchester Police", "Middleton": "Greater Manchester Police",
    "Ashton-under-Lyne": "Greater Manchester Police", "Rotherham": "South Yorkshire Police",
    "Telford": "West Mercia Police", "Huddersfield": "West Yorkshire Police",
    "Dewsbury": "West Yorkshire Police", "Keighley": "West Yorkshire Police",
    "Halifax": "West Yorkshire Police", "Bradford": "West Yorkshire Police",
    "Burnley": "Lancashire Constabulary", "Accrington": "Lancashire Constabulary",
    "Nelson": "Lancashire Constabulary", "Oxford": "Thames Valley Police",
    "Aylesbury": "Thames Valley Police", "Banbury": "Thames Valley Police",
    "Derby": "Derbyshire Constabulary", "Peterborough": "Cambridgeshire Constabulary",
    "Newcastle upon Tyne": "Northumbria Police", "Gateshead": "Northumbria Police",
    "Sunderland": "Northumbria Police", "Bristol": "Avon and Somerset Constabulary",
}


def _raw(name: str) -> tuple[list[str], list[dict[str, str]]]:
    text = resources.files("courtarchive.data").joinpath(name).read_text("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 12742.0 * math.asin(min(1.0, math.sqrt(a)))


@pytest.fixture(scope="module")
def offs() -> list[dict]:
    return ref.offences()


@pytest.fixture(scope="module")
def towns() -> list[dict]:
    return ref.towns()


@pytest.fixture(scope="module")
def forces() -> list[str]:
    return [f["police_force_area"] for f in ref.police_forces()]


def _criminal(c: dict) -> bool:
    types = c["court_types"] or ""
    return "Magistrates" in types or "Crown Court" in types


# ---------------------------------------------------------------- files and loaders

@pytest.mark.parametrize("name", ["towns.csv", "offences.csv", "courts.csv", "police_force_areas.csv"])
def test_files_ship_inside_the_package(name):
    assert resources.files("courtarchive.data").joinpath(name).is_file()


def test_columns():
    assert tuple(_raw("towns.csv")[0]) == ref.TOWN_COLUMNS
    assert tuple(_raw("offences.csv")[0]) == ref.OFFENCE_COLUMNS


def test_loaders_are_typed_and_return_copies(offs, towns):
    t = towns[0]
    assert isinstance(t["lat"], float) and isinstance(t["lon"], float)
    assert isinstance(t["population_band"], int)
    for c in ref.OFFENCE_BOOL_COLUMNS:
        assert all(isinstance(o[c], bool) for o in offs), c
    assert all(isinstance(o["seriousness"], int) for o in offs)
    rape = ref.offence_by_code("sx03001")
    assert rape is not None and rape["title"].startswith("Rape") and rape["so_aa_1992"] is True
    assert ref.offence_by_code("XX99999") is None
    rape["title"] = "changed"
    ref.towns()[0]["town"] = "changed"
    assert ref.offence_by_code("SX03001")["title"] != "changed"
    assert ref.towns()[0]["town"] != "changed"
    courts = ref.courts()
    assert any(isinstance(c["lat"], float) for c in courts)
    assert {type(c["in_person"]) for c in courts} <= {bool, type(None)}
    assert len(ref.police_forces()) == 43


# ---------------------------------------------------------------- offences

def test_codes_unique_and_cjs_style(offs):
    codes = [o["code"] for o in offs]
    assert len(codes) == len(set(codes))
    bad = [c for c in codes if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{2}\d{3}[AC]?", c)]
    assert not bad
    assert 120 <= len(offs) <= 200


def test_bool_columns_are_true_or_false():
    _, rows = _raw("offences.csv")
    for c in ref.OFFENCE_BOOL_COLUMNS:
        assert {r[c] for r in rows} <= {"true", "false"}, c


def test_groups_seriousness_and_text(offs):
    assert {o["offence_group"] for o in offs} <= ref.OFFENCE_GROUPS
    assert all(1 <= o["seriousness"] <= 10 for o in offs)
    assert all(o["title"] and o["legislation"] and o["act"] for o in offs)
    assert all(o["section"] for o in offs if o["act"] != "Common law")


def test_wording_templates_use_only_allowed_placeholders(offs):
    for o in offs:
        t = o["wording_template"]
        assert set(re.findall(r"\{(\w*)\}", t)) <= ref.TEMPLATE_PLACEHOLDERS, o["code"]
        assert t.count("{") == t.count("}"), o["code"]
        assert t.startswith("On ") and "{date}" in t and t.endswith("."), o["code"]


def test_place_of_offence_reads_as_at_place(offs):
    assert all("at {place}" in o["wording_template"] for o in offs if o["offence_group"] == "sexual")
    share = sum("at {place}" in o["wording_template"] for o in offs) / len(offs)
    assert share >= 0.9


def test_child_sexual_abuse_exactly_soa_5_to_15a_and_47_to_50(offs):
    for o in offs:
        expected = o["act"] == SOA and o["section"] in CSA_SECTIONS
        assert o["child_sexual_abuse"] is expected, o["code"]
    soa_sections = {o["section"] for o in offs if o["act"] == SOA}
    assert CSA_SECTIONS <= soa_sections                              # every scoped section is declared
    flagged = {o["section"] for o in offs if o["child_sexual_abuse"]}
    assert flagged == CSA_SECTIONS                                     # ... and nothing else is flagged
    for s in ("1", "2", "3", "4", "16", "17", "18", "19", "25", "26", "52", "53", "61", "64", "66"):
        assert not any(o["child_sexual_abuse"] for o in offs if o["act"] == SOA and o["section"] == s), s
    assert not any(o["child_sexual_abuse"] for o in offs if o["act"] == "Protection of Children Act 1978")


def test_attempts_and_conspiracies_follow_the_substantive_offence(offs):
    by_code = {o["code"]: o for o in offs}
    inchoate = [o for o in offs if o["code"][-1] in "AC" and o["code"][:-1] in by_code]
    assert len(inchoate) >= 8
    for o in inchoate:
        base = by_code[o["code"][:-1]]
        assert (o["act"], o["section"]) == (base["act"], base["section"]), o["code"]
        for c in ("child_sexual_abuse", "so_aa_1992", "fgm", "msa_s2", "relationship_sensitive"):
            assert o[c] == base[c], (o["code"], c)
        assert ("Attempt" in o["title"]) if o["code"].endswith("A") else ("Conspiracy" in o["title"]), o["code"]
    titles = {o["title"] for o in offs}
    assert "Attempt to rape a woman 16 years of age or over" in titles
    assert "Conspiracy to arrange or facilitate sexual exploitation of a child" in titles
    assert by_code["SX03010A"]["child_sexual_abuse"] and by_code["SX03048C"]["child_sexual_abuse"]
    assert not by_code["SX03001A"]["child_sexual_abuse"] and by_code["SX03001A"]["so_aa_1992"]


def _sec_number(section: str) -> int:
    return int(re.match(r"\d+", section).group())


def test_so_aa_1992_flag(offs):
    for o in offs:
        if o["act"] == SOA:
            expected = 1 <= _sec_number(o["section"]) <= 79 and o["section"] not in SOAA_EXCEPTED
        else:
            expected = o["act"] == MSA and o["section"] == "2"
        assert o["so_aa_1992"] is expected, o["code"]
    for s in SOAA_EXCEPTED:
        rows = [o for o in offs if o["act"] == SOA and o["section"] == s]
        assert rows and not any(o["so_aa_1992"] for o in rows), s
    assert not any(o["so_aa_1992"] for o in offs if o["act"] == MSA and o["section"] == "1")
    assert not any(o["so_aa_1992"] for o in offs if "indecent photograph" in o["title"].lower())
    assert any(o["so_aa_1992"] for o in offs if o["act"] == MSA and o["section"] == "2")


def test_fgm_and_msa_s2_flags(offs):
    for o in offs:
        assert o["fgm"] is (o["act"] == FGM), o["code"]
        assert o["msa_s2"] is (o["act"] == MSA and o["section"] == "2"), o["code"]
    assert {o["section"] for o in offs if o["fgm"]} >= {"1", "2", "3", "3A"}


def test_required_offences_are_declared(offs):
    soa = {o["section"] for o in offs if o["act"] == SOA}
    assert REQUIRED_SOA <= soa, sorted(REQUIRED_SOA - soa)
    have = {(o["act"], o["section"]) for o in offs}
    for need in [
        ("Criminal Justice Act 1988", "39"), ("Offences Against the Person Act 1861", "18"),
        ("Offences Against the Person Act 1861", "20"), ("Offences Against the Person Act 1861", "47"),
        ("Theft Act 1968", "1"), ("Theft Act 1968", "8"), ("Theft Act 1968", "9"), ("Theft Act 1968", "12"),
        ("Theft Act 1968", "22"), ("Fraud Act 2006", "2"), ("Misuse of Drugs Act 1971", "4"),
        ("Misuse of Drugs Act 1971", "5"), ("Criminal Damage Act 1971", "1"), ("Public Order Act 1986", "4"),
        ("Public Order Act 1986", "4A"), ("Public Order Act 1986", "5"), ("Criminal Justice Act 1988", "139"),
        ("Prevention of Crime Act 1953", "1"), ("Road Traffic Act 1988", "1"), ("Road Traffic Act 1988", "3"),
        ("Road Traffic Act 1988", "5"), ("Road Traffic Act 1988", "103"), ("Road Traffic Act 1988", "143"),
        ("Road Traffic Act 1988", "170"), ("Road Traffic Regulation Act 1984", "89"),
        ("Protection from Harassment Act 1997", "2"), ("Protection from Harassment Act 1997", "2A"),
        ("Protection from Harassment Act 1997", "4"), ("Serious Crime Act 2015", "76"),
        ("Communications Act 2003", "363"), ("Regulation of Railways Act 1889", "5"),
        ("Protection of Children Act 1978", "1"), (MSA, "1"), (MSA, "2"), (FGM, "3A"),
    ]:
        assert need in have, need
    titles = {o["title"].lower() for o in offs}
    assert {"murder", "manslaughter", "robbery"} <= titles
    groups = Counter(o["offence_group"] for o in offs)
    assert all(groups[g] for g in ref.OFFENCE_GROUPS), groups


def test_relationship_and_youth_flags(offs):
    for o in offs:
        if o["act"] == SOA and o["section"] in {"25", "26"}:
            assert o["relationship_sensitive"], o["code"]
    assert {o["section"] for o in offs if o["youth_court_only"]} == {"13"}
    assert all(o["act"] == SOA for o in offs if o["youth_court_only"])


def test_sch18_and_seriousness_anchors(offs):
    by_code = {o["code"]: o for o in offs}
    assert by_code["COML001"]["seriousness"] == 10
    assert by_code["SX03001"]["seriousness"] >= 9 and by_code["SX03001"]["sch18"]
    assert by_code["OF61018"]["seriousness"] == 8 and by_code["OF61018"]["sch18"]
    assert by_code["COML002"]["sch18"]
    assert by_code["CA03363"]["seriousness"] == 1 and not by_code["CA03363"]["sch18"]
    assert by_code["RR84089"]["seriousness"] == 1
    assert all(o["sch18"] for o in offs if o["child_sexual_abuse"])


# ---------------------------------------------------------------- towns

def test_town_rows_valid(towns, forces):
    assert 400 <= len(towns) <= 600
    country = {f["police_force_area"]: f["country"] for f in ref.police_forces()}
    keys = Counter((t["town"], t["police_force_area"]) for t in towns)
    assert not [k for k, n in keys.items() if n > 1]
    for t in towns:
        assert t["police_force_area"] in forces, t
        assert t["country"] == country[t["police_force_area"]], t
        assert t["population_band"] in ref.POPULATION_BANDS, t
        assert t["county"], t


def test_coordinates_inside_england_and_wales(towns):
    for t in towns:
        assert BOUNDS["lat"][0] <= t["lat"] <= BOUNDS["lat"][1], t
        assert BOUNDS["lon"][0] <= t["lon"] <= BOUNDS["lon"][1], t


def test_every_force_has_three_towns(towns, forces):
    n = Counter(t["police_force_area"] for t in towns)
    assert len(forces) == 43
    assert {f: n[f] for f in forces if n[f] < 3} == {}


def test_every_criminal_court_town_is_in_the_gazetteer(towns):
    names = {t["town"].lower() for t in towns}
    aliased = set(ref.COURT_TOWN_ALIASES)
    for c in ref.courts():
        town = c["town"]
        if not town or not _criminal(c):
            continue
        if town.lower() not in aliased:
            assert town.lower() in names, (town, c["name"])        # same spelling as courts.csv
        hits = ref.find_towns(town)
        assert hits, (town, c["name"])
        if town != "London":     # "London" courts of the City of London Police map to the Met's London
            assert any(h["police_force_area"] == c["police_force_area"] for h in hits), (town, c["name"])


def test_every_court_town_resolves(towns):
    missing = sorted({c["town"] for c in ref.courts() if c["town"] and not ref.find_towns(c["town"])})
    assert missing == []


def test_towns_near_a_court_of_their_force(towns):
    by_force: dict[str, list[tuple[float, float]]] = {}
    for c in ref.courts():
        if c["lat"] is not None and c["police_force_area"]:
            by_force.setdefault(c["police_force_area"], []).append((c["lat"], c["lon"]))
    far = []
    for t in towns:
        d = min(_km(t["lat"], t["lon"], la, lo) for la, lo in by_force[t["police_force_area"]])
        if d > MAX_KM_TO_COURT:
            far.append((t["town"], round(d)))
    assert far == []


def test_named_towns_and_forces():
    for name, force in NAMED_TOWNS.items():
        hits = ref.find_towns(name)
        assert [h["police_force_area"] for h in hits] == [force], name
    assert ref.find_towns("rochdale", "Greater Manchester Police")[0]["town"] == "Rochdale"
    assert len(ref.find_towns("Newport")) == 2
    assert ref.find_towns("Newport", "Gwent Police")[0]["country"] == "Wales"
    assert ref.find_towns("South Yorkshire")[0]["town"] == "Barnsley"
    assert ref.find_towns("St Helens")[0]["town"] == "St. Helens"
